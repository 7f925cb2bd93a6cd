//! Command-line arguments: open one or several sessions directly, for shortcuts, scripts
//! and smoke tests; run one session without a window (`--headless`, see
//! [`crate::headless`]); run test plans (`test PLAN`, see [`crate::plan`]). Knows nothing
//! of the window: a session without one needs only `cli`, `engine`, `session` and
//! `automation`.
//!
//! Parsed with `lexopt` (tiny, no dependencies): the grammar is positional pairs
//! (`server ADDR client ADDR …`) with options that follow the pair they belong to, which
//! derive-style parsers express poorly.

mod tls;
mod usage;

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use crate::codec::text::TextEncoding;
use crate::engine::{GroupSpec, Reconnect, parse_host_port};
use crate::lang::{Lang, Theme};
use crate::session::ViewMode;
use crate::session::recorder::LogFormat;

pub use self::tls::TlsArgs;
pub use self::usage::USAGE;

/// A session to open at start-up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StartSession {
    /// `sockscope server HOST:PORT`
    Server {
        /// Bind address.
        host: String,
        /// Port (0 = any free port).
        port: u16,
    },
    /// `sockscope client HOST:PORT`
    Client {
        /// Server host.
        host: String,
        /// Server port.
        port: u16,
    },
    /// `sockscope udp HOST:PORT [--peer HOST:PORT]`
    Udp {
        /// Bind address.
        host: String,
        /// Bind port.
        port: u16,
        /// Default destination.
        peer: Option<String>,
    },
}

/// The options that belong to one session.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct SessionOptions {
    /// Receive view encoding.
    pub encoding: Option<TextEncoding>,
    /// Receive view mode.
    pub view: Option<ViewMode>,
    /// Record this session to this file from the start.
    pub log: Option<PathBuf>,
    /// Format of `log` (otherwise taken from its extension).
    pub log_format: Option<LogFormat>,
    /// A `::` bind takes IPv6 only (servers and UDP).
    pub ipv6_only: bool,
    /// UDP: multicast groups to join at start (`--join`, repeatable).
    pub join: Vec<GroupSpec>,
    /// UDP: multicast TTL / hop limit (`--ttl`).
    pub ttl: Option<u32>,
    /// TCP client: connect again after a loss or a failed attempt (`--reconnect`).
    pub reconnect: Option<Reconnect>,
    /// TCP client or server: TLS on, with these options (`--tls` and the options after
    /// it, see [`TlsArgs`]).
    pub tls: Option<Box<TlsArgs>>,
}

impl SessionOptions {
    /// Options of `self`, and of `other` where `self` has none.
    fn or(self, other: SessionOptions) -> SessionOptions {
        SessionOptions {
            encoding: self.encoding.or(other.encoding),
            view: self.view.or(other.view),
            log: self.log.or(other.log),
            log_format: self.log_format.or(other.log_format),
            ipv6_only: self.ipv6_only || other.ipv6_only,
            join: if self.join.is_empty() {
                other.join
            } else {
                self.join
            },
            ttl: self.ttl.or(other.ttl),
            reconnect: self.reconnect.or(other.reconnect),
            tls: match (self.tls, other.tls) {
                (Some(ours), Some(theirs)) => Some(Box::new((*ours).or(*theirs))),
                (ours, theirs) => ours.or(theirs),
            },
        }
    }
}

/// One session of the command line and the options that followed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartTab {
    /// What to open.
    pub session: StartSession,
    /// Its options.
    pub options: SessionOptions,
}

impl StartTab {
    /// A session with no options of its own.
    pub fn new(session: StartSession) -> Self {
        StartTab {
            session,
            options: SessionOptions::default(),
        }
    }
}

/// Everything the command line asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartOptions {
    /// Sessions to open at once, one tab each, in order.
    pub tabs: Vec<StartTab>,
    /// With no session given: restore the stored tabs, or open the default TCP server.
    pub auto_start: bool,
    /// UI language.
    pub lang: Option<Lang>,
    /// Light or dark window.
    pub theme: Option<Theme>,
    /// Save a PNG of the window after the delay, then exit.
    pub screenshot: Option<PathBuf>,
    /// Milliseconds to run before the screenshot.
    pub screenshot_delay_ms: u64,
    /// Window size in points (width, height), instead of the stored or default one.
    pub size: Option<(u16, u16)>,
    /// Open the GBK / UTF-8 compare pane.
    pub compare: bool,
    /// Print the time to the first drawn frame and exit (start-up benchmark).
    pub exit_after_first_frame: bool,
    /// Read and write the stored settings.
    pub persist: bool,
}

impl Default for StartOptions {
    fn default() -> Self {
        StartOptions {
            tabs: Vec::new(),
            auto_start: false,
            lang: None,
            theme: None,
            screenshot: None,
            screenshot_delay_ms: 500,
            size: None,
            compare: false,
            exit_after_first_frame: false,
            persist: true,
        }
    }
}

impl StartOptions {
    /// Options that open exactly `session` (persistence off): what tests and scripts use.
    pub fn one(session: StartSession) -> Self {
        StartOptions {
            tabs: vec![StartTab::new(session)],
            persist: false,
            ..StartOptions::default()
        }
    }
}

/// What a headless session prints of each payload (`--print`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PrintMode {
    /// The payload as text in the session's encoding (escapes for control characters).
    #[default]
    Text,
    /// The payload as spaced hex.
    Hex,
    /// No payloads, only connection events.
    None,
}

impl PrintMode {
    /// `text`, `hex` or `none`.
    pub fn from_arg(arg: &str) -> Option<Self> {
        match arg.trim().to_ascii_lowercase().as_str() {
            "text" => Some(PrintMode::Text),
            "hex" => Some(PrintMode::Hex),
            "none" => Some(PrintMode::None),
            _ => None,
        }
    }
}

/// `sockscope --headless SESSION ADDR [OPTIONS]`: one session, no window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeadlessOptions {
    /// The session to run.
    pub session: StartSession,
    /// Its options (`--encoding`, `--log`, `--log-format`, `--ipv6-only`).
    pub options: SessionOptions,
    /// Auto-reply rules to install (a rules file or a plan with `[auto_reply]`).
    pub rules: Option<PathBuf>,
    /// End the session after this long (otherwise: Ctrl+C / SIGTERM, or a client's
    /// connection ending).
    pub duration: Option<Duration>,
    /// What reaches standard output of each payload.
    pub print: PrintMode,
    /// No event lines, no status line, no summary (errors still go to standard error).
    pub quiet: bool,
    /// Lines as JSON objects (one per line).
    pub json: bool,
}

/// `sockscope test PLAN... [OPTIONS]`: run test plans and exit 0 (all passed), 1 (a step
/// failed) or 2 (a plan file is not valid).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct TestOptions {
    /// The plan files, run in order.
    pub plans: Vec<PathBuf>,
    /// Write a JUnit XML report here.
    pub junit: Option<PathBuf>,
    /// Talk to this `HOST:PORT` instead of the plan's own address.
    pub target: Option<String>,
    /// Print only failures and the final line.
    pub quiet: bool,
    /// Print the results as one JSON document instead of text.
    pub json: bool,
}

/// What `parse_args` decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parsed {
    /// Run the app.
    Run(StartOptions),
    /// Run one session without a window.
    Headless(HeadlessOptions),
    /// Run test plans.
    Test(TestOptions),
    /// Print this text and exit successfully (`--help`, `--version`).
    Print(String),
}

/// Session options seen before any session (they go to the first one).
#[derive(Default)]
struct Pending {
    options: SessionOptions,
    peer: Option<String>,
    /// TLS options seen before any session, to check against the first one.
    tls_flags: Vec<(String, tls::Role)>,
}

/// The options of `--headless` seen so far, and the first window-only option seen.
#[derive(Default)]
struct HeadlessArgs {
    on: bool,
    rules: Option<PathBuf>,
    duration: Option<Duration>,
    print: Option<PrintMode>,
    quiet: bool,
    json: bool,
    /// A `--headless`-only option, to name when `--headless` is missing.
    needs_headless: Option<&'static str>,
    /// A window-only option, to name when `--headless` is given.
    needs_window: Option<&'static str>,
}

/// Where a session option goes: the last session given, or (before any) the first one.
fn scope<'a>(tabs: &'a mut [StartTab], pending: &'a mut Pending) -> &'a mut SessionOptions {
    match tabs.last_mut() {
        Some(tab) => &mut tab.options,
        None => &mut pending.options,
    }
}

/// Parses the arguments after the program name.
pub fn parse_args<I, S>(args: I) -> Result<Parsed, String>
where
    I: IntoIterator<Item = S>,
    S: Into<OsString>,
{
    use lexopt::prelude::*;

    let mut parser = lexopt::Parser::from_args(args);
    let mut options = StartOptions::default();
    let mut pending = Pending::default();
    let mut headless = HeadlessArgs::default();
    let text = |value: OsString, flag: &str| -> Result<String, String> {
        value
            .into_string()
            .map_err(|v| format!("{flag}: {v:?} is not valid Unicode"))
    };
    loop {
        let arg = parser.next().map_err(|e| e.to_string())?;
        let Some(arg) = arg else { break };
        match arg {
            Short('h') | Long("help") => return Ok(Parsed::Print(USAGE.to_string())),
            Short('V') | Long("version") => {
                return Ok(Parsed::Print(format!(
                    "sockscope {}\n",
                    env!("CARGO_PKG_VERSION")
                )));
            }
            Long("no-persist") => options.persist = false,
            Long("compare") => {
                options.compare = true;
                headless.needs_window.get_or_insert("--compare");
            }
            Long("exit-after-first-frame") => {
                options.exit_after_first_frame = true;
                headless
                    .needs_window
                    .get_or_insert("--exit-after-first-frame");
            }
            Long("headless") => headless.on = true,
            Long("quiet") => {
                headless.quiet = true;
                headless.needs_headless.get_or_insert("--quiet");
            }
            Long("json") => {
                headless.json = true;
                headless.needs_headless.get_or_insert("--json");
            }
            Long("rules") => {
                headless.rules = Some(PathBuf::from(parser.value().map_err(|e| e.to_string())?));
                headless.needs_headless.get_or_insert("--rules");
            }
            Long("duration") => {
                let v = text(parser.value().map_err(|e| e.to_string())?, "--duration")?;
                headless.duration = Some(parse_duration(&v).ok_or_else(|| {
                    format!("--duration: {v:?} is not a duration (e.g. 90, 90s, 500ms, 15m, 2h)")
                })?);
                headless.needs_headless.get_or_insert("--duration");
            }
            Long("print") => {
                let v = text(parser.value().map_err(|e| e.to_string())?, "--print")?;
                headless.print =
                    Some(PrintMode::from_arg(&v).ok_or_else(|| {
                        format!("--print: expected text, hex or none, got {v:?}")
                    })?);
                headless.needs_headless.get_or_insert("--print");
            }
            Long("lang") => {
                let v = text(parser.value().map_err(|e| e.to_string())?, "--lang")?;
                options.lang = Some(
                    Lang::from_arg(&v)
                        .ok_or_else(|| format!("--lang: expected en or zh, got {v:?}"))?,
                );
            }
            Long("theme") => {
                let v = text(parser.value().map_err(|e| e.to_string())?, "--theme")?;
                options.theme = Some(Theme::from_arg(&v).ok_or_else(|| {
                    format!("--theme: expected system, light or dark, got {v:?}")
                })?);
            }
            Long("screenshot") => {
                headless.needs_window.get_or_insert("--screenshot");
                options.screenshot =
                    Some(PathBuf::from(parser.value().map_err(|e| e.to_string())?));
            }
            Long("screenshot-delay") => {
                let v = text(
                    parser.value().map_err(|e| e.to_string())?,
                    "--screenshot-delay",
                )?;
                options.screenshot_delay_ms = v
                    .parse()
                    .map_err(|_| format!("--screenshot-delay: {v:?} is not a number of ms"))?;
            }
            Long("size") => {
                headless.needs_window.get_or_insert("--size");
                let v = text(parser.value().map_err(|e| e.to_string())?, "--size")?;
                options.size = Some(parse_size(&v).ok_or_else(|| {
                    format!("--size: {v:?} is not WIDTHxHEIGHT (640x420 or more, e.g. 1024x700)")
                })?);
            }
            Long("peer") => {
                let v = text(parser.value().map_err(|e| e.to_string())?, "--peer")?;
                parse_host_port(&v).map_err(|e| format!("--peer: {e}"))?;
                match options.tabs.last_mut().map(|t| &mut t.session) {
                    Some(StartSession::Udp { peer, .. }) => *peer = Some(v),
                    Some(_) => return Err("--peer belongs to a udp session".into()),
                    None => pending.peer = Some(v),
                }
            }
            Long("encoding") => {
                let v = text(parser.value().map_err(|e| e.to_string())?, "--encoding")?;
                let encoding = TextEncoding::from_name(&v)
                    .ok_or_else(|| format!("--encoding: unknown encoding {v:?}"))?;
                scope(&mut options.tabs, &mut pending).encoding = Some(encoding);
            }
            Long("view") => {
                let v = text(parser.value().map_err(|e| e.to_string())?, "--view")?;
                let view = ViewMode::from_arg(&v)
                    .ok_or_else(|| format!("--view: expected text, hex or both, got {v:?}"))?;
                scope(&mut options.tabs, &mut pending).view = Some(view);
            }
            Long("ipv6-only") => scope(&mut options.tabs, &mut pending).ipv6_only = true,
            Long("join") => {
                let v = text(parser.value().map_err(|e| e.to_string())?, "--join")?;
                let group = GroupSpec::parse(&v).map_err(|e| format!("--join: {e}"))?;
                if matches!(
                    options.tabs.last().map(|t| &t.session),
                    Some(StartSession::Server { .. } | StartSession::Client { .. })
                ) {
                    return Err("--join belongs to a udp session".into());
                }
                scope(&mut options.tabs, &mut pending).join.push(group);
            }
            Long("ttl") => {
                let v = text(parser.value().map_err(|e| e.to_string())?, "--ttl")?;
                let ttl = v
                    .trim()
                    .parse::<u8>()
                    .map_err(|_| format!("--ttl: {v:?} is not a number from 0 to 255"))?;
                if matches!(
                    options.tabs.last().map(|t| &t.session),
                    Some(StartSession::Server { .. } | StartSession::Client { .. })
                ) {
                    return Err("--ttl belongs to a udp session".into());
                }
                scope(&mut options.tabs, &mut pending).ttl = Some(u32::from(ttl));
            }
            Long("reconnect") => {
                let reconnect = match parser.optional_value() {
                    Some(v) => parse_reconnect(&text(v, "--reconnect")?)?,
                    None => Reconnect::default(),
                };
                if matches!(
                    options.tabs.last().map(|t| &t.session),
                    Some(StartSession::Server { .. } | StartSession::Udp { .. })
                ) {
                    return Err("--reconnect belongs to a client session".into());
                }
                scope(&mut options.tabs, &mut pending).reconnect = Some(reconnect);
            }
            Long(flag) if tls::role(flag).is_some() => {
                let flag = flag.to_string();
                let dashed = format!("--{flag}");
                let role = tls::role(&flag).unwrap_or(tls::Role::Both);
                let value = match flag.as_str() {
                    "tls" | "insecure" => None,
                    _ => Some(text(parser.value().map_err(|e| e.to_string())?, &dashed)?),
                };
                match options.tabs.last() {
                    Some(tab) => tls::fits(&dashed, role, &tab.session)?,
                    None => pending.tls_flags.push((dashed, role)),
                }
                let args = scope(&mut options.tabs, &mut pending)
                    .tls
                    .get_or_insert_with(Box::default);
                tls::apply(&flag, value.as_deref(), args)?;
            }
            Long("log") => {
                let path = PathBuf::from(parser.value().map_err(|e| e.to_string())?);
                scope(&mut options.tabs, &mut pending).log = Some(path);
            }
            Long("log-format") => {
                let v = text(parser.value().map_err(|e| e.to_string())?, "--log-format")?;
                let format = LogFormat::from_name(&v).ok_or_else(|| {
                    format!(
                        "--log-format: expected text, text-hex, hexdump, raw, csv or pcapng, got {v:?}"
                    )
                })?;
                scope(&mut options.tabs, &mut pending).log_format = Some(format);
            }
            Value(value) => {
                let kind = text(value, "session")?;
                if kind == "test" && options.tabs.is_empty() && !headless.on {
                    return parse_test(&mut parser, headless.quiet, headless.json);
                }
                if !matches!(kind.as_str(), "server" | "client" | "udp") {
                    return Err(format!("unexpected argument {kind:?} (see --help)"));
                }
                let addr = match parser.value() {
                    Ok(addr) => text(addr, &kind)?,
                    Err(_) => return Err(format!("{kind} needs HOST:PORT")),
                };
                let (host, port) = parse_host_port(&addr).map_err(|e| format!("{kind}: {e}"))?;
                let session = match kind.as_str() {
                    "server" => StartSession::Server { host, port },
                    "client" => StartSession::Client { host, port },
                    _ => StartSession::Udp {
                        host,
                        port,
                        peer: None,
                    },
                };
                options.tabs.push(StartTab::new(session));
            }
            other => return Err(format!("{} (see --help)", other.unexpected())),
        }
    }
    if headless.on {
        return headless_options(options, pending, headless);
    }
    if let Some(flag) = headless.needs_headless {
        return Err(format!(
            "{flag} needs --headless (e.g. `sockscope --headless server 0.0.0.0:8989 {flag} …`)"
        ));
    }
    apply_pending(&mut options, pending)?;
    Ok(Parsed::Run(options))
}

/// The one session of `--headless` and its options.
fn headless_options(
    mut options: StartOptions,
    pending: Pending,
    headless: HeadlessArgs,
) -> Result<Parsed, String> {
    if let Some(flag) = headless.needs_window {
        return Err(format!(
            "{flag} needs the window (it does nothing with --headless)"
        ));
    }
    if options.tabs.len() != 1 {
        return Err("--headless runs exactly one session: server, client or udp HOST:PORT".into());
    }
    apply_pending(&mut options, pending)?;
    let Some(tab) = options.tabs.pop() else {
        return Err("--headless needs a session".into());
    };
    // `--view hex` asks for hex too, unless `--print` says otherwise.
    let print = headless.print.unwrap_or(match tab.options.view {
        Some(ViewMode::Hex) => PrintMode::Hex,
        _ => PrintMode::Text,
    });
    Ok(Parsed::Headless(HeadlessOptions {
        session: tab.session,
        options: tab.options,
        rules: headless.rules,
        duration: headless.duration,
        print,
        quiet: headless.quiet,
        json: headless.json,
    }))
}

/// The arguments after `test`: plan files and the test options.
fn parse_test(parser: &mut lexopt::Parser, quiet: bool, json: bool) -> Result<Parsed, String> {
    use lexopt::prelude::*;

    let mut options = TestOptions {
        quiet,
        json,
        ..TestOptions::default()
    };
    loop {
        let arg = parser.next().map_err(|e| e.to_string())?;
        let Some(arg) = arg else { break };
        match arg {
            Short('h') | Long("help") => return Ok(Parsed::Print(USAGE.to_string())),
            Long("quiet") => options.quiet = true,
            Long("json") => options.json = true,
            Long("junit") => {
                options.junit = Some(PathBuf::from(parser.value().map_err(|e| e.to_string())?));
            }
            Long("target") => {
                let v = parser
                    .value()
                    .map_err(|e| e.to_string())?
                    .into_string()
                    .map_err(|v| format!("--target: {v:?} is not valid Unicode"))?;
                parse_host_port(&v).map_err(|e| format!("--target: {e}"))?;
                options.target = Some(v);
            }
            Value(path) => options.plans.push(PathBuf::from(path)),
            other => return Err(format!("test: {} (see --help)", other.unexpected())),
        }
    }
    if options.plans.is_empty() {
        return Err("test needs a plan file: `sockscope test PLAN.toml`".into());
    }
    Ok(Parsed::Test(options))
}

/// `90` / `90s` seconds, `500ms`, `15m`, `2h` (fractions allowed: `1.5s`).
pub fn parse_duration(text: &str) -> Option<Duration> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: f64 = number.parse().ok()?;
    let seconds = match unit.trim() {
        "" | "s" | "sec" => value,
        "ms" => value / 1000.0,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        _ => return None,
    };
    (seconds.is_finite() && seconds > 0.0 && seconds < 1e9)
        .then(|| Duration::from_secs_f64(seconds))
}

/// `--reconnect=DELAY` or `--reconnect=DELAY..MAX`: the first wait and the longest (the
/// wait doubles from one to the other; MAX defaults to 30 s, or DELAY when longer).
fn parse_reconnect(v: &str) -> Result<Reconnect, String> {
    let bad =
        || format!("--reconnect: {v:?} is not DELAY or DELAY..MAX (e.g. --reconnect=2s..60s)");
    let (delay, max) = match v.split_once("..") {
        Some((delay, max)) => (delay, Some(max)),
        None => (v, None),
    };
    let delay = parse_duration(delay).ok_or_else(bad)?;
    let max = match max {
        Some(max) => parse_duration(max).ok_or_else(bad)?,
        None => Reconnect::default().max.max(delay),
    };
    if max < delay {
        return Err(format!(
            "--reconnect: the longest wait ({max:?}) is shorter than the first ({delay:?})"
        ));
    }
    Ok(Reconnect { delay, max })
}

/// Gives options seen before any session to the first one; with no session, the plain
/// start.
fn apply_pending(options: &mut StartOptions, pending: Pending) -> Result<(), String> {
    let Some(first) = options.tabs.first_mut() else {
        if pending.peer.is_some() {
            return Err("--peer needs a udp session".into());
        }
        if pending.options.log.is_some() || pending.options.log_format.is_some() {
            return Err("--log needs a session (e.g. `server 0.0.0.0:8989 --log FILE`)".into());
        }
        if let Some((flag, _)) = pending.tls_flags.first() {
            return Err(format!(
                "{flag} needs a TCP session (e.g. `client example.com:443 --tls`)"
            ));
        }
        options.auto_start = true;
        return Ok(());
    };
    if let Some(value) = pending.peer {
        match &mut first.session {
            StartSession::Udp { peer, .. } => {
                if peer.is_none() {
                    *peer = Some(value);
                }
            }
            _ => return Err("--peer belongs to a udp session".into()),
        }
    }
    if pending.options.reconnect.is_some() && !matches!(first.session, StartSession::Client { .. })
    {
        return Err("--reconnect belongs to a client session".into());
    }
    for (flag, role) in &pending.tls_flags {
        tls::fits(flag, *role, &first.session)?;
    }
    first.options = std::mem::take(&mut first.options).or(pending.options);
    for tab in &options.tabs {
        if let Some(tls) = &tab.options.tls {
            tls.check()?;
        }
    }
    Ok(())
}

/// `1024x700` → (1024, 700); at least the window's minimum size, at most 16384.
fn parse_size(text: &str) -> Option<(u16, u16)> {
    let (w, h) = text.trim().split_once(['x', 'X', '×'])?;
    let w: u16 = w.trim().parse().ok()?;
    let h: u16 = h.trim().parse().ok()?;
    ((640..=16384).contains(&w) && (420..=16384).contains(&h)).then_some((w, h))
}

#[cfg(test)]
mod tests;
