//! The log row: record the session to a file (every byte, on the recorder's own thread,
//! fed by the engine's tap) and save what the view holds now. File dialogs run on a
//! helper thread; when none can be shown (no portal, no zenity) the path field is used
//! and the window says so.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use egui::{RichText, TextEdit, Ui};

use crate::session::recorder::{LogFormat, Recorder, raw_tx_path};
use crate::session::stats::human_bytes;
use crate::session::time::format_iso;

use super::action::UiAction;
use super::files::DialogPurpose;
use super::i18n::Texts;
use super::settings::LogSettings;
use super::widgets::{ERROR_COLOR, OK_COLOR, enum_picker, log_format_label, message_label};

/// State of the log row.
#[derive(Default)]
pub struct LogState {
    /// The recording, while one runs (or has just ended with an error).
    pub recorder: Option<Recorder>,
    /// Last word on recording or saving: (ok, message).
    pub message: Option<(bool, String)>,
}

impl std::fmt::Debug for LogState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogState")
            .field("recording", &self.recorder.is_some())
            .field("message", &self.message)
            .finish()
    }
}

/// `~/sockscope-logs/<stem>-YYYYMMDD-HHMMSS.<ext>`: a path that works without a dialog.
pub fn default_log_path(stem: &str, format: LogFormat) -> PathBuf {
    let home = std::env::var_os("HOME")
        .or_else(|| std::env::var_os("USERPROFILE"))
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let stamp: String = format_iso(SystemTime::now())
        .chars()
        .take(19)
        .filter(|c| c.is_ascii_digit() || *c == 'T')
        .map(|c| if c == 'T' { '-' } else { c })
        .collect();
    home.join("sockscope-logs")
        .join(format!("{stem}-{stamp}.{}", format.extension()))
}

/// What the log row needs to know besides its settings.
#[derive(Clone, Copy, Debug)]
pub struct LogRowState {
    /// A recording runs.
    pub recording: bool,
    /// A file dialog is open.
    pub dialog_open: bool,
    /// A dialog or file job is pending.
    pub busy: bool,
}

/// Draws the log row.
pub fn log_ui(
    ui: &mut Ui,
    t: &Texts,
    settings: &mut LogSettings,
    log: &LogState,
    row: LogRowState,
    actions: &mut Vec<UiAction>,
) {
    let recording = row.recording;
    ui.horizontal_wrapped(|ui| {
        ui.add_enabled_ui(!recording, |ui| {
            let label = ui.label(t.log_file);
            ui.add(
                TextEdit::singleline(&mut settings.path)
                    .desired_width(260.0)
                    .hint_text(t.log_path_hint),
            )
            .labelled_by(label.id)
            .on_hover_text(t.log_file_tip);
            let mut format = settings.format;
            if enum_picker(
                ui,
                "log_format",
                t.log_format,
                &mut format,
                &LogFormat::ALL,
                |f| log_format_label(f, t),
            ) {
                settings.format = format;
                // Keep the extension in step with the format, when it is a log extension.
                let path = PathBuf::from(settings.path.trim());
                if LogFormat::from_path(&path).is_some() {
                    settings.path = path
                        .with_extension(format.extension())
                        .display()
                        .to_string();
                }
            }
        });
        if ui
            .add_enabled(!recording && !row.dialog_open, egui::Button::new(t.choose))
            .clicked()
        {
            actions.push(UiAction::OpenDialog(DialogPurpose::RecordPath));
        }
        if recording {
            if ui
                .button(RichText::new(t.stop_recording).color(ERROR_COLOR))
                .clicked()
            {
                actions.push(UiAction::StopRecording);
            }
        } else if ui.button(RichText::new(t.record).strong()).clicked() {
            actions.push(UiAction::StartRecording);
        }
        if ui
            .add_enabled(!row.busy, egui::Button::new(t.save_log))
            .on_hover_text(t.save_log_tip)
            .clicked()
        {
            actions.push(UiAction::OpenDialog(DialogPurpose::SaveView));
        }
        if let Some(recorder) = &log.recorder {
            let status = recorder.status();
            let extra = if status.format == LogFormat::Raw {
                format!(" (+ {})", raw_tx_path(&status.path).display())
            } else {
                String::new()
            };
            let (text, color) = match &status.error {
                Some(error) => (format!("{}: {error}", t.recording_failed), ERROR_COLOR),
                None if status.finished => (
                    format!(
                        "{} {} {} · {}",
                        t.recorded,
                        status.records,
                        t.records,
                        human_bytes(status.bytes_written as f64)
                    ),
                    egui::Color32::GRAY,
                ),
                None => (
                    format!(
                        "● {} {}{extra}: {} {} · {}",
                        t.recording_to,
                        status.path.display(),
                        status.records,
                        t.records,
                        human_bytes(status.bytes_written as f64)
                    ),
                    OK_COLOR,
                ),
            };
            ui.label(RichText::new(text).color(color));
            if !status.finished {
                ui.ctx().request_repaint_after(Duration::from_millis(500));
            }
        }
        message_label(ui, log.message.as_ref());
    });
    if row.busy {
        ui.ctx().request_repaint_after(Duration::from_millis(100));
    }
}
