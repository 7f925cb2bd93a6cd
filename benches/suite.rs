//! Sockscope against the machine's own limits, each reference measured in the same run.
//!
//! Run everything with `cargo bench --bench suite`; parts alone with
//! `cargo bench --bench suite -- p1 p3`; small sizes (a CI smoke) with `-- --quick`.
//! Benchmarks report, they do not fail: every part prints its figures, its reference
//! and the ratio, and a Markdown table (the README's) closes the run.
//!
//! - P1 TCP receive: engine → store + recorder vs a plain std sink.
//! - P2 UDP receive: paced 64-byte datagrams, highest loss-free rate, vs plain socket2.
//! - P3 connection burst: time to the last ClientJoined, kernel listen overflows.
//! - P4 clients held: 10,000 idle clients, RSS and kernel memory (child process).
//! - P5 UI frame time: the app's tick + draw + tessellate, headless, 1M records.
//! - P6 memory under flood: RSS after 1 GB through the capped store (child process).
//! - P7 start-up: the release binary under Xvfb, time to first frame, idle RSS.
//! - SOAK (only when named: `-- soak`): 10 minutes of mixed load through the app
//!   headless, RSS every 10 s, counters and logs checked against what the peers sent.
//!
//! Loopback only (127.0.0.1), every wait bounded.

// A benchmark binary, not library code: it reports failures instead of panicking, but
// clippy's test-only allowance does not cover benches.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "suite/common.rs"]
mod common;
#[path = "suite/p1.rs"]
mod p1;
#[path = "suite/p2.rs"]
mod p2;
#[path = "suite/p34.rs"]
mod p34;
#[path = "suite/p5.rs"]
mod p5;
#[path = "suite/p6.rs"]
mod p6;
#[path = "suite/p7.rs"]
mod p7;
#[path = "suite/soak.rs"]
mod soak;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Instant;

use common::{Config, Row};

/// Marker of a result row printed by a child process.
const ROW_TAG: &str = "@@ROW\t";

/// Every part in order: (name, runs in a fresh child process, body).
type Part = (&'static str, bool, fn(&Config, &mut Vec<Row>));

const PARTS: [Part; 9] = [
    ("p1", false, p1::run),
    ("p2", false, p2::run),
    ("p3", false, p34::run_p3),
    ("p4", true, p34::run_p4),
    ("p5", false, p5::run),
    ("p6", true, p6::run_tcp),
    ("p6", true, p6::run_small),
    ("p7", false, p7::run),
    ("soak", true, soak::run),
];

/// Parts that run only when named (too long for a plain run of the suite).
const ON_REQUEST: [&str; 1] = ["soak"];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // Child modes: the P4 client helper and one part in a fresh process.
    if args.first().map(String::as_str) == Some("__clients") {
        let addr = args.get(1).cloned().unwrap_or_default();
        let n = args.get(2).and_then(|v| v.parse().ok()).unwrap_or(0);
        p34::client_helper(&addr, n);
        return;
    }
    // Profiling entry points (valgrind --tool=callgrind): one Sockscope run alone.
    if args.first().map(String::as_str) == Some("__profile") {
        match args.get(1).map(String::as_str) {
            Some("p1") => p1::profile(),
            Some("p2") => p2::profile(),
            _ => println!("__profile p1|p2"),
        }
        return;
    }
    let cfg = Config {
        quick: args.iter().any(|a| a == "--quick"),
    };
    if args.first().map(String::as_str) == Some("__part") {
        let index: usize = args
            .get(1)
            .and_then(|v| v.parse().ok())
            .unwrap_or(usize::MAX);
        if let Some((_, _, body)) = PARTS.get(index) {
            let mut rows = Vec::new();
            body(&cfg, &mut rows);
            for r in rows {
                println!(
                    "{ROW_TAG}{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    r.part,
                    r.what,
                    r.ours,
                    r.reference,
                    r.ratio,
                    r.goal,
                    r.met.map_or("-", |m| if m { "y" } else { "n" })
                );
            }
        }
        return;
    }
    // `cargo bench` adds `--bench`; everything else not starting with `-` is a filter.
    let filters: Vec<String> = args
        .iter()
        .filter(|a| !a.starts_with('-'))
        .map(|a| a.to_ascii_lowercase())
        .collect();
    let wanted = |name: &str| {
        filters.iter().any(|f| f == name) || (filters.is_empty() && !ON_REQUEST.contains(&name))
    };

    header(&cfg);
    let (soft, hard) = common::raise_nofile();
    println!("RLIMIT_NOFILE raised to {soft} (hard {hard})\n");
    let started = Instant::now();
    let mut rows = Vec::new();
    for (index, (name, isolated, body)) in PARTS.iter().enumerate() {
        if !wanted(name) {
            continue;
        }
        let t = Instant::now();
        if *isolated {
            run_child(index, &cfg, &mut rows);
        } else {
            body(&cfg, &mut rows);
        }
        println!("  ({name} took {:.1} s)\n", t.elapsed().as_secs_f64());
    }
    println!(
        "Suite finished in {:.1} s{}.\n",
        started.elapsed().as_secs_f64(),
        if cfg.quick { " (--quick)" } else { "" }
    );
    print!("{}", common::table(&rows));
}

/// Runs part `index` in a fresh copy of this binary and collects its rows.
fn run_child(index: usize, cfg: &Config, rows: &mut Vec<Row>) {
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            println!("cannot find own executable: {e}");
            return;
        }
    };
    let mut cmd = Command::new(exe);
    cmd.args(["__part", &index.to_string()]);
    if cfg.quick {
        cmd.arg("--quick");
    }
    let child = cmd.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            println!("cannot start part {index}: {e}");
            return;
        }
    };
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix(ROW_TAG) {
                let f: Vec<&str> = rest.split('\t').collect();
                if f.len() == 7 {
                    let part = match f[0] {
                        "P4" => "P4",
                        "P6" => "P6",
                        "SOAK" => "SOAK",
                        _ => "?",
                    };
                    let mut row = Row::new(part, f[1]);
                    row.ours = f[2].into();
                    row.reference = f[3].into();
                    row.ratio = f[4].into();
                    row.goal = f[5].into();
                    row.met = match f[6] {
                        "y" => Some(true),
                        "n" => Some(false),
                        _ => None,
                    };
                    rows.push(row);
                }
            } else {
                println!("{line}");
            }
        }
    }
    let _ = child.wait();
}

/// The machine the figures come from.
fn header(cfg: &Config) {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let os = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("PRETTY_NAME="))
                .map(|l| l[12..].trim_matches('"').to_string())
        })
        .unwrap_or_default();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    println!(
        "Sockscope benchmark suite{} — {cores} cores, {cpu}, {os}, Linux {}",
        if cfg.quick { " (--quick)" } else { "" },
        kernel.trim()
    );
}
