//! Test plans: "send this, expect that within 200 ms" as a file a CI system runs with
//! `sockscope test PLAN`, exit status 0 (passed), 1 (a step failed) or 2 (the plan file
//! is not valid, with the line and field named).
//!
//! Why here and not in the UI: a plan runs the same engine and the same send templates
//! ([`SendSpec`](crate::automation::SendSpec), the compose box's syntax) with no window;
//! the window only exports a skeleton ([`skeleton`]).
//!
//! # The plan file (TOML, or JSON with the same fields)
//!
//! ```toml
//! version = 1                    # required; this build reads version 1
//! name = "seed 003"              # optional (default: the file name)
//! encoding = "GBK"               # text of sends and expects, and how bytes are shown
//! timeout_ms = 1000              # how long an expect waits unless the step says
//!
//! [target]                       # exactly one of connect, listen, udp
//! connect = "127.0.0.1:7890"     # listen = "127.0.0.1:0" waits for one client;
//! timeout_ms = 3000              # udp = "127.0.0.1:0" with peer = "HOST:PORT"
//!
//! [framing]                      # optional: expects match whole frames
//! delimiter = "\r\n"             # or delimiter_hex, fixed_length = N,
//!                                # length_prefix = { width = 2, big_endian = true,
//!                                #                   header = 0, includes_header = false }
//! [[steps]]
//! send = "ping {counter}"        # or { text = "01 03 00 00 00 0A", hex = true,
//!                                #      checksum = "CRC-16/MODBUS", line_ending = "CRLF" }
//! [[steps]]
//! expect = { exact = "收到请求" } # or contains, regex, hex = "01 03 ?? ??";
//! timeout_ms = 200               # options: encoding, frame = true|false, checksum
//! [[steps]]
//! repeat = 10                    # nested steps run 10 times
//! steps = [ { send = "x" }, { expect = "收到请求" } ]
//! [[steps]]
//! wait_ms = 100                  # also: close = true, reconnect = true,
//!                                # expect_closed = true
//! [auto_reply]                   # optional device side for `--headless --rules`
//! ```
//!
//! # Layout
//!
//! - `model`: the file's shape, read and checked (errors with line and field).
//! - `matcher`: an expect against the bytes that arrived.
//! - `run`: one plan on the engine ([`run_plan`]).
//! - `report`: results as text, JSON and JUnit XML.
//! - `skeleton`: a plan from the window's quick commands and rules.

mod matcher;
mod model;
pub(crate) mod report;
mod run;
mod skeleton;

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::Path;

use serde::Deserialize;

pub use self::matcher::{Outcome, match_message, match_stream};
pub use self::model::{
    DEFAULT_TARGET_TIMEOUT, DEFAULT_TIMEOUT, Expect, PLAN_VERSION, Pattern, Plan, PlanError,
    SendStep, Step, StepAction, Target, join_host_port, load_plan, parse_plan,
};
pub use self::report::{
    CaseReport, CaseStatus, Failure, PlanReport, RttReport, Style, render_json, render_junit,
    render_text,
};
pub use self::run::{Observer, Quiet, run_plan};
pub use self::skeleton::{skeleton, toml_str};

use crate::automation::{AutoReplyConfig, AutoResponder, Rule};
use crate::cli::TestOptions;
use crate::engine::parse_host_port;

/// Exit status: every plan passed.
pub const EXIT_PASSED: u8 = 0;
/// Exit status: a step failed.
pub const EXIT_FAILED: u8 = 1;
/// Exit status: a plan (or an option) is not valid.
pub const EXIT_INVALID: u8 = 2;

/// What `--rules FILE` may hold: a plan's `[auto_reply]`, or the rules at the top level.
#[derive(Deserialize)]
struct RulesFile {
    version: Option<u64>,
    auto_reply: Option<AutoReplyConfig>,
    echo: Option<bool>,
    window_ms: Option<u64>,
    rules: Option<Vec<Rule>>,
}

/// Reads auto-reply rules for `--rules`: a test plan with an `[auto_reply]` table (what
/// the window exports), or a file with `version = 1` and `echo`, `window_ms`, `rules` at
/// the top level; TOML or JSON. Every rule is checked (compiled) here.
pub fn load_rules(path: &Path) -> Result<AutoReplyConfig, PlanError> {
    let error = |message: String| PlanError {
        what: "rules file",
        path: path.to_path_buf(),
        line: None,
        column: None,
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| error(format!("cannot read it: {e}")))?;
    let json = model::is_json(&text, path);
    let file: RulesFile = model::parse_as(&text, path, json).map_err(|e| PlanError {
        what: "rules file",
        ..e
    })?;
    if let Some(v) = file.version
        && v != u64::from(PLAN_VERSION)
    {
        return Err(error(format!(
            "version: {v} is not supported (this Sockscope reads version {PLAN_VERSION})"
        )));
    }
    let config = match file.auto_reply {
        Some(config) => config,
        None if file.rules.is_some() || file.echo.is_some() => {
            let defaults = AutoReplyConfig::default();
            AutoReplyConfig {
                echo: file.echo.unwrap_or(false),
                rules: file.rules.unwrap_or_default(),
                window_ms: file.window_ms.unwrap_or(defaults.window_ms),
                limits: defaults.limits,
            }
        }
        None => {
            return Err(error(
                "no auto-reply rules: expected an [auto_reply] table or `rules` at the top level"
                    .into(),
            ));
        }
    };
    AutoResponder::new(&config).map_err(|e| error(format!("auto_reply: {e}")))?;
    Ok(config)
}

/// Prints where a listening plan waits, and a progress line on a terminal.
struct Progress {
    terminal: bool,
    shown: bool,
}

impl Observer for Progress {
    fn bound(&mut self, local: SocketAddr) {
        // Always said (on standard error): a CI script needs the port to connect to.
        self.clear();
        eprintln!("sockscope: listening on {local}");
    }

    fn step(&mut self, id: &str, k: u32, n: u32) {
        if !self.terminal {
            return;
        }
        let mut err = std::io::stderr();
        let line = if n > 1 {
            format!("\r\x1b[Kstep {id} (run {k} of {n})…")
        } else {
            format!("\r\x1b[Kstep {id}…")
        };
        let _ = err.write_all(line.as_bytes());
        let _ = err.flush();
        self.shown = true;
    }
}

impl Progress {
    fn clear(&mut self) {
        if self.shown {
            let mut err = std::io::stderr();
            let _ = err.write_all(b"\r\x1b[K");
            let _ = err.flush();
            self.shown = false;
        }
    }
}

/// `sockscope test …`: loads every plan (any invalid one: exit 2 before anything runs),
/// runs them in order, prints the results and writes the JUnit report. Returns the exit
/// status.
pub fn run_cli(options: &TestOptions) -> u8 {
    let mut plans = Vec::new();
    for path in &options.plans {
        match load_plan(path) {
            Ok(plan) => plans.push((path, plan)),
            Err(e) => {
                eprintln!("sockscope: {e}");
                return EXIT_INVALID;
            }
        }
    }
    let target = match &options.target {
        Some(t) => match parse_host_port(t) {
            Ok(hp) => Some(hp),
            Err(e) => {
                eprintln!("sockscope: --target: {e}");
                return EXIT_INVALID;
            }
        },
        None => None,
    };
    let ansi = crate::platform::console::enable_ansi();
    let stdout_terminal = std::io::stdout().is_terminal() && ansi;
    let style = Style {
        color: stdout_terminal && std::env::var_os("NO_COLOR").is_none(),
    };
    let mut progress = Progress {
        terminal: std::io::stderr().is_terminal() && ansi && !options.quiet && !options.json,
        shown: false,
    };
    let mut reports = Vec::new();
    for (path, plan) in &plans {
        let target = target
            .as_ref()
            .map(|(host, port)| plan.target.with_address(host, *port));
        let report = run_plan(
            plan,
            &path.display().to_string(),
            target.as_ref(),
            &mut progress,
        );
        progress.clear();
        if !options.json {
            print!("{}", render_text(&report, style, options.quiet));
            let _ = std::io::stdout().flush();
        }
        reports.push(report);
    }
    if options.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&render_json(&reports)).unwrap_or_default()
        );
    }
    if let Some(path) = &options.junit
        && let Err(e) = std::fs::write(path, render_junit(&reports))
    {
        eprintln!(
            "sockscope: cannot write the JUnit report {}: {e}",
            path.display()
        );
        return EXIT_FAILED;
    }
    if reports.iter().all(PlanReport::passed) {
        EXIT_PASSED
    } else {
        EXIT_FAILED
    }
}

#[cfg(test)]
mod tests;
