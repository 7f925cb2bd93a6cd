//! File dialogs and file jobs off the UI thread.
//!
//! rfd dialogs block until answered, and reading or writing a file can take long, so both
//! run on helper threads and report back through channels that the UI polls each frame.
//! When no dialog can be shown (no portal, no zenity), rfd answers `None` at once; an
//! answer that quick is taken as "no dialog here" and the caller falls back to its path
//! field, saying so.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::{Duration, Instant};

use crate::automation::QuickCommands;

use super::SockscopeApp;

/// A dialog that answers faster than this could not have been shown to anyone.
const DIALOG_NOT_SHOWN: Duration = Duration::from_millis(250);

/// What a file dialog is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DialogPurpose {
    /// Pick the recording's path (save).
    RecordPath,
    /// Pick where to save the view (save).
    SaveView,
    /// Pick where to export the quick commands (save).
    ExportCommands,
    /// Pick a quick-commands file to import (open).
    ImportCommands,
    /// Pick a file to send (open).
    SendFile,
}

impl DialogPurpose {
    /// True for "open" dialogs, false for "save as" dialogs.
    fn opens(self) -> bool {
        matches!(
            self,
            DialogPurpose::ImportCommands | DialogPurpose::SendFile
        )
    }
}

/// Where a job's message is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    /// The log row.
    Log,
    /// The automation panels.
    Automation,
}

/// What a finished job reports.
#[derive(Debug)]
pub enum JobResult {
    /// A message: (ok, words).
    Message(Slot, bool, String),
    /// Quick commands read from a file, and where from.
    Imported(QuickCommands, PathBuf),
}

/// Pending dialogs and jobs.
#[derive(Debug, Default)]
pub struct FileJobs {
    dialog: Option<(DialogPurpose, Instant, Receiver<Option<PathBuf>>)>,
    jobs: Vec<Receiver<JobResult>>,
}

impl FileJobs {
    /// True while a dialog is open.
    pub fn dialog_open(&self) -> bool {
        self.dialog.is_some()
    }

    /// True while a dialog or a job is pending (the UI keeps polling).
    pub fn busy(&self) -> bool {
        self.dialog.is_some() || !self.jobs.is_empty()
    }
}

impl SockscopeApp {
    /// Opens a native dialog on a helper thread; its answer arrives in [`Self::poll_files`].
    pub(crate) fn open_dialog(
        &mut self,
        purpose: DialogPurpose,
        suggested: PathBuf,
        filter: (&'static str, &'static str),
    ) {
        let (tx, rx) = std::sync::mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("file-dialog".into())
            .spawn(move || {
                let mut dialog = rfd::FileDialog::new().add_filter(filter.0, &[filter.1]);
                if let Some(dir) = suggested.parent().filter(|d| d.is_dir()) {
                    dialog = dialog.set_directory(dir);
                }
                let answer = if purpose.opens() {
                    dialog.pick_file()
                } else {
                    if let Some(name) = suggested.file_name() {
                        dialog = dialog.set_file_name(name.to_string_lossy());
                    }
                    dialog.save_file()
                };
                let _ = tx.send(answer);
            });
        match spawned {
            Ok(_) => self.files.dialog = Some((purpose, Instant::now(), rx)),
            Err(error) => self.show_message(
                slot_of(purpose),
                false,
                format!("cannot open a dialog: {error}"),
            ),
        }
    }

    /// Runs `job` on a helper thread; its result arrives in [`Self::poll_files`].
    pub(crate) fn spawn_job(&mut self, job: impl FnOnce() -> JobResult + Send + 'static) {
        let (tx, rx) = std::sync::mpsc::channel();
        match std::thread::Builder::new()
            .name("file-job".into())
            .spawn(move || {
                let _ = tx.send(job());
            }) {
            Ok(_) => self.files.jobs.push(rx),
            Err(error) => self.show_message(
                Slot::Automation,
                false,
                format!("cannot start a file job: {error}"),
            ),
        }
    }

    /// Shows a message in its slot.
    pub(crate) fn show_message(&mut self, slot: Slot, ok: bool, message: String) {
        match slot {
            Slot::Log => self.log.message = Some((ok, message)),
            Slot::Automation => self.automation.message = Some((ok, message)),
        }
    }

    /// Collects dialog answers and job results; called every frame.
    pub(crate) fn poll_files(&mut self) {
        if let Some((purpose, started, rx)) = &self.files.dialog {
            match rx.try_recv() {
                Ok(answer) => {
                    let (purpose, quick) = (*purpose, started.elapsed() < DIALOG_NOT_SHOWN);
                    self.files.dialog = None;
                    match answer {
                        Some(path) => self.dialog_answered(purpose, Some(path)),
                        // rfd returns at once when it cannot show a dialog.
                        None if quick => self.dialog_answered(purpose, None),
                        None => {}
                    }
                }
                Err(TryRecvError::Empty) => {}
                Err(TryRecvError::Disconnected) => self.files.dialog = None,
            }
        }
        let mut finished = Vec::new();
        self.files.jobs.retain(|rx| match rx.try_recv() {
            Ok(result) => {
                finished.push(result);
                false
            }
            Err(TryRecvError::Empty) => true,
            Err(TryRecvError::Disconnected) => false,
        });
        for result in finished {
            match result {
                JobResult::Message(slot, ok, message) => self.show_message(slot, ok, message),
                JobResult::Imported(commands, path) => self.imported_commands(commands, &path),
            }
        }
    }

    /// A dialog's answer; `None` when no dialog could be shown (use the path field).
    fn dialog_answered(&mut self, purpose: DialogPurpose, path: Option<PathBuf>) {
        match purpose {
            DialogPurpose::RecordPath | DialogPurpose::SaveView => {
                self.log_path_chosen(purpose, path)
            }
            DialogPurpose::ExportCommands
            | DialogPurpose::ImportCommands
            | DialogPurpose::SendFile => self.automation_path_chosen(purpose, path),
        }
    }
}

fn slot_of(purpose: DialogPurpose) -> Slot {
    match purpose {
        DialogPurpose::RecordPath | DialogPurpose::SaveView => Slot::Log,
        _ => Slot::Automation,
    }
}

/// The words shown when no dialog could be shown and a path field is used instead.
pub fn no_dialog_message(path: &std::path::Path) -> String {
    format!(
        "no file dialog is available here; using the path field: {}",
        path.display()
    )
}
