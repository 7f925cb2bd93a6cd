//! The plan file: its serde shape, checked while it is read so every error carries the
//! line of the value at fault.
//!
//! Why the checks run inside deserialisation (`try_from` and hand-written visitors)
//! rather than after it: TOML and JSON parsers attach a position only to errors raised
//! while they read, so a bad template, regex, hex pattern or encoding name reported later
//! could not say where it is. Text in a plan is encoded in the plan's `encoding`, which
//! is therefore read first (a small first pass) and kept in a thread-local while the
//! steps are read.
//!
//! Here: the checked plan types. Reading a file is in `load`, the checking
//! deserialisers of its parts in `de`.

mod de;
mod load;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use regex::Regex;

use crate::automation::{AutoReplyConfig, SendSpec, Template};
use crate::codec::checksum::Checksum;
use crate::codec::escape::LineEnding;
use crate::codec::framing::FrameMode;
use crate::codec::text::TextEncoding;

pub(crate) use self::load::{is_json, parse_as};
pub use self::load::{load_plan, parse_plan};

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
