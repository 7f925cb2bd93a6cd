//! The log row: record the session to a file (every byte, on the recorder's own thread,
//! fed by the engine's tap) and save what the view holds now. File dialogs run on a
//! helper thread; when none can be shown (no portal, no zenity) the path field is used
//! and the window says so.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use egui::{RichText, TextEdit, Ui};

use crate::session::recorder::{
    LogFormat, LogOptions, Recorder, RecorderStatus, raw_tx_path, write_records_with,
};
use crate::session::stats::human_bytes;
use crate::session::store::Record;
use crate::session::time::format_iso;

use super::SockscopeApp;
use super::connection::{ERROR_COLOR, OK_COLOR};
use super::files::{DialogPurpose, JobResult, Slot, no_dialog_message};

/// Events the recorder's tap may hold before TCP workers wait for it.
const TAP_CAPACITY: usize = 4096;
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

impl SockscopeApp {
    /// The log format chosen in the log row.
    pub fn log_format(&self) -> LogFormat {
        LogFormat::from_name(&self.settings.log_format).unwrap_or(LogFormat::Text)
    }

    /// True while a recording runs.
    pub fn recording(&self) -> bool {
        self.log.recorder.as_ref().is_some_and(|r| !r.is_finished())
    }

    /// Starts recording every event to `path` in `format`. Errors (the file cannot be
    /// created) are shown and nothing else changes.
    pub fn start_recording(&mut self, path: &Path, format: LogFormat) {
        self.stop_recording();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && let Err(error) = std::fs::create_dir_all(dir)
        {
            self.log.message = Some((false, format!("cannot create {}: {error}", dir.display())));
            return;
        }
        let mut options = LogOptions::new(format, self.store.encoding());
        if let Some(session) = &self.session
            && let Some(local) = session.local_addr()
        {
            options.locals.push((session.id(), local));
        }
        match Recorder::start_with(path, &options, TAP_CAPACITY) {
            Ok((recorder, tap)) => {
                self.engine.set_tap(Some(tap));
                self.log.recorder = Some(recorder);
                self.log.message = None;
                self.settings.log_path = path.display().to_string();
                self.settings.log_format = format.name().to_string();
            }
            Err(error) => self.log.message = Some((false, error.to_string())),
        }
    }

    /// Stops the recording (the file is finished on the recorder's thread).
    pub fn stop_recording(&mut self) {
        self.engine.set_tap(None);
        if let Some(recorder) = &self.log.recorder {
            recorder.stop();
        }
    }

    /// Stops the recording and waits up to `timeout` for the file to be complete
    /// (window closing, Ctrl+C).
    pub fn finish_recording(&mut self, timeout: Duration) -> Option<RecorderStatus> {
        self.stop_recording();
        let status = self.log.recorder.as_mut().map(|r| r.finish(timeout));
        self.log.recorder = None;
        status
    }

    /// Writes the records the view holds now to `path` on a worker thread.
    pub fn save_view(&mut self, path: PathBuf, format: LogFormat) {
        let records: Vec<Record> = self.store.iter().cloned().collect();
        let mut options = LogOptions::new(format, self.store.encoding());
        if let Some(session) = &self.session
            && let Some(local) = session.local_addr()
        {
            options.locals.push((session.id(), local));
        }
        self.spawn_job(move || {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                let _ = std::fs::create_dir_all(dir);
            }
            match write_records_with(&path, &options, records.iter()) {
                Ok(s) => JobResult::Message(
                    Slot::Log,
                    true,
                    format!(
                        "saved {} records ({}) to {}",
                        s.records,
                        human_bytes(s.bytes_written as f64),
                        s.path.display()
                    ),
                ),
                Err(e) => JobResult::Message(Slot::Log, false, e.to_string()),
            }
        });
    }

    /// The answer of a log dialog; `None` when no dialog could be shown.
    pub(crate) fn log_path_chosen(&mut self, purpose: DialogPurpose, path: Option<PathBuf>) {
        let format = path
            .as_deref()
            .and_then(LogFormat::from_path)
            .unwrap_or_else(|| self.log_format());
        match (purpose, path) {
            (DialogPurpose::SaveView, Some(path)) => self.save_view(path, format),
            (DialogPurpose::SaveView, None) => {
                let path = default_log_path("view", format);
                self.log.message = Some((false, no_dialog_message(&path)));
                self.save_view(path, format);
            }
            (_, Some(path)) => {
                self.settings.log_path = path.display().to_string();
                self.settings.log_format = format.name().to_string();
            }
            (_, None) => {
                let path = PathBuf::from(self.settings.log_path.trim());
                self.log.message = Some((false, no_dialog_message(&path)));
            }
        }
    }
}

/// Draws the log row.
pub fn log_ui(ui: &mut Ui, app: &mut SockscopeApp) {
    let t = app.texts();
    let recording = app.recording();
    ui.horizontal_wrapped(|ui| {
        let label = ui.label(t.log_file);
        ui.add_enabled(
            !recording,
            TextEdit::singleline(&mut app.settings.log_path)
                .desired_width(300.0)
                .hint_text("~/sockscope-logs/session.txt"),
        )
        .labelled_by(label.id);
        let label = ui.label(t.log_format);
        let mut format = app.log_format();
        ui.add_enabled_ui(!recording, |ui| {
            egui::ComboBox::from_id_salt("log_format")
                .selected_text(format.name())
                .show_ui(ui, |ui| {
                    for f in LogFormat::ALL {
                        ui.selectable_value(&mut format, f, f.name());
                    }
                })
                .response
                .labelled_by(label.id);
        });
        if format != app.log_format() {
            app.settings.log_format = format.name().to_string();
            // Keep the extension in step with the format, when it is a log extension.
            let path = PathBuf::from(app.settings.log_path.trim());
            if LogFormat::from_path(&path).is_some() {
                app.settings.log_path = path
                    .with_extension(format.extension())
                    .display()
                    .to_string();
            }
        }
        let dialog_open = app.files.dialog_open();
        if ui
            .add_enabled(!recording && !dialog_open, egui::Button::new(t.choose))
            .clicked()
        {
            let suggested = PathBuf::from(app.settings.log_path.trim());
            app.open_dialog(
                DialogPurpose::RecordPath,
                suggested,
                (format.name(), format.extension()),
            );
        }
        if recording {
            if ui
                .button(RichText::new(t.stop_recording).color(ERROR_COLOR))
                .clicked()
            {
                app.stop_recording();
            }
        } else if ui.button(RichText::new(t.record).strong()).clicked() {
            let path = if app.settings.log_path.trim().is_empty() {
                default_log_path("session", format)
            } else {
                PathBuf::from(app.settings.log_path.trim())
            };
            app.start_recording(&path, format);
        }
        ui.separator();
        if ui
            .add_enabled(!app.files.busy(), egui::Button::new(t.save_log))
            .clicked()
        {
            let suggested = default_log_path("view", format);
            app.open_dialog(
                DialogPurpose::SaveView,
                suggested,
                (format.name(), format.extension()),
            );
        }
    });
    if let Some(recorder) = &app.log.recorder {
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
    if let Some((ok, message)) = &app.log.message {
        ui.label(RichText::new(message).color(if *ok { OK_COLOR } else { ERROR_COLOR }));
    }
    if app.files.busy() {
        ui.ctx().request_repaint_after(Duration::from_millis(100));
    }
}
