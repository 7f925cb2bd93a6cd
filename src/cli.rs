//! Command-line arguments: open one or several sessions directly, for shortcuts, scripts
//! and smoke tests; run one session without a window (`--headless`, see
//! [`crate::headless`]); run test plans (`test PLAN`, see [`crate::plan`]). Knows nothing
//! of the window: a session without one needs only `cli`, `engine`, `session` and
//! `automation`.
//!
//! Parsed with `lexopt` (tiny, no dependencies): the grammar is positional pairs
//! (`server ADDR client ADDR …`) with options that follow the pair they belong to, which
//! derive-style parsers express poorly.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use crate::codec::text::TextEncoding;
use crate::engine::{GroupSpec, Reconnect, parse_host_port};
use crate::lang::{Lang, Theme};
use crate::session::ViewMode;
use crate::session::recorder::LogFormat;

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

/// The `--help` text.
pub const USAGE: &str = "\
Sockscope — network debugging assistant (网络调试助手)

USAGE:
    sockscope [SESSION [SESSION OPTIONS]]... [OPTIONS]

SESSIONS (each opens a tab; repeat to open several):
    server HOST:PORT             TCP server, e.g. `server 0.0.0.0:8989` (port 0 = any free port)
    client HOST:PORT             TCP client, e.g. `client 127.0.0.1:8000`
    udp HOST:PORT                UDP socket, e.g. `udp 0.0.0.0:9000 --peer 127.0.0.1:9001`
    (none)                       the tabs of the last run, stopped; the first time, a TCP
                                 server on 127.0.0.1 (this machine only) and a free port

SESSION OPTIONS (apply to the session they follow; before any session, to the first):
    --peer HOST:PORT             UDP default destination
    --encoding NAME              receive view encoding: utf-8, gbk, gb18030, big5, shift_jis,
                                 euc-kr, utf-16le, utf-16be, windows-1252, ascii
    --view text|hex|both         receive view mode
    --log PATH                   record the session to PATH from the start; the format follows
                                 the extension: .txt .hex .bin .csv .pcapng; an existing file
                                 is kept and the recording goes to PATH-2 (-3, …)
    --log-format NAME            text, text-hex, hexdump, raw, csv or pcapng
    --ipv6-only                  a server or UDP socket on :: takes IPv6 only (default: both)
    --join GROUP[+SOURCE][@IFACE]  UDP: join this multicast group at start, on the interface
                                 named or holding that address (repeatable); +SOURCE for a
                                 source-specific join, e.g. `--join 239.1.2.3@eth0`
    --ttl N                      UDP: TTL / hop limit of datagrams sent to groups (0-255)
    --reconnect[=DELAY[..MAX]]   TCP client: connect again after a loss or a refused attempt,
                                 waiting DELAY (default 1s), doubling up to MAX (default 30s)

WITHOUT A WINDOW (no display needed; exit status 0 = ended normally, 1 = failed):
    --headless                   run the one session given with no window: `sockscope
                                 --headless server 0.0.0.0:8989 --log cap.bin`; it ends on
                                 Ctrl+C / SIGTERM, after --duration, or when a client's
                                 connection ends (with --reconnect, it connects again)
    --rules FILE                 auto-reply rules (JSON or TOML: a rules file, or a test plan
                                 with an [auto_reply] table, as the window exports it)
    --duration TIME              stop after TIME: 90, 90s, 500ms, 15m, 2h
    --print text|hex|none        what reaches standard output of each payload (default text)
    --quiet                      no event lines, status line or summary
    --json                       one JSON object per line

TEST PLANS:
    sockscope test PLAN... [--junit OUT.xml] [--target HOST:PORT] [--quiet] [--json]
                                 run test plans (TOML or JSON, see the README); exit status
                                 0 = all passed, 1 = a step failed, 2 = a plan is not valid
    --junit OUT.xml              also write a JUnit XML report
    --target HOST:PORT           the address to connect / listen on / send UDP to instead of
                                 the plan's

OPTIONS:
    --lang en|zh                 UI language (default: the system's)
    --theme system|light|dark    window theme (default: the system's)
    --screenshot PATH            run the sessions, save a PNG of the window to PATH, exit
    --screenshot-delay MS        milliseconds to run before the screenshot (default 500)
    --size WxH                   window size, e.g. 1024x700 (default: the last one, or 1180x760)
    --compare                    open the GBK / UTF-8 compare pane (newest received record)
    --no-persist                 neither read nor write stored settings
    --exit-after-first-frame     print the time to the first drawn frame, then exit
    -h, --help                   print this help
    -V, --version                print the version

EXAMPLES:
    sockscope server 127.0.0.1:9000 client 127.0.0.1:9000 --encoding gbk udp 0.0.0.0:9001
    sockscope --headless server 0.0.0.0:8989 --encoding gbk --log session.txt
    sockscope test device.toml --junit report.xml
";

/// Session options seen before any session (they go to the first one).
#[derive(Default)]
struct Pending {
    options: SessionOptions,
    peer: Option<String>,
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
    first.options = std::mem::take(&mut first.options).or(pending.options);
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
mod tests {
    use super::*;

    fn run(args: &[&str]) -> StartOptions {
        match parse_args(args.iter().copied()).unwrap() {
            Parsed::Run(o) => o,
            other => panic!("expected options, got {other:?}"),
        }
    }

    /// `--join` (repeatable, with interface and source) and `--ttl` belong to a UDP
    /// session; a unicast group or a TCP session is refused in words.
    #[test]
    fn join_and_ttl() {
        let o = run(&[
            "udp",
            "0.0.0.0:5000",
            "--join",
            "239.1.2.3@eth0",
            "--join",
            "232.1.1.1+10.0.0.5",
            "--ttl",
            "4",
        ]);
        let joins: Vec<String> = o.tabs[0]
            .options
            .join
            .iter()
            .map(|g| g.to_string())
            .collect();
        assert_eq!(joins, ["239.1.2.3@eth0", "232.1.1.1+10.0.0.5"]);
        assert_eq!(o.tabs[0].options.ttl, Some(4));
        let e = parse_args(["udp", "0.0.0.0:5000", "--join", "10.0.0.1"]).unwrap_err();
        assert!(
            e.starts_with("--join: \"10.0.0.1\" is not a multicast address"),
            "{e}"
        );
        let e = parse_args(["server", "0.0.0.0:5000", "--join", "239.1.2.3"]).unwrap_err();
        assert_eq!(e, "--join belongs to a udp session");
        assert!(parse_args(["udp", "0.0.0.0:5000", "--ttl", "300"]).is_err());
        let Ok(Parsed::Headless(h)) = parse_args([
            "--headless",
            "udp",
            "0.0.0.0:5000",
            "--join",
            "239.1.2.3@127.0.0.1",
            "--ttl",
            "2",
        ]) else {
            panic!("headless udp with --join did not parse");
        };
        assert_eq!(h.options.join.len(), 1);
        assert_eq!(h.options.ttl, Some(2));
        let config = crate::headless::session_config(&h.session, &h.options);
        let crate::engine::SessionConfig::Udp(udp) = config else {
            panic!("not udp");
        };
        assert_eq!(udp.multicast.join, h.options.join);
        assert_eq!(udp.multicast.ttl, Some(2));
    }

    /// `--reconnect` takes the defaults, a first wait, or a first and a longest wait, and
    /// belongs to a client session; the headless client's config carries it.
    #[test]
    fn reconnect_option() {
        let o = run(&["client", "127.0.0.1:9000", "--reconnect"]);
        assert_eq!(o.tabs[0].options.reconnect, Some(Reconnect::default()));
        let o = run(&["--reconnect=500ms", "client", "127.0.0.1:9000"]);
        let r = o.tabs[0].options.reconnect.unwrap();
        assert_eq!(
            (r.delay, r.max),
            (Duration::from_millis(500), Duration::from_secs(30))
        );
        let o = run(&["client", "127.0.0.1:9000", "--reconnect=2s..1m"]);
        let r = o.tabs[0].options.reconnect.unwrap();
        assert_eq!(
            (r.delay, r.max),
            (Duration::from_secs(2), Duration::from_secs(60))
        );
        let o = run(&["client", "127.0.0.1:9000", "--reconnect=45s"]);
        assert_eq!(
            o.tabs[0].options.reconnect.unwrap().max,
            Duration::from_secs(45)
        );
        let e = parse_args(["client", "127.0.0.1:9000", "--reconnect=5s..1s"]).unwrap_err();
        assert!(e.contains("shorter than the first"), "{e}");
        let e = parse_args(["client", "127.0.0.1:9000", "--reconnect=soon"]).unwrap_err();
        assert!(e.starts_with("--reconnect: \"soon\" is not DELAY"), "{e}");
        let e = parse_args(["server", "0.0.0.0:9000", "--reconnect"]).unwrap_err();
        assert_eq!(e, "--reconnect belongs to a client session");
        let e = parse_args(["--reconnect", "udp", "0.0.0.0:9000"]).unwrap_err();
        assert_eq!(e, "--reconnect belongs to a client session");
        let Ok(Parsed::Headless(h)) = parse_args([
            "--headless",
            "client",
            "127.0.0.1:9000",
            "--reconnect=1s..4s",
        ]) else {
            panic!("headless client with --reconnect did not parse");
        };
        let crate::engine::SessionConfig::TcpClient(c) =
            crate::headless::session_config(&h.session, &h.options)
        else {
            panic!("not a client");
        };
        assert_eq!(c.reconnect.unwrap().max, Duration::from_secs(4));
    }

    /// The three session forms parse into start sessions, with their options.
    #[test]
    fn sessions() {
        assert_eq!(
            run(&["server", "0.0.0.0:8989"]).tabs,
            vec![StartTab::new(StartSession::Server {
                host: "0.0.0.0".into(),
                port: 8989
            })]
        );
        let client = run(&[
            "client",
            "127.0.0.1:8000",
            "--encoding",
            "gbk",
            "--view",
            "hex",
        ]);
        assert_eq!(client.tabs[0].options.encoding, Some(TextEncoding::Gbk));
        assert_eq!(client.tabs[0].options.view, Some(ViewMode::Hex));
        let udp = run(&["udp", "0.0.0.0:9000", "--peer", "127.0.0.1:9001"]);
        assert_eq!(
            udp.tabs[0].session,
            StartSession::Udp {
                host: "0.0.0.0".into(),
                port: 9000,
                peer: Some("127.0.0.1:9001".into())
            }
        );
        let plain = run(&[]);
        assert!(plain.auto_start && plain.tabs.is_empty());
        assert!(
            run(&["server", "[::]:0", "--ipv6-only"]).tabs[0]
                .options
                .ipv6_only
        );
    }

    /// Pairs repeat; each pair's options follow it; options before any pair go to the first.
    #[test]
    fn several_sessions() {
        let o = run(&[
            "--encoding",
            "big5",
            "server",
            "127.0.0.1:9000",
            "client",
            "127.0.0.1:9000",
            "--encoding",
            "gbk",
            "--log",
            "c.txt",
            "udp",
            "0.0.0.0:9001",
            "--lang",
            "zh",
        ]);
        assert_eq!(o.tabs.len(), 3);
        assert_eq!(o.tabs[0].options.encoding, Some(TextEncoding::Big5));
        assert_eq!(o.tabs[1].options.encoding, Some(TextEncoding::Gbk));
        assert_eq!(o.tabs[1].options.log, Some(PathBuf::from("c.txt")));
        assert_eq!(o.tabs[2].options.encoding, None);
        assert!(!o.tabs[0].options.ipv6_only);
        assert!(matches!(
            o.tabs[2].session,
            StartSession::Udp { port: 9001, .. }
        ));
        assert_eq!(o.lang, Some(Lang::Zh));
        assert!(!o.auto_start);
    }

    /// `--headless` takes one session and its options; `test` takes plans.
    #[test]
    fn headless_and_test() {
        let Ok(Parsed::Headless(h)) = parse_args([
            "--headless",
            "server",
            "127.0.0.1:0",
            "--log",
            "x.bin",
            "--rules",
            "r.toml",
            "--duration",
            "1.5s",
            "--print",
            "hex",
            "--quiet",
        ]) else {
            panic!("expected headless options");
        };
        assert_eq!(
            h.session,
            StartSession::Server {
                host: "127.0.0.1".into(),
                port: 0
            }
        );
        assert_eq!(h.options.log, Some(PathBuf::from("x.bin")));
        assert_eq!(h.rules, Some(PathBuf::from("r.toml")));
        assert_eq!(h.duration, Some(Duration::from_millis(1500)));
        assert_eq!(h.print, PrintMode::Hex);
        assert!(h.quiet && !h.json);
        let Ok(Parsed::Test(t)) = parse_args([
            "test", "a.toml", "b.json", "--junit", "r.xml", "--target", "[::1]:9", "--json",
        ]) else {
            panic!("expected test options");
        };
        assert_eq!(t.plans, [PathBuf::from("a.toml"), PathBuf::from("b.json")]);
        assert_eq!(t.junit, Some(PathBuf::from("r.xml")));
        assert_eq!(t.target.as_deref(), Some("[::1]:9"));
        assert!(t.json && !t.quiet);
        assert!(parse_args(["test"]).unwrap_err().contains("plan"));
        assert!(
            parse_args(["--headless"])
                .unwrap_err()
                .contains("one session")
        );
        assert!(
            parse_args(["--headless", "server", "0.0.0.0:1", "client", "h:1"])
                .unwrap_err()
                .contains("one session")
        );
        assert!(
            parse_args(["server", "0.0.0.0:1", "--rules", "r.json"])
                .unwrap_err()
                .contains("--headless")
        );
        assert!(
            parse_args(["--headless", "server", "0.0.0.0:1", "--screenshot", "a.png"])
                .unwrap_err()
                .contains("window")
        );
        assert_eq!(parse_duration("90"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("2h"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_duration("0"), None);
        assert_eq!(parse_duration("5 parsecs"), None);
    }

    /// Bad arguments are errors in words, not panics.
    #[test]
    fn errors() {
        assert!(parse_args(["server"]).unwrap_err().contains("HOST:PORT"));
        assert!(parse_args(["client", "127.0.0.1:99999"]).is_err());
        assert!(
            parse_args(["--encoding", "klingon"])
                .unwrap_err()
                .contains("klingon")
        );
        assert!(parse_args(["--view", "x"]).is_err());
        assert!(parse_args(["--bogus"]).unwrap_err().contains("--bogus"));
        assert!(parse_args(["elephant"]).unwrap_err().contains("elephant"));
        assert!(
            parse_args(["server", "0.0.0.0:1", "--peer", "127.0.0.1:2"])
                .unwrap_err()
                .contains("udp")
        );
        assert!(
            matches!(parse_args(["--help"]), Ok(Parsed::Print(t)) if t.contains("--screenshot"))
        );
    }
}
