//! P7 — start-up: the release binary under Xvfb, spawn → exit with
//! `--exit-after-first-frame` (and the app's own "first frame drawn" figure), and idle
//! RSS after ~2 s without that flag.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{Config, Row, mib, rss_of};

/// The binary built alongside this bench (bench profile = release).
const BIN: &str = env!("CARGO_BIN_EXE_sockscope");

/// Our Xvfb, killed (by its pid) on drop.
struct Xvfb {
    child: Child,
    display: String,
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// True if display `n` has a lock file whose X server still runs. A lock left by a
/// server that was killed does not count: Xvfb removes such a lock itself and starts.
fn display_in_use(n: u32) -> bool {
    let lock = format!("/tmp/.X{n}-lock");
    match std::fs::read_to_string(&lock) {
        Ok(text) => match text.trim().parse::<u32>() {
            Ok(pid) => Path::new(&format!("/proc/{pid}")).exists(),
            Err(_) => true,
        },
        Err(_) => Path::new(&lock).exists(),
    }
}

/// Starts Xvfb on the first free display from :95; None with a reason if impossible.
fn start_xvfb() -> Result<Xvfb, String> {
    for n in 95..105 {
        if display_in_use(n) {
            continue;
        }
        let display = format!(":{n}");
        let child = Command::new("Xvfb")
            .args([
                display.as_str(),
                "-screen",
                "0",
                "1280x800x24",
                "-nolisten",
                "tcp",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run Xvfb: {e}"))?;
        let mut x = Xvfb { child, display };
        let socket = format!("/tmp/.X11-unix/X{n}");
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if Path::new(&socket).exists() {
                return Ok(x);
            }
            if let Ok(Some(status)) = x.child.try_wait() {
                return Err(format!("Xvfb {} exited: {status}", x.display));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        return Err(format!("Xvfb {} did not come up within 5 s", x.display));
    }
    Err("no free X display between :95 and :104".into())
}

/// One start: (spawn → exit, the app's own "first frame drawn N ms" figure).
fn one_start(display: &str) -> Result<(Duration, Option<u64>), String> {
    let start = Instant::now();
    let mut child = Command::new(BIN)
        .args(["--no-persist", "--exit-after-first-frame"])
        .env("DISPLAY", display)
        .env_remove("WAYLAND_DISPLAY")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {BIN}: {e}"))?;
    let mut err = String::new();
    if let Some(mut s) = child.stderr.take() {
        let _ = s.read_to_string(&mut err);
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    let took = start.elapsed();
    if !status.success() {
        return Err(format!("exit {status}: {}", err.trim()));
    }
    let own = err
        .lines()
        .find_map(|l| l.split("first frame drawn ").nth(1))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|v| v.parse().ok());
    Ok((took, own))
}

/// Runs P7 and appends its rows.
pub fn run(cfg: &Config, rows: &mut Vec<Row>) {
    println!("P7 start-up: {BIN} under Xvfb");
    if !Path::new(BIN).exists() {
        println!("  skipped: {BIN} not built");
        return;
    }
    let x = match start_xvfb() {
        Ok(x) => x,
        Err(reason) => {
            println!("  skipped: {reason}");
            rows.push(Row::new("P7", "start-up").ours(format!("skipped: {reason}")));
            return;
        }
    };
    // The first start warms the page cache; the rest are measured.
    let runs = if cfg.quick { 2 } else { 6 };
    let mut times = Vec::new();
    let mut own = Vec::new();
    for i in 0..runs {
        match one_start(&x.display) {
            Ok((t, o)) => {
                println!(
                    "  start {i}: spawn → exit {:.0} ms, app says first frame at {} ms",
                    t.as_secs_f64() * 1e3,
                    o.map_or("?".into(), |v| v.to_string())
                );
                if i > 0 {
                    times.push(t);
                    own.extend(o);
                }
            }
            Err(e) => println!("  start {i} failed: {e}"),
        }
    }
    times.sort();
    own.sort();
    if let Some(&median) = times.get(times.len() / 2) {
        let own_median = own.get(own.len() / 2).copied();
        rows.push(
            Row::new(
                "P7",
                "start-up: spawn → first frame drawn and exited (median)",
            )
            .ours(format!(
                "{:.0} ms (app's own first-frame line: {} ms)",
                median.as_secs_f64() * 1e3,
                own_median.map_or("?".into(), |v| v.to_string())
            ))
            .goal("≤ 300 ms", median <= Duration::from_millis(300)),
        );
    }
    // Idle RSS: the default start (a TCP server on a free port), ~2 s in.
    let child = Command::new(BIN)
        .arg("--no-persist")
        .env("DISPLAY", &x.display)
        .env_remove("WAYLAND_DISPLAY")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    match child {
        Ok(mut child) => {
            std::thread::sleep(Duration::from_secs(2));
            let pid = child.id().to_string();
            let idle = rss_of(&pid);
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            let parts: Vec<String> = ["RssAnon", "RssFile", "RssShmem"]
                .iter()
                .filter_map(|k| {
                    status
                        .lines()
                        .find(|l| l.starts_with(k))
                        .map(|l| l.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
                })
                .collect();
            let breakdown = parts.join(", ");
            top_mappings(&pid);
            let alive = matches!(child.try_wait(), Ok(None));
            let _ = child.kill();
            let _ = child.wait();
            println!(
                "  idle RSS after 2 s: {} ({breakdown}; still running: {alive})",
                mib(idle)
            );
            rows.push(
                Row::new("P7", "idle RSS after 2 s (default TCP server, no data)")
                    .ours(format!("{} ({breakdown})", mib(idle)))
                    .goal("≤ 60 MB", alive && idle <= 60_000_000),
            );
        }
        Err(e) => println!("  idle run failed: {e}"),
    }
    drop(x);
}

/// Prints the mappings holding the most resident memory in process `pid`.
fn top_mappings(pid: &str) {
    let Ok(smaps) = std::fs::read_to_string(format!("/proc/{pid}/smaps")) else {
        return;
    };
    let mut by_name: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
    let mut current = String::new();
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let Some(first) = fields.next() else { continue };
        if first.contains('-') && !first.ends_with(':') {
            // A mapping header: address perms offset dev inode [path].
            current = line
                .split_whitespace()
                .nth(5)
                .unwrap_or("[anon]")
                .to_string();
        } else if first == "Rss:" {
            let kb: u64 = fields.next().and_then(|v| v.parse().ok()).unwrap_or(0);
            *by_name.entry(current.clone()).or_default() += kb * 1024;
        }
    }
    let mut v: Vec<_> = by_name.into_iter().collect();
    v.sort_by_key(|b| std::cmp::Reverse(b.1));
    let top: Vec<String> = v
        .iter()
        .take(6)
        .map(|(name, rss)| format!("{} {}", name.rsplit('/').next().unwrap_or(name), mib(*rss)))
        .collect();
    println!("  largest resident mappings: {}", top.join(", "));
}
