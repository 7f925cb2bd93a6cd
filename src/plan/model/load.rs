//! Reading a plan file: the two passes (the head the steps depend on, then the whole
//! plan), TOML or JSON, and errors placed at the line and column of the value at fault.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny};

use crate::codec::text::TextEncoding;

use super::de::{AutoReply, Context, Framing, encoding_by_name, with_context};
use super::{DEFAULT_TIMEOUT, PLAN_VERSION, Plan, PlanError, Step, Target};

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
