//! The checked deserialisation of a plan's parts: targets, framing, auto-reply, steps,
//! sends and expects, each validated as it is read (with the plan's encoding and
//! framing from the thread-local context), and the names of encodings, checksums and
//! line endings.

use std::cell::RefCell;
use std::fmt;
use std::time::Duration;

use regex::Regex;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use crate::automation::rules::parse_hex_pattern;
use crate::automation::{AutoReplyConfig, AutoResponder, SendSpec};
use crate::codec::checksum::Checksum;
use crate::codec::escape::{LineEnding, text_to_bytes};
use crate::codec::framing::FrameMode;
use crate::codec::text::TextEncoding;
use crate::engine::parse_host_port;

use super::{
    DEFAULT_TARGET_TIMEOUT, Expect, MAX_FRAME, Pattern, SendStep, Step, StepAction, Target,
};

/// What the steps need to know about the plan while they are read.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Context {
    pub(super) encoding: TextEncoding,
    pub(super) framed: bool,
    pub(super) udp: bool,
}

thread_local! {
    static CONTEXT: RefCell<Context> = RefCell::new(Context::default());
}

pub(super) fn with_context<R>(context: Context, f: impl FnOnce() -> R) -> R {
    CONTEXT.with(|c| *c.borrow_mut() = context);
    let result = f();
    CONTEXT.with(|c| *c.borrow_mut() = Context::default());
    result
}

fn context() -> Context {
    CONTEXT.with(|c| *c.borrow())
}

pub(super) fn encoding_by_name(name: &str) -> Result<TextEncoding, String> {
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
pub(super) struct Framing(pub(super) FrameMode);

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
pub(super) struct AutoReply(pub(super) AutoReplyConfig);

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
