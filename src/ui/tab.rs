//! One session in the window: its typed settings, the engine that runs it, the record
//! store its view draws from, its clients and the state of each of its panels. Engine
//! events are applied here ([`SessionTab::handle_event`]); what the user asks for arrives
//! as [`UiAction`](super::action::UiAction)s and is applied in `action.rs`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use crate::engine::{
    ConnId, Engine, EngineError, Event, EventReceiver, SessionHandle, SessionId, SessionKind,
};
use crate::lang::Lang;
use crate::session::store::{QueueSizer, Store, StoreCaps};

use super::settings::{Mode, TabSettings};
use super::{automation, errors, files, log, receive, send};

/// Capacity of a tab's engine → UI event queue, in events. Payload bytes are bounded
/// separately by the engine (32 MiB), so a deep queue costs little memory and lets a
/// datagram flood wait out a slow frame instead of being dropped.
const EVENT_QUEUE: usize = 32_768;
/// Most UDP peers listed in the clients panel: as many as the store keeps counters for;
/// the rest are summed in one "others" row.
const MAX_UDP_PEERS: usize = crate::session::stats::MAX_PEER_STATS;

/// What a session is doing, in words for the status line.
#[derive(Clone, Debug, PartialEq)]
pub enum Status {
    /// Nothing started.
    Idle,
    /// A TCP client is connecting.
    Connecting(String),
    /// A TCP client is connected.
    Connected {
        /// Our side.
        local: SocketAddr,
        /// The server.
        peer: SocketAddr,
    },
    /// A TCP server listens on this address.
    Listening(SocketAddr),
    /// A UDP socket is bound to this address.
    Bound(SocketAddr),
    /// A TCP client lost its connection (or could not make it) and tries again.
    Reconnecting {
        /// The attempt about to be made.
        attempt: u32,
        /// The wait before it.
        delay: Duration,
    },
    /// Stop was asked; waiting for the workers.
    Stopping,
    /// The session ended.
    Stopped,
    /// The session failed; the message says why.
    Failed(String),
}

/// The one message a tab shows at a time, in a strip of fixed height above the status
/// bar (so no message ever moves a control): the result of the last thing the user did,
/// or the last error. Replaced by the next one; dismissed with its ×.
#[derive(Clone, Debug, PartialEq)]
pub struct Notice {
    /// Good news (green) or a problem (red).
    pub ok: bool,
    /// The message in the UI language.
    pub text: String,
    /// What the message is about, so it can be taken back when that changes.
    pub about: NoticeAbout,
}

/// What a [`Notice`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoticeAbout {
    /// The session (start, stop, engine errors).
    Session,
    /// A send from the compose box.
    Send,
    /// Recording and saving logs.
    Log,
    /// Repeats, files, quick commands, auto-reply.
    Automation,
}

/// Losses and limits of the running session the status bar shows (reset at each start),
/// next to the UDP queue drops: every loss counted where the user looks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Losses {
    /// Datagrams the kernel dropped (full receive buffer; Linux only).
    pub kernel_dropped: u64,
    /// Datagrams that did not reach the log (the recorder fell behind).
    pub not_recorded: u64,
    /// Queued bytes thrown away unsent by forced closes and the stop.
    pub discarded: u64,
    /// The UDP receive buffer asked for and the one the system granted.
    pub recv_buffer: Option<(usize, usize)>,
}

impl Losses {
    fn note(&mut self, notice: &crate::engine::Notice) {
        use crate::engine::Notice;
        match notice {
            Notice::NotRecorded { datagrams, .. } => self.not_recorded += datagrams,
            Notice::UnsentDiscarded { bytes } => self.discarded += bytes,
            Notice::RecvBuffer { requested, granted } => {
                self.recv_buffer = Some((*requested, *granted))
            }
            _ => {}
        }
    }
}

/// One connected TCP client (server mode) or UDP peer, as the clients list shows it.
#[derive(Clone, Debug)]
pub struct ClientRow {
    /// The connection (None for UDP peers).
    pub conn: Option<ConnId>,
    /// Remote address.
    pub peer: SocketAddr,
    /// When it connected or was first heard from.
    pub since: SystemTime,
    /// Ticked as a send target.
    pub selected: bool,
}

/// Key of a row in the clients list: TCP connections by id, UDP peers by address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ClientKey {
    /// A TCP connection.
    Conn(ConnId),
    /// A UDP peer.
    Peer(SocketAddr),
}

/// The clients list of a tab, in connection order.
pub type Clients = BTreeMap<ClientKey, ClientRow>;

/// One session and everything the window keeps for it.
pub struct SessionTab {
    /// What persists: addresses, view choices, compose box, log, automation.
    pub settings: TabSettings,
    /// What the session is doing.
    pub status: Status,
    /// The running session, if any.
    pub session: Option<SessionHandle>,
    /// The record store the view draws from.
    pub store: Store,
    /// Clients (server mode) or peers (UDP).
    pub clients: Clients,
    /// Receive view state.
    pub receive: receive::ReceiveState,
    /// Compose panel state.
    pub compose: send::ComposeState,
    /// Recording and saving logs.
    pub log: log::LogState,
    /// Repeat, file send, quick commands, auto-reply.
    pub automation: automation::AutomationState,
    /// Pending file dialogs and file jobs.
    pub files: files::FileJobs,
    /// Datagrams the engine dropped because the UI fell behind (UDP).
    pub udp_dropped: u64,
    /// What else the session lost or was refused, for the status bar.
    pub losses: Losses,
    /// What the TLS session told us (negotiated protocol, the server's fingerprint).
    pub tls: super::tls::TlsFacts,
    /// The message in the strip above the status bar.
    pub notice: Option<Notice>,
    /// The UDP peer that sent to us last ("reply to last sender").
    pub last_sender: Option<SocketAddr>,
    /// The fixed UDP peer's name, looked up off the UI thread.
    pub peer_lookup: Option<super::action::PeerLookup>,
    /// The fixed peer text as last seen and since when (lookups wait for typing to stop).
    pub(super) peer_typed: Option<(String, Instant)>,
    /// The local address of every session this tab ran (for logs saved after a stop).
    pub locals: Vec<(SessionId, SocketAddr)>,
    /// Records that arrived while the tab was in the background.
    pub unseen: u64,
    /// The Frames panel: the definition being edited (`ui::frames`).
    pub frames: super::frames::FramesState,
    /// Round-trip statistics as last read from the store (quick commands, status bar,
    /// Frames panel).
    pub rtt: super::frames::rtt::RttStats,
    /// The Plot panel: rate samples and the view (`ui::plot`).
    pub plot: super::plot::PlotState,
    /// Stable id for egui widget ids (tabs move; ids must not).
    pub uid: u64,
    pub(super) engine: Engine,
    events: EventReceiver,
    /// The bound of the engine's queue for this tab, moved with the traffic.
    queue: QueueSizer,
}

impl SessionTab {
    /// A stopped tab with these settings; `waker` is called when its engine has events.
    pub fn new(
        settings: TabSettings,
        uid: u64,
        view_bytes: usize,
        waker: Box<dyn Fn() + Send + Sync>,
    ) -> Self {
        let (engine, events) = Engine::new(EVENT_QUEUE, waker);
        let caps = StoreCaps {
            max_bytes: view_bytes,
            ..StoreCaps::default()
        };
        let mut store = Store::new(caps, settings.view.encoding);
        store.set_frame_mode(settings.view.framing.mode());
        store.set_frame_check(settings.view.frame_check());
        store.set_frame_def(settings.frames.usable_def());
        store.rtt_mut().set_timeout(settings.frames.rtt_timeout());
        let mut tab = SessionTab {
            settings,
            status: Status::Idle,
            session: None,
            store,
            clients: Clients::new(),
            receive: receive::ReceiveState::default(),
            compose: send::ComposeState::default(),
            log: log::LogState::default(),
            automation: automation::AutomationState::default(),
            files: files::FileJobs::default(),
            udp_dropped: 0,
            losses: Losses::default(),
            tls: super::tls::TlsFacts::default(),
            notice: None,
            last_sender: None,
            peer_lookup: None,
            peer_typed: None,
            locals: Vec::new(),
            unseen: 0,
            frames: super::frames::FramesState::default(),
            rtt: super::frames::rtt::RttStats::default(),
            plot: super::plot::PlotState::default(),
            uid,
            engine,
            events,
            queue: QueueSizer::new(view_bytes),
        };
        tab.set_view_bytes(view_bytes);
        tab
    }

    /// Sets the memory this tab's view may use: what the store holds plus what is queued
    /// on its way there (a [`QueueSizer`] splits it).
    pub fn set_view_bytes(&mut self, bytes: usize) {
        let mut caps = self.store.caps();
        caps.max_bytes = bytes;
        self.store.set_caps(caps);
        self.queue = QueueSizer::new(bytes);
        self.store.set_reserve(self.queue.limit());
        self.engine.set_queue_bytes(self.queue.limit());
    }

    /// Received payload bytes waiting in the engine's queue for this tab's next drain.
    pub fn queued_bytes(&self) -> usize {
        self.events.queued_bytes()
    }

    /// Moves the queue's bound with what this drain finds queued: the store makes room
    /// before the queue may grow, and the queue shrinks before the store may grow, so
    /// the two together never hold more than the view's cap.
    fn size_queue(&mut self) {
        let before = self.queue.limit();
        // A paused view keeps its records: the queue does not grow into them (it sheds
        // what the view drops once full), so a pause counts as calm. A live view sheds,
        // and its queue grows only as far as shedding needs.
        let (queued, shedding) = if self.store.pinned() {
            (0, false)
        } else {
            (self.events.queued_bytes(), self.store.shed_view() > 0)
        };
        if let Some(limit) = self.queue.observe(queued, Instant::now(), shedding) {
            if limit > before {
                self.store.set_reserve(limit);
                self.engine.set_queue_bytes(limit);
            } else {
                self.engine.set_queue_bytes(limit);
                self.store.set_reserve(limit);
            }
        }
    }

    /// True while the session runs (connecting, connected, listening or bound).
    pub fn running(&self) -> bool {
        self.session.as_ref().is_some_and(|s| !s.is_stopped())
            && !matches!(self.status, Status::Stopped | Status::Failed(_))
    }

    /// The tab's title: the name the user gave it, else its mode and address.
    pub fn title(&self, lang: Lang) -> String {
        if !self.settings.name.trim().is_empty() {
            return self.settings.name.trim().to_string();
        }
        let t = lang.texts();
        let c = &self.settings.connection;
        let (host, port) = c.endpoint();
        let port = match &self.status {
            Status::Listening(addr) | Status::Bound(addr) => addr.port().to_string(),
            _ => port.trim().to_string(),
        };
        let kind = match c.mode {
            Mode::TcpClient => t.tab_client,
            Mode::TcpServer => t.tab_server,
            Mode::Udp => t.mode_udp,
        };
        format!("{kind} {}:{port}", host.trim())
    }

    fn current_session(&self) -> Option<SessionId> {
        self.session.as_ref().map(|s| s.id())
    }

    /// Shows `text` in the message strip.
    pub fn notify(&mut self, about: NoticeAbout, ok: bool, text: impl Into<String>) {
        self.notice = Some(Notice {
            ok,
            text: text.into(),
            about,
        });
    }

    /// Takes back the message about `about`, if it is the one shown.
    pub fn clear_notice(&mut self, about: NoticeAbout) {
        if self.notice.as_ref().is_some_and(|n| n.about == about) {
            self.notice = None;
        }
    }

    /// The current error in the strip, if the message shown is one.
    pub fn error_shown(&self) -> Option<&str> {
        self.notice
            .as_ref()
            .filter(|n| !n.ok)
            .map(|n| n.text.as_str())
    }

    /// Writes the port the system chose for "port 0" back into the port field, so the
    /// field shows it and a restart binds the same port (devices set up for it still
    /// reach us).
    pub(super) fn keep_bound_port(&mut self, local: SocketAddr) {
        let (_, port) = self.settings.connection.endpoint_fields();
        if super::settings::parse_u16(port) == Some(0) || port.trim().is_empty() {
            *port = local.port().to_string();
        }
    }

    /// Remembers the local address of a session (for logs written after it stopped).
    fn remember_local(&mut self, session: SessionId, local: SocketAddr) {
        if let Some(entry) = self.locals.iter_mut().find(|(s, _)| *s == session) {
            entry.1 = local;
        } else {
            self.locals.push((session, local));
            if self.locals.len() > 64 {
                self.locals.remove(0);
            }
        }
    }

    pub(super) fn fail(&mut self, lang: Lang, message: String) {
        self.status = Status::Failed(message.clone());
        let t = lang.texts();
        self.store.push_info(
            0,
            None,
            None,
            SystemTime::now(),
            format!("{}: {message}", t.info_error),
        );
        self.notify(NoticeAbout::Session, false, message);
    }

    /// Drains engine events for at most `budget`; returns true if some are left.
    /// `background` counts received records as unseen (the tab bar shows them).
    pub fn drain_events(&mut self, lang: Lang, budget: Duration, background: bool) -> bool {
        let deadline = Instant::now() + budget;
        self.size_queue();
        self.engine.set_shedding(self.store.shed_view());
        let mut handled = 0u32;
        loop {
            let Some(event) = self.events.try_recv() else {
                return false;
            };
            if background && matches!(event, Event::Data { .. } | Event::Shed { .. }) {
                self.unseen += 1;
            }
            self.handle_event(lang, event);
            handled += 1;
            if handled % 8 == 0 && Instant::now() >= deadline {
                return true;
            }
        }
    }

    /// Lets the session's last events (closes, "stopped") reach the log at exit or when
    /// the tab closes: keeps the queue moving for up to `timeout` while the workers end.
    /// False when the session had not stopped by then (its log may miss its last events).
    pub(super) fn wind_down(&mut self, timeout: Duration) -> bool {
        if let Some(session) = &self.session {
            session.stop();
            let deadline = Instant::now() + timeout;
            while !session.is_stopped() && Instant::now() < deadline {
                while self.events.try_recv().is_some() {}
                std::thread::sleep(Duration::from_millis(5));
            }
            return session.is_stopped();
        }
        true
    }

    /// At exit: lets pending file jobs (saves, exports, a recording's file being opened)
    /// finish and applies their results, then winds the session down and finishes the
    /// log. Problems go to stderr, the only place left to say them.
    pub(super) fn finish_at_exit(&mut self, lang: Lang) {
        if !self.files.wait_jobs(Duration::from_secs(5)) {
            eprintln!(
                "sockscope: a save or export was still running at exit and may be incomplete"
            );
        }
        self.poll_files(lang);
        if !self.wind_down(Duration::from_secs(1)) {
            eprintln!(
                "sockscope: {}: the session did not stop within 1 s; its log may miss the last events",
                self.title(lang)
            );
        }
        if let Some(status) = self.finish_recording(Duration::from_secs(5))
            && let Some(error) = status.error
        {
            eprintln!("sockscope: the recording stopped early: {error}");
        }
    }

    /// Applies one engine event to the tab.
    pub fn handle_event(&mut self, lang: Lang, event: Event) {
        let t = lang.texts();
        let current = self.current_session() == Some(event.session());
        match event {
            Event::Connecting { addr, .. } => {
                if current {
                    self.status = Status::Connecting(addr.to_string());
                }
            }
            Event::Connected {
                session,
                at,
                conn,
                local,
                peer,
            } => {
                if current {
                    self.status = Status::Connected { local, peer };
                    self.clear_notice(NoticeAbout::Session);
                }
                self.remember_local(session, local);
                self.store.push_info(
                    session,
                    Some(conn),
                    Some(peer),
                    at,
                    format!("{} {local} → {peer}", t.info_connected),
                );
            }
            Event::Listening { session, at, local } => {
                let udp = self.settings.connection.mode == Mode::Udp;
                self.remember_local(session, local);
                if current {
                    self.keep_bound_port(local);
                    self.status = if udp {
                        Status::Bound(local)
                    } else {
                        Status::Listening(local)
                    };
                }
                let what = if udp { t.info_bound } else { t.info_listening };
                self.store
                    .push_info(session, None, None, at, format!("{what} {local}"));
            }
            Event::ClientJoined {
                session,
                conn,
                peer,
                at,
                ..
            } => {
                if current {
                    self.clients.insert(
                        ClientKey::Conn(conn),
                        ClientRow {
                            conn: Some(conn),
                            peer,
                            since: at,
                            selected: false,
                        },
                    );
                }
                self.store
                    .push_info(session, Some(conn), Some(peer), at, t.joined.to_string());
            }
            Event::ClientRefused {
                session,
                at,
                peer,
                limit,
                count,
            } => {
                self.store.push_info(
                    session,
                    None,
                    Some(peer),
                    at,
                    format!("{} ({limit}) ×{count}", t.refused_limit),
                );
            }
            Event::Data {
                session,
                conn,
                peer,
                dir,
                at,
                bytes,
                group,
                scan,
            } => {
                // UDP peers are listed up to a bound: a flood from random source ports
                // must not grow the list (and every frame's work) without end.
                if current
                    && conn.is_none()
                    && (self.clients.len() < MAX_UDP_PEERS
                        || self.clients.contains_key(&ClientKey::Peer(peer)))
                {
                    self.clients
                        .entry(ClientKey::Peer(peer))
                        .or_insert(ClientRow {
                            conn: None,
                            peer,
                            since: at,
                            selected: false,
                        });
                }
                if current && conn.is_none() && dir == crate::engine::Direction::Rx {
                    self.last_sender = Some(peer);
                }
                if dir == crate::engine::Direction::Tx {
                    // A repeat's send is expected before its Tx event is stored.
                    self.expect_repeats(lang);
                }
                match group {
                    Some(group) => self
                        .store
                        .push_group_data(session, peer, at, bytes, group, scan),
                    None => self
                        .store
                        .push_scanned(session, conn, peer, dir, at, bytes, scan),
                }
            }
            Event::Shed {
                session,
                conn,
                peer,
                at,
                len,
            } => self.store.push_shed(session, conn, peer, at, len),
            Event::Closed {
                session,
                at,
                conn,
                peer,
                reason,
                discarded,
            } => {
                self.clients.remove(&ClientKey::Conn(conn));
                self.store.end_conn(session, conn);
                if current {
                    self.losses.discarded += discarded;
                }
                self.store.push_info(
                    session,
                    Some(conn),
                    Some(peer),
                    at,
                    format!(
                        "{}: {}",
                        t.closed,
                        errors::close_text(lang, &reason, discarded)
                    ),
                );
                let client_mode = self
                    .session
                    .as_ref()
                    .is_some_and(|s| s.kind() == SessionKind::TcpClient);
                if current && client_mode {
                    self.status = Status::Stopped;
                    self.tls.negotiated = None;
                }
            }
            Event::Dropped {
                datagrams, kernel, ..
            } => {
                if current {
                    self.udp_dropped = datagrams;
                    self.losses.kernel_dropped = kernel;
                }
            }
            Event::Notice {
                session,
                at,
                notice,
            } => {
                use crate::engine::Notice as N;
                if current {
                    self.losses.note(&notice);
                    match &notice {
                        N::Reconnecting { attempt, delay } => {
                            self.status = Status::Reconnecting {
                                attempt: *attempt,
                                delay: *delay,
                            };
                        }
                        N::TlsHandshake { info, .. } => {
                            self.tls.negotiated =
                                Some((info.protocol.clone(), info.cipher_suite.clone()));
                        }
                        N::TlsIdentity {
                            certificate,
                            self_signed,
                        } => {
                            self.tls.identity = Some((certificate.sha256.clone(), *self_signed));
                        }
                        _ => {}
                    }
                }
                let text = errors::notice_text(lang, &notice);
                // A connection's TLS notices go with that connection's rows and logs.
                let (conn, peer) = match &notice {
                    N::TlsHandshake { conn, peer, .. } | N::TlsNoCloseNotify { conn, peer } => {
                        (Some(*conn), Some(*peer))
                    }
                    _ => (None, None),
                };
                self.store.push_info(session, conn, peer, at, text);
            }
            Event::Error { session, at, error } => {
                let message = errors::error_text(lang, &error);
                self.store.push_info(
                    session,
                    None,
                    None,
                    at,
                    format!("{}: {message}", t.info_error),
                );
                if current {
                    // Errors before the session is up (refused, in use, …) end it; later
                    // ones (a failed UDP send, an accept hiccup) are shown and it goes on.
                    let up = matches!(
                        self.status,
                        Status::Connected { .. } | Status::Listening(_) | Status::Bound(_)
                    );
                    if is_fatal(&error) && !up {
                        self.status = Status::Failed(message.clone());
                    }
                    self.notify(NoticeAbout::Session, false, message);
                }
            }
            Event::Stopped { .. } => {
                if current {
                    if !matches!(self.status, Status::Failed(_)) {
                        self.status = Status::Stopped;
                    }
                    self.session = None;
                    self.clients.retain(|k, _| matches!(k, ClientKey::Peer(_)));
                }
            }
        }
    }

    /// Per-frame work that draws nothing: file dialogs and jobs, idle-gap framers, rates.
    pub fn poll(&mut self, lang: Lang) {
        self.poll_files(lang);
        self.lookup_peer(lang);
        if let Some(file) = &self.automation.file
            && !file.is_running()
            && !self.automation.file_reported
        {
            self.automation.file_reported = true;
            let ok = file
                .stop_reason()
                .is_none_or(|r| matches!(r, crate::automation::StopReason::Finished));
            let (_, text) = automation::file_progress_text(lang, file);
            self.notify(
                NoticeAbout::Automation,
                ok,
                format!("{}: {text}", lang.texts().file),
            );
        }
        let now = Instant::now();
        self.store.poll(now);
        self.rtt.refresh(&self.store, now);
        self.store.stats.tick(now);
        self.plot.sample(now, &self.store);
    }
}

/// Errors after which the session cannot go on (the rest are shown but the session lives).
fn is_fatal(error: &EngineError) -> bool {
    matches!(
        error,
        EngineError::Refused { .. }
            | EngineError::TimedOut { .. }
            | EngineError::Resolve { .. }
            | EngineError::AddrInUse { .. }
            | EngineError::PermissionDenied { .. }
            | EngineError::AddrNotAvailable { .. }
    )
}
