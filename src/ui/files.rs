//! File dialogs and file jobs off the UI thread.
//!
//! rfd dialogs block until answered, and reading or writing a file can take long, so both
//! run on helper threads and report back through channels that the UI polls each frame.
//! When no dialog can be shown (no portal, no zenity), rfd answers `None` at once; an
//! answer that quick is taken as "no dialog here" and the caller falls back to its path
//! field, saying so.

use std::path::PathBuf;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::automation::QuickCommands;
use crate::lang::Lang;

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
    /// Pick where to export the frame definition (save).
    ExportFrameDef,
    /// Pick a frame definition file to import (open).
    ImportFrameDef,
    /// Pick a file to send (open).
    SendFile,
    /// TLS client: pick the extra CA file (open).
    TlsCaFile,
    /// TLS server: pick the certificate file (open).
    TlsCertFile,
    /// TLS server: pick the private key file (open).
    TlsKeyFile,
}

impl DialogPurpose {
    /// True for "open" dialogs, false for "save as" dialogs.
    fn opens(self) -> bool {
        matches!(
            self,
            DialogPurpose::ImportCommands
                | DialogPurpose::ImportFrameDef
                | DialogPurpose::SendFile
                | DialogPurpose::TlsCaFile
                | DialogPurpose::TlsCertFile
                | DialogPurpose::TlsKeyFile
        )
    }

    /// Where messages about this dialog are shown.
    pub fn slot(self) -> Slot {
        match self {
            DialogPurpose::RecordPath | DialogPurpose::SaveView => Slot::Log,
            _ => Slot::Automation,
        }
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
pub enum JobResult {
    /// A message: (ok, words).
    Message(Slot, bool, String),
    /// Quick commands read from a file, and where from.
    Imported(QuickCommands, PathBuf),
    /// A frame definition read from a file, and where from.
    ImportedFrameDef(crate::protocol::FrameDef, PathBuf),
    /// A recording whose file was opened (or could not be), with its path, format and
    /// which start it answers (see `LogState::generation`).
    Recording(
        Result<crate::session::recorder::Recorder, String>,
        PathBuf,
        crate::session::recorder::LogFormat,
        u64,
    ),
    /// A file send whose file was opened (or could not be).
    FileSend(Result<crate::automation::FileSender, String>, PathBuf),
    /// A fixed UDP peer's name looked up: the text and its address or why not.
    PeerLookup(String, Result<std::net::SocketAddr, String>),
}

impl std::fmt::Debug for JobResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JobResult::Message(slot, ok, text) => f
                .debug_tuple("Message")
                .field(slot)
                .field(ok)
                .field(text)
                .finish(),
            JobResult::Imported(commands, path) => f
                .debug_tuple("Imported")
                .field(commands)
                .field(path)
                .finish(),
            JobResult::ImportedFrameDef(def, path) => f
                .debug_tuple("ImportedFrameDef")
                .field(&def.name)
                .field(path)
                .finish(),
            JobResult::Recording(result, path, format, generation) => f
                .debug_tuple("Recording")
                .field(&result.as_ref().map(|_| ()))
                .field(path)
                .field(format)
                .field(generation)
                .finish(),
            JobResult::PeerLookup(text, result) => f
                .debug_tuple("PeerLookup")
                .field(text)
                .field(result)
                .finish(),
            JobResult::FileSend(result, path) => f
                .debug_tuple("FileSend")
                .field(&result.as_ref().map(|_| ()))
                .field(path)
                .finish(),
        }
    }
}

/// What [`FileJobs::poll`] found.
#[derive(Debug)]
pub enum FileOutcome {
    /// A dialog was answered; `None` when no dialog could be shown.
    Answer(DialogPurpose, Option<PathBuf>),
    /// A job finished.
    Job(JobResult),
}

/// A helper thread's answer: its value, or the message of a panic it caught.
type Answer<T> = JoinHandle<Result<T, String>>;

/// Pending dialogs and jobs. Each runs on a helper thread (`crate::sync::spawn`, which
/// catches a panic and hands back its message); the UI only collects threads that have
/// already finished, so it never waits on one.
#[derive(Debug, Default)]
pub struct FileJobs {
    dialog: Option<(DialogPurpose, Instant, Answer<Option<PathBuf>>)>,
    jobs: Vec<Answer<JobResult>>,
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

    /// Opens a native dialog on a helper thread; its answer arrives through [`Self::poll`].
    pub fn open_dialog(
        &mut self,
        lang: Lang,
        purpose: DialogPurpose,
        suggested: PathBuf,
        filter: (&'static str, &'static str),
    ) -> Result<(), String> {
        let spawned = crate::sync::spawn("file-dialog", move || {
            let mut dialog = rfd::FileDialog::new().add_filter(filter.0, &[filter.1]);
            if let Some(dir) = suggested.parent().filter(|d| d.is_dir()) {
                dialog = dialog.set_directory(dir);
            }
            if let Some(name) = suggested.file_name() {
                dialog = dialog.set_file_name(name.to_string_lossy());
            }
            if purpose.opens() {
                dialog.pick_file()
            } else {
                dialog.save_file()
            }
        });
        match spawned {
            Ok(handle) => {
                self.dialog = Some((purpose, Instant::now(), handle));
                Ok(())
            }
            Err(error) => Err(format!("{}: {error}", lang.texts().cannot_dialog)),
        }
    }

    /// Runs `job` on a helper thread; its result arrives through [`Self::poll`].
    pub fn spawn_job(
        &mut self,
        lang: Lang,
        job: impl FnOnce() -> JobResult + Send + 'static,
    ) -> Result<(), String> {
        match crate::sync::spawn("file-job", job) {
            Ok(handle) => {
                self.jobs.push(handle);
                Ok(())
            }
            Err(error) => Err(format!("{}: {error}", lang.texts().cannot_job)),
        }
    }

    /// Waits up to `timeout` for the pending jobs (saves, exports, a recording's file
    /// being opened) to finish, at exit; true when none is left.
    pub fn wait_jobs(&self, timeout: std::time::Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.jobs.iter().any(|h| !h.is_finished()) {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        true
    }

    /// Dialog answers and job results that arrived since the last call. A helper that
    /// failed (a bug) is reported as a message rather than lost.
    pub fn poll(&mut self, lang: Lang) -> Vec<FileOutcome> {
        let t = lang.texts();
        let mut out = Vec::new();
        if self
            .dialog
            .as_ref()
            .is_some_and(|(_, _, h)| h.is_finished())
            && let Some((purpose, started, handle)) = self.dialog.take()
        {
            match collect(handle) {
                Ok(Some(path)) => out.push(FileOutcome::Answer(purpose, Some(path))),
                // rfd returns at once when it cannot show a dialog.
                Ok(None) if started.elapsed() < DIALOG_NOT_SHOWN => {
                    out.push(FileOutcome::Answer(purpose, None))
                }
                Ok(None) => {}
                Err(message) => out.push(FileOutcome::Job(JobResult::Message(
                    purpose.slot(),
                    false,
                    format!("{}: {message}", t.cannot_dialog),
                ))),
            }
        }
        let (done, pending): (Vec<_>, Vec<_>) = self.jobs.drain(..).partition(|h| h.is_finished());
        self.jobs = pending;
        for handle in done {
            out.push(FileOutcome::Job(collect(handle).unwrap_or_else(
                |message| {
                    JobResult::Message(
                        Slot::Automation,
                        false,
                        format!("{}: {message}", t.job_failed),
                    )
                },
            )));
        }
        out
    }
}

/// The value of a helper thread that has finished (joining it does not wait).
fn collect<T>(handle: Answer<T>) -> Result<T, String> {
    handle
        .join()
        .unwrap_or_else(|p| Err(crate::sync::panic_message(p.as_ref())))
}
