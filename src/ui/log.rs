//! The log row: record the session to a file (every byte, on the recorder's own thread,
//! fed by the engine's tap) and save what the view holds now. File dialogs run on a
//! helper thread; when none can be shown (no portal, no zenity) the path field is used
//! and the window says so.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use egui::{RichText, TextEdit, Ui};

pub use crate::session::recorder::numbered_free_path;
use crate::session::recorder::{LogFormat, Recorder, raw_tx_path};
use crate::session::stats::human_bytes;
use crate::session::time::format_iso;

use super::action::UiAction;
use super::files::DialogPurpose;
use super::i18n::Texts;
use super::settings::LogSettings;
use super::widgets::{ERROR_COLOR, OK_COLOR, enum_picker, keep_together, log_format_label};

/// State of the log row.
#[derive(Default)]
pub struct LogState {
    /// The recording, while one runs (or has just ended with an error).
    pub recorder: Option<Recorder>,
    /// A write that waits for the user to say what to do with an existing file.
    pub confirm: Option<PendingWrite>,
    /// The recording's file is being opened on a helper thread.
    pub opening: bool,
    /// Stop was asked while the file was being opened.
    pub stop_when_open: bool,
    /// Counts recording starts, so a late answer for an earlier start is told apart.
    pub generation: u64,
}

impl std::fmt::Debug for LogState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogState")
            .field("recording", &self.recorder.is_some())
            .field("confirm", &self.confirm)
            .finish()
    }
}

/// What is about to be written to a file that exists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingWrite {
    /// Start a recording, or save the view.
    pub kind: WriteKind,
    /// The file that exists.
    pub path: PathBuf,
    /// The format to write.
    pub format: LogFormat,
}

/// The two ways the log row writes files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteKind {
    /// A recording of the session from now on.
    Record,
    /// What the view holds now.
    SaveView,
}

/// The user's answer about an existing file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteChoice {
    /// Replace the file.
    Overwrite,
    /// Write beside it under the next free numbered name.
    NewName,
    /// Write nothing.
    Cancel,
}

/// The typed path with a leading `~` replaced by the home folder.
pub fn expand_home(typed: &str) -> PathBuf {
    let typed = typed.trim();
    let rest = typed
        .strip_prefix("~/")
        .or_else(|| typed.strip_prefix("~\\"))
        .or_else(|| (typed == "~").then_some(""));
    match (rest, home_dir()) {
        (Some(rest), Some(home)) => home.join(rest),
        _ => PathBuf::from(typed),
    }
}

fn home_dir() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .or_else(|| std::env::var_os("USERPROFILE"))
        .map(PathBuf::from)
}

/// `~/sockscope-logs/<stem>-YYYYMMDD-HHMMSS.<ext>`: a path that works without a dialog.
pub fn default_log_path(stem: &str, format: LogFormat) -> PathBuf {
    let home = home_dir().unwrap_or_else(std::env::temp_dir);
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
    // One row that never wraps; the recording's progress is cut to what fits (whole on
    // hover), so it never moves a control.
    ui.horizontal(|ui| {
        ui.add_enabled_ui(!recording, |ui| {
            keep_together(ui, |ui| {
                let label = ui.label(t.log_file);
                let response = ui
                    .add(
                        TextEdit::singleline(&mut settings.path)
                            .desired_width(240.0)
                            .hint_text(t.log_path_hint),
                    )
                    .labelled_by(label.id)
                    .on_hover_text(t.log_file_tip)
                    .on_disabled_hover_text(t.stop_recording_first);
                // The format follows a known extension as it is typed.
                if response.changed()
                    && let Some(format) = LogFormat::from_path(&expand_home(&settings.path))
                {
                    settings.format = format;
                }
            });
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
            .on_hover_text(t.choose_log_tip)
            .on_disabled_hover_text(t.stop_recording_first)
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
        } else if ui
            .button(RichText::new(t.record).strong())
            .on_hover_text(t.record_tip)
            .clicked()
        {
            actions.push(UiAction::StartRecording);
        }
        if ui
            .add_enabled(!row.busy, egui::Button::new(t.save_log))
            .on_hover_text(t.save_log_tip)
            .clicked()
        {
            actions.push(UiAction::SaveView);
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
                        "{} {} {} · {} → {}",
                        t.recorded,
                        status.records,
                        t.records,
                        human_bytes(status.bytes_written as f64),
                        status.path.display()
                    ),
                    egui::Color32::GRAY,
                ),
                None => (
                    format!(
                        "● {} · {} · {} {}{extra}",
                        status.records,
                        human_bytes(status.bytes_written as f64),
                        t.recording_to,
                        status.path.display(),
                    ),
                    OK_COLOR,
                ),
            };
            ui.add(egui::Label::new(RichText::new(&text).color(color)).truncate())
                .on_hover_text(text);
            if !status.finished {
                ui.ctx().request_repaint_after(Duration::from_millis(500));
            }
        }
    });
    if let Some(pending) = &log.confirm {
        confirm_ui(ui, t, pending, actions);
    }
    if row.busy {
        ui.ctx().request_repaint_after(Duration::from_millis(100));
    }
}

/// Asks what to do with a file that exists: overwrite, a numbered new name, or nothing.
fn confirm_ui(ui: &mut Ui, t: &Texts, pending: &PendingWrite, actions: &mut Vec<UiAction>) {
    egui::Modal::new(ui.scope_id().with("confirm_overwrite")).show(ui.ctx(), |ui| {
        ui.set_max_width(480.0);
        ui.heading(t.file_exists);
        let size = std::fs::metadata(&pending.path)
            .map(|m| human_bytes(m.len() as f64))
            .unwrap_or_default();
        ui.label(format!("{} ({size})", pending.path.display()));
        ui.add_space(6.0);
        let new_name = numbered_free_path(&pending.path);
        ui.horizontal(|ui| {
            if ui
                .button(RichText::new(t.overwrite).color(ERROR_COLOR))
                .clicked()
            {
                actions.push(UiAction::ConfirmWrite(WriteChoice::Overwrite));
            }
            let file_name = new_name
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if ui
                .button(format!("{} {file_name}", t.write_as_new))
                .clicked()
            {
                actions.push(UiAction::ConfirmWrite(WriteChoice::NewName));
            }
            if ui.button(t.cancel).clicked() {
                actions.push(UiAction::ConfirmWrite(WriteChoice::Cancel));
            }
        });
    });
    // Escape cancels; a click beside the dialog does not (the click that opened it
    // would otherwise close it at once).
    if ui.input(|i| i.key_pressed(egui::Key::Escape)) {
        actions.push(UiAction::ConfirmWrite(WriteChoice::Cancel));
    }
}
