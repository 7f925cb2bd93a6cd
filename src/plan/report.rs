//! What a plan run found, and its three renderings: text for people (colours only on a
//! terminal), one JSON document, and JUnit XML for CI systems.

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::json;

use crate::codec::escape::escape_bytes_for_display;
use crate::codec::hex;
use crate::codec::text::{TextEncoding, decode_to_string};

/// Most received bytes a failure shows.
pub const SHOW_BYTES: usize = 512;

/// The outcome of one case (the target, or a step as written).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaseStatus {
    /// Every run of it passed.
    Passed,
    /// A run of it failed.
    Failed,
    /// It never ran (an earlier case failed).
    NotRun,
}

/// One case: the target (`target`) or a step (`1`, `3.2` inside a repeat).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseReport {
    /// `target`, `1`, `3.2`, ….
    pub id: String,
    /// The step's kind (`target`, `send`, `expect`, …).
    pub kind: &'static str,
    /// Its name or description.
    pub title: String,
    /// Passed, failed or not run.
    pub status: CaseStatus,
    /// How many times it ran (repeats).
    pub runs: u32,
    /// Time of all its runs together.
    pub total: Duration,
    /// Shortest run.
    pub min: Option<Duration>,
    /// Longest run.
    pub max: Option<Duration>,
}

impl CaseReport {
    /// A case that has not run yet.
    pub fn new(id: String, kind: &'static str, title: String) -> Self {
        CaseReport {
            id,
            kind,
            title,
            status: CaseStatus::NotRun,
            runs: 0,
            total: Duration::ZERO,
            min: None,
            max: None,
        }
    }

    /// Counts one run that took `took`.
    pub fn add_run(&mut self, took: Duration) {
        self.runs += 1;
        self.total += took;
        self.min = Some(self.min.map_or(took, |m| m.min(took)));
        self.max = Some(self.max.map_or(took, |m| m.max(took)));
    }
}

/// Round-trip times of one send → expect pair over its runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RttReport {
    /// The send step's id.
    pub send: String,
    /// The expect step's id.
    pub expect: String,
    /// Samples (one per run).
    pub samples: Vec<Duration>,
}

impl RttReport {
    /// (min, p50, p95, max) by nearest rank; None without samples.
    pub fn summary(&self) -> Option<(Duration, Duration, Duration, Duration)> {
        let mut v = self.samples.clone();
        v.sort();
        let n = v.len();
        if n == 0 {
            return None;
        }
        let rank = |p: f64| -> Duration {
            let r = ((p * n as f64).ceil() as usize).clamp(1, n);
            v[r - 1]
        };
        Some((v[0], rank(0.50), rank(0.95), v[n - 1]))
    }

    /// "rtt SEND ARROW EXPECT: n=… min … p50 … p95 … max …"; None without samples.
    fn line(&self, arrow: &str) -> Option<String> {
        let (min, p50, p95, max) = self.summary()?;
        Some(format!(
            "rtt {} {arrow} {}: n={} min {} p50 {} p95 {} max {}",
            self.send,
            self.expect,
            self.samples.len(),
            ms(min),
            ms(p50),
            ms(p95),
            ms(max)
        ))
    }
}

/// Why a plan failed, with the bytes that arrived.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The failed case's id.
    pub case: String,
    /// Its title.
    pub title: String,
    /// Run k of n of an enclosing repeat, if any.
    pub iteration: Option<(u32, u32)>,
    /// What went wrong, in words.
    pub message: String,
    /// What was expected, as bytes (exact and contains), if it is bytes.
    pub expected: Option<Vec<u8>>,
    /// What was expected, in words (patterns, regexes).
    pub expected_text: Option<String>,
    /// What arrived and was not consumed (may be empty), when it matters.
    pub received: Option<Vec<u8>>,
}

/// The outcome of one plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanReport {
    /// The plan's name.
    pub name: String,
    /// The plan file.
    pub file: String,
    /// The target as run (`connect 127.0.0.1:8989`).
    pub target: String,
    /// The plan's encoding (how bytes are shown as text).
    pub encoding: TextEncoding,
    /// The target, then every step as written (nested steps after their repeat).
    pub cases: Vec<CaseReport>,
    /// Round-trip times of send → expect pairs.
    pub rtts: Vec<RttReport>,
    /// The failure, if the plan failed.
    pub failure: Option<Failure>,
    /// Wall time of the run.
    pub elapsed: Duration,
}

impl PlanReport {
    /// True when no case failed.
    pub fn passed(&self) -> bool {
        self.failure.is_none()
    }

    /// (passed, failed, not run) case counts.
    pub fn counts(&self) -> (usize, usize, usize) {
        let count = |s| self.cases.iter().filter(|c| c.status == s).count();
        (
            count(CaseStatus::Passed),
            count(CaseStatus::Failed),
            count(CaseStatus::NotRun),
        )
    }
}

/// Milliseconds with two decimals.
pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// `48 65 6C | Hel` lines for bytes, at most [`SHOW_BYTES`] of them.
pub fn show_bytes(bytes: &[u8], encoding: TextEncoding) -> (String, String) {
    let shown = &bytes[..bytes.len().min(SHOW_BYTES)];
    let mut hex_text = hex::to_spaced(shown);
    let (text, _) = decode_to_string(encoding, shown);
    let mut text = escape_controls(&text);
    if bytes.len() > shown.len() {
        let more = format!(" … ({} bytes in all)", bytes.len());
        hex_text.push_str(&more);
        text.push_str(&more);
    }
    if bytes.is_empty() {
        hex_text = "(nothing)".into();
    }
    (hex_text, text)
}

/// Control characters as escapes, so a message stays on one line.
pub(crate) fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let mut buf = [0u8; 4];
                out.push_str(&escape_bytes_for_display(
                    c.encode_utf8(&mut buf).as_bytes(),
                ));
            }
            c => out.push(c),
        }
    }
    out
}

/// ANSI colours, or nothing.
#[derive(Clone, Copy, Debug)]
pub struct Style {
    /// Colours on.
    pub color: bool,
}

impl Style {
    fn paint(self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    /// Green.
    pub fn ok(self, text: &str) -> String {
        self.paint("32", text)
    }

    /// Bold red.
    pub fn bad(self, text: &str) -> String {
        self.paint("1;31", text)
    }

    /// Dim.
    pub fn dim(self, text: &str) -> String {
        self.paint("2", text)
    }
}

/// The report for people. `quiet`: only a failure and the final line.
pub fn render_text(report: &PlanReport, style: Style, quiet: bool) -> String {
    let mut out = String::new();
    if !quiet {
        let _ = writeln!(
            out,
            "plan {:?} ({}): {}",
            report.name, report.file, report.target
        );
        for case in &report.cases {
            let mark = match case.status {
                CaseStatus::Passed => style.ok("ok  "),
                CaseStatus::Failed => style.bad("FAIL"),
                CaseStatus::NotRun => style.dim("--  "),
            };
            let depth = case.id.matches('.').count();
            let indent = "  ".repeat(depth);
            let timing = match (case.status, case.runs) {
                (CaseStatus::NotRun, _) => style.dim("not run"),
                (_, 0) => String::new(),
                (_, 1) => ms(case.total),
                (_, n) => format!(
                    "{n} runs, {} in all, {}–{}",
                    ms(case.total),
                    ms(case.min.unwrap_or_default()),
                    ms(case.max.unwrap_or_default())
                ),
            };
            let title = truncate(&case.title, 44);
            let pad = " ".repeat(44usize.saturating_sub(width(&title)));
            let _ = writeln!(out, "  {mark} {indent}{:<6} {title}{pad} {timing}", case.id);
        }
    }
    if let Some(failure) = &report.failure {
        let iteration = match failure.iteration {
            Some((k, n)) => format!(" (run {k} of {n})"),
            None => String::new(),
        };
        let _ = writeln!(
            out,
            "{} step {} {}{iteration}: {}",
            style.bad("failed:"),
            failure.case,
            failure.title,
            failure.message
        );
        if let Some(expected) = &failure.expected {
            let (h, t) = show_bytes(expected, report.encoding);
            let _ = writeln!(out, "    expected  hex:  {h}");
            let _ = writeln!(out, "              text: {t}");
        } else if let Some(expected) = &failure.expected_text {
            let _ = writeln!(out, "    expected  {expected}");
        }
        if let Some(received) = &failure.received {
            let (h, t) = show_bytes(received, report.encoding);
            let _ = writeln!(out, "    received  hex:  {h}");
            let _ = writeln!(
                out,
                "              text: {t}   ({}, {} bytes)",
                report.encoding,
                received.len()
            );
        }
    }
    if !quiet {
        for line in report.rtts.iter().filter_map(|rtt| rtt.line("→")) {
            let _ = writeln!(out, "  {line}");
        }
    }
    let (passed, failed, not_run) = report.counts();
    let verdict = if report.passed() {
        style.ok("PASS")
    } else {
        style.bad("FAIL")
    };
    let _ = writeln!(
        out,
        "{verdict} {:?}: {passed} passed, {failed} failed, {not_run} not run in {}",
        report.name,
        ms(report.elapsed)
    );
    out
}

/// Columns `s` takes in a terminal: East Asian wide characters take two.
fn width(s: &str) -> usize {
    s.chars()
        .map(|c| {
            let c = c as u32;
            let wide = (0x1100..=0x115F).contains(&c)
                || (0x2E80..=0xA4CF).contains(&c)
                || (0xAC00..=0xD7A3).contains(&c)
                || (0xF900..=0xFAFF).contains(&c)
                || (0xFE30..=0xFE4F).contains(&c)
                || (0xFF00..=0xFF60).contains(&c)
                || (0xFFE0..=0xFFE6).contains(&c);
            if wide { 2 } else { 1 }
        })
        .sum()
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// Every report as one JSON document.
pub fn render_json(reports: &[PlanReport]) -> serde_json::Value {
    let plans: Vec<serde_json::Value> = reports.iter().map(plan_json).collect();
    json!({
        "passed": reports.iter().all(PlanReport::passed),
        "plans": plans,
    })
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn plan_json(r: &PlanReport) -> serde_json::Value {
    let cases: Vec<serde_json::Value> = r
        .cases
        .iter()
        .map(|c| {
            json!({
                "id": c.id,
                "kind": c.kind,
                "title": c.title,
                "status": match c.status {
                    CaseStatus::Passed => "passed",
                    CaseStatus::Failed => "failed",
                    CaseStatus::NotRun => "not_run",
                },
                "runs": c.runs,
                "total_ms": secs(c.total) * 1000.0,
                "min_ms": c.min.map(|d| secs(d) * 1000.0),
                "max_ms": c.max.map(|d| secs(d) * 1000.0),
            })
        })
        .collect();
    let rtts: Vec<serde_json::Value> = r
        .rtts
        .iter()
        .filter_map(|rtt| {
            let (min, p50, p95, max) = rtt.summary()?;
            Some(json!({
                "send": rtt.send,
                "expect": rtt.expect,
                "n": rtt.samples.len(),
                "min_ms": secs(min) * 1000.0,
                "p50_ms": secs(p50) * 1000.0,
                "p95_ms": secs(p95) * 1000.0,
                "max_ms": secs(max) * 1000.0,
            }))
        })
        .collect();
    let failure = r.failure.as_ref().map(|f| {
        let bytes = |b: &Option<Vec<u8>>| {
            b.as_ref().map(|b| {
                let (h, t) = show_bytes(b, r.encoding);
                json!({ "hex": h, "text": t, "len": b.len() })
            })
        };
        json!({
            "step": f.case,
            "title": f.title,
            "iteration": f.iteration.map(|(k, n)| json!([k, n])),
            "message": f.message,
            "expected": bytes(&f.expected).or_else(|| f.expected_text.as_ref().map(|t| json!({ "text": t }))),
            "received": bytes(&f.received),
        })
    });
    let (passed, failed, not_run) = r.counts();
    json!({
        "name": r.name,
        "file": r.file,
        "target": r.target,
        "passed": r.passed(),
        "counts": { "passed": passed, "failed": failed, "not_run": not_run },
        "elapsed_ms": secs(r.elapsed) * 1000.0,
        "cases": cases,
        "rtt": rtts,
        "failure": failure,
    })
}

/// XML text with the five entities escaped and characters XML 1.0 forbids dropped.
fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// A JUnit XML report: one `testsuite` per plan, one `testcase` per case (target and
/// each step as written); a failed case has a `failure`, a case that never ran is
/// `skipped`; round-trip times go to the suite's `system-out`.
pub fn render_junit(reports: &[PlanReport]) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let total = |f: fn(&PlanReport) -> usize| reports.iter().map(f).sum::<usize>();
    let tests = total(|r| r.cases.len());
    let failures = total(|r| r.counts().1);
    let skipped = total(|r| r.counts().2);
    let time: f64 = reports.iter().map(|r| secs(r.elapsed)).sum();
    let _ = writeln!(
        out,
        "<testsuites name=\"sockscope\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{time:.6}\">"
    );
    for r in reports {
        let (_, failed, not_run) = r.counts();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failed}\" errors=\"0\" skipped=\"{not_run}\" time=\"{:.6}\">",
            xml(&r.name),
            r.cases.len(),
            secs(r.elapsed)
        );
        let _ = writeln!(
            out,
            "    <properties>\n      <property name=\"file\" value=\"{}\"/>\n      <property name=\"target\" value=\"{}\"/>\n    </properties>",
            xml(&r.file),
            xml(&r.target)
        );
        for case in &r.cases {
            let name = xml(&format!("{} {}", case.id, case.title));
            let open = format!(
                "    <testcase classname=\"{}\" name=\"{name}\" time=\"{:.6}\"",
                xml(&r.name),
                secs(case.total)
            );
            match case.status {
                CaseStatus::Passed => {
                    let _ = writeln!(out, "{open}/>");
                }
                CaseStatus::NotRun => {
                    let _ = writeln!(
                        out,
                        "{open}>\n      <skipped message=\"not run: an earlier step failed\"/>\n    </testcase>"
                    );
                }
                CaseStatus::Failed => {
                    let (message, body) = match &r.failure {
                        Some(f) if f.case != case.id => {
                            let m = format!("step {} inside it failed: {}", f.case, f.message);
                            (m.clone(), m)
                        }
                        Some(f) => {
                            let mut body = String::new();
                            let _ = writeln!(body, "{}", f.message);
                            if let Some(e) = &f.expected {
                                let (h, t) = show_bytes(e, r.encoding);
                                let _ = writeln!(body, "expected hex:  {h}\nexpected text: {t}");
                            } else if let Some(e) = &f.expected_text {
                                let _ = writeln!(body, "expected: {e}");
                            }
                            if let Some(b) = &f.received {
                                let (h, t) = show_bytes(b, r.encoding);
                                let _ = writeln!(body, "received hex:  {h}\nreceived text: {t}");
                            }
                            (f.message.clone(), body)
                        }
                        None => ("failed".to_string(), String::new()),
                    };
                    let _ = writeln!(
                        out,
                        "{open}>\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>",
                        xml(&message),
                        case.kind,
                        xml(&body)
                    );
                }
            }
        }
        let mut system_out = String::new();
        for line in r.rtts.iter().filter_map(|rtt| rtt.line("->")) {
            let _ = writeln!(system_out, "{line}");
        }
        if !system_out.is_empty() {
            let _ = writeln!(out, "    <system-out>{}</system-out>", xml(&system_out));
        }
        let _ = writeln!(out, "  </testsuite>");
    }
    out.push_str("</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Percentiles by nearest rank over the samples.
    #[test]
    fn rtt_percentiles() {
        let rtt = RttReport {
            send: "1".into(),
            expect: "2".into(),
            samples: (1..=20).rev().map(Duration::from_millis).collect(),
        };
        let (min, p50, p95, max) = rtt.summary().unwrap();
        assert_eq!(min, Duration::from_millis(1));
        assert_eq!(p50, Duration::from_millis(10));
        assert_eq!(p95, Duration::from_millis(19));
        assert_eq!(max, Duration::from_millis(20));
    }

    /// XML special characters and control bytes cannot break the report.
    #[test]
    fn xml_escaping() {
        assert_eq!(
            xml("a<b & \"c\"\u{1}"),
            "a&lt;b &amp; &quot;c&quot;\u{FFFD}"
        );
    }
}
