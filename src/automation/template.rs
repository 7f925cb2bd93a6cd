//! Send templates: what a quick command, a periodic sender or an auto-reply rule sends,
//! with variables that change on every send.
//!
//! Why a template is compiled once and rendered many times: a periodic sender at 1 ms
//! renders a thousand payloads a second, and errors (an unknown variable, bad hex, a
//! character GBK cannot carry) must be reported when the user types, not at send time.
//! Literal pieces are encoded at compile time; rendering only formats the variables.
//!
//! # Syntax
//!
//! - `{counter}`: the sender's counter, starting at 1 (a quick command's sends, a
//!   periodic sender's sends, a rule's hits).
//! - `{time}` local `HH:MM:SS.mmm`; `{time:iso}` ISO 8601 with milliseconds and offset;
//!   `{time:unix}` seconds and `{time:unix_ms}` milliseconds since 1970.
//! - `{rand:N}`: N random bytes (1 ≤ N ≤ 65536), raw in text and hex mode alike.
//! - `{len}`: the length in bytes of the data part (everything this template renders,
//!   `{len}` fields included, after variables are expanded), not counting the checksum
//!   and the line ending appended after it.
//! - `{{` and `}}`: literal braces (text mode; braces are not hex). Any other `{…}` is
//!   an error naming its position.
//!
//! Numbers (`counter`, `len`, `time:unix`, `time:unix_ms`) take an optional format after
//! one more colon (`{counter:u16be}`, `{time:unix:u32le}`): `dec` (decimal digits as
//! text), `hex` (upper-case hex digits as text), or the binary `u8`, `u16be`, `u16le`,
//! `u32be`, `u32le`, `u64be`, `u64le` (the value modulo 2^bits). Defaults: `dec` in text
//! mode; in hex mode `u8` for `counter` and `len` and `dec` for times. Text (digits,
//! times) is encoded in the template's encoding (ASCII in hex mode).
//!
//! Text mode: literal text is encoded in the chosen encoding with the `\r \n \t \\ \0
//! \xNN` escapes when enabled. Hex mode: literal text is hex (`01 03 00 00`). After the
//! data come the checksum over the data, then the line ending (the checksum belongs to
//! the data, the line ending terminates the message, as serial/network assistants do).
//! In text mode the line ending is encoded in the chosen encoding; in hex mode it is
//! ASCII.

use std::cell::Cell;
use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::BuildHasher;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::codec::checksum::Checksum;
use crate::codec::escape::{LineEnding, SendTextError, text_to_bytes};
use crate::codec::hex;
use crate::codec::text::{self, TextEncoding};
use crate::session::time::{format_iso, format_time};

/// The largest `{rand:N}`.
pub const MAX_RAND: usize = 65_536;

/// One thing to send, as the user typed it: the text or hex with variables, and how to
/// turn it into bytes. Plain data; serialisable for settings and for quick-command files
/// (codec enums are stored by their display names, e.g. `"GBK"`, `"CRLF"`,
/// `"CRC-16/MODBUS"`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SendSpec {
    /// The template (see the module docs for variables).
    pub text: String,
    /// `text` is hex (`01 03 {counter:u16be}`) rather than text.
    pub hex: bool,
    /// Encoding of text mode (ignored in hex mode).
    #[serde(with = "names::encoding")]
    pub encoding: TextEncoding,
    /// Honour `\r \n \t \\ \0 \xNN` in text mode.
    pub escapes: bool,
    /// Appended last (after the checksum).
    #[serde(with = "names::line_ending")]
    pub line_ending: LineEnding,
    /// Computed over the data and appended after it.
    #[serde(with = "names::checksum")]
    pub checksum: Checksum,
}

impl Default for SendSpec {
    fn default() -> Self {
        SendSpec {
            text: String::new(),
            hex: false,
            encoding: TextEncoding::Utf8,
            escapes: true,
            line_ending: LineEnding::None,
            checksum: Checksum::None,
        }
    }
}

impl SendSpec {
    /// Text mode in `encoding`, escapes on, no line ending, no checksum.
    pub fn text(text: impl Into<String>, encoding: TextEncoding) -> Self {
        SendSpec {
            text: text.into(),
            encoding,
            ..SendSpec::default()
        }
    }

    /// Hex mode, no line ending, no checksum.
    pub fn hex(text: impl Into<String>) -> Self {
        SendSpec {
            text: text.into(),
            hex: true,
            ..SendSpec::default()
        }
    }

    /// Checks and compiles the template.
    pub fn compile(&self) -> Result<Template, TemplateError> {
        Template::compile(self)
    }
}

/// Why a template cannot be used. Positions are 1-based character positions in the
/// template text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TemplateError {
    /// `{name}` is not a known variable.
    UnknownVariable {
        /// What was between the braces.
        name: String,
        /// Position of the `{`.
        position: usize,
    },
    /// A known variable with an argument or format it does not take.
    BadArgument {
        /// What was between the braces.
        variable: String,
        /// Position of the `{`.
        position: usize,
        /// What would have been accepted.
        expected: &'static str,
    },
    /// A `{` without its `}`.
    Unclosed {
        /// Position of the `{`.
        position: usize,
    },
    /// A `}` that closes nothing (write `}}` for a literal brace).
    StrayBrace {
        /// Position of the `}`.
        position: usize,
    },
    /// Literal hex that does not parse (hex mode).
    Hex {
        /// Position of the offending character.
        position: usize,
        /// What is wrong.
        message: String,
    },
    /// Literal text with a bad escape or a character the encoding cannot carry.
    Text {
        /// Position of the offending character.
        position: usize,
        /// What is wrong.
        message: String,
    },
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TemplateError::UnknownVariable { name, position } => write!(
                f,
                "unknown variable {{{name}}} at position {position} (known: counter, time, rand:N, len; write {{{{ for a brace)"
            ),
            TemplateError::BadArgument {
                variable,
                position,
                expected,
            } => write!(
                f,
                "bad variable {{{variable}}} at position {position}: expected {expected}"
            ),
            TemplateError::Unclosed { position } => {
                write!(
                    f,
                    "unclosed {{ at position {position} (write {{{{ for a brace)"
                )
            }
            TemplateError::StrayBrace { position } => {
                write!(
                    f,
                    "unmatched }} at position {position} (write }}}} for a brace)"
                )
            }
            TemplateError::Hex { position, message }
            | TemplateError::Text { position, message } => {
                write!(f, "{message} at position {position}")
            }
        }
    }
}

impl std::error::Error for TemplateError {}

/// How a number is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NumFormat {
    /// Decimal digits as text.
    Dec,
    /// Upper-case hex digits as text.
    Hex,
    /// One byte.
    U8,
    /// Two bytes, big-endian.
    U16Be,
    /// Two bytes, little-endian.
    U16Le,
    /// Four bytes, big-endian.
    U32Be,
    /// Four bytes, little-endian.
    U32Le,
    /// Eight bytes, big-endian.
    U64Be,
    /// Eight bytes, little-endian.
    U64Le,
}

const NUM_FORMATS: &str = "dec, hex, u8, u16be, u16le, u32be, u32le, u64be or u64le";

impl NumFormat {
    fn parse(s: &str) -> Option<NumFormat> {
        Some(match s {
            "dec" => NumFormat::Dec,
            "hex" => NumFormat::Hex,
            "u8" => NumFormat::U8,
            "u16be" => NumFormat::U16Be,
            "u16le" => NumFormat::U16Le,
            "u32be" => NumFormat::U32Be,
            "u32le" => NumFormat::U32Le,
            "u64be" => NumFormat::U64Be,
            "u64le" => NumFormat::U64Le,
            _ => return None,
        })
    }

    /// Writes `v`; text formats are encoded with `enc` (None: ASCII).
    fn write(self, v: u64, enc: Option<TextEncoding>, out: &mut Vec<u8>) {
        match self {
            NumFormat::Dec => push_text(&v.to_string(), enc, out),
            NumFormat::Hex => push_text(&format!("{v:X}"), enc, out),
            // Truncation is the documented "modulo 2^bits".
            NumFormat::U8 => out.push(v as u8),
            NumFormat::U16Be => out.extend_from_slice(&(v as u16).to_be_bytes()),
            NumFormat::U16Le => out.extend_from_slice(&(v as u16).to_le_bytes()),
            NumFormat::U32Be => out.extend_from_slice(&(v as u32).to_be_bytes()),
            NumFormat::U32Le => out.extend_from_slice(&(v as u32).to_le_bytes()),
            NumFormat::U64Be => out.extend_from_slice(&v.to_be_bytes()),
            NumFormat::U64Le => out.extend_from_slice(&v.to_le_bytes()),
        }
    }
}

/// Appends ASCII-only text (digits, times) in `enc` (None: as ASCII bytes).
fn push_text(s: &str, enc: Option<TextEncoding>, out: &mut Vec<u8>) {
    match enc {
        // Digits, ':', '.', '-', '+' and 'T' exist in every supported encoding.
        Some(enc) => match text::encode(enc, s) {
            Ok(bytes) => out.extend_from_slice(&bytes),
            Err(_) => out.extend_from_slice(s.as_bytes()),
        },
        None => out.extend_from_slice(s.as_bytes()),
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Var {
    Counter(NumFormat),
    Clock,
    Iso,
    Unix(NumFormat),
    UnixMs(NumFormat),
    Rand(usize),
    Len(NumFormat),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Bytes(Vec<u8>),
    Var(Var),
}

/// A compiled [`SendSpec`]: render it as many times as needed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    pieces: Vec<Piece>,
    /// Text encoding of variables; None in hex mode (ASCII).
    text_enc: Option<TextEncoding>,
    checksum: Checksum,
    /// The line ending, already encoded.
    tail: Vec<u8>,
}

impl Template {
    /// Parses and checks `spec` (see the module docs).
    pub fn compile(spec: &SendSpec) -> Result<Template, TemplateError> {
        let hex_mode = spec.hex;
        let mut pieces = Vec::new();
        // Literal text of the current run and the position of its first character.
        let mut literal = String::new();
        let mut literal_start = 1;
        let chars: Vec<char> = spec.text.chars().collect();
        let mut i = 0;
        let flush = |literal: &mut String, start: usize, pieces: &mut Vec<Piece>| {
            if literal.is_empty() {
                return Ok(());
            }
            let bytes = if hex_mode {
                hex::parse(literal).map_err(|e| TemplateError::Hex {
                    position: start + e.position - 1,
                    message: match e.found {
                        Some(ch) => format!("invalid hex character {ch:?}"),
                        None => "odd number of hex digits (this digit has no partner)".into(),
                    },
                })?
            } else {
                text_to_bytes(literal, spec.encoding, spec.escapes).map_err(|e| match e {
                    SendTextError::Escape(e) => TemplateError::Text {
                        position: start + e.position - 1,
                        message: e.message,
                    },
                    SendTextError::Encode(e) => TemplateError::Text {
                        position: start + e.position - 1,
                        message: format!(
                            "{:?} (U+{:04X}) cannot be encoded in {}",
                            e.ch, e.ch as u32, e.encoding
                        ),
                    },
                })?
            };
            literal.clear();
            if !bytes.is_empty() {
                pieces.push(Piece::Bytes(bytes));
            }
            Ok(())
        };
        while i < chars.len() {
            let position = i + 1;
            match chars[i] {
                '{' if chars.get(i + 1) == Some(&'{') => {
                    if literal.is_empty() {
                        literal_start = position;
                    }
                    // In hex mode a brace is not hex: keep it out of the hex parser.
                    if hex_mode {
                        return Err(TemplateError::Hex {
                            position,
                            message: "a literal brace cannot be hex".into(),
                        });
                    }
                    literal.push('{');
                    i += 2;
                }
                '}' if chars.get(i + 1) == Some(&'}') => {
                    if hex_mode {
                        return Err(TemplateError::Hex {
                            position,
                            message: "a literal brace cannot be hex".into(),
                        });
                    }
                    if literal.is_empty() {
                        literal_start = position;
                    }
                    literal.push('}');
                    i += 2;
                }
                '}' => return Err(TemplateError::StrayBrace { position }),
                '{' => {
                    let Some(len) = chars[i + 1..].iter().position(|&c| c == '}') else {
                        return Err(TemplateError::Unclosed { position });
                    };
                    let inner: String = chars[i + 1..i + 1 + len].iter().collect();
                    flush(&mut literal, literal_start, &mut pieces)?;
                    pieces.push(Piece::Var(parse_var(&inner, position, hex_mode)?));
                    i += len + 2;
                }
                c => {
                    if literal.is_empty() {
                        literal_start = position;
                    }
                    literal.push(c);
                    i += 1;
                }
            }
        }
        flush(&mut literal, literal_start, &mut pieces)?;
        let tail = if hex_mode {
            spec.line_ending.bytes().to_vec()
        } else {
            spec.line_ending.encoded(spec.encoding)
        };
        Ok(Template {
            pieces,
            text_enc: (!hex_mode).then_some(spec.encoding),
            checksum: spec.checksum,
            tail,
        })
    }

    /// The bytes to send for send number `counter` (1-based), now.
    pub fn render(&self, counter: u64) -> Vec<u8> {
        self.render_at(counter, SystemTime::now())
    }

    /// The bytes to send for send number `counter` at time `now`.
    pub fn render_at(&self, counter: u64, now: SystemTime) -> Vec<u8> {
        let enc = self.text_enc;
        // Everything but `{len}` first; `{len}` needs the total, which includes itself.
        let mut parts: Vec<Result<Vec<u8>, NumFormat>> = Vec::with_capacity(self.pieces.len());
        for piece in &self.pieces {
            let mut out = Vec::new();
            match piece {
                Piece::Bytes(b) => out.extend_from_slice(b),
                Piece::Var(Var::Counter(f)) => f.write(counter, enc, &mut out),
                Piece::Var(Var::Clock) => push_text(&format_time(now), enc, &mut out),
                Piece::Var(Var::Iso) => push_text(&format_iso(now), enc, &mut out),
                Piece::Var(Var::Unix(f)) => f.write(unix(now).as_secs(), enc, &mut out),
                Piece::Var(Var::UnixMs(f)) => {
                    let ms = u64::try_from(unix(now).as_millis()).unwrap_or(u64::MAX);
                    f.write(ms, enc, &mut out)
                }
                Piece::Var(Var::Rand(n)) => random_bytes(*n, &mut out),
                Piece::Var(Var::Len(f)) => {
                    parts.push(Err(*f));
                    continue;
                }
            }
            parts.push(Ok(out));
        }
        let fixed: usize = parts
            .iter()
            .filter_map(|p| p.as_ref().ok())
            .map(Vec::len)
            .sum();
        // Fixed point of "total = fixed + width of the len fields at total": widths only
        // grow with the value, so this settles within a few rounds.
        let mut total = fixed;
        for _ in 0..8 {
            let mut scratch = Vec::new();
            for f in parts.iter().filter_map(|p| p.as_ref().err()) {
                f.write(total as u64, enc, &mut scratch);
            }
            let next = fixed + scratch.len();
            if next == total {
                break;
            }
            total = next;
        }
        let mut data = Vec::with_capacity(total + 8 + self.tail.len());
        for part in &parts {
            match part {
                Ok(bytes) => data.extend_from_slice(bytes),
                Err(f) => f.write(total as u64, enc, &mut data),
            }
        }
        self.checksum.append(&mut data);
        data.extend_from_slice(&self.tail);
        data
    }
}

fn unix(now: SystemTime) -> std::time::Duration {
    now.duration_since(UNIX_EPOCH).unwrap_or_default()
}

/// Parses what is between `{` and `}`.
fn parse_var(inner: &str, position: usize, hex_mode: bool) -> Result<Var, TemplateError> {
    let mut parts = inner.split(':');
    let name = parts.next().unwrap_or("");
    let args: Vec<&str> = parts.collect();
    let bad = |expected: &'static str| TemplateError::BadArgument {
        variable: inner.to_string(),
        position,
        expected,
    };
    let num = |arg: Option<&&str>, default: NumFormat| match arg {
        None => Ok(default),
        Some(s) => NumFormat::parse(s).ok_or_else(|| bad(NUM_FORMATS)),
    };
    let count_default = if hex_mode {
        NumFormat::U8
    } else {
        NumFormat::Dec
    };
    match name {
        "counter" | "len" => {
            if args.len() > 1 {
                return Err(bad(NUM_FORMATS));
            }
            let f = num(args.first(), count_default)?;
            Ok(if name == "counter" {
                Var::Counter(f)
            } else {
                Var::Len(f)
            })
        }
        "time" => match args.as_slice() {
            [] => Ok(Var::Clock),
            ["iso"] => Ok(Var::Iso),
            ["unix", rest @ ..] | ["unix_ms", rest @ ..] if rest.len() <= 1 => {
                let f = num(rest.first(), NumFormat::Dec)?;
                Ok(if args[0] == "unix" {
                    Var::Unix(f)
                } else {
                    Var::UnixMs(f)
                })
            }
            _ => Err(bad(
                "{time}, {time:iso}, {time:unix} or {time:unix_ms} (optionally :u32be etc.)",
            )),
        },
        "rand" => match args.as_slice() {
            [n] => match n.trim().parse::<usize>() {
                Ok(n) if (1..=MAX_RAND).contains(&n) => Ok(Var::Rand(n)),
                _ => Err(bad("{rand:N} with N from 1 to 65536")),
            },
            _ => Err(bad("{rand:N} with N from 1 to 65536")),
        },
        _ => Err(TemplateError::UnknownVariable {
            name: inner.to_string(),
            position,
        }),
    }
}

thread_local! {
    static RNG: Cell<u64> = Cell::new(RandomState::new().hash_one(0u64) | 1);
}

/// Appends `n` pseudo-random bytes (xorshift64*, seeded per thread from the OS-seeded
/// `RandomState`; good for test data, not for secrets).
fn random_bytes(n: usize, out: &mut Vec<u8>) {
    RNG.with(|cell| {
        let mut x = cell.get();
        out.reserve(n);
        let mut left = n;
        while left > 0 {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            let v = x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes();
            let take = left.min(8);
            out.extend_from_slice(&v[..take]);
            left -= take;
        }
        cell.set(x);
    });
}

/// Serde adapters storing codec enums by their display names.
pub(crate) mod names {
    use serde::de::Error;
    use serde::{Deserialize, Deserializer, Serializer};

    fn key(s: &str) -> String {
        s.chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_lowercase())
            .collect()
    }

    fn list<T: Copy>(all: &[T], name: fn(T) -> &'static str) -> String {
        all.iter().map(|v| name(*v)).collect::<Vec<_>>().join(", ")
    }

    /// `TextEncoding` by name (aliases such as `gb2312` accepted).
    pub mod encoding {
        use super::*;
        use crate::codec::text::TextEncoding;

        /// Writes the display name.
        pub fn serialize<S: Serializer>(v: &TextEncoding, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_str(v.name())
        }

        /// Reads a name or alias.
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<TextEncoding, D::Error> {
            let name = String::deserialize(d)?;
            TextEncoding::from_name(&name).ok_or_else(|| {
                D::Error::custom(format!(
                    "unknown encoding {name:?} (expected one of: {})",
                    list(&TextEncoding::ALL, TextEncoding::name)
                ))
            })
        }
    }

    /// `LineEnding` by name (`None`, `CR`, `LF`, `CRLF`).
    pub mod line_ending {
        use super::*;
        use crate::codec::escape::LineEnding;

        /// Writes the display name.
        pub fn serialize<S: Serializer>(v: &LineEnding, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_str(v.name())
        }

        /// Reads a name, ignoring case.
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<LineEnding, D::Error> {
            let name = String::deserialize(d)?;
            LineEnding::ALL
                .into_iter()
                .find(|v| key(v.name()) == key(&name))
                .ok_or_else(|| {
                    D::Error::custom(format!(
                        "unknown line ending {name:?} (expected one of: {})",
                        list(&LineEnding::ALL, LineEnding::name)
                    ))
                })
        }
    }

    /// `Checksum` by name (`None`, `SUM8`, `XOR8`, `CRC-16/MODBUS`, …).
    pub mod checksum {
        use super::*;
        use crate::codec::checksum::Checksum;

        /// Writes the display name.
        pub fn serialize<S: Serializer>(v: &Checksum, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_str(v.name())
        }

        /// Reads a name, ignoring case and punctuation (`crc16modbus` works).
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Checksum, D::Error> {
            let name = String::deserialize(d)?;
            Checksum::ALL
                .into_iter()
                .find(|v| key(v.name()) == key(&name))
                .ok_or_else(|| {
                    D::Error::custom(format!(
                        "unknown checksum {name:?} (expected one of: {})",
                        list(&Checksum::ALL, Checksum::name)
                    ))
                })
        }
    }
}

#[cfg(test)]
mod tests;
