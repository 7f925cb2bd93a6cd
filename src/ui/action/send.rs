//! Sending: the compose box, periodic and file senders, quick commands, and the
//! auto-reply rules, each through the session's send route.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::automation::{
    AutoResponder, AutomationError, FileSendOptions, FileSender, PeriodicConfig, PeriodicSender,
    QuickCommand,
};
use crate::engine::{ConnId, SendTarget, SessionHandle};
use crate::lang::Lang;
use crate::ui::errors;
use crate::ui::files::JobResult;
use crate::ui::settings::{Mode, parse_number};
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
        let links = self.reply_links(&session, &target);
        let (ok, message) = match session.send(target, payload) {
            Ok(queued) => {
                // Handed to the engine: its Tx events are drained later on this thread.
                self.expect_replies(&links, lang.texts().fr_rtt_compose, len);
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
        let links = self.reply_links(&session, &target);
        let commands = &mut self.settings.automation.quick_commands;
        // What the click sends (the same rendering the send makes), for its round trip.
        let sending = commands
            .commands
            .get(index)
            .and_then(|c| Some((c.name.clone(), c.preview().ok()?.len())));
        let words = target_words(t, &target, &self.clients);
        let result = commands.send(index, &session, target);
        if result.is_ok()
            && let Some((name, len)) = sending
        {
            self.expect_replies(&links, &name, len);
        }
        let (ok, message) = match result {
            Ok(n) if words.is_empty() => (true, format!("{} → {n}", t.sent)),
            Ok(_) => (true, format!("{} → {words}", t.sent)),
            Err(error) => (false, errors::automation_error_text(lang, &error)),
        };
        self.notify(NoticeAbout::Automation, ok, message);
    }

    /// The connections or UDP peers a send to `target` goes to, each the link its
    /// answer comes back on (a TCP client's connection, the ticked or all clients of a
    /// server, the UDP peers).
    pub(in crate::ui) fn reply_links(
        &self,
        session: &SessionHandle,
        target: &SendTarget,
    ) -> Vec<(Option<ConnId>, SocketAddr)> {
        if self.settings.connection.mode == Mode::Udp {
            return match target {
                SendTarget::Peer(peer) => vec![(None, *peer)],
                SendTarget::Peers(peers) => peers.iter().map(|p| (None, *p)).collect(),
                _ => self.clients.values().map(|c| (None, c.peer)).collect(),
            };
        }
        session
            .clients()
            .into_iter()
            .filter(|c| match target {
                SendTarget::Default | SendTarget::All => true,
                SendTarget::Conn(id) => c.conn == *id,
                SendTarget::Conns(ids) => ids.contains(&c.conn),
                SendTarget::Peer(_) | SendTarget::Peers(_) => target.names_peer(c.peer),
            })
            .map(|c| (Some(c.conn), c.peer))
            .collect()
    }

    /// A send of `len` bytes labelled `label` went to these links: each waits for its
    /// answer (round-trip times).
    pub(in crate::ui) fn expect_replies(
        &mut self,
        links: &[(Option<ConnId>, SocketAddr)],
        label: &str,
        len: usize,
    ) {
        for (conn, peer) in links {
            self.store.expect_reply(*conn, *peer, label, len);
        }
    }

    /// The sends the repeat made since the last call (told before each was handed to
    /// the engine), each waiting for its answer. Called before a Tx event is stored, so
    /// the send it reports is already expected.
    pub(in crate::ui) fn expect_repeats(&mut self, lang: Lang) {
        let Some(periodic) = &self.automation.periodic else {
            return;
        };
        let lens = periodic.take_sends();
        if lens.is_empty() {
            return;
        }
        let target = periodic.target().clone();
        let Some(session) = self.session.clone() else {
            return;
        };
        let links = self.reply_links(&session, &target);
        for len in lens {
            self.expect_replies(&links, lang.texts().fr_rtt_repeat, len);
        }
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
