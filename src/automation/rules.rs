//! Auto-replies: echo mode and rules that answer matching input, run inside the engine's
//! readers through [`crate::engine::Responder`], so a device gets its answer within
//! milliseconds even while the window is minimised.
//!
//! # How input is matched and consumed
//!
//! Rules apply per TCP connection (client mode: the one connection; server mode: each
//! client separately) and per UDP datagram. Each TCP connection has a buffer of bytes no
//! rule has consumed yet (at most [`MAX_PENDING`] bytes; older bytes are dropped first).
//! On every read:
//!
//! 1. If more than the reassembly window (`window_ms`, default 500 ms) passed since the
//!    previous read, the old unconsumed bytes are stale and dropped.
//! 2. The read is appended to the buffer.
//! 3. The enabled rules are tried in order on the whole buffer; the first that matches
//!    fires (hit count + 1, its reply and/or close are queued, after its delay) and
//!    consumes bytes as below; the rest of the buffer is tried again from the first rule.
//! 4. When no rule matches, only bytes that could still become a match when more data
//!    arrives are kept (a prefix of an exact / starts-with / hex pattern, the tail of the
//!    buffer that starts a "contains" pattern, anything for a regex); the rest is dropped.
//!
//! What each kind matches, and what it consumes:
//!
//! - `Any`: any bytes; consumes the buffer (one reply per read, like the seed servers).
//! - `Exact`: the buffer equals the pattern; consumes it.
//! - `StartsWith`: the buffer starts with the pattern; consumes the buffer.
//! - `Contains`: the pattern occurs in the buffer; consumes through its first occurrence
//!   (so `ping ping` in one read fires twice).
//! - `Regex`: the regex matches the buffer decoded in the rule's encoding (invalid bytes
//!   read as `\xNN`); consumes the buffer.
//! - `HexPattern`: `01 03 ?? ??` (`??` = any byte) matches the start of the buffer;
//!   consumes exactly the pattern's length, so back-to-back frames fire one by one.
//!
//! So a match split across two reads fires when its second half arrives (within the
//! window). A later rule does not wait for an earlier one: with `Exact "exit"` before
//! `Any`, a read of `ex` is answered by `Any` (as the Python seed would). UDP datagrams
//! are messages: each is matched alone, nothing is carried to the next.
//!
//! Echo mode sends every read back unchanged, before and independently of the rules.
//! Replies are templates ([`SendSpec`]); their `{counter}` is the rule's hit number.
//! Closing replies are written first, then the connection is closed.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use regex::Regex;
use serde::{Deserialize, Serialize};

use super::template::{SendSpec, Template, names};
use crate::codec::escape::text_to_bytes;
use crate::codec::text::{TextEncoding, decode_all};
use crate::engine::{Action, ConnId, MAX_REPLY_DELAY, ReplyLimits, Responder, SessionHandle};
use crate::sync::lock;

/// Most unconsumed bytes kept per connection.
pub const MAX_PENDING: usize = 64 << 10;
/// Most rule firings per read (a guard against a pathological rule set).
const MAX_STEPS: usize = 256;

/// How a rule matches (see the module docs for what each consumes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MatchKind {
    /// Any input.
    #[default]
    Any,
    /// The buffered input equals the pattern.
    Exact,
    /// The pattern occurs in the buffered input.
    Contains,
    /// The buffered input starts with the pattern.
    StartsWith,
    /// A regular expression on the input decoded as text.
    Regex,
    /// Hex bytes with `??` wildcards at the start of the input.
    HexPattern,
}

impl MatchKind {
    /// Every kind, in the order a picker should list them.
    pub const ALL: [MatchKind; 6] = [
        MatchKind::Any,
        MatchKind::Exact,
        MatchKind::Contains,
        MatchKind::StartsWith,
        MatchKind::Regex,
        MatchKind::HexPattern,
    ];
}

/// What a rule does when it fires.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RuleAction {
    /// Send the reply.
    #[default]
    Reply,
    /// Close the connection (TCP; nothing for UDP).
    Close,
    /// Send the reply, then close once it is written.
    ReplyThenClose,
}

/// One auto-reply rule, as the user edits it (plain, serialisable data).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Rule {
    /// A label for the list.
    pub name: String,
    /// Disabled rules are skipped.
    pub enabled: bool,
    /// How it matches.
    pub kind: MatchKind,
    /// Exact / Contains / StartsWith: text in `encoding` with `\r \n \t \\ \0 \xNN`
    /// escapes, or hex when `pattern_hex`; Regex: the regex; HexPattern: hex with `??`;
    /// Any: ignored.
    pub pattern: String,
    /// The Exact / Contains / StartsWith pattern is hex.
    pub pattern_hex: bool,
    /// Encoding of a text pattern, and of the input a regex sees.
    #[serde(with = "names::encoding")]
    pub encoding: TextEncoding,
    /// What to do on a match.
    pub action: RuleAction,
    /// The reply (a template; `{counter}` = this rule's hit number).
    pub reply: SendSpec,
    /// Wait this long before replying / closing (the reader is never blocked).
    pub delay_ms: u64,
}

impl Default for Rule {
    fn default() -> Self {
        Rule {
            name: String::new(),
            enabled: true,
            kind: MatchKind::Any,
            pattern: String::new(),
            pattern_hex: false,
            encoding: TextEncoding::Utf8,
            action: RuleAction::Reply,
            reply: SendSpec::default(),
            delay_ms: 0,
        }
    }
}

/// Echo mode and the rules of one session (plain, serialisable data).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AutoReplyConfig {
    /// Send every read back unchanged.
    pub echo: bool,
    /// Tried in order; the first match fires.
    pub rules: Vec<Rule>,
    /// Unconsumed bytes older than this (since the previous read) are dropped.
    pub window_ms: u64,
    /// Safety limits the engine enforces on these replies: per-peer rate, loop
    /// detection, UDP amplification (see [`ReplyLimits`]; all on by default).
    pub limits: ReplyLimits,
}

impl Default for AutoReplyConfig {
    fn default() -> Self {
        AutoReplyConfig {
            echo: false,
            rules: Vec::new(),
            window_ms: 500,
            limits: ReplyLimits::default(),
        }
    }
}

/// A rule that cannot be used, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleError {
    /// 1-based position of the rule in the list.
    pub index: usize,
    /// Its name.
    pub name: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.name.is_empty() {
            write!(f, "rule {}: {}", self.index, self.message)
        } else {
            write!(f, "rule {} ({:?}): {}", self.index, self.name, self.message)
        }
    }
}

impl std::error::Error for RuleError {}

/// One-click rule sets that behave like the seed tutorials' servers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Preset {
    /// Seed 000: answer every message with `ok, 问题正在处理中...` in GBK.
    SeedEchoServer,
    /// Seed 003's looping server: close the connection on `exit` (GBK, the whole
    /// message), answer anything else with `收到请求` in GBK.
    CloseOnExit,
}

/// The seed server's reply.
pub const SEED_REPLY: &str = "ok, 问题正在处理中...";

impl Preset {
    /// Every preset, in the order a menu should list them.
    pub const ALL: [Preset; 2] = [Preset::SeedEchoServer, Preset::CloseOnExit];

    /// The menu label.
    pub fn name(self) -> &'static str {
        match self {
            Preset::SeedEchoServer => "Seed echo server (ok, 问题正在处理中...)",
            Preset::CloseOnExit => "Close on exit (seed 003)",
        }
    }

    /// The preset's rules (append them to a config, or use [`Preset::config`]).
    pub fn rules(self) -> Vec<Rule> {
        match self {
            Preset::SeedEchoServer => vec![Rule {
                name: "seed echo server".into(),
                kind: MatchKind::Any,
                reply: SendSpec::text(SEED_REPLY, TextEncoding::Gbk),
                ..Rule::default()
            }],
            Preset::CloseOnExit => vec![
                Rule {
                    name: "exit closes".into(),
                    kind: MatchKind::Exact,
                    pattern: "exit".into(),
                    encoding: TextEncoding::Gbk,
                    action: RuleAction::Close,
                    ..Rule::default()
                },
                Rule {
                    name: "收到请求".into(),
                    kind: MatchKind::Any,
                    reply: SendSpec::text("收到请求", TextEncoding::Gbk),
                    ..Rule::default()
                },
            ],
        }
    }

    /// A config with just this preset's rules.
    pub fn config(self) -> AutoReplyConfig {
        AutoReplyConfig {
            rules: self.rules(),
            ..AutoReplyConfig::default()
        }
    }
}

/// Result of trying one rule on the buffer.
#[derive(Debug, PartialEq, Eq)]
enum Check {
    /// Fires, consuming this many bytes from the front.
    Match(usize),
    /// No match; this many trailing bytes could still become one.
    Keep(usize),
}

#[derive(Debug)]
enum Matcher {
    Any,
    Exact(Vec<u8>),
    Contains(Vec<u8>),
    StartsWith(Vec<u8>),
    Regex(Regex, TextEncoding),
    Hex(Vec<Option<u8>>),
}

impl Matcher {
    fn check(&self, buf: &[u8]) -> Check {
        match self {
            Matcher::Any => Check::Match(buf.len()),
            Matcher::Exact(p) => {
                if buf == p.as_slice() {
                    Check::Match(buf.len())
                } else if p.starts_with(buf) {
                    Check::Keep(buf.len())
                } else {
                    Check::Keep(0)
                }
            }
            Matcher::StartsWith(p) => {
                if buf.starts_with(p) {
                    Check::Match(buf.len())
                } else if p.starts_with(buf) {
                    Check::Keep(buf.len())
                } else {
                    Check::Keep(0)
                }
            }
            Matcher::Contains(p) => {
                if let Some(at) = buf.windows(p.len()).position(|w| w == p.as_slice()) {
                    return Check::Match(at + p.len());
                }
                let longest = p.len().saturating_sub(1).min(buf.len());
                let keep = (1..=longest)
                    .rev()
                    .find(|&k| buf.ends_with(&p[..k]))
                    .unwrap_or(0);
                Check::Keep(keep)
            }
            Matcher::Regex(re, enc) => {
                let mut text = String::with_capacity(buf.len());
                decode_all(*enc, buf, &mut text);
                if re.is_match(&text) {
                    Check::Match(buf.len())
                } else {
                    Check::Keep(buf.len())
                }
            }
            Matcher::Hex(p) => {
                let n = p.len().min(buf.len());
                let same = p[..n]
                    .iter()
                    .zip(&buf[..n])
                    .all(|(want, got)| want.is_none_or(|w| w == *got));
                if !same {
                    Check::Keep(0)
                } else if buf.len() >= p.len() {
                    Check::Match(p.len())
                } else {
                    Check::Keep(buf.len())
                }
            }
        }
    }
}

/// Parses `01 03 ?? ??` (also `0103????`, commas, `0x` prefixes): hex byte pairs and
/// `??` wildcards. Errors name the 1-based character position.
pub fn parse_hex_pattern(input: &str) -> Result<Vec<Option<u8>>, String> {
    let chars: Vec<char> = input.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() || matches!(c, ',' | ';' | '-' | ':') {
            i += 1;
            continue;
        }
        if c == '0' && matches!(chars.get(i + 1), Some('x' | 'X')) {
            i += 2;
            continue;
        }
        let Some(&d) = chars.get(i + 1) else {
            return Err(format!(
                "odd number of hex digits: {c:?} at position {} has no partner",
                i + 1
            ));
        };
        if c == '?' || d == '?' {
            if c != '?' || d != '?' {
                return Err(format!(
                    "a wildcard is two question marks (??) at position {}",
                    i + 1
                ));
            }
            out.push(None);
        } else {
            match (c.to_digit(16), d.to_digit(16)) {
                // Both digits are below 16, so the value fits a byte.
                (Some(h), Some(l)) => out.push(Some((h * 16 + l) as u8)),
                (None, _) => {
                    return Err(format!("invalid hex character {c:?} at position {}", i + 1));
                }
                (_, None) => {
                    return Err(format!("invalid hex character {d:?} at position {}", i + 2));
                }
            }
        }
        i += 2;
    }
    Ok(out)
}

struct CompiledRule {
    enabled: bool,
    matcher: Matcher,
    action: RuleAction,
    reply: Option<Template>,
    delay: Duration,
    hits: Arc<AtomicU64>,
    /// What identifies "the same rule" across edits (its hit count is kept).
    key: (MatchKind, String, bool, TextEncoding),
}

struct Compiled {
    echo: bool,
    window: Duration,
    limits: ReplyLimits,
    rules: Vec<CompiledRule>,
}

fn compile_rule(index: usize, rule: &Rule) -> Result<CompiledRule, RuleError> {
    let err = |message: String| RuleError {
        index: index + 1,
        name: rule.name.clone(),
        message,
    };
    let bytes = || -> Result<Vec<u8>, RuleError> {
        let b = if rule.pattern_hex {
            crate::codec::hex::parse(&rule.pattern).map_err(|e| err(e.to_string()))?
        } else {
            text_to_bytes(&rule.pattern, rule.encoding, true).map_err(|e| err(e.to_string()))?
        };
        if b.is_empty() {
            return Err(err("the pattern is empty".into()));
        }
        Ok(b)
    };
    let matcher = match rule.kind {
        MatchKind::Any => Matcher::Any,
        MatchKind::Exact => Matcher::Exact(bytes()?),
        MatchKind::Contains => Matcher::Contains(bytes()?),
        MatchKind::StartsWith => Matcher::StartsWith(bytes()?),
        MatchKind::Regex => {
            if rule.pattern.is_empty() {
                return Err(err("the pattern is empty".into()));
            }
            let re = Regex::new(&rule.pattern)
                .map_err(|e| err(format!("bad regular expression: {e}")))?;
            Matcher::Regex(re, rule.encoding)
        }
        MatchKind::HexPattern => {
            let p = parse_hex_pattern(&rule.pattern).map_err(err)?;
            if p.is_empty() {
                return Err(err("the pattern is empty".into()));
            }
            Matcher::Hex(p)
        }
    };
    let delay = Duration::from_millis(rule.delay_ms);
    if delay > MAX_REPLY_DELAY {
        return Err(err(format!(
            "the delay of {} ms is longer than the maximum {} s",
            rule.delay_ms,
            MAX_REPLY_DELAY.as_secs()
        )));
    }
    let reply = match rule.action {
        RuleAction::Close => None,
        RuleAction::Reply | RuleAction::ReplyThenClose => Some(
            rule.reply
                .compile()
                .map_err(|e| err(format!("reply: {e}")))?,
        ),
    };
    Ok(CompiledRule {
        enabled: rule.enabled,
        matcher,
        action: rule.action,
        reply,
        delay,
        hits: Arc::new(AtomicU64::new(0)),
        key: (
            rule.kind,
            rule.pattern.clone(),
            rule.pattern_hex,
            rule.encoding,
        ),
    })
}

fn compile(config: &AutoReplyConfig) -> Result<Compiled, RuleError> {
    let rules = config
        .rules
        .iter()
        .enumerate()
        .map(|(i, r)| compile_rule(i, r))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Compiled {
        echo: config.echo,
        window: Duration::from_millis(config.window_ms),
        limits: config.limits,
        rules,
    })
}

/// Unconsumed bytes of one TCP connection.
struct Pending {
    buf: Vec<u8>,
    last: Instant,
}

/// Echo + rules, ready to install on a session. Shared (`Arc`) between the UI, which
/// edits the config and reads hit counts, and the engine's readers.
pub struct AutoResponder {
    compiled: RwLock<Arc<Compiled>>,
    pending: Mutex<HashMap<ConnId, Pending>>,
}

impl fmt::Debug for AutoResponder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AutoResponder")
            .field("hits", &self.hits())
            .finish()
    }
}

impl AutoResponder {
    /// Compiles `config` (every pattern and reply is checked now).
    pub fn new(config: &AutoReplyConfig) -> Result<Arc<AutoResponder>, RuleError> {
        Ok(Arc::new(AutoResponder {
            compiled: RwLock::new(Arc::new(compile(config)?)),
            pending: Mutex::new(HashMap::new()),
        }))
    }

    /// Replaces echo mode and the rules, effective from the next read. A rule keeps its
    /// hit count when the rule at the same position has the same kind and pattern (so
    /// enabling, renaming or editing the reply keeps it). Unconsumed input is dropped.
    /// On error nothing changes.
    pub fn set_config(&self, config: &AutoReplyConfig) -> Result<(), RuleError> {
        let mut next = compile(config)?;
        let mut slot = self.compiled.write().unwrap_or_else(|e| e.into_inner());
        for (new, old) in next.rules.iter_mut().zip(slot.rules.iter()) {
            if new.key == old.key {
                new.hits = old.hits.clone();
            }
        }
        *slot = Arc::new(next);
        drop(slot);
        lock(&self.pending).clear();
        Ok(())
    }

    /// Hit count of each rule, in config order.
    pub fn hits(&self) -> Vec<u64> {
        self.current()
            .rules
            .iter()
            .map(|r| r.hits.load(Ordering::Relaxed))
            .collect()
    }

    /// Makes `handle`'s session use these rules from its next read (replacing any other
    /// responder). Remove with `handle.set_responder(None)`.
    pub fn install(self: &Arc<Self>, handle: &SessionHandle) {
        let responder: Arc<dyn Responder> = self.clone();
        handle.set_responder(Some(responder));
    }

    fn current(&self) -> Arc<Compiled> {
        self.compiled
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// What to do about `bytes` read from `conn` (None: one UDP datagram). This is the
    /// whole logic of [`Responder::on_data`], callable without sockets.
    pub fn respond(&self, conn: Option<ConnId>, bytes: &[u8]) -> Vec<Action> {
        let compiled = self.current();
        let mut actions = Vec::new();
        if compiled.echo && !bytes.is_empty() {
            actions.push(Action::Send {
                bytes: bytes.to_vec(),
                delay: Duration::ZERO,
            });
        }
        if !compiled.rules.iter().any(|r| r.enabled) {
            return actions;
        }
        let Some(id) = conn else {
            let mut buf = bytes.to_vec();
            evaluate(&compiled, &mut buf, &mut actions);
            return actions;
        };
        let now = Instant::now();
        // Taken out of the map so other connections' readers are not held up.
        let taken = lock(&self.pending).remove(&id);
        let mut pending = match taken {
            Some(p) if now.duration_since(p.last) <= compiled.window => p,
            _ => Pending {
                buf: Vec::new(),
                last: now,
            },
        };
        pending.last = now;
        pending.buf.extend_from_slice(bytes);
        if pending.buf.len() > MAX_PENDING {
            let cut = pending.buf.len() - MAX_PENDING;
            pending.buf.drain(..cut);
        }
        evaluate(&compiled, &mut pending.buf, &mut actions);
        if !pending.buf.is_empty() {
            lock(&self.pending).insert(id, pending);
        }
        actions
    }
}

/// Fires rules on `buf` until nothing matches (see the module docs).
fn evaluate(compiled: &Compiled, buf: &mut Vec<u8>, actions: &mut Vec<Action>) {
    for _ in 0..MAX_STEPS {
        if buf.is_empty() {
            return;
        }
        let mut keep = 0;
        let mut fired = None;
        for rule in compiled.rules.iter().filter(|r| r.enabled) {
            match rule.matcher.check(buf) {
                Check::Match(n) => {
                    fired = Some((rule, n));
                    break;
                }
                Check::Keep(k) => keep = keep.max(k),
            }
        }
        let Some((rule, consumed)) = fired else {
            let cut = buf.len() - keep.min(buf.len());
            buf.drain(..cut);
            return;
        };
        let hit = rule.hits.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some(reply) = &rule.reply {
            actions.push(Action::Send {
                bytes: reply.render(hit),
                delay: rule.delay,
            });
        }
        if matches!(rule.action, RuleAction::Close | RuleAction::ReplyThenClose) {
            actions.push(Action::Close { delay: rule.delay });
            buf.clear();
            return;
        }
        buf.drain(..consumed.clamp(1, buf.len()));
    }
    buf.clear();
}

impl Responder for AutoResponder {
    fn on_data(&self, conn: Option<ConnId>, _peer: SocketAddr, bytes: &[u8]) -> Vec<Action> {
        self.respond(conn, bytes)
    }

    fn on_closed(&self, conn: ConnId) {
        lock(&self.pending).remove(&conn);
    }

    fn limits(&self) -> ReplyLimits {
        self.current().limits
    }
}

#[cfg(test)]
mod tests;
