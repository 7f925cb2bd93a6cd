//! File dialogs and the jobs behind them: choosing paths for logs, views and quick
//! commands, running file work off the UI thread, and showing how it went.

use std::path::{Path, PathBuf};

use crate::automation::QuickCommands;
use crate::lang::Lang;
use crate::session::recorder::LogFormat;
use crate::ui::files::{DialogPurpose, FileOutcome, JobResult, Slot};
use crate::ui::log::{WriteKind, default_log_path};
use crate::ui::tab::{NoticeAbout, SessionTab};
use crate::ui::{errors, frames};

impl SessionTab {
    /// Opens the dialog for `purpose`, suggesting what the fields hold.
    pub(super) fn open_dialog(&mut self, lang: Lang, purpose: DialogPurpose) {
        let format = self.settings.log.format;
        let field = |s: &str| PathBuf::from(s.trim());
        let (suggested, filter) = match purpose {
            DialogPurpose::RecordPath => (
                field(&self.settings.log.path),
                (format.name(), format.extension()),
            ),
            DialogPurpose::SaveView => (
                self.typed_log_path("view").0,
                (format.name(), format.extension()),
            ),
            DialogPurpose::SendFile => (field(&self.settings.compose.file_path), ("file", "*")),
            DialogPurpose::TlsCaFile => (field(&self.settings.connection.tls.ca_file), PEM),
            DialogPurpose::TlsCertFile => (field(&self.settings.connection.tls.cert_file), PEM),
            DialogPurpose::TlsKeyFile => (field(&self.settings.connection.tls.key_file), PEM),
            DialogPurpose::ImportCommands => (
                field(&self.settings.automation.commands_path),
                ("JSON", "json"),
            ),
            DialogPurpose::ImportFrameDef => (field(&self.settings.frames.path), ("JSON", "json")),
            DialogPurpose::ExportFrameDef => (self.frame_def_path(), ("JSON", "json")),
            DialogPurpose::ExportCommands => {
                let mut path = field(&self.settings.automation.commands_path);
                if path.as_os_str().is_empty() {
                    path = default_log_path("commands", LogFormat::Text).with_extension("json");
                }
                (path, ("JSON", "json"))
            }
        };
        if let Err(message) = self.files.open_dialog(lang, purpose, suggested, filter) {
            self.show_message(purpose.slot(), false, message);
        }
    }

    pub(super) fn spawn_job(
        &mut self,
        lang: Lang,
        job: impl FnOnce() -> JobResult + Send + 'static,
    ) {
        if let Err(message) = self.files.spawn_job(lang, job) {
            self.show_message(Slot::Automation, false, message);
        }
    }

    fn show_message(&mut self, slot: Slot, ok: bool, message: String) {
        match slot {
            Slot::Log => self.notify(NoticeAbout::Log, ok, message),
            Slot::Automation => self.notify(NoticeAbout::Automation, ok, message),
        }
    }

    /// Collects dialog answers and job results and acts on them.
    pub(in crate::ui) fn poll_files(&mut self, lang: Lang) {
        for outcome in self.files.poll(lang) {
            match outcome {
                FileOutcome::Job(JobResult::Message(slot, ok, message)) => {
                    self.show_message(slot, ok, message)
                }
                FileOutcome::Job(JobResult::Imported(commands, path)) => {
                    self.imported_commands(lang, commands, &path)
                }
                FileOutcome::Job(JobResult::ImportedFrameDef(def, path)) => {
                    self.frames.edit(&def);
                    let t = lang.texts();
                    let message = format!("{} ← {} ({})", t.fr_imported, path.display(), def.name);
                    self.notify(NoticeAbout::Automation, true, message);
                }
                FileOutcome::Job(JobResult::Recording(result, path, format, generation)) => {
                    self.recording_opened(result, &path, format, generation)
                }
                FileOutcome::Job(JobResult::FileSend(result, path)) => {
                    self.file_send_opened(result, &path)
                }
                FileOutcome::Job(JobResult::PeerLookup(text, result)) => {
                    if let Some(lookup) = self.peer_lookup.as_mut().filter(|l| l.text == text) {
                        lookup.result = Some(result);
                    }
                }
                FileOutcome::Answer(purpose, path) => self.dialog_answered(lang, purpose, path),
            }
        }
    }

    /// A dialog's answer; `None` when no dialog could be shown (the path field is used).
    fn dialog_answered(&mut self, lang: Lang, purpose: DialogPurpose, path: Option<PathBuf>) {
        let t = lang.texts();
        let typed = |s: &str| Some(PathBuf::from(s.trim())).filter(|p| !p.as_os_str().is_empty());
        let fallback = match purpose {
            // The TLS fields are the path fields themselves: nothing to fall back to.
            DialogPurpose::TlsCaFile | DialogPurpose::TlsCertFile | DialogPurpose::TlsKeyFile => {
                None
            }
            DialogPurpose::RecordPath => typed(&self.settings.log.path),
            DialogPurpose::SaveView => Some(self.typed_log_path("view").0),
            DialogPurpose::SendFile => typed(&self.settings.compose.file_path),
            DialogPurpose::ImportCommands => typed(&self.settings.automation.commands_path),
            DialogPurpose::ImportFrameDef => typed(&self.settings.frames.path),
            DialogPurpose::ExportFrameDef => Some(self.frame_def_path()),
            DialogPurpose::ExportCommands => typed(&self.settings.automation.commands_path)
                .or_else(|| {
                    Some(default_log_path("commands", LogFormat::Text).with_extension("json"))
                }),
        };
        let path = match path {
            Some(path) => path,
            None => {
                let shown = fallback.clone().unwrap_or_default();
                self.show_message(
                    purpose.slot(),
                    false,
                    format!("{}: {}", t.no_dialog, shown.display()),
                );
                match fallback {
                    Some(path) if purpose != DialogPurpose::RecordPath => path,
                    _ => {
                        if fallback_missing(purpose) {
                            self.show_message(purpose.slot(), false, t.type_path_first.into());
                        }
                        return;
                    }
                }
            }
        };
        match purpose {
            DialogPurpose::RecordPath => {
                if let Some(format) = LogFormat::from_path(&path) {
                    self.settings.log.format = format;
                }
                self.settings.log.path = path.display().to_string();
            }
            DialogPurpose::SaveView => {
                let format = LogFormat::from_path(&path).unwrap_or(self.settings.log.format);
                self.write_or_ask(lang, WriteKind::SaveView, path, format);
            }
            DialogPurpose::SendFile => self.start_file_send(lang, path),
            DialogPurpose::ExportCommands => self.export_commands(lang, path),
            DialogPurpose::ImportCommands => self.import_commands(lang, path),
            DialogPurpose::ExportFrameDef => self.export_frame_def(lang, path),
            DialogPurpose::ImportFrameDef => self.import_frame_def(lang, path),
            DialogPurpose::TlsCaFile => self.settings.connection.tls.ca_file = path_text(&path),
            DialogPurpose::TlsCertFile => self.settings.connection.tls.cert_file = path_text(&path),
            DialogPurpose::TlsKeyFile => self.settings.connection.tls.key_file = path_text(&path),
        }
    }

    /// Writes the quick commands to `path` as JSON, off the UI thread.
    fn export_commands(&mut self, lang: Lang, path: PathBuf) {
        let t = lang.texts();
        self.settings.automation.commands_path = path.display().to_string();
        let commands = self.settings.automation.quick_commands.clone();
        self.spawn_job(lang, move || match commands.export_file(&path) {
            Ok(()) => JobResult::Message(
                Slot::Automation,
                true,
                format!(
                    "{} {} → {}",
                    t.exported,
                    commands.commands.len(),
                    path.display()
                ),
            ),
            Err(error) => JobResult::Message(
                Slot::Automation,
                false,
                errors::automation_error_text(lang, &error),
            ),
        });
    }

    /// Reads quick commands from `path`, off the UI thread; they are appended.
    fn import_commands(&mut self, lang: Lang, path: PathBuf) {
        let t = lang.texts();
        self.settings.automation.commands_path = path.display().to_string();
        self.spawn_job(lang, move || match QuickCommands::import_file(&path) {
            Ok(commands) => JobResult::Imported(commands, path),
            Err(error) => JobResult::Message(
                Slot::Automation,
                false,
                format!(
                    "{} {}: {}",
                    t.cannot_import,
                    path.display(),
                    errors::import_error_text(lang, &error)
                ),
            ),
        });
    }

    /// The frame definition file's path: the field, else `frame.json` beside the logs.
    fn frame_def_path(&self) -> PathBuf {
        let typed = PathBuf::from(self.settings.frames.path.trim());
        if typed.as_os_str().is_empty() {
            default_log_path("frame", LogFormat::Text).with_extension("json")
        } else {
            typed
        }
    }

    /// Writes the definition in the Frames editor to `path` as JSON, off the UI thread.
    fn export_frame_def(&mut self, lang: Lang, path: PathBuf) {
        let t = lang.texts();
        let def = match self.frames.built(lang) {
            Ok(Some(def)) => def,
            _ => {
                self.notify(NoticeAbout::Automation, false, t.fr_p_fix_first);
                return;
            }
        };
        self.settings.frames.path = path.display().to_string();
        self.spawn_job(lang, move || match frames::io::export_file(&def, &path) {
            Ok(()) => JobResult::Message(
                Slot::Automation,
                true,
                format!("{} {} → {}", t.fr_exported, def.name, path.display()),
            ),
            Err(error) => JobResult::Message(
                Slot::Automation,
                false,
                format!("{}: {}", path.display(), frames::io::error_text(t, &error)),
            ),
        });
    }

    /// Reads a frame definition from `path`, off the UI thread, into the Frames editor.
    fn import_frame_def(&mut self, lang: Lang, path: PathBuf) {
        let t = lang.texts();
        self.settings.frames.path = path.display().to_string();
        self.spawn_job(lang, move || match frames::io::import_file(&path) {
            Ok(def) => JobResult::ImportedFrameDef(def, path),
            Err(error) => JobResult::Message(
                Slot::Automation,
                false,
                format!(
                    "{} {}: {}",
                    t.cannot_import,
                    path.display(),
                    frames::io::error_text(t, &error)
                ),
            ),
        });
    }

    /// Appends imported commands.
    fn imported_commands(&mut self, lang: Lang, commands: QuickCommands, path: &Path) {
        let count = commands.commands.len();
        for command in commands.commands {
            self.settings.automation.quick_commands.add(command);
        }
        let message = format!("{} {count} ← {}", lang.texts().imported, path.display());
        self.notify(NoticeAbout::Automation, true, message);
    }
}

/// The filter of the TLS file dialogs: every file (certificates and keys come as
/// `.pem`, `.crt`, `.cer`, `.key`, …).
const PEM: (&str, &str) = ("PEM", "*");

fn path_text(path: &Path) -> String {
    path.display().to_string()
}

/// Purposes whose only way on without a dialog is a typed path.
fn fallback_missing(purpose: DialogPurpose) -> bool {
    matches!(
        purpose,
        DialogPurpose::SendFile
            | DialogPurpose::ImportCommands
            | DialogPurpose::ImportFrameDef
            | DialogPurpose::TlsCaFile
            | DialogPurpose::TlsCertFile
            | DialogPurpose::TlsKeyFile
    )
}
