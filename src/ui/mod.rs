//! The eframe application: plain state, one panel per file, events drained from the
//! engine within a time budget each frame.
//!
//! The UI thread never blocks: socket work happens on engine workers, the engine wakes
//! the UI through `ctx.request_repaint()`, and [`SockscopeApp::logic`] drains at most a
//! few milliseconds of events per frame into the [`Store`], asking for another frame when
//! more are waiting (so a flood slows the peer through TCP flow control instead of
//! freezing the window).

pub mod automation;
pub mod clients;
pub mod compare;
pub mod connection;
pub mod errors;
pub mod files;
pub mod fonts;
pub mod i18n;
pub mod log;
pub mod receive;
pub mod screenshot;
pub mod send;
pub mod settings;
pub mod status;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant, SystemTime};

use crate::cli::{StartOptions, StartSession};
use crate::codec::text::TextEncoding;
use crate::engine::{
    ConnId, Engine, EngineError, Event, EventReceiver, SessionConfig, SessionHandle, SessionId,
    SessionKind,
};
use crate::session::store::{Store, StoreCaps};

pub use i18n::{Lang, Texts};
pub use settings::{Mode, Settings, ViewMode};

/// Most UDP peers listed in the clients panel.
const MAX_UDP_PEERS: usize = 10_000;

/// Set when `--screenshot` could not write its PNG, so `main` exits with failure.
pub static SCREENSHOT_FAILED: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// Capacity of the engine → UI event queue, in events. Payload bytes are bounded
/// separately by the engine (4 MiB), so a deep queue costs little memory and lets a
/// datagram flood wait out a slow frame instead of being dropped.
const EVENT_QUEUE: usize = 32_768;
/// Payload drained in one frame past which the UI treats the traffic as a flood.
const FLOOD_BYTES: usize = 1024 * 1024;
/// How long a flooded drain waits for the workers to refill the queue.
const FLOOD_WAIT: Duration = Duration::from_micros(300);
/// Most time the UI spends draining events in one frame.
const MAX_DRAIN: Duration = Duration::from_millis(40);
/// Time the UI spends draining events per frame before it draws (at least).
const DRAIN_BUDGET: Duration = Duration::from_millis(6);

/// What the current session is doing, in words for the status line.
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
    /// Stop was asked; waiting for the workers.
    Stopping,
    /// The session ended.
    Stopped,
    /// The session failed; the message says why.
    Failed(String),
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
    /// Selected as a send target.
    pub selected: bool,
}

/// State of the PNG capture asked for with `--screenshot`.
struct ScreenshotPlan {
    path: PathBuf,
    delay: Duration,
    /// 0 = waiting, 1 = requested, 2 = written, 3 = failed.
    stage: Arc<AtomicU8>,
}

/// The whole application state.
pub struct SockscopeApp {
    /// Settings that persist across restarts.
    pub settings: Settings,
    /// What the session is doing.
    pub status: Status,
    /// The running session, if any.
    pub session: Option<SessionHandle>,
    /// The record store the views draw from.
    pub store: Store,
    /// Clients (server mode) or peers (UDP), keyed by connection id or address.
    pub clients: BTreeMap<ClientKey, ClientRow>,
    /// Receive view state.
    pub receive: receive::ReceiveState,
    /// Send panel state.
    pub send: send::SendState,
    /// Recording and saving logs.
    pub log: log::LogState,
    /// Repeat, file send, quick commands, auto-reply.
    pub automation: automation::AutomationState,
    /// Pending file dialogs and file jobs.
    pub files: files::FileJobs,
    /// Datagrams the engine dropped because the UI fell behind (UDP).
    pub udp_dropped: u64,
    /// Errors shown as a banner until dismissed or replaced.
    pub last_error: Option<String>,
    engine: Engine,
    events: EventReceiver,
    persist: bool,
    screenshot: Option<ScreenshotPlan>,
    /// When the last frame's drain started and how long it took (for the next budget).
    last_tick: Option<(Instant, Duration)>,
    exit_after_first_frame: bool,
    started: Instant,
}

/// Key of a row in the clients list: TCP connections by id, UDP peers by address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ClientKey {
    /// A TCP connection.
    Conn(ConnId),
    /// A UDP peer.
    Peer(SocketAddr),
}

impl SockscopeApp {
    /// Builds the app from eframe's creation context: fonts, stored settings, the engine,
    /// and the session asked for on the command line (or the default TCP server).
    pub fn new(cc: &eframe::CreationContext<'_>, options: StartOptions) -> Self {
        let ctx = cc.egui_ctx.clone();
        let stored: Option<Settings> = if options.persist {
            cc.storage
                .and_then(|storage| eframe::get_value(storage, eframe::APP_KEY))
        } else {
            None
        };
        let mut options = options;
        // Settings that exist but cannot be read (written by another version) are left
        // untouched: this run does not save over them, and says so.
        let unreadable = options.persist
            && stored.is_none()
            && cc
                .storage
                .is_some_and(|storage| storage.get_string(eframe::APP_KEY).is_some());
        if unreadable {
            options.persist = false;
        }
        // Plain start: the first time, a TCP server on a free port; later, the session the
        // user left (a server or UDP socket is opened again, a client waits for Connect).
        let restore = stored.is_some() && options.auto_start;
        if restore {
            options.auto_start = false;
        }
        let settings = stored.unwrap_or_else(|| Settings {
            lang: Lang::from_system(),
            ..Settings::default()
        });
        let mut app = Self::with_settings(ctx, settings, options);
        if restore && app.settings.mode != Mode::TcpClient {
            app.start_session();
        }
        if unreadable {
            app.last_error = Some(
                "the stored settings could not be read; they are left as they are and this \
                 run's settings will not be saved"
                    .into(),
            );
        }
        app
    }

    /// Builds the app with explicit settings (tests use this with persistence off).
    pub fn with_settings(
        ctx: egui::Context,
        mut settings: Settings,
        options: StartOptions,
    ) -> Self {
        settings.apply_start_options(&options);
        fonts::install(&ctx);
        let waker_ctx = ctx;
        let (engine, events) =
            Engine::new(EVENT_QUEUE, Box::new(move || waker_ctx.request_repaint()));
        let encoding = settings.encoding();
        let caps = StoreCaps {
            max_bytes: settings.view_cap_mib.clamp(1, 4096) * 1024 * 1024,
            ..StoreCaps::default()
        };
        let mut app = SockscopeApp {
            store: Store::new(caps, encoding),
            status: Status::Idle,
            session: None,
            clients: BTreeMap::new(),
            receive: receive::ReceiveState::default(),
            send: send::SendState::default(),
            log: log::LogState::default(),
            automation: automation::AutomationState::default(),
            files: files::FileJobs::default(),
            udp_dropped: 0,
            last_error: None,
            engine,
            events,
            persist: options.persist,
            screenshot: options.screenshot.clone().map(|path| ScreenshotPlan {
                path,
                delay: Duration::from_millis(options.screenshot_delay_ms),
                stage: Arc::new(AtomicU8::new(0)),
            }),
            last_tick: None,
            exit_after_first_frame: options.exit_after_first_frame,
            started: Instant::now(),
            settings,
        };
        app.store.set_frame_mode(app.settings.framing.mode());
        app.receive.compare = options.compare;
        // Recording starts first so the log holds the session from its first event.
        if let Some(path) = &options.log {
            let format = options
                .log_format
                .or_else(|| crate::session::recorder::LogFormat::from_path(path))
                .unwrap_or(crate::session::recorder::LogFormat::Text);
            app.start_recording(path, format);
            if let Some((false, message)) = &app.log.message {
                eprintln!("sockscope: {message}");
            }
        }
        if options.start.is_some() || options.auto_start {
            app.start_session();
        }
        app
    }

    /// The strings of the current language.
    pub fn texts(&self) -> &'static Texts {
        self.settings.lang.texts()
    }

    /// True while a session runs (connecting, connected, listening or bound).
    pub fn running(&self) -> bool {
        self.session.as_ref().is_some_and(|s| !s.is_stopped())
            && !matches!(self.status, Status::Stopped | Status::Failed(_))
    }

    /// Starts the session described by the connection panel. Invalid fields were already
    /// flagged there; this reports the first one again instead of starting.
    pub fn start_session(&mut self) {
        if let Some(old) = self.session.take() {
            old.stop();
        }
        let config = match self.settings.session_config() {
            Ok(config) => config,
            Err(message) => {
                self.fail(message);
                return;
            }
        };
        self.clients.clear();
        self.udp_dropped = 0;
        self.status = match &config {
            SessionConfig::TcpClient(c) => Status::Connecting(format!("{}:{}", c.host, c.port)),
            _ => Status::Idle,
        };
        match self.engine.start(config) {
            Ok(handle) => {
                if let Some(local) = handle.local_addr() {
                    self.status = match handle.kind() {
                        SessionKind::TcpServer => Status::Listening(local),
                        SessionKind::Udp => Status::Bound(local),
                        SessionKind::TcpClient => self.status.clone(),
                    };
                }
                self.last_error = None;
                if let Some(responder) = &self.automation.responder {
                    responder.install(&handle);
                }
                self.session = Some(handle);
            }
            Err(error) => self.fail(errors::error_text(self.settings.lang, &error)),
        }
    }

    /// Stops the running session (never blocks: the workers finish on their own).
    pub fn stop_session(&mut self) {
        if let Some(session) = &self.session {
            session.stop();
            self.status = Status::Stopping;
        }
    }

    fn fail(&mut self, message: String) {
        self.status = Status::Failed(message.clone());
        self.store.push_info(
            0,
            None,
            None,
            SystemTime::now(),
            format!("error: {message}"),
        );
        self.last_error = Some(message);
    }

    fn current_session(&self) -> Option<SessionId> {
        self.session.as_ref().map(|s| s.id())
    }

    /// Drains engine events for at most `budget`; returns true if some are left.
    pub fn drain_events(&mut self, budget: Duration) -> bool {
        let deadline = Instant::now() + budget;
        let mut handled = 0u32;
        let mut bytes = 0usize;
        loop {
            let event = match self.events.try_recv() {
                Some(event) => event,
                // Under a flood the workers refill the queue as fast as it empties: wait a
                // moment for more (still within this frame's budget) rather than ending
                // the frame's drain with a fraction of the budget used.
                None if bytes >= FLOOD_BYTES && Instant::now() < deadline => {
                    match self.events.recv_timeout(FLOOD_WAIT) {
                        Some(event) => event,
                        None => return false,
                    }
                }
                None => return false,
            };
            if let Event::Data { bytes: payload, .. } = &event {
                bytes += payload.len();
            }
            self.handle_event(event);
            handled += 1;
            if handled % 8 == 0 && Instant::now() >= deadline {
                return true;
            }
        }
    }

    /// Applies one engine event to the state.
    pub fn handle_event(&mut self, event: Event) {
        let t = self.texts();
        let current = self.current_session() == Some(event.session());
        match event {
            Event::Connecting { addr, .. } => {
                if current {
                    self.status = Status::Connecting(addr.to_string());
                }
            }
            Event::Connected {
                session,
                conn,
                local,
                peer,
            } => {
                if current {
                    self.status = Status::Connected { local, peer };
                    self.last_error = None;
                }
                self.store.push_info(
                    session,
                    Some(conn),
                    Some(peer),
                    SystemTime::now(),
                    format!("{} {local} → {peer}", t.info_connected),
                );
            }
            Event::Listening { session, local } => {
                if current {
                    let udp = self
                        .session
                        .as_ref()
                        .is_some_and(|s| s.kind() == SessionKind::Udp);
                    self.status = if udp {
                        Status::Bound(local)
                    } else {
                        Status::Listening(local)
                    };
                }
                self.store.push_info(
                    session,
                    None,
                    None,
                    SystemTime::now(),
                    format!("{} {local}", t.info_listening),
                );
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
                peer,
                limit,
            } => {
                self.store.push_info(
                    session,
                    None,
                    Some(peer),
                    SystemTime::now(),
                    format!("{} ({limit})", t.refused_limit),
                );
            }
            Event::Data {
                session,
                conn,
                peer,
                dir,
                at,
                bytes,
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
                self.store.push_data(session, conn, peer, dir, at, bytes);
            }
            Event::Closed {
                session,
                conn,
                peer,
                reason,
            } => {
                self.clients.remove(&ClientKey::Conn(conn));
                self.store.end_conn(session, conn);
                self.store.push_info(
                    session,
                    Some(conn),
                    Some(peer),
                    SystemTime::now(),
                    format!(
                        "{}: {}",
                        t.closed,
                        errors::close_reason_text(self.settings.lang, &reason)
                    ),
                );
                let client_mode = self
                    .session
                    .as_ref()
                    .is_some_and(|s| s.kind() == SessionKind::TcpClient);
                if current && client_mode {
                    self.status = Status::Stopped;
                }
            }
            Event::Dropped { datagrams, .. } => {
                if current {
                    self.udp_dropped = datagrams;
                }
            }
            Event::Error { session, error } => {
                let message = errors::error_text(self.settings.lang, &error);
                self.store.push_info(
                    session,
                    None,
                    None,
                    SystemTime::now(),
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
                    self.last_error = Some(message);
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

    /// The send targets chosen in the clients list.
    pub fn selected_clients(&self) -> Vec<ClientRow> {
        self.clients
            .values()
            .filter(|c| c.selected)
            .cloned()
            .collect()
    }

    /// Handles the `--screenshot` plan: capture after the delay, then close.
    fn screenshot_step(&mut self, ctx: &egui::Context) {
        let Some(plan) = &self.screenshot else {
            return;
        };
        match plan.stage.load(Ordering::Acquire) {
            0 if self.started.elapsed() >= plan.delay => {
                plan.stage.store(1, Ordering::Release);
                let path = plan.path.clone();
                let stage = plan.stage.clone();
                let waker = ctx.clone();
                ctx.request_screenshot(move |image: Arc<egui::ColorImage>| {
                    // Encoding and writing the PNG happen off the UI thread.
                    let spawned =
                        std::thread::Builder::new()
                            .name("screenshot".into())
                            .spawn(move || {
                                let ok = match screenshot::write_png(&path, &image) {
                                    Ok(()) => {
                                        eprintln!("screenshot saved to {}", path.display());
                                        true
                                    }
                                    Err(error) => {
                                        eprintln!(
                                            "cannot write screenshot {}: {error}",
                                            path.display()
                                        );
                                        false
                                    }
                                };
                                stage.store(if ok { 2 } else { 3 }, Ordering::Release);
                                waker.request_repaint();
                            });
                    if spawned.is_err() {
                        eprintln!("cannot start the screenshot writer thread");
                    }
                });
            }
            0 | 1 => ctx.request_repaint_after(Duration::from_millis(50)),
            stage => {
                if stage == 3 {
                    // Closing normally (not exiting) lets on_exit finish a --log file.
                    SCREENSHOT_FAILED.store(true, Ordering::Release);
                }
                ctx.send_viewport_cmd(egui::ViewportCommand::Close);
            }
        }
    }
}

impl SockscopeApp {
    /// Per-frame work that draws nothing: drain engine events within the budget, let
    /// idle-gap framers emit, update rates, drive the `--screenshot` plan.
    pub fn tick(&mut self, ctx: &egui::Context) {
        // The drain gets about as much time as the rest of the frame took (at least
        // DRAIN_BUDGET, at most MAX_DRAIN): with a fast renderer frames stay short; with a
        // slow one (software GL) a flood still gets half of each frame instead of a sliver.
        let start = Instant::now();
        let budget = self
            .last_tick
            .map(|(at, drained)| start.saturating_duration_since(at).saturating_sub(drained))
            .unwrap_or(DRAIN_BUDGET)
            .clamp(DRAIN_BUDGET, MAX_DRAIN);
        let more = self.drain_events(budget);
        self.last_tick = Some((start, start.elapsed()));
        if more {
            ctx.request_repaint();
        }
        self.poll_files();
        let now = Instant::now();
        self.store.poll(now);
        self.store.stats.tick(now);
        if self.running() {
            // Rates and "last activity" need a refresh even when nothing arrives.
            ctx.request_repaint_after(Duration::from_millis(500));
        }
        self.screenshot_step(ctx);
    }

    /// Draws every panel from the current state.
    pub fn draw(&mut self, ui: &mut egui::Ui) {
        egui::Panel::top("connection").show(ui, |ui| connection::connection_ui(ui, self));
        egui::Panel::bottom("status").show(ui, |ui| status::status_ui(ui, self));
        egui::Panel::bottom("send")
            .resizable(true)
            .default_size(170.0)
            .show(ui, |ui| send::send_ui(ui, self));
        egui::Panel::right("side")
            .resizable(true)
            .default_size(340.0)
            .show(ui, |ui| self.side_ui(ui));
        egui::CentralPanel::default().show(ui, |ui| receive::receive_ui(ui, self));
    }
}

impl SockscopeApp {
    /// The right-hand panel: clients (server and UDP modes), quick commands, auto-reply.
    fn side_ui(&mut self, ui: &mut egui::Ui) {
        let t = self.texts();
        let has_clients = self.settings.mode != Mode::TcpClient;
        if !has_clients && self.automation.tab == automation::RightTab::Clients {
            self.automation.tab = automation::RightTab::Commands;
        }
        ui.add_space(4.0);
        ui.horizontal(|ui| {
            if has_clients {
                let title = if self.settings.mode == Mode::Udp {
                    t.peers
                } else {
                    t.clients
                };
                ui.selectable_value(
                    &mut self.automation.tab,
                    automation::RightTab::Clients,
                    format!("{title} ({})", self.clients.len()),
                );
            }
            ui.selectable_value(
                &mut self.automation.tab,
                automation::RightTab::Commands,
                t.tab_commands,
            );
            let auto = if self.automation.responder.is_some() {
                format!("{} ●", t.tab_auto_reply)
            } else {
                t.tab_auto_reply.to_string()
            };
            ui.selectable_value(
                &mut self.automation.tab,
                automation::RightTab::AutoReply,
                auto,
            );
        });
        ui.separator();
        match self.automation.tab {
            automation::RightTab::Clients => clients::clients_ui(ui, self),
            automation::RightTab::Commands => automation::commands_ui(ui, self),
            automation::RightTab::AutoReply => automation::auto_reply_ui(ui, self),
        }
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

impl eframe::App for SockscopeApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.tick(ctx);
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.draw(ui);
        if self.exit_after_first_frame {
            eprintln!(
                "sockscope: first frame drawn {} ms after start",
                self.started.elapsed().as_millis()
            );
            ui.ctx().send_viewport_cmd(egui::ViewportCommand::Close);
            self.exit_after_first_frame = false;
        }
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        if self.persist {
            eframe::set_value(storage, eframe::APP_KEY, &self.settings);
        }
    }

    fn on_exit(&mut self, _gl: Option<&eframe::glow::Context>) {
        if let Some(session) = &self.session {
            session.stop();
            // Let the session's last events (closes, "stopped") reach the log: keep the
            // queue moving for up to a second while the workers finish.
            let deadline = Instant::now() + Duration::from_secs(1);
            while !session.is_stopped() && Instant::now() < deadline {
                while self.events.try_recv().is_some() {}
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        // The log file is finished (flushed, last record whole) before the process ends.
        if let Some(status) = self.finish_recording(Duration::from_secs(5)) {
            if let Some(error) = status.error {
                eprintln!("sockscope: the recording stopped early: {error}");
            }
        }
    }
}

/// Applies command-line start options on top of stored settings.
impl Settings {
    fn apply_start_options(&mut self, options: &StartOptions) {
        if let Some(lang) = options.lang {
            self.lang = lang;
        }
        if let Some(encoding) = options.encoding {
            self.encoding = encoding.name().to_string();
        }
        if let Some(view) = options.view {
            self.view = view;
        }
        match &options.start {
            Some(StartSession::Server { host, port }) => {
                self.mode = Mode::TcpServer;
                self.server_host = host.clone();
                self.server_port = port.to_string();
            }
            Some(StartSession::Client { host, port }) => {
                self.mode = Mode::TcpClient;
                self.client_host = host.clone();
                self.client_port = port.to_string();
            }
            Some(StartSession::Udp { host, port, peer }) => {
                self.mode = Mode::Udp;
                self.udp_host = host.clone();
                self.udp_port = port.to_string();
                if let Some(peer) = peer {
                    self.udp_peer = peer.clone();
                }
            }
            None if options.auto_start => {
                // Plain start: a TCP server on a free port, ready for `nc` or a seed script.
                self.mode = Mode::TcpServer;
                self.server_host = "0.0.0.0".into();
                self.server_port = "0".into();
            }
            None => {}
        }
    }

    /// The encoding picked in the receive view.
    pub fn encoding(&self) -> TextEncoding {
        TextEncoding::from_name(&self.encoding).unwrap_or(TextEncoding::Utf8)
    }
}
