//! Recording and saving: the live recorder (start, stop, finish) and writing the
//! view or a log to a file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::lang::Lang;
use crate::session::recorder::{LogFormat, LogOptions, Recorder, RecorderStatus};
use crate::session::stats::human_bytes;
use crate::session::store::Record;
use crate::ui::errors;
use crate::ui::files::{JobResult, Slot};
use crate::ui::log::{PendingWrite, WriteKind, default_log_path, expand_home};
use crate::ui::tab::{NoticeAbout, SessionTab};

use super::TAP_CAPACITY;

impl SessionTab {
    /// True while a recording runs (or its file is being opened).
    pub fn recording(&self) -> bool {
        self.log.opening || self.log.recorder.as_ref().is_some_and(|r| !r.is_finished())
    }

    /// Log options for this tab's files: the view's encoding and the session's address.
    fn log_options(&self, format: LogFormat) -> LogOptions {
        let mut options = LogOptions::new(format, self.store.encoding());
        options.locals = self.locals.clone();
        // CSV logs cut frames, with verdicts, round trips and field columns.
        options.frame_def = self.store.frame_def().cloned();
        if let Some(session) = &self.session
            && let Some(local) = session.local_addr()
            && !options.locals.iter().any(|(s, _)| *s == session.id())
        {
            options.locals.push((session.id(), local));
        }
        options
    }

    /// Starts recording every event to `path` in `format`. The engine's tap is set at
    /// once (events wait in its queue), and the file is created on a helper thread, so a
    /// slow disk or network share never holds up the window; an error (the file cannot be
    /// created) is shown and nothing else changes.
    pub fn start_recording(&mut self, lang: Lang, path: &Path, format: LogFormat) {
        self.stop_recording();
        self.log.recorder = None;
        let (tap, events) = std::sync::mpsc::sync_channel(TAP_CAPACITY);
        self.engine.set_tap(Some(tap));
        self.log.opening = true;
        self.log.stop_when_open = false;
        self.log.generation += 1;
        let generation = self.log.generation;
        let options = self.log_options(format);
        let path = path.to_path_buf();
        let t = lang.texts();
        self.spawn_job(lang, move || {
            let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
            let result = match dir.map(|d| (d, std::fs::create_dir_all(d))) {
                Some((dir, Err(error))) => {
                    Err(format!("{} {}: {error}", t.cannot_create, dir.display()))
                }
                _ => Recorder::start_receiver(&path, &options, events, TAP_CAPACITY)
                    .map_err(|e| errors::recorder_error_text(lang, &e)),
            };
            JobResult::Recording(result, path, format, generation)
        });
    }

    /// The recording's file was opened, or could not be.
    pub(super) fn recording_opened(
        &mut self,
        result: Result<Recorder, String>,
        path: &Path,
        format: LogFormat,
        generation: u64,
    ) {
        if generation != self.log.generation {
            // A recording started again before this one's file was open: this one ends.
            if let Ok(recorder) = result {
                recorder.stop();
            }
            return;
        }
        self.log.opening = false;
        match result {
            Ok(recorder) if self.log.stop_when_open => {
                recorder.stop();
                self.log.recorder = Some(recorder);
            }
            Ok(recorder) => {
                self.log.recorder = Some(recorder);
                self.clear_notice(NoticeAbout::Log);
                self.settings.log.path = path.display().to_string();
                self.settings.log.format = format;
            }
            Err(message) => {
                self.engine.set_tap(None);
                // Also for `--log` on the command line, where a terminal may be watching.
                eprintln!("sockscope: {message}");
                self.notify(NoticeAbout::Log, false, message);
            }
        }
    }

    /// The log row's path (`~` expanded; a dated default when empty) and the format:
    /// the extension's when it names one, else the row's choice.
    pub(super) fn typed_log_path(&self, stem: &str) -> (PathBuf, LogFormat) {
        let chosen = self.settings.log.format;
        let typed = self.settings.log.path.trim();
        if typed.is_empty() {
            return (default_log_path(stem, chosen), chosen);
        }
        let path = expand_home(typed);
        let format = LogFormat::from_path(&path).unwrap_or(chosen);
        (path, format)
    }

    /// Writes now, or asks first when the file exists.
    pub(super) fn write_or_ask(
        &mut self,
        lang: Lang,
        kind: WriteKind,
        path: PathBuf,
        format: LogFormat,
    ) {
        // Only a regular file can be overwritten by mistake (not /dev/full, a pipe, …).
        if path.is_file() {
            self.log.confirm = Some(PendingWrite { kind, path, format });
        } else {
            self.write_log(lang, kind, path, format);
        }
    }

    pub(super) fn write_log(
        &mut self,
        lang: Lang,
        kind: WriteKind,
        path: PathBuf,
        format: LogFormat,
    ) {
        match kind {
            WriteKind::Record => self.start_recording(lang, &path, format),
            WriteKind::SaveView => self.save_view(lang, path, format),
        }
    }

    /// Stops the recording (the file is finished on the recorder's thread).
    pub fn stop_recording(&mut self) {
        self.engine.set_tap(None);
        if let Some(recorder) = &self.log.recorder {
            recorder.stop();
        }
        // A recording whose file is still being opened stops as soon as it is open.
        self.log.stop_when_open = self.log.opening;
    }

    /// Stops the recording and waits up to `timeout` for the file to be complete
    /// (tab or window closing, Ctrl+C).
    pub fn finish_recording(&mut self, timeout: Duration) -> Option<RecorderStatus> {
        self.stop_recording();
        let status = self.log.recorder.as_mut().map(|r| r.finish(timeout));
        self.log.recorder = None;
        status
    }

    /// Writes the records the view holds now to `path` on a worker thread.
    fn save_view(&mut self, lang: Lang, path: PathBuf, format: LogFormat) {
        let t = lang.texts();
        let records: Vec<Record> = self.store.iter().cloned().collect();
        let options = self.log_options(format);
        self.spawn_job(lang, move || {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                let _ = std::fs::create_dir_all(dir);
            }
            match crate::session::recorder::write_records_with(&path, &options, records.iter()) {
                Ok(s) => JobResult::Message(
                    Slot::Log,
                    true,
                    format!(
                        "{} {} {} ({}) → {}",
                        t.saved,
                        s.records,
                        t.records,
                        human_bytes(s.bytes_written as f64),
                        s.path.display()
                    ),
                ),
                Err(e) => {
                    JobResult::Message(Slot::Log, false, errors::recorder_error_text(lang, &e))
                }
            }
        });
    }
}
