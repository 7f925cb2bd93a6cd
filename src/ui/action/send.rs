//! Sending: the compose box, periodic and file senders, quick commands, and the
//! auto-reply rules, each through the session's send route.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::automation::{
    AutoResponder, AutomationError, FileSendOptions, FileSender, PeriodicConfig, PeriodicSender,
    QuickCommand,
};
use crate::engine::{SendTarget, SessionHandle};
use crate::lang::Lang;
use crate::ui::errors;
use crate::ui::files::JobResult;
use crate::ui::settings::parse_number;
use crate::ui::tab::{NoticeAbout, SessionTab};

use super::{MAX_CHUNK, Sender, target_words};

impl SessionTab {
    /// The running session and the target, or why a send cannot happen, in words.
    fn send_route(&self, lang: Lang) -> Result<(SessionHandle, SendTarget), String> {
        let session = self
            .session
            .clone()
            .filter(|_| self.running())
            .ok_or_else(|| lang.texts().nothing_to_send.to_string())?;
        Ok((session, self.current_target(lang)?))
    }

    /// The route for an automation sender; without one the automation panel says why.
    fn automation_route(&mut self, lang: Lang) -> Option<(SessionHandle, SendTarget)> {
        let route = self.send_route(lang);
        route
            .map_err(|m| self.notify(NoticeAbout::Automation, false, m))
            .ok()
    }

    /// A sender that started, or none and the automation panel says why.
    fn started<T>(&mut self, lang: Lang, started: Result<T, AutomationError>) -> Option<T> {
        match started {
            Ok(sender) => {
                self.clear_notice(NoticeAbout::Automation);
                Some(sender)
            }
            Err(error) => {
                self.notify(
                    NoticeAbout::Automation,
                    false,
                    errors::automation_error_text(lang, &error),
                );
                None
            }
        }
    }

    pub(super) fn send(&mut self, lang: Lang, sender: Sender) {
        match sender {
            Sender::Compose => self.send_compose(lang),
            Sender::Quick(index) => self.send_quick_command(lang, index),
        }
    }

    /// Sends the compose box once and records it in the history.
    fn send_compose(&mut self, lang: Lang) {
        let payload = match self.compose.payload(lang, &self.settings.compose) {
            Ok(p) => p,
            Err(message) => {
                self.notify(NoticeAbout::Send, false, message);
                return;
            }
        };
        let (session, target) = match self.send_route(lang) {
            Ok(route) => route,
            Err(message) => {
                self.notify(NoticeAbout::Send, false, message);
                return;
            }
        };
        let len = payload.len();
        let words = target_words(lang.texts(), &target, &self.clients);
        let (ok, message) = match session.send(target, payload) {
            Ok(queued) => {
                self.compose.counter += 1;
                let spec = self.settings.compose.spec.clone();
                self.settings.compose.remember(spec);
                self.compose.history_pos = None;
                let to = if words.is_empty() {
                    queued.to_string()
                } else {
                    words
                };
                (true, format!("{} {len} B → {to}", lang.texts().sent))
            }
            Err(e) => (false, errors::error_text(lang, &e)),
        };
        self.notify(NoticeAbout::Send, ok, message);
    }

    /// Starts repeating the compose box every `periodic_ms`, `periodic_count` times.
    pub(super) fn start_periodic(&mut self, lang: Lang) {
        let t = lang.texts();
        let Some((session, target)) = self.automation_route(lang) else {
            return;
        };
        let compose = &self.settings.compose;
        let interval = parse_number(&compose.periodic_ms).unwrap_or(0);
        if interval == 0 {
            self.notify(
                NoticeAbout::Automation,
                false,
                format!("{}: {}", t.every_ms, t.invalid_number),
            );
            return;
        }
        let count = parse_number(&compose.periodic_count).filter(|&n| n > 0);
        let config = PeriodicConfig {
            send: compose.send_spec(),
            target,
            interval: Duration::from_millis(interval),
            count,
        };
        let started = PeriodicSender::start(session, config);
        if let Some(sender) = self.started(lang, started) {
            self.automation.periodic = Some(sender);
        }
    }

    /// Starts streaming the file at `path` to the target.
    pub(super) fn start_file_send(&mut self, lang: Lang, path: PathBuf) {
        let t = lang.texts();
        let Some((session, target)) = self.automation_route(lang) else {
            return;
        };
        let compose = &mut self.settings.compose;
        let chunk = parse_number(&compose.file_chunk)
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(0);
        if !(1..=MAX_CHUNK).contains(&chunk) {
            self.notify(
                NoticeAbout::Automation,
                false,
                format!("{}: 1 … {MAX_CHUNK}", t.chunk),
            );
            return;
        }
        let options = FileSendOptions {
            chunk_size: chunk,
            chunk_delay: Duration::from_millis(parse_number(&compose.file_delay_ms).unwrap_or(0)),
            ..FileSendOptions::default()
        };
        compose.file_path = path.display().to_string();
        // Opening the file (a slow disk, a network share) happens off the UI thread.
        self.spawn_job(lang, move || {
            let started = FileSender::start(session, target, &path, options)
                .map_err(|e| errors::automation_error_text(lang, &e));
            JobResult::FileSend(started, path)
        });
    }

    /// A file send's file was opened and the send started, or not.
    pub(super) fn file_send_opened(&mut self, result: Result<FileSender, String>, path: &Path) {
        match result {
            Ok(sender) => {
                self.clear_notice(NoticeAbout::Automation);
                self.automation.file = Some(sender);
                self.automation.file_reported = false;
            }
            Err(message) => {
                let message = format!("{}: {message}", path.display());
                self.notify(NoticeAbout::Automation, false, message);
            }
        }
    }

    /// Sends quick command `index` to the target.
    fn send_quick_command(&mut self, lang: Lang, index: usize) {
        let t = lang.texts();
        let Some((session, target)) = self.automation_route(lang) else {
            return;
        };
        let commands = &mut self.settings.automation.quick_commands;
        let words = target_words(t, &target, &self.clients);
        let (ok, message) = match commands.send(index, &session, target) {
            Ok(n) if words.is_empty() => (true, format!("{} → {n}", t.sent)),
            Ok(_) => (true, format!("{} → {words}", t.sent)),
            Err(error) => (false, errors::automation_error_text(lang, &error)),
        };
        self.notify(NoticeAbout::Automation, ok, message);
    }

    /// Saves the compose box as a new quick command.
    pub(super) fn save_quick_command(&mut self, name: &str) {
        let commands = &mut self.settings.automation.quick_commands;
        let name = if name.trim().is_empty() {
            format!("#{}", commands.commands.len() + 1)
        } else {
            name.trim().to_string()
        };
        commands.add(QuickCommand::new(name, self.settings.compose.send_spec()));
    }

    /// Turns auto-reply on (installing the rules in the running session and every later
    /// one) or off.
    pub(super) fn set_auto_reply(&mut self, lang: Lang, on: bool) {
        if !on {
            self.automation.responder = None;
            if let Some(session) = &self.session {
                session.set_responder(None);
            }
            return;
        }
        match AutoResponder::new(&self.settings.automation.auto_reply) {
            Ok(responder) => {
                if let Some(session) = &self.session {
                    responder.install(session);
                }
                self.automation.responder = Some(responder);
                self.automation.rule_error = None;
            }
            Err(error) => self.automation.rule_error = Some(errors::rule_error_text(lang, &error)),
        }
    }

    /// Applies edited rules to the running responder.
    pub(super) fn rules_changed(&mut self, lang: Lang) {
        if let Some(responder) = &self.automation.responder {
            self.automation.rule_error = responder
                .set_config(&self.settings.automation.auto_reply)
                .err()
                .map(|e| errors::rule_error_text(lang, &e));
        }
    }
}
