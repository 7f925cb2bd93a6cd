//! What the panels ask for, and the one place it happens. Panels draw from the state
//! they are given and push [`UiAction`]s; after drawing, [`SessionTab::apply`] runs them:
//! it starts and stops sessions, sends (every sender through [`send_target`]), changes
//! view choices in the store and the settings together, kicks, records and saves.
//!
//! Here: the actions, the send-target rules and the dispatch. The work itself is by
//! concern in `session` (start, stop, groups, target), `send` (senders and auto-reply),
//! `record` (recording and saving logs) and `dialogs` (file dialogs and their jobs).

mod dialogs;
mod record;
mod send;
mod session;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

use crate::codec::checksum::Checksum;
use crate::codec::text::TextEncoding;
use crate::engine::{ConnId, SendTarget, parse_host_port};
use crate::lang::Lang;
use crate::session::{Framing, ViewMode};

use super::errors;
use super::files::DialogPurpose;
use super::i18n::Texts;
use super::log::{WriteChoice, WriteKind, numbered_free_path};
use super::send::bytes_to_text;
use super::settings::{Mode, UdpTarget};
use super::tab::{Clients, NoticeAbout, SessionTab};

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
    /// Cut received bytes by this frame definition from now on (None: by the view's
    /// framing) and count a send unanswered after this many ms as a timeout.
    SetFrameDef {
        /// The definition.
        def: Option<crate::protocol::FrameDef>,
        /// The round-trip timeout in ms.
        rtt_timeout_ms: u64,
    },
    /// Forget the round-trip statistics.
    ClearRtt,
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
            UiAction::SetFrameDef {
                def,
                rtt_timeout_ms,
            } => {
                self.settings.frames.def = def;
                self.settings.frames.rtt_timeout_ms = rtt_timeout_ms.max(1);
                self.store.set_frame_def(self.settings.frames.usable_def());
                let timeout = self.settings.frames.rtt_timeout();
                self.store.rtt_mut().set_timeout(timeout);
            }
            UiAction::ClearRtt => {
                self.store.rtt_mut().clear();
                self.rtt = super::frames::rtt::RttStats::default();
            }
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
}
