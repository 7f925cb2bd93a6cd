//! What the panels ask for, and the one place it happens. Panels draw from the state
//! they are given and push [`UiAction`]s; after drawing, [`SessionTab::apply`] runs them:
//! it starts and stops sessions, sends (every sender through [`send_target`]), changes
//! view choices in the store and the settings together, kicks, records and saves.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::automation::{
    AutoResponder, AutomationError, FileSendOptions, FileSender, PeriodicConfig, PeriodicSender,
    QuickCommand, QuickCommands,
};
use crate::codec::checksum::Checksum;
use crate::codec::text::TextEncoding;
use crate::engine::{
    ConnId, GroupSpec, SendTarget, SessionConfig, SessionHandle, SessionKind, parse_host_port,
};
use crate::lang::Lang;
use crate::session::recorder::{LogFormat, LogOptions, Recorder, RecorderStatus};
use crate::session::stats::human_bytes;
use crate::session::store::Record;
use crate::session::{Framing, ViewMode};

use super::errors;
use super::files::{DialogPurpose, FileOutcome, JobResult, Slot};
use super::i18n::Texts;
use super::log::{
    PendingWrite, WriteChoice, WriteKind, default_log_path, expand_home, numbered_free_path,
};
use super::send::bytes_to_text;
use super::settings::{Mode, UdpTarget, parse_number};
use super::tab::{Clients, NoticeAbout, SessionTab, Status};

/// Events the recorder's tap may hold before TCP workers wait for it.
const TAP_CAPACITY: usize = 4096;
/// Largest file chunk the window offers (one read, one record, one send).
pub const MAX_CHUNK: usize = 1024 * 1024;

/// Who is sending.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sender {
    /// The compose box.
    Compose,
    /// Quick command number `n`.
    Quick(usize),
}

/// Something a panel asks the tab to do.
#[derive(Clone, Debug, PartialEq)]
pub enum UiAction {
    /// Start the session the connection panel describes.
    Start,
    /// Stop the running session.
    Stop,
    /// Send once.
    Send(Sender),
    /// Start repeating the compose box.
    StartRepeat,
    /// Stop repeating.
    StopRepeat,
    /// Stream this file to the target.
    SendFile(PathBuf),
    /// Stop the file send.
    CancelFile,
    /// Open a file dialog.
    OpenDialog(DialogPurpose),
    /// Decode the view with this encoding.
    SetEncoding(TextEncoding),
    /// Cut received streams this way.
    SetFraming(Framing),
    /// Check received frames against this checksum (None: no check).
    SetFrameCheck(Checksum),
    /// Show payloads as text, hex or both.
    SetView(ViewMode),
    /// Pause or resume the view.
    TogglePause,
    /// Empty the view.
    Clear,
    /// Close one client's connection.
    Kick(ConnId),
    /// Record to the log row's path and format.
    StartRecording,
    /// Save what the view holds to the log row's path (a dialog when it is empty).
    SaveView,
    /// The user's answer about a file that exists.
    ConfirmWrite(WriteChoice),
    /// Stop recording.
    StopRecording,
    /// Turn auto-reply on or off.
    SetAutoReply(bool),
    /// The rules were edited.
    RulesChanged,
    /// Save the compose box as a quick command with this name.
    SaveQuickCommand(String),
    /// Close the message strip's message.
    DismissNotice,
    /// Put these bytes in the compose box (in its mode and encoding).
    ComposeBytes(Vec<u8>),
    /// Send to this peer from now on (tick that client, or make it the fixed UDP peer).
    TargetPeer(SocketAddr),
    /// UDP: add this group (`GROUP[+SOURCE][@INTERFACE]`) to the list and join it now
    /// when the socket is open.
    JoinGroup(String),
    /// UDP: leave this group of the list (it stays listed).
    LeaveGroup(String),
    /// UDP: leave this group and take it off the list.
    RemoveGroup(String),
    /// UDP: apply the multicast TTL, loopback and interface fields to the open socket.
    ApplyMulticastSending,
}

/// Why a send has nowhere to go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetError {
    /// UDP "reply to last sender" before anyone sent to us.
    NoSender,
    /// UDP "fixed peer" with the field empty.
    NoPeer,
    /// UDP "fixed peer" that is not `host:port`.
    BadPeer,
    /// UDP "fixed peer" given by a name that is being looked up (on a helper thread; the
    /// window never waits for DNS).
    PeerLookingUp,
    /// UDP "fixed peer" given by a name that could not be looked up.
    PeerNotFound,
}

/// What the UDP target choice needs to know besides the ticks.
#[derive(Clone, Copy, Debug)]
pub struct UdpRoute<'a> {
    /// Last sender or fixed peer.
    pub choice: UdpTarget,
    /// The fixed peer as typed.
    pub peer: &'a str,
    /// Whoever sent to us last.
    pub last_sender: Option<SocketAddr>,
    /// The socket's local address, for `localhost` in the peer field.
    pub local: Option<SocketAddr>,
    /// The last name looked up for the fixed peer: the text and its answer.
    pub lookup: Option<&'a PeerLookup>,
}

/// A fixed UDP peer given by name, looked up on a helper thread.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerLookup {
    /// The `host:port` text that was looked up.
    pub text: String,
    /// `None` while the lookup runs; then the address (of the socket's family when there
    /// is one) or why there is none.
    pub result: Option<Result<SocketAddr, String>>,
}

/// Where a send goes, the same for every sender (Send button, repeat, file, quick
/// commands). A TCP client sends on its connection. Ticks in the clients list win: a
/// server sends to the ticked clients, else to all; a UDP socket to the ticked peers,
/// else to its choice (the last sender or the fixed peer), one datagram each.
pub fn send_target(
    mode: Mode,
    clients: &Clients,
    udp: UdpRoute<'_>,
) -> Result<SendTarget, TargetError> {
    let ticked = || clients.values().filter(|c| c.selected);
    match mode {
        Mode::TcpClient => Ok(SendTarget::Default),
        Mode::TcpServer => {
            let conns: Vec<ConnId> = ticked().filter_map(|c| c.conn).collect();
            Ok(if conns.is_empty() {
                SendTarget::All
            } else {
                SendTarget::Conns(conns)
            })
        }
        Mode::Udp => {
            let peers: Vec<SocketAddr> = ticked().map(|c| c.peer).collect();
            if !peers.is_empty() {
                return Ok(SendTarget::Peers(peers));
            }
            match udp.choice {
                UdpTarget::LastSender => udp
                    .last_sender
                    .map(SendTarget::Peer)
                    .ok_or(TargetError::NoSender),
                UdpTarget::FixedPeer => match fixed_peer(udp.peer, udp.local) {
                    Err(TargetError::PeerLookingUp) => {
                        match udp.lookup.filter(|l| l.text == udp.peer.trim()) {
                            Some(PeerLookup {
                                result: Some(Ok(addr)),
                                ..
                            }) => Ok(SendTarget::Peer(*addr)),
                            Some(PeerLookup {
                                result: Some(Err(_)),
                                ..
                            }) => Err(TargetError::PeerNotFound),
                            _ => Err(TargetError::PeerLookingUp),
                        }
                    }
                    other => other.map(SendTarget::Peer),
                },
            }
        }
    }
}

/// The fixed UDP peer as an address: an IP literal, or `localhost` (the loopback of the
/// socket's family); another name needs a lookup (`PeerLookingUp`).
pub fn fixed_peer(typed: &str, local: Option<SocketAddr>) -> Result<SocketAddr, TargetError> {
    let typed = typed.trim();
    if typed.is_empty() {
        return Err(TargetError::NoPeer);
    }
    let (host, port) = parse_host_port(typed).map_err(|_| TargetError::BadPeer)?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    if bare.eq_ignore_ascii_case("localhost") {
        let ip = match local {
            Some(SocketAddr::V6(_)) => IpAddr::V6(Ipv6Addr::LOCALHOST),
            _ => IpAddr::V4(Ipv4Addr::LOCALHOST),
        };
        return Ok(SocketAddr::new(ip, port));
    }
    Err(TargetError::PeerLookingUp)
}

/// The target error in words.
pub fn target_error_text(t: &Texts, error: TargetError) -> &'static str {
    match error {
        TargetError::NoSender => t.no_sender_yet,
        TargetError::NoPeer => t.type_a_peer,
        TargetError::BadPeer => t.invalid_peer,
        TargetError::PeerLookingUp => t.peer_looking_up,
        TargetError::PeerNotFound => t.peer_not_found,
    }
}

/// Where a target sends, in a few words for the Send button ("all 3", "2 ticked",
/// "127.0.0.1:9001"); empty for a TCP client's connection.
pub fn target_words(t: &Texts, target: &SendTarget, clients: &Clients) -> String {
    match target {
        SendTarget::Default => String::new(),
        SendTarget::All => format!("{} {}", t.target_all_n, clients.len()),
        SendTarget::Conns(v) => format!("{} {}", v.len(), t.target_ticked_n),
        SendTarget::Peers(v) if v.len() == 1 => v[0].to_string(),
        SendTarget::Peers(v) => format!("{} {}", v.len(), t.target_ticked_n),
        SendTarget::Peer(a) => a.to_string(),
        SendTarget::Conn(_) => format!("1 {}", t.target_ticked_n),
    }
}

impl SessionTab {
    /// Runs the actions the panels pushed this frame, in order.
    pub fn apply(&mut self, lang: Lang, actions: Vec<UiAction>) {
        for action in actions {
            self.apply_one(lang, action);
        }
    }

    fn apply_one(&mut self, lang: Lang, action: UiAction) {
        match action {
            UiAction::Start => self.start_session(lang),
            UiAction::JoinGroup(text) => self.change_group(lang, &text, Some(true)),
            UiAction::LeaveGroup(text) => self.change_group(lang, &text, Some(false)),
            UiAction::RemoveGroup(text) => self.change_group(lang, &text, None),
            UiAction::ApplyMulticastSending => {
                let options = self.settings.connection.multicast_sending();
                if let Some(session) = &self.session
                    && let Err(error) = session.set_multicast_sending(options)
                {
                    let message = errors::error_text(lang, &error);
                    self.notify(NoticeAbout::Session, false, message);
                }
            }
            UiAction::Stop => self.stop_session(),
            UiAction::Send(sender) => self.send(lang, sender),
            UiAction::StartRepeat => self.start_periodic(lang),
            UiAction::StopRepeat => {
                if let Some(p) = &self.automation.periodic {
                    p.stop();
                }
            }
            UiAction::SendFile(path) => self.start_file_send(lang, path),
            UiAction::CancelFile => {
                if let Some(f) = &self.automation.file {
                    f.cancel();
                }
            }
            UiAction::OpenDialog(purpose) => self.open_dialog(lang, purpose),
            UiAction::SetEncoding(encoding) => {
                self.store.set_encoding(encoding);
                self.settings.view.encoding = encoding;
            }
            UiAction::SetFraming(framing) => {
                self.store.set_frame_mode(framing.mode());
                self.settings.view.framing = framing;
            }
            UiAction::SetFrameCheck(check) => {
                self.settings.view.frame_check = check;
                self.store.set_frame_check(self.settings.view.frame_check());
            }
            UiAction::SetView(view) => self.settings.view.view = view,
            UiAction::TogglePause => {
                self.receive.paused_at = match self.receive.paused_at {
                    Some(_) => None,
                    None => Some(self.store.next_seq()),
                };
                self.store.set_pinned(self.receive.paused_at.is_some());
            }
            UiAction::Clear => {
                self.store.clear();
                self.receive.selected = None;
            }
            UiAction::Kick(conn) => {
                if let Some(session) = &self.session
                    && let Err(error) = session.kick(conn)
                {
                    let message = errors::error_text(lang, &error);
                    self.notify(NoticeAbout::Session, false, message);
                }
            }
            UiAction::StartRecording => {
                let (path, format) = self.typed_log_path("session");
                self.write_or_ask(lang, WriteKind::Record, path, format);
            }
            UiAction::SaveView => {
                if self.settings.log.path.trim().is_empty() {
                    self.open_dialog(lang, DialogPurpose::SaveView);
                } else {
                    let (mut path, format) = self.typed_log_path("view");
                    // Never over the file being recorded to.
                    if self.recording()
                        && self
                            .log
                            .recorder
                            .as_ref()
                            .is_some_and(|r| r.status().path == path)
                    {
                        path = numbered_free_path(&path);
                    }
                    self.write_or_ask(lang, WriteKind::SaveView, path, format);
                }
            }
            UiAction::ConfirmWrite(choice) => {
                if let Some(pending) = self.log.confirm.take() {
                    let path = match choice {
                        WriteChoice::Overwrite => pending.path,
                        WriteChoice::NewName => numbered_free_path(&pending.path),
                        WriteChoice::Cancel => return,
                    };
                    self.write_log(lang, pending.kind, path, pending.format);
                }
            }
            UiAction::StopRecording => self.stop_recording(),
            UiAction::SetAutoReply(on) => self.set_auto_reply(lang, on),
            UiAction::RulesChanged => self.rules_changed(lang),
            UiAction::SaveQuickCommand(name) => self.save_quick_command(&name),
            UiAction::DismissNotice => self.notice = None,
            UiAction::ComposeBytes(bytes) => {
                let spec = &mut self.settings.compose.spec;
                if spec.hex {
                    spec.text = crate::codec::hex::to_spaced(&bytes);
                } else {
                    let (text, escapes) = bytes_to_text(&bytes, spec.encoding, spec.escapes);
                    spec.text = text;
                    spec.escapes = escapes;
                }
            }
            UiAction::TargetPeer(peer) => match self.settings.connection.mode {
                Mode::TcpClient => {}
                Mode::TcpServer => {
                    for client in self.clients.values_mut() {
                        client.selected = client.peer == peer;
                    }
                }
                Mode::Udp => {
                    self.clients.values_mut().for_each(|c| c.selected = false);
                    self.settings.connection.udp_target = UdpTarget::FixedPeer;
                    self.settings.connection.udp_peer = peer.to_string();
                }
            },
        }
    }

    /// Starts the session described by the connection panel. Invalid fields were already
    /// flagged there; this reports the first one again instead of starting.
    pub fn start_session(&mut self, lang: Lang) {
        if let Some(old) = self.session.take() {
            old.stop();
        }
        let config = match self.settings.connection.session_config(lang.texts()) {
            Ok(config) => config,
            Err(message) => {
                self.fail(lang, message);
                return;
            }
        };
        self.clients.clear();
        self.udp_dropped = 0;
        self.losses = super::tab::Losses::default();
        self.status = match &config {
            SessionConfig::TcpClient(c) => Status::Connecting(format!("{}:{}", c.host, c.port)),
            _ => Status::Idle,
        };
        match self.engine.start(config) {
            Ok(handle) => {
                if let Some(local) = handle.local_addr() {
                    if handle.kind() != SessionKind::TcpClient {
                        self.keep_bound_port(local);
                        self.locals.push((handle.id(), local));
                    }
                    self.status = match handle.kind() {
                        SessionKind::TcpServer => Status::Listening(local),
                        SessionKind::Udp => Status::Bound(local),
                        SessionKind::TcpClient => self.status.clone(),
                    };
                }
                self.clear_notice(NoticeAbout::Session);
                if let Some(responder) = &self.automation.responder {
                    responder.install(&handle);
                }
                self.session = Some(handle);
            }
            Err(error) => self.fail(lang, errors::error_text(lang, &error)),
        }
    }

    /// Joins (`Some(true)`), leaves (`Some(false)`) or removes (`None`: leaves and takes
    /// off the list) a multicast group given as `GROUP[+SOURCE][@INTERFACE]`. A group
    /// that is not one is refused in words; the join itself is done by the UDP worker and
    /// its result comes back as an event (a "joined …" record, or the system's reason).
    pub fn change_group(&mut self, lang: Lang, text: &str, join: Option<bool>) {
        let spec = match GroupSpec::parse(text) {
            Ok(spec) => spec,
            Err(_) if join.is_none() => {
                // A stored entry that no longer parses can still be removed.
                self.settings.connection.udp_groups.retain(|g| g != text);
                return;
            }
            Err(error) => {
                self.notify(
                    NoticeAbout::Session,
                    false,
                    errors::error_text(lang, &error),
                );
                return;
            }
        };
        let key = spec.to_string();
        let c = &mut self.settings.connection;
        match join {
            Some(true) => {
                if !c.udp_groups.contains(&key) {
                    c.udp_groups.push(key);
                }
                c.group_input.clear();
            }
            Some(false) => {}
            None => c.udp_groups.retain(|g| *g != key && *g != text),
        }
        let Some(session) = &self.session else {
            return;
        };
        if session.kind() != SessionKind::Udp || session.is_stopped() {
            return;
        }
        let result = match join {
            Some(true) => session.join_group(spec),
            Some(false) | None => {
                let joined = session
                    .multicast_groups()
                    .iter()
                    .any(|g| g.spec == spec && g.status == crate::engine::GroupStatus::Joined);
                if joined {
                    session.leave_group(spec)
                } else {
                    Ok(())
                }
            }
        };
        if let Err(error) = result {
            self.notify(
                NoticeAbout::Session,
                false,
                errors::error_text(lang, &error),
            );
        }
    }

    /// Stops the running session (never blocks: the workers finish on their own).
    pub fn stop_session(&mut self) {
        if let Some(session) = &self.session {
            session.stop();
            self.status = Status::Stopping;
        }
    }

    /// The target every sender uses now, or why there is none.
    pub fn target(&self) -> Result<SendTarget, TargetError> {
        let c = &self.settings.connection;
        let udp = UdpRoute {
            choice: c.udp_target,
            peer: &c.udp_peer,
            last_sender: self.last_sender,
            local: self.session.as_ref().and_then(|s| s.local_addr()),
            lookup: self.peer_lookup.as_ref(),
        };
        send_target(c.mode, &self.clients, udp)
    }

    /// The target every sender uses now, or why there is none, in words.
    pub fn current_target(&self, lang: Lang) -> Result<SendTarget, String> {
        self.target()
            .map_err(|e| target_error_text(lang.texts(), e).to_string())
    }

    /// Looks the fixed UDP peer's name up on a helper thread when it is a name that was
    /// not looked up yet and has not changed for a moment (so typing does not start a
    /// lookup per keystroke). Called every frame.
    pub(super) fn lookup_peer(&mut self, lang: Lang) {
        let c = &self.settings.connection;
        if c.mode != Mode::Udp || c.udp_target != UdpTarget::FixedPeer {
            return;
        }
        let text = c.udp_peer.trim().to_string();
        let needs = matches!(fixed_peer(&text, None), Err(TargetError::PeerLookingUp));
        if !needs || self.peer_lookup.as_ref().is_some_and(|l| l.text == text) {
            return;
        }
        match &self.peer_typed {
            Some((typed, since)) if *typed == text => {
                if since.elapsed() < Duration::from_millis(400) {
                    return;
                }
            }
            _ => {
                self.peer_typed = Some((text, std::time::Instant::now()));
                return;
            }
        }
        let Ok((host, port)) = parse_host_port(&text) else {
            return;
        };
        self.peer_lookup = Some(PeerLookup {
            text: text.clone(),
            result: None,
        });
        let ipv4 = self
            .session
            .as_ref()
            .and_then(|s| s.local_addr())
            .is_none_or(|a| a.is_ipv4());
        self.spawn_job(lang, move || {
            use std::net::ToSocketAddrs;
            let result = match (host.as_str(), port).to_socket_addrs() {
                Ok(addrs) => {
                    let addrs: Vec<SocketAddr> = addrs.collect();
                    addrs
                        .iter()
                        .find(|a| a.is_ipv4() == ipv4)
                        .or(addrs.first())
                        .copied()
                        .ok_or_else(|| "no address".to_string())
                }
                Err(e) => Err(e.to_string()),
            };
            JobResult::PeerLookup(text, result)
        });
    }

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

    fn send(&mut self, lang: Lang, sender: Sender) {
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
    fn start_periodic(&mut self, lang: Lang) {
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
    fn start_file_send(&mut self, lang: Lang, path: PathBuf) {
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
    fn file_send_opened(&mut self, result: Result<FileSender, String>, path: &Path) {
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
    fn save_quick_command(&mut self, name: &str) {
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
    fn set_auto_reply(&mut self, lang: Lang, on: bool) {
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
    fn rules_changed(&mut self, lang: Lang) {
        if let Some(responder) = &self.automation.responder {
            self.automation.rule_error = responder
                .set_config(&self.settings.automation.auto_reply)
                .err()
                .map(|e| errors::rule_error_text(lang, &e));
        }
    }

    /// True while a recording runs (or its file is being opened).
    pub fn recording(&self) -> bool {
        self.log.opening || self.log.recorder.as_ref().is_some_and(|r| !r.is_finished())
    }

    /// Log options for this tab's files: the view's encoding and the session's address.
    fn log_options(&self, format: LogFormat) -> LogOptions {
        let mut options = LogOptions::new(format, self.store.encoding());
        options.locals = self.locals.clone();
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
    fn recording_opened(
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
    fn typed_log_path(&self, stem: &str) -> (PathBuf, LogFormat) {
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
    fn write_or_ask(&mut self, lang: Lang, kind: WriteKind, path: PathBuf, format: LogFormat) {
        // Only a regular file can be overwritten by mistake (not /dev/full, a pipe, …).
        if path.is_file() {
            self.log.confirm = Some(PendingWrite { kind, path, format });
        } else {
            self.write_log(lang, kind, path, format);
        }
    }

    fn write_log(&mut self, lang: Lang, kind: WriteKind, path: PathBuf, format: LogFormat) {
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

    /// Opens the dialog for `purpose`, suggesting what the fields hold.
    fn open_dialog(&mut self, lang: Lang, purpose: DialogPurpose) {
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
            DialogPurpose::ImportCommands => (
                field(&self.settings.automation.commands_path),
                ("JSON", "json"),
            ),
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

    fn spawn_job(&mut self, lang: Lang, job: impl FnOnce() -> JobResult + Send + 'static) {
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
    pub(super) fn poll_files(&mut self, lang: Lang) {
        for outcome in self.files.poll(lang) {
            match outcome {
                FileOutcome::Job(JobResult::Message(slot, ok, message)) => {
                    self.show_message(slot, ok, message)
                }
                FileOutcome::Job(JobResult::Imported(commands, path)) => {
                    self.imported_commands(lang, commands, &path)
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
            DialogPurpose::RecordPath => typed(&self.settings.log.path),
            DialogPurpose::SaveView => Some(self.typed_log_path("view").0),
            DialogPurpose::SendFile => typed(&self.settings.compose.file_path),
            DialogPurpose::ImportCommands => typed(&self.settings.automation.commands_path),
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

/// Purposes whose only way on without a dialog is a typed path.
fn fallback_missing(purpose: DialogPurpose) -> bool {
    matches!(
        purpose,
        DialogPurpose::SendFile | DialogPurpose::ImportCommands
    )
}
