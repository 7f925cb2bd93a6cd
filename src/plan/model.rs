//! The plan file: its serde shape, checked while it is read so every error carries the
//! line of the value at fault.
//!
//! Why the checks run inside deserialisation (`try_from` and hand-written visitors)
//! rather than after it: TOML and JSON parsers attach a position only to errors raised
//! while they read, so a bad template, regex, hex pattern or encoding name reported later
//! could not say where it is. Text in a plan is encoded in the plan's `encoding`, which
//! is therefore read first (a small first pass) and kept in a thread-local while the
//! steps are read.

use std::cell::RefCell;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use regex::Regex;
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};

use crate::automation::rules::parse_hex_pattern;
use crate::automation::{AutoReplyConfig, AutoResponder, SendSpec, Template};
use crate::codec::checksum::Checksum;
use crate::codec::escape::{LineEnding, text_to_bytes};
use crate::codec::framing::FrameMode;
use crate::codec::text::TextEncoding;
use crate::engine::parse_host_port;

/// The plan version this build reads.
pub const PLAN_VERSION: u32 = 1;
/// Default time an `expect` waits.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(1000);
/// Default time to connect, or to wait for a client.
pub const DEFAULT_TARGET_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest frame an `expect` cuts by the framing rules.
pub const MAX_FRAME: usize = 64 << 10;

/// A test plan, checked and ready to run.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The plan's name (its `name`, else the file's stem).
    pub name: String,
    /// Encoding of text in sends and expects, and of received bytes shown as text.
    pub encoding: TextEncoding,
    /// Default time an `expect` waits.
    pub timeout: Duration,
    /// What to talk to.
    pub target: Target,
    /// How `expect` cuts the TCP stream into messages, if at all.
    pub framing: Option<FrameMode>,
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// The device side: rules `sockscope --headless … --rules PLAN` answers with (a test
    /// run does not install them).
    pub auto_reply: Option<AutoReplyConfig>,
}

/// What a plan talks to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// Connect to a TCP server.
    Connect {
        /// Server host.
        host: String,
        /// Server port.
        port: u16,
        /// Give up connecting after this long.
        timeout: Duration,
    },
    /// Listen and wait for one TCP client.
    Listen {
        /// Bind host.
        host: String,
        /// Bind port (0: any free port, printed when bound).
        port: u16,
        /// Give up waiting for the client after this long.
        timeout: Duration,
    },
    /// A UDP socket.
    Udp {
        /// Bind host.
        host: String,
        /// Bind port (0: any free port).
        port: u16,
        /// Where sends go (otherwise: the last peer heard from).
        peer: Option<String>,
    },
}

impl Target {
    /// True for a UDP target.
    pub fn is_udp(&self) -> bool {
        matches!(self, Target::Udp { .. })
    }

    /// The same target with its address replaced by `host:port` (for UDP: the peer).
    pub fn with_address(&self, host: &str, port: u16) -> Target {
        let host = host.to_string();
        match self.clone() {
            Target::Connect { timeout, .. } => Target::Connect {
                host,
                port,
                timeout,
            },
            Target::Listen { timeout, .. } => Target::Listen {
                host,
                port,
                timeout,
            },
            Target::Udp {
                host: bind,
                port: bind_port,
                ..
            } => Target::Udp {
                host: bind,
                port: bind_port,
                peer: Some(join_host_port(&host, port)),
            },
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Connect { host, port, .. } => {
                write!(f, "connect {}", join_host_port(host, *port))
            }
            Target::Listen { host, port, .. } => {
                write!(f, "listen {}", join_host_port(host, *port))
            }
            Target::Udp { host, port, peer } => {
                write!(f, "udp {}", join_host_port(host, *port))?;
                if let Some(peer) = peer {
                    write!(f, " → {peer}")?;
                }
                Ok(())
            }
        }
    }
}

/// `host:port`, with brackets around an IPv6 host.
pub fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// One step of a plan.
#[derive(Clone, Debug)]
pub struct Step {
    /// A label for reports.
    pub name: Option<String>,
    /// How long an expect, expect_closed or reconnect waits (else the plan's default).
    pub timeout: Option<Duration>,
    /// What it does.
    pub action: StepAction,
}

impl Step {
    /// What reports call this step: its name, else a description.
    pub fn title(&self) -> String {
        match &self.name {
            Some(name) => name.clone(),
            None => self.action.describe(),
        }
    }
}

/// What a step does.
#[derive(Clone, Debug)]
pub enum StepAction {
    /// Send a template (`{counter}` is this step's send number, from 1).
    Send(SendStep),
    /// Wait for received bytes that match.
    Expect(Expect),
    /// Wait for the peer to close the connection.
    ExpectClosed,
    /// Let this much time pass (received bytes are kept for the next expect).
    Wait(Duration),
    /// Close the connection (client: disconnect; server: close the client).
    Close,
    /// Client: connect again; server: wait for the next client.
    Reconnect,
    /// Run the nested steps this many times.
    Repeat {
        /// How many times.
        times: u32,
        /// The nested steps.
        steps: Vec<Step>,
    },
}

impl StepAction {
    /// The step's kind as written in a plan: `send`, `expect`, `expect_closed`, `wait`,
    /// `close`, `reconnect`, `repeat`.
    pub fn kind(&self) -> &'static str {
        match self {
            StepAction::Send(_) => "send",
            StepAction::Expect(_) => "expect",
            StepAction::ExpectClosed => "expect_closed",
            StepAction::Wait(_) => "wait",
            StepAction::Close => "close",
            StepAction::Reconnect => "reconnect",
            StepAction::Repeat { .. } => "repeat",
        }
    }

    /// A one-line description: `send "hello"`, `expect contains "ok"`, ….
    pub fn describe(&self) -> String {
        match self {
            StepAction::Send(send) => {
                let mut s = if send.spec.hex {
                    format!("send hex {}", send.spec.text)
                } else {
                    format!("send {:?}", send.spec.text)
                };
                if send.spec.line_ending != LineEnding::None {
                    s.push_str(&format!(" +{}", send.spec.line_ending.name()));
                }
                if send.spec.checksum != Checksum::None {
                    s.push_str(&format!(" +{}", send.spec.checksum.name()));
                }
                s
            }
            StepAction::Expect(expect) => format!("expect {}", expect.describe()),
            StepAction::ExpectClosed => "expect_closed".into(),
            StepAction::Wait(d) => format!("wait {} ms", d.as_millis()),
            StepAction::Close => "close".into(),
            StepAction::Reconnect => "reconnect".into(),
            StepAction::Repeat { times, steps } => {
                format!("repeat {times}× ({} steps)", steps.len())
            }
        }
    }
}

/// A send step: the template as written and compiled.
#[derive(Clone, Debug)]
pub struct SendStep {
    /// As written (the window's compose-box settings).
    pub spec: SendSpec,
    /// Compiled.
    pub template: Template,
}

/// What an expect looks for.
#[derive(Clone, Debug)]
pub enum Pattern {
    /// These bytes exactly: next in the stream, or the whole message.
    Exact(Vec<u8>),
    /// These bytes somewhere.
    Contains(Vec<u8>),
    /// A regular expression on the bytes decoded as text.
    Regex(Regex),
    /// Hex bytes with `??` for any byte: next in the stream, or the whole message.
    Hex(Vec<Option<u8>>),
}

/// An expect step.
#[derive(Clone, Debug)]
pub struct Expect {
    /// What to look for.
    pub pattern: Pattern,
    /// The pattern as written (for reports).
    pub source: String,
    /// Encoding of the text pattern and of the text a regex sees.
    pub encoding: TextEncoding,
    /// Match whole messages cut by the plan's framing (UDP: always, one datagram each).
    pub frame: bool,
    /// The data the pattern describes is followed by this checksum, which must be right
    /// (for `contains` and `regex`: the frame ends with it).
    pub checksum: Checksum,
}

impl Expect {
    /// `exact "ok"`, `contains "ok"`, `regex /^ok/`, `hex 01 03 ??`.
    pub fn describe(&self) -> String {
        let mut s = match &self.pattern {
            Pattern::Exact(_) => format!("exact {:?}", self.source),
            Pattern::Contains(_) => format!("contains {:?}", self.source),
            Pattern::Regex(_) => format!("regex /{}/", self.source),
            Pattern::Hex(_) => format!("hex {}", self.source),
        };
        if self.checksum != Checksum::None {
            s.push_str(&format!(" +{}", self.checksum.name()));
        }
        if self.frame {
            s.push_str(" (frame)");
        }
        s
    }
}

/// A plan file that cannot be used: where and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanError {
    /// What the file is: `plan`, or `rules file` (`--rules`).
    pub what: &'static str,
    /// The file.
    pub path: PathBuf,
    /// 1-based line of the value at fault, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// What is wrong (names the field).
    pub message: String,
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad {} {}", self.what, self.path.display())?;
        match (self.line, self.column) {
            (Some(line), Some(column)) => write!(f, ", line {line}, column {column}")?,
            (Some(line), None) => write!(f, ", line {line}")?,
            _ => {}
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for PlanError {}

/// Reads and checks the plan at `path` (TOML, or JSON for `.json` files and text that
/// starts with `{`).
pub fn load_plan(path: &Path) -> Result<Plan, PlanError> {
    let text = std::fs::read_to_string(path).map_err(|e| PlanError {
        what: "plan",
        path: path.to_path_buf(),
        line: None,
        column: None,
        message: format!("cannot read it: {e}"),
    })?;
    parse_plan(&text, path)
}

/// Checks plan `text`; `path` names it in errors, picks the format and the default name.
pub fn parse_plan(text: &str, path: &Path) -> Result<Plan, PlanError> {
    let json = is_json(text, path);
    let head: Head = if json {
        serde_json::from_str(text).unwrap_or_default()
    } else {
        toml::from_str(text).unwrap_or_default()
    };
    let context = Context {
        encoding: head
            .encoding
            .as_deref()
            .and_then(TextEncoding::from_name)
            .unwrap_or_default(),
        framed: head.framing.is_some(),
        udp: head.target.is_some_and(|t| t.udp.is_some()),
    };
    let raw: RawPlan = with_context(context, || parse_as(text, path, json))?;
    let name = raw.name.unwrap_or_else(|| {
        path.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "plan".into())
    });
    Ok(Plan {
        name,
        encoding: raw.encoding.map(|e| e.0).unwrap_or_default(),
        timeout: raw
            .timeout_ms
            .map(Duration::from_millis)
            .unwrap_or(DEFAULT_TIMEOUT),
        target: raw.target,
        framing: raw.framing.map(|f| f.0),
        steps: raw.steps,
        auto_reply: raw.auto_reply.map(|a| a.0),
    })
}

/// True for JSON: a `.json` file, or text whose first non-blank character is `{`.
pub(crate) fn is_json(text: &str, path: &Path) -> bool {
    match path.extension().and_then(|e| e.to_str()) {
        Some(ext) if ext.eq_ignore_ascii_case("json") => true,
        Some(ext) if ext.eq_ignore_ascii_case("toml") => false,
        _ => text.trim_start().starts_with('{'),
    }
}

/// Deserialises `text` as TOML or JSON, turning the parser's error into a [`PlanError`]
/// with line and column.
pub(crate) fn parse_as<T: serde::de::DeserializeOwned>(
    text: &str,
    path: &Path,
    json: bool,
) -> Result<T, PlanError> {
    if json {
        serde_json::from_str(text).map_err(|e| {
            let full = e.to_string();
            // serde_json appends " at line L column C"; we say it our way.
            let message = match full.rfind(" at line ") {
                Some(at) => full[..at].to_string(),
                None => full,
            };
            PlanError {
                what: "plan",
                path: path.to_path_buf(),
                line: (e.line() > 0).then_some(e.line()),
                column: (e.column() > 0).then_some(e.column()),
                message,
            }
        })
    } else {
        toml::from_str(text).map_err(|e| {
            let (line, column) = match e.span() {
                Some(span) => {
                    let (l, c) = line_column(text, span.start);
                    (Some(l), Some(c))
                }
                None => (None, None),
            };
            PlanError {
                what: "plan",
                path: path.to_path_buf(),
                line,
                column,
                message: e.message().trim().to_string(),
            }
        })
    }
}

/// 1-based line and column (in characters) of byte offset `at`.
fn line_column(text: &str, at: usize) -> (usize, usize) {
    let at = at.min(text.len());
    let before = text.get(..at).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// What the steps need to know about the plan while they are read.
#[derive(Clone, Copy, Debug, Default)]
struct Context {
    encoding: TextEncoding,
    framed: bool,
    udp: bool,
}

thread_local! {
    static CONTEXT: RefCell<Context> = RefCell::new(Context::default());
}

fn with_context<R>(context: Context, f: impl FnOnce() -> R) -> R {
    CONTEXT.with(|c| *c.borrow_mut() = context);
    let result = f();
    CONTEXT.with(|c| *c.borrow_mut() = Context::default());
    result
}

fn context() -> Context {
    CONTEXT.with(|c| *c.borrow())
}

/// The first pass: only what the steps depend on; anything else is ignored here.
#[derive(Deserialize, Default)]
struct Head {
    encoding: Option<String>,
    framing: Option<IgnoredAny>,
    target: Option<HeadTarget>,
}

#[derive(Deserialize)]
struct HeadTarget {
    udp: Option<IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlan {
    #[allow(dead_code)]
    version: Version,
    name: Option<String>,
    encoding: Option<EncodingName>,
    timeout_ms: Option<u64>,
    target: Target,
    framing: Option<Framing>,
    steps: Vec<Step>,
    auto_reply: Option<AutoReply>,
}

/// `version = 1`, checked where it is written.
struct Version;

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = u64::deserialize(d)?;
        if v == u64::from(PLAN_VERSION) {
            Ok(Version)
        } else {
            Err(de::Error::custom(format!(
                "version: {v} is not supported (this Sockscope reads version {PLAN_VERSION} plans)"
            )))
        }
    }
}

/// An encoding by name or alias.
struct EncodingName(TextEncoding);

impl<'de> Deserialize<'de> for EncodingName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        encoding_by_name(&name)
            .map(EncodingName)
            .map_err(de::Error::custom)
    }
}

fn encoding_by_name(name: &str) -> Result<TextEncoding, String> {
    TextEncoding::from_name(name).ok_or_else(|| {
        let known: Vec<&str> = TextEncoding::ALL.iter().map(|e| e.name()).collect();
        format!(
            "encoding: unknown encoding {name:?} (known: {})",
            known.join(", ")
        )
    })
}

fn key(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

fn checksum_by_name(name: &str) -> Result<Checksum, String> {
    Checksum::ALL
        .into_iter()
        .find(|c| key(c.name()) == key(name))
        .ok_or_else(|| {
            let known: Vec<&str> = Checksum::ALL.iter().map(|c| c.name()).collect();
            format!(
                "checksum: unknown checksum {name:?} (known: {})",
                known.join(", ")
            )
        })
}

fn line_ending_by_name(name: &str) -> Result<LineEnding, String> {
    LineEnding::ALL
        .into_iter()
        .find(|l| key(l.name()) == key(name))
        .ok_or_else(|| {
            format!("line_ending: unknown line ending {name:?} (known: None, CR, LF, CRLF)")
        })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    connect: Option<String>,
    listen: Option<String>,
    udp: Option<String>,
    peer: Option<String>,
    timeout_ms: Option<u64>,
}

impl<'de> Deserialize<'de> for Target {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = RawTarget::deserialize(d)?;
        target_from(raw).map_err(de::Error::custom)
    }
}

/// Checks that exactly one of `fields` (name, given) is given; otherwise the error says
/// "`what`: give exactly one of `choices` (found none / a and b)".
fn exactly_one(what: &str, choices: &str, fields: &[(&str, bool)]) -> Result<(), String> {
    let given: Vec<&str> = fields
        .iter()
        .filter(|(_, on)| *on)
        .map(|(k, _)| *k)
        .collect();
    if given.len() == 1 {
        return Ok(());
    }
    let found = if given.is_empty() {
        "none".to_string()
    } else {
        given.join(" and ")
    };
    Err(format!(
        "{what}: give exactly one of {choices} (found {found})"
    ))
}

fn target_from(raw: RawTarget) -> Result<Target, String> {
    exactly_one(
        "target",
        "connect = \"HOST:PORT\", listen = \"HOST:PORT\" or udp = \"HOST:PORT\"",
        &[
            ("connect", raw.connect.is_some()),
            ("listen", raw.listen.is_some()),
            ("udp", raw.udp.is_some()),
        ],
    )?;
    let address =
        |field: &str, v: &str| parse_host_port(v).map_err(|e| format!("target.{field}: {e}"));
    let timeout = raw
        .timeout_ms
        .map(Duration::from_millis)
        .unwrap_or(DEFAULT_TARGET_TIMEOUT);
    if raw.peer.is_some() && raw.udp.is_none() {
        return Err("target.peer belongs to a udp target".into());
    }
    if let Some(v) = raw.connect {
        let (host, port) = address("connect", &v)?;
        return Ok(Target::Connect {
            host,
            port,
            timeout,
        });
    }
    if let Some(v) = raw.listen {
        let (host, port) = address("listen", &v)?;
        return Ok(Target::Listen {
            host,
            port,
            timeout,
        });
    }
    let v = raw.udp.unwrap_or_default();
    let (host, port) = address("udp", &v)?;
    if let Some(peer) = &raw.peer {
        address("peer", peer)?;
    }
    Ok(Target::Udp {
        host,
        port,
        peer: raw.peer,
    })
}

/// `[framing]`: exactly one rule.
struct Framing(FrameMode);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFraming {
    delimiter: Option<String>,
    delimiter_hex: Option<String>,
    fixed_length: Option<usize>,
    length_prefix: Option<RawLengthPrefix>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLengthPrefix {
    width: u8,
    #[serde(default = "yes")]
    big_endian: bool,
    #[serde(default)]
    header: usize,
    #[serde(default)]
    includes_header: bool,
}

fn yes() -> bool {
    true
}

impl<'de> Deserialize<'de> for Framing {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = RawFraming::deserialize(d)?;
        let count = [
            raw.delimiter.is_some(),
            raw.delimiter_hex.is_some(),
            raw.fixed_length.is_some(),
            raw.length_prefix.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if count != 1 {
            return Err(de::Error::custom(
                "framing: give exactly one of delimiter, delimiter_hex, fixed_length or length_prefix",
            ));
        }
        let mode = if let Some(text) = raw.delimiter {
            let bytes = text_to_bytes(&text, context().encoding, true)
                .map_err(|e| de::Error::custom(format!("framing.delimiter: {e}")))?;
            FrameMode::Delimiter(nonempty(bytes, "framing.delimiter")?)
        } else if let Some(hex) = raw.delimiter_hex {
            let bytes = crate::codec::hex::parse(&hex)
                .map_err(|e| de::Error::custom(format!("framing.delimiter_hex: {e}")))?;
            FrameMode::Delimiter(nonempty(bytes, "framing.delimiter_hex")?)
        } else if let Some(len) = raw.fixed_length {
            if len == 0 || len > MAX_FRAME {
                return Err(de::Error::custom(format!(
                    "framing.fixed_length: {len} is not from 1 to {MAX_FRAME}"
                )));
            }
            FrameMode::FixedLength(len)
        } else if let Some(lp) = raw.length_prefix {
            if !(1..=8).contains(&lp.width) {
                return Err(de::Error::custom(format!(
                    "framing.length_prefix.width: {} is not from 1 to 8",
                    lp.width
                )));
            }
            FrameMode::LengthPrefix {
                width: lp.width,
                big_endian: lp.big_endian,
                header: lp.header,
                includes_header: lp.includes_header,
            }
        } else {
            return Err(de::Error::custom("framing: no rule"));
        };
        Ok(Framing(mode))
    }
}

fn nonempty<E: de::Error>(bytes: Vec<u8>, field: &str) -> Result<Vec<u8>, E> {
    if bytes.is_empty() {
        Err(E::custom(format!("{field}: is empty")))
    } else {
        Ok(bytes)
    }
}

/// `[auto_reply]`, compiled once so a bad rule is named where it is written.
struct AutoReply(AutoReplyConfig);

impl<'de> Deserialize<'de> for AutoReply {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let config = AutoReplyConfig::deserialize(d)?;
        AutoResponder::new(&config).map_err(|e| de::Error::custom(format!("auto_reply: {e}")))?;
        Ok(AutoReply(config))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    name: Option<String>,
    send: Option<SendStep>,
    expect: Option<Expect>,
    expect_closed: Option<bool>,
    wait_ms: Option<u64>,
    close: Option<bool>,
    reconnect: Option<bool>,
    repeat: Option<u32>,
    steps: Option<Vec<Step>>,
    timeout_ms: Option<u64>,
}

impl<'de> Deserialize<'de> for Step {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = RawStep::deserialize(d)?;
        step_from(raw).map_err(de::Error::custom)
    }
}

fn step_from(raw: RawStep) -> Result<Step, String> {
    let udp = context().udp;
    let mut found = Vec::new();
    let mut action = None;
    let flag = |field: &str, value: Option<bool>| -> Result<bool, String> {
        match value {
            Some(true) => Ok(true),
            Some(false) => Err(format!("{field} = false does nothing: leave the field out")),
            None => Ok(false),
        }
    };
    if let Some(send) = raw.send {
        found.push("send");
        action = Some(StepAction::Send(send));
    }
    if let Some(expect) = raw.expect {
        found.push("expect");
        action = Some(StepAction::Expect(expect));
    }
    if flag("expect_closed", raw.expect_closed)? {
        if udp {
            return Err("expect_closed: a udp target has no connection to close".into());
        }
        found.push("expect_closed");
        action = Some(StepAction::ExpectClosed);
    }
    if let Some(ms) = raw.wait_ms {
        found.push("wait_ms");
        action = Some(StepAction::Wait(Duration::from_millis(ms)));
    }
    if flag("close", raw.close)? {
        if udp {
            return Err("close: a udp target has no connection to close".into());
        }
        found.push("close");
        action = Some(StepAction::Close);
    }
    if flag("reconnect", raw.reconnect)? {
        if udp {
            return Err("reconnect: a udp target has no connection".into());
        }
        found.push("reconnect");
        action = Some(StepAction::Reconnect);
    }
    match (raw.repeat, raw.steps) {
        (Some(0), _) => return Err("repeat: must be at least 1".into()),
        (Some(times), Some(steps)) => {
            if steps.is_empty() {
                return Err("steps: a repeat needs at least one step".into());
            }
            found.push("repeat");
            action = Some(StepAction::Repeat { times, steps });
        }
        (Some(_), None) => return Err("repeat: needs `steps`, the steps to repeat".into()),
        (None, Some(_)) => {
            return Err("steps: nested steps belong to a `repeat = N` step".into());
        }
        (None, None) => {}
    }
    let action = match (found.len(), action) {
        (1, Some(action)) => action,
        (0, _) => {
            return Err(
                "a step needs one of: send, expect, expect_closed, wait_ms, close, reconnect, repeat"
                    .into(),
            );
        }
        _ => {
            return Err(format!(
                "a step does one thing, this one has {} (make them separate steps)",
                found.join(" and ")
            ));
        }
    };
    let waits = matches!(
        action,
        StepAction::Expect(_) | StepAction::ExpectClosed | StepAction::Reconnect
    );
    if raw.timeout_ms.is_some() && !waits {
        return Err(format!(
            "timeout_ms: applies to expect, expect_closed and reconnect, not to {}",
            action.kind()
        ));
    }
    Ok(Step {
        name: raw.name,
        timeout: raw.timeout_ms.map(Duration::from_millis),
        action,
    })
}

/// A send: a string (text in the plan's encoding, escapes on) or a table of the window's
/// compose-box settings.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSend {
    text: String,
    #[serde(default)]
    hex: bool,
    encoding: Option<String>,
    escapes: Option<bool>,
    line_ending: Option<String>,
    checksum: Option<String>,
}

impl RawSend {
    fn text(text: String) -> Self {
        RawSend {
            text,
            hex: false,
            encoding: None,
            escapes: None,
            line_ending: None,
            checksum: None,
        }
    }

    fn compile(self) -> Result<SendStep, String> {
        let encoding = match &self.encoding {
            Some(name) => encoding_by_name(name)?,
            None => context().encoding,
        };
        let spec = SendSpec {
            text: self.text,
            hex: self.hex,
            encoding,
            escapes: self.escapes.unwrap_or(true),
            line_ending: match &self.line_ending {
                Some(name) => line_ending_by_name(name)?,
                None => LineEnding::None,
            },
            checksum: match &self.checksum {
                Some(name) => checksum_by_name(name)?,
                None => Checksum::None,
            },
        };
        let template = spec.compile().map_err(|e| format!("send: {e}"))?;
        Ok(SendStep { spec, template })
    }
}

/// Accepts a string or a table, then hands the table to a derived deserializer (so its
/// errors stay precise).
struct StrOrTable<T>(std::marker::PhantomData<T>);

/// What a string-or-table value turns into.
trait FromStrOrTable: Sized {
    const EXPECTING: &'static str;
    type Table: serde::de::DeserializeOwned;
    fn from_str(s: String) -> Result<Self, String>;
    fn from_table(t: Self::Table) -> Result<Self, String>;
}

impl<'de, T: FromStrOrTable> Visitor<'de> for StrOrTable<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(T::EXPECTING)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        T::from_str(v.to_string()).map_err(E::custom)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        let table = T::Table::deserialize(de::value::MapAccessDeserializer::new(map))?;
        T::from_table(table).map_err(de::Error::custom)
    }
}

impl FromStrOrTable for SendStep {
    const EXPECTING: &'static str =
        "text to send, or a table such as { text = \"01 03\", hex = true }";
    type Table = RawSend;

    fn from_str(s: String) -> Result<Self, String> {
        RawSend::text(s).compile()
    }

    fn from_table(t: RawSend) -> Result<Self, String> {
        t.compile()
    }
}

impl<'de> Deserialize<'de> for SendStep {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrOrTable::<SendStep>(std::marker::PhantomData))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpect {
    exact: Option<String>,
    contains: Option<String>,
    regex: Option<String>,
    hex: Option<String>,
    encoding: Option<String>,
    frame: Option<bool>,
    checksum: Option<String>,
}

impl FromStrOrTable for Expect {
    const EXPECTING: &'static str = "the exact text expected, or a table such as { contains = \"ok\" } or { hex = \"01 03 ??\" }";
    type Table = RawExpect;

    fn from_str(s: String) -> Result<Self, String> {
        Expect::from_table(RawExpect {
            exact: Some(s),
            contains: None,
            regex: None,
            hex: None,
            encoding: None,
            frame: None,
            checksum: None,
        })
    }

    fn from_table(t: RawExpect) -> Result<Self, String> {
        let cx = context();
        let encoding = match &t.encoding {
            Some(name) => encoding_by_name(name)?,
            None => cx.encoding,
        };
        exactly_one(
            "expect",
            "exact, contains, regex or hex",
            &[
                ("exact", t.exact.is_some()),
                ("contains", t.contains.is_some()),
                ("regex", t.regex.is_some()),
                ("hex", t.hex.is_some()),
            ],
        )?;
        let text_bytes = |field: &str, text: &str| -> Result<Vec<u8>, String> {
            let bytes =
                text_to_bytes(text, encoding, true).map_err(|e| format!("expect.{field}: {e}"))?;
            if bytes.is_empty() {
                return Err(format!("expect.{field}: is empty"));
            }
            Ok(bytes)
        };
        let (pattern, source) = if let Some(s) = t.exact {
            (Pattern::Exact(text_bytes("exact", &s)?), s)
        } else if let Some(s) = t.contains {
            (Pattern::Contains(text_bytes("contains", &s)?), s)
        } else if let Some(s) = t.regex {
            let re = Regex::new(&s).map_err(|e| format!("expect.regex: {e}"))?;
            (Pattern::Regex(re), s)
        } else {
            let s = t.hex.unwrap_or_default();
            let p = parse_hex_pattern(&s).map_err(|e| format!("expect.hex: {e}"))?;
            if p.is_empty() {
                return Err("expect.hex: is empty".into());
            }
            (Pattern::Hex(p), s)
        };
        let frame = match t.frame {
            Some(true) if !cx.framed && !cx.udp => {
                return Err(
                    "expect.frame: frame = true needs a [framing] table (delimiter, fixed_length or length_prefix)"
                        .into(),
                );
            }
            Some(frame) => frame,
            None => cx.framed || cx.udp,
        };
        let checksum = match &t.checksum {
            Some(name) => checksum_by_name(name)?,
            None => Checksum::None,
        };
        let framed = frame || cx.udp;
        if checksum != Checksum::None
            && !framed
            && matches!(pattern, Pattern::Contains(_) | Pattern::Regex(_))
        {
            return Err(
                "expect.checksum: with contains or regex the message must be a frame (frame = true and a [framing] table, or a udp target)"
                    .into(),
            );
        }
        Ok(Expect {
            pattern,
            source,
            encoding,
            frame: framed,
            checksum,
        })
    }
}

impl<'de> Deserialize<'de> for Expect {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrOrTable::<Expect>(std::marker::PhantomData))
    }
}
