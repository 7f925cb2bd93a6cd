//! The eframe application: a window of tabs, one session each.
//!
//! [`SockscopeApp`] holds what is window-wide (language, theme, the view memory all tabs
//! share) and the [`SessionTab`]s. Each frame it drains every tab's engine events within
//! a time budget (`logic`), then draws the tab bar and the front tab's panels. Panels get
//! only the state they draw and push [`UiAction`]s, which the tab applies after drawing
//! (`action.rs`); the tab bar pushes [`TabAction`]s, which the app applies.
//!
//! The UI thread never blocks: socket work happens on engine workers, file dialogs and
//! jobs on helper threads, and a closed tab finishes its session and log in the
//! background.

pub mod action;
pub mod automation;
pub mod clients;
pub mod compare;
pub mod connection;
pub mod errors;
pub mod files;
pub mod fonts;
pub mod frames;
pub mod i18n;
pub mod interfaces;
pub mod layout;
pub mod log;
pub mod plot;
pub mod receive;
pub mod screenshot;
pub mod send;
pub mod settings;
pub mod status;
pub mod tab;
pub mod tabs;
pub mod tls;
pub mod widgets;

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::cli::{StartOptions, StartSession, StartTab};
use crate::session::recorder::LogFormat;

pub use crate::lang::Lang;
pub use crate::session::{Framing, ViewMode};
pub use action::UiAction;
pub use i18n::Texts;
pub use settings::{AppSettings, Mode, TabSettings, Theme};
pub use tab::{ClientKey, ClientRow, SessionTab, Status};
pub use tabs::TabAction;

/// Set when `--screenshot` could not write its PNG, so `main` exits with failure.
pub static SCREENSHOT_FAILED: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// Most time the UI spends draining events in one frame (all tabs together).
const MAX_DRAIN: Duration = Duration::from_millis(40);
/// Time the UI spends draining events per frame before it draws (at least).
const DRAIN_BUDGET: Duration = Duration::from_millis(6);
/// Longest a closed tab keeps draining while its session and log finish.
const CLOSE_WAIT: Duration = Duration::from_secs(10);
/// The storage key this release writes its settings under.
const SETTINGS_KEY: &str = eframe::APP_KEY;

/// The thread writing a screenshot: it answers whether the file was written (or the
/// message of a panic it caught).
type PngWriter = JoinHandle<Result<bool, String>>;

/// State of the PNG capture asked for with `--screenshot`.
struct ScreenshotPlan {
    path: PathBuf,
    delay: Duration,
    /// The capture was asked for.
    requested: bool,
    /// The thread writing the PNG, once egui handed over the image; it answers whether
    /// the file was written.
    writer: Arc<Mutex<Option<PngWriter>>>,
}

/// The whole application: window-wide settings and the tabs.
pub struct SockscopeApp {
    /// Language, theme, the shared view budget (the tabs' own settings live in the tabs).
    pub settings: AppSettings,
    /// One per session, in tab-bar order.
    pub tabs: Vec<SessionTab>,
    /// The tab in front.
    pub active: usize,
    /// Closed tabs whose sessions and logs are still finishing.
    closing: Vec<(SessionTab, Instant)>,
    /// The tab being renamed and the name typed so far.
    renaming: Option<(usize, String)>,
    /// A note about the stored settings (unreadable ones are not overwritten).
    pub settings_note: Option<String>,
    ctx: egui::Context,
    next_uid: u64,
    persist: bool,
    screenshot: Option<ScreenshotPlan>,
    /// When the last frame's drain started and how long it took (for the next budget).
    last_tick: Option<(Instant, Duration)>,
    exit_after_first_frame: bool,
    /// The next step of rasterising the glyphs rows are drawn with (see
    /// [`warm_glyphs`]); None once done.
    glyph_warmup: Option<usize>,
    started: Instant,
    /// The window's size at the last frame: a resize draws one frame more, so no band of
    /// the window stays unpainted until the pointer moves.
    last_size: egui::Vec2,
}

impl SockscopeApp {
    /// Builds the app from eframe's creation context: fonts, stored settings, the engine,
    /// and the sessions asked for on the command line. A plain start restores the stored
    /// tabs, stopped; the very first one opens a TCP server on a free port.
    pub fn new(cc: &eframe::CreationContext<'_>, options: StartOptions) -> Self {
        let mut options = options;
        let stored_text = if options.persist {
            cc.storage.and_then(|s| s.get_string(SETTINGS_KEY))
        } else {
            None
        };
        let stored = stored_text.as_deref().and_then(AppSettings::from_stored);
        // Settings that exist but cannot be read (written by another version) are left
        // untouched: this run does not save over them, and says so.
        let unreadable = stored_text.is_some() && stored.is_none();
        if unreadable {
            options.persist = false;
        }
        let settings = match stored {
            Some(settings) => {
                // Restored tabs wait for Listen / Connect.
                options.auto_start = false;
                settings
            }
            None => {
                let mut settings = AppSettings::single(Lang::from_system(), Mode::TcpServer);
                // Plain first start: a TCP server on a free port, ready for `nc`.
                settings.tabs[0].connection.server_port = "0".into();
                settings
            }
        };
        let mut app = Self::with_settings(cc.egui_ctx.clone(), settings, options);
        if unreadable {
            app.settings_note = Some(app.texts().settings_unreadable.to_string());
        }
        app
    }

    /// Builds the app with explicit settings (tests use this with persistence off).
    /// Command-line sessions replace the stored tabs for this run, each starting from the
    /// first stored tab's settings; they start at once, as does a plain first start.
    pub fn with_settings(ctx: egui::Context, settings: AppSettings, options: StartOptions) -> Self {
        let mut settings = settings;
        if let Some(lang) = options.lang {
            settings.lang = lang;
        }
        if let Some(theme) = options.theme {
            settings.theme = theme;
        }
        fonts::install(&ctx);
        ctx.set_theme(settings.theme.preference());
        let template = settings.tabs.first().cloned().unwrap_or_default();
        let tab_settings: Vec<TabSettings> = if options.tabs.is_empty() {
            std::mem::take(&mut settings.tabs)
        } else {
            options
                .tabs
                .iter()
                .map(|start| tab_from_start(&template, start))
                .collect()
        };
        let mut app = SockscopeApp {
            active: settings.active.min(tab_settings.len().saturating_sub(1)),
            settings,
            tabs: Vec::new(),
            closing: Vec::new(),
            renaming: None,
            settings_note: None,
            ctx,
            next_uid: 0,
            persist: options.persist,
            screenshot: options.screenshot.clone().map(|path| ScreenshotPlan {
                path,
                delay: Duration::from_millis(options.screenshot_delay_ms),
                requested: false,
                writer: Arc::default(),
            }),
            last_tick: None,
            exit_after_first_frame: options.exit_after_first_frame,
            glyph_warmup: Some(0),
            last_size: egui::Vec2::ZERO,
            started: Instant::now(),
        };
        for tab in tab_settings {
            app.push_tab(tab);
        }
        if app.tabs.is_empty() {
            app.push_tab(TabSettings::default());
        }
        if !options.tabs.is_empty() {
            app.active = 0;
        }
        let lang = app.settings.lang;
        let start = options.auto_start || !options.tabs.is_empty();
        for (i, tab) in app.tabs.iter_mut().enumerate() {
            // Recording starts first so the log holds the session from its first event.
            if let Some(path) = options.tabs.get(i).and_then(|s| s.options.log.as_ref()) {
                let format = options.tabs[i]
                    .options
                    .log_format
                    .or_else(|| LogFormat::from_path(path))
                    .unwrap_or(LogFormat::Text);
                // An existing file is never truncated: the recording goes beside it.
                let path = if path.is_file() {
                    let free = log::numbered_free_path(path);
                    let note = format!(
                        "{} {} → {}",
                        app.settings.lang.texts().log_existed,
                        path.display(),
                        free.display()
                    );
                    eprintln!("sockscope: {note}");
                    tab.notify(tab::NoticeAbout::Log, true, note);
                    free
                } else {
                    path.clone()
                };
                tab.start_recording(lang, &path, format);
                if let Some(message) = tab.error_shown() {
                    eprintln!("sockscope: {message}");
                }
            }
            if start {
                tab.start_session(lang);
            }
        }
        if let Some(tab) = app.tabs.get_mut(app.active) {
            tab.receive.compare = options.compare;
        }
        app
    }

    /// The strings of the current language.
    pub fn texts(&self) -> &'static Texts {
        self.settings.lang.texts()
    }

    /// The tab in front.
    pub fn tab(&self) -> &SessionTab {
        &self.tabs[self.active.min(self.tabs.len() - 1)]
    }

    /// The tab in front, to change.
    pub fn tab_mut(&mut self) -> &mut SessionTab {
        let active = self.active.min(self.tabs.len() - 1);
        &mut self.tabs[active]
    }

    /// Closed tabs whose sessions or logs are still finishing.
    pub fn closing_tabs(&self) -> usize {
        self.closing.len()
    }

    /// Bytes each tab's view may hold: the shared budget split evenly.
    fn view_share(&self, tabs: usize) -> usize {
        let cap = self.settings.view_cap_mib.clamp(1, 4096) * 1024 * 1024;
        cap / tabs.max(1)
    }

    /// Gives every tab its share of the view budget (after tabs come or go, or the cap
    /// changes).
    fn rebalance_views(&mut self) {
        let share = self.view_share(self.tabs.len());
        for tab in &mut self.tabs {
            tab.set_view_bytes(share);
        }
    }

    fn push_tab(&mut self, settings: TabSettings) {
        let waker_ctx = self.ctx.clone();
        let uid = self.next_uid;
        self.next_uid += 1;
        let share = self.view_share(self.tabs.len() + 1);
        self.tabs.push(SessionTab::new(
            settings,
            uid,
            share,
            Box::new(move || waker_ctx.request_repaint()),
        ));
        self.rebalance_views();
    }

    /// Opens a new tab after the others: the front tab's settings, a fresh name, stopped.
    pub fn new_tab(&mut self) {
        if self.tabs.len() >= settings::MAX_TABS {
            return;
        }
        let mut settings = self.tab().settings.clone();
        settings.name.clear();
        self.push_tab(settings);
        self.active = self.tabs.len() - 1;
    }

    /// Closes tab `index`: its session stops and its log is finished in the background
    /// (the tab keeps draining until both are done). The last tab is replaced by a fresh
    /// one rather than leaving an empty window.
    pub fn close_tab(&mut self, index: usize) {
        if index >= self.tabs.len() {
            return;
        }
        let mut tab = self.tabs.remove(index);
        tab.stop_session();
        if tab.session.is_none() {
            tab.stop_recording();
        }
        self.closing.push((tab, Instant::now()));
        if self.tabs.is_empty() {
            self.push_tab(TabSettings::default());
        }
        if self.active > index || self.active >= self.tabs.len() {
            self.active = self.active.saturating_sub(1);
        }
        self.renaming = None;
        self.rebalance_views();
    }

    fn apply_tab_actions(&mut self, actions: Vec<TabAction>) {
        for action in actions {
            match action {
                TabAction::New => self.new_tab(),
                TabAction::Select(i) if i < self.tabs.len() => {
                    self.active = i;
                    self.tabs[i].unseen = 0;
                }
                TabAction::Close(i) => self.close_tab(i),
                TabAction::Move { from, to } if from < self.tabs.len() && to < self.tabs.len() => {
                    let tab = self.tabs.remove(from);
                    self.tabs.insert(to, tab);
                    if self.active == from {
                        self.active = to;
                    } else if self.active == to {
                        self.active = from;
                    }
                }
                TabAction::StartRename(i) if i < self.tabs.len() => {
                    self.renaming = Some((i, self.tabs[i].settings.name.clone()));
                }
                TabAction::Rename(i, name) => {
                    if let Some(tab) = self.tabs.get_mut(i) {
                        tab.settings.name = name.trim().to_string();
                    }
                    self.renaming = None;
                }
                _ => {}
            }
        }
    }

    /// Per-frame work that draws nothing: drain every tab's engine events within the
    /// budget, poll file jobs and idle-gap framers, finish closed tabs, drive the
    /// `--screenshot` plan.
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
        let lang = self.settings.lang;
        let mut more = self.drain_tabs(budget);
        let mut running = false;
        for tab in &mut self.tabs {
            tab.poll(lang);
            // Counting and re-decoding go on in the next frames even when nothing arrives.
            more |= tab.store.uncounted_bytes() > 0;
            running |= tab.running() || tab.files.busy();
        }
        self.last_tick = Some((start, start.elapsed()));
        self.finish_closing(lang);
        if more {
            ctx.request_repaint();
        }
        if !self.closing.is_empty() {
            ctx.request_repaint_after(Duration::from_millis(20));
        }
        if running {
            // Rates and "last activity" need a refresh even when nothing arrives.
            ctx.request_repaint_after(Duration::from_millis(500));
        }
        self.screenshot_step(ctx);
    }

    /// Keeps closed tabs draining until their sessions stopped, then lets their logs
    /// finish on the recorder thread and drops them. One that takes longer than
    /// [`CLOSE_WAIT`] is let go (its recorder still finishes the file on its own thread).
    fn finish_closing(&mut self, lang: Lang) {
        for (tab, since) in &mut self.closing {
            tab.drain_events(lang, DRAIN_BUDGET, true);
            if tab.session.is_none() || since.elapsed() > CLOSE_WAIT {
                tab.stop_recording();
            }
        }
        self.closing.retain(|(tab, since)| {
            (tab.session.is_some() || tab.recording()) && since.elapsed() <= CLOSE_WAIT
        });
    }

    /// Draws the tab bar and the front tab.
    pub fn draw(&mut self, ui: &mut egui::Ui) {
        // Not in the first frame, so start-up stays short: a step a frame after it.
        if let Some(step) = self.glyph_warmup
            && ui.ctx().cumulative_frame_nr() > 0
        {
            self.glyph_warmup = warm_glyphs(ui.ctx(), step);
        }
        let t = self.texts();
        let (new_key, close_key) = ui.input_mut(|i| {
            (
                i.consume_key(egui::Modifiers::COMMAND, egui::Key::T),
                i.consume_key(egui::Modifiers::COMMAND, egui::Key::W),
            )
        });
        let mut tab_actions = Vec::new();
        if new_key {
            tab_actions.push(TabAction::New);
        }
        if close_key {
            tab_actions.push(TabAction::Close(self.active));
        }
        let labels: Vec<tabs::TabLabel> = self
            .tabs
            .iter()
            .map(|tab| tabs::TabLabel {
                title: tab.title(self.settings.lang),
                running: tab.running(),
                unseen: tab.unseen,
            })
            .collect();
        egui::Panel::top("tab_bar").show(ui, |ui| {
            ui.add_space(2.0);
            ui.horizontal_wrapped(|ui| {
                ui.heading("Sockscope");
                ui.separator();
                tabs::tab_bar_ui(
                    ui,
                    t,
                    &labels,
                    self.active,
                    &mut self.renaming,
                    &mut tab_actions,
                );
                ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                    self.window_menu_ui(ui);
                });
            });
            if let Some(note) = &self.settings_note {
                ui.label(egui::RichText::new(note).color(widgets::ERROR_COLOR));
            }
        });
        self.apply_tab_actions(tab_actions);
        let budget = status::ViewBudget {
            used: self.tabs.iter().map(|t| t.store.held_bytes()).sum(),
            reserved: self.tabs.iter().map(|t| t.store.reserve()).sum(),
            cap: self.settings.view_cap_mib.clamp(1, 4096) * 1024 * 1024,
            tabs: self.tabs.len(),
        };
        let lang = self.settings.lang;
        let active = self.active.min(self.tabs.len() - 1);
        self.tabs[active].unseen = 0;
        layout::tab_ui(ui, lang, &mut self.tabs[active], budget);
        self.drain_after_draw(ui.ctx());
    }

    /// Drains every tab's engine events, `budget` shared among them (background tabs
    /// count what arrives as unseen); true if some are left.
    fn drain_tabs(&mut self, budget: Duration) -> bool {
        let lang = self.settings.lang;
        let share = budget / self.tabs.len().max(1) as u32;
        let mut more = false;
        for (i, tab) in self.tabs.iter_mut().enumerate() {
            more |= tab.drain_events(lang, share, i != self.active);
        }
        more
    }

    /// Drains the tabs' events once more when the frame is drawn. A window that drained
    /// only before drawing needed its queue to hold a whole frame interval of a flood
    /// (the queue's 56 MiB bound × 60 frames/s capped a flood at 3.5 GB/s); with this
    /// second drain it holds what comes while the frame is painted and until the next
    /// one. What it takes shows in the next frame, as it would have anyway.
    fn drain_after_draw(&mut self, ctx: &egui::Context) {
        let start = Instant::now();
        let more = self.drain_tabs(DRAIN_BUDGET);
        // The next frame's drain budget counts this one as drain time, not drawing.
        if let Some((_, drained)) = &mut self.last_tick {
            *drained += start.elapsed();
        }
        if more {
            ctx.request_repaint();
        }
    }

    /// Language, theme and the shared view memory, at the right of the tab bar.
    fn window_menu_ui(&mut self, ui: &mut egui::Ui) {
        let t = self.texts();
        ui.menu_button(t.settings_menu, |ui| {
            ui.label(egui::RichText::new(t.language).strong());
            for lang in Lang::ALL {
                ui.radio_value(&mut self.settings.lang, lang, lang.native_name());
            }
            ui.separator();
            ui.label(egui::RichText::new(t.theme).strong());
            for theme in Theme::ALL {
                if ui
                    .radio_value(&mut self.settings.theme, theme, theme.label(t))
                    .changed()
                {
                    ui.ctx().set_theme(theme.preference());
                }
            }
            ui.separator();
            ui.horizontal(|ui| {
                let l = ui.label(t.view_cap);
                let mut cap = self.settings.view_cap_mib.clamp(1, 4096) as u32;
                if ui
                    .add(egui::DragValue::new(&mut cap).range(1..=4096))
                    .labelled_by(l.id)
                    .on_hover_text(t.view_memory_tip)
                    .changed()
                {
                    self.settings.view_cap_mib = cap as usize;
                    self.rebalance_views();
                }
            });
        });
    }

    /// The settings as they would be stored now.
    pub fn stored_settings(&self) -> AppSettings {
        AppSettings {
            tabs: self.tabs.iter().map(|t| t.settings.clone()).collect(),
            active: self.active,
            ..self.settings.clone()
        }
    }

    /// Handles the `--screenshot` plan: capture after the delay, write the PNG on a helper
    /// thread, then close (normally, so `on_exit` finishes any `--log` file).
    fn screenshot_step(&mut self, ctx: &egui::Context) {
        let Some(plan) = &mut self.screenshot else {
            return;
        };
        if !plan.requested {
            if self.started.elapsed() < plan.delay {
                ctx.request_repaint_after(Duration::from_millis(50));
                return;
            }
            plan.requested = true;
            let path = plan.path.clone();
            let writer = plan.writer.clone();
            let waker = ctx.clone();
            ctx.request_screenshot(move |image: Arc<egui::ColorImage>| {
                // Encoding and writing the PNG happen off the UI thread.
                let spawned = crate::sync::spawn("screenshot", move || {
                    let written = screenshot::write_png(&path, &image);
                    if let Err(error) = &written {
                        eprintln!("cannot write screenshot {}: {error}", path.display());
                    } else {
                        eprintln!("screenshot saved to {}", path.display());
                    }
                    waker.request_repaint();
                    written.is_ok()
                });
                match spawned {
                    Ok(handle) => *crate::sync::lock(&writer) = Some(handle),
                    Err(error) => {
                        eprintln!("cannot start the screenshot writer thread: {error}");
                        SCREENSHOT_FAILED.store(true, Ordering::Release);
                    }
                }
            });
        }
        let mut writer = crate::sync::lock(&plan.writer);
        let finished = writer.as_ref().is_some_and(JoinHandle::is_finished);
        if finished || SCREENSHOT_FAILED.load(Ordering::Acquire) {
            // The writer has ended, so taking its answer does not wait.
            let written = writer
                .take()
                .map(|h| h.join().unwrap_or(Ok(false)))
                .is_some_and(|answer| answer.unwrap_or(false));
            if !written {
                SCREENSHOT_FAILED.store(true, Ordering::Release);
            }
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
        } else {
            ctx.request_repaint_after(Duration::from_millis(50));
        }
    }
}

/// A command-line session as a tab: the template's settings with the session's mode,
/// address and options.
fn tab_from_start(template: &TabSettings, start: &StartTab) -> TabSettings {
    let mut tab = template.clone();
    tab.name.clear();
    let c = &mut tab.connection;
    match &start.session {
        StartSession::Server { host, port } => {
            c.mode = Mode::TcpServer;
            c.server_host = host.clone();
            c.server_port = port.to_string();
        }
        StartSession::Client { host, port } => {
            c.mode = Mode::TcpClient;
            c.client_host = host.clone();
            c.client_port = port.to_string();
        }
        StartSession::Udp { host, port, peer } => {
            c.mode = Mode::Udp;
            c.udp_host = host.clone();
            c.udp_port = port.to_string();
            if let Some(peer) = peer {
                c.udp_peer = peer.clone();
                c.udp_target = settings::UdpTarget::FixedPeer;
            }
        }
    }
    if let Some(encoding) = start.options.encoding {
        tab.view.encoding = encoding;
    }
    if start.options.ipv6_only {
        tab.connection.ipv6_only = true;
    }
    if !start.options.join.is_empty() {
        tab.connection.udp_groups = start.options.join.iter().map(|g| g.to_string()).collect();
    }
    if let Some(reconnect) = start.options.reconnect {
        // The window takes whole seconds, at least 1.
        let seconds = |d: Duration| d.as_secs_f64().ceil().max(1.0).to_string();
        tab.connection.reconnect = true;
        tab.connection.reconnect_delay_s = seconds(reconnect.delay);
        tab.connection.reconnect_max_s = seconds(reconnect.max);
    }
    if let Some(ttl) = start.options.ttl {
        tab.connection.multicast_ttl = ttl.to_string();
    }
    if let Some(view) = start.options.view {
        tab.view.view = view;
    }
    if let Some(tls) = &start.options.tls {
        tls_from_start(&mut tab.connection.tls, tls, tab.connection.mode);
    }
    tab
}

/// The command line's TLS options in the connection panel's TLS fields (the window
/// takes one CA file: the first `--ca`).
fn tls_from_start(
    fields: &mut settings::tls::TlsSettings,
    tls: &crate::cli::TlsArgs,
    mode: settings::Mode,
) {
    let alpn = tls.alpn.join(", ");
    let versions = match tls.versions {
        crate::engine::tls::TlsVersions::All => settings::tls::TlsVersionChoice::All,
        crate::engine::tls::TlsVersions::Tls12 => settings::tls::TlsVersionChoice::Tls12,
        crate::engine::tls::TlsVersions::Tls13 => settings::tls::TlsVersionChoice::Tls13,
    };
    if mode == settings::Mode::TcpServer {
        fields.server = true;
        fields.server_alpn = alpn;
        fields.server_versions = versions;
        if let (Some(cert), Some(key)) = (&tls.cert, &tls.key) {
            fields.server_cert = settings::tls::ServerCertChoice::Pem;
            fields.cert_file = cert.display().to_string();
            fields.key_file = key.display().to_string();
        }
    } else {
        fields.client = true;
        fields.client_alpn = alpn;
        fields.client_versions = versions;
        fields.sni = tls.sni.clone().unwrap_or_default();
        fields.accept_any = tls.insecure;
        fields.pin = tls
            .pin
            .map(|p| crate::engine::tls::fingerprint_hex(&p))
            .unwrap_or_default();
        fields.ca_file = tls
            .ca
            .first()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
    }
}

impl eframe::App for SockscopeApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        let size = ctx.content_rect().size();
        if size != self.last_size {
            self.last_size = size;
            ctx.request_repaint();
        }
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

    /// Panel sizes and other egui memory persist only when settings do (`--no-persist`
    /// runs leave nothing behind).
    fn persist_egui_memory(&self) -> bool {
        self.persist
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        if self.persist {
            eframe::set_value(storage, SETTINGS_KEY, &self.stored_settings());
        }
    }

    fn on_exit(&mut self, _gl: Option<&eframe::glow::Context>) {
        // Every session stops at once; then each gets up to a second for its last events
        // (closes, "stopped") to reach its log, and each log is finished.
        let closing = self.closing.iter_mut().map(|(tab, _)| tab);
        let tabs = self.tabs.iter_mut().chain(closing);
        let tabs: Vec<&mut SessionTab> = tabs.collect();
        for tab in &tabs {
            if let Some(session) = &tab.session {
                session.stop();
            }
        }
        let lang = self.settings.lang;
        for tab in tabs {
            tab.finish_at_exit(lang);
        }
    }
}

/// If the window goes away without `on_exit` (a panic on the UI thread unwinding, or a
/// test dropping the app), the logs are still finished: recordings flushed and closed.
impl Drop for SockscopeApp {
    fn drop(&mut self) {
        let tabs = self
            .tabs
            .iter_mut()
            .chain(self.closing.iter_mut().map(|(tab, _)| tab));
        for tab in tabs {
            if tab.log.recorder.is_some() || tab.log.opening {
                tab.finish_at_exit(self.settings.lang);
            }
        }
    }
}

/// Rasterises the glyphs of the fonts that received rows, hex dumps and counters are
/// drawn in, at each of the four sub-pixel offsets epaint keeps a glyph at, one font and
/// offset per `step` (about 2 ms each; the next step, None after the last): otherwise
/// the first frame that shows traffic (a flood's first frame) rasterises them all and
/// takes 5–10 ms more than the frames after it.
fn warm_glyphs(ctx: &egui::Context, step: usize) -> Option<usize> {
    const OFFSETS: usize = 4;
    let style = ctx.global_style();
    let fonts = [
        widgets::ROWS_FONT,
        egui::TextStyle::Monospace.resolve(&style),
        egui::TextStyle::Body.resolve(&style),
        egui::TextStyle::Small.resolve(&style),
    ];
    let font_id = fonts.get(step / OFFSETS)?.clone();
    // Printable ASCII and the marks rows, the clients list and the status bar use.
    let text: String = (' '..='~').chain("·…×≥↓↑→✔".chars()).collect();
    let mut job = egui::text::LayoutJob::default();
    job.append(
        &text,
        (step % OFFSETS) as f32 / OFFSETS as f32,
        egui::TextFormat::simple(font_id, egui::Color32::WHITE),
    );
    ctx.fonts_mut(|f| f.layout_job(job));
    (step + 1 < fonts.len() * OFFSETS).then_some(step + 1)
}
