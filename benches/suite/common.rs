//! Shared helpers: the run configuration, the results table, and readings of the
//! process and the kernel (RSS, meminfo, netstat, thread CPU clock, fd limit).

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use sockscope::codec::text::TextEncoding;
use sockscope::engine::{
    Engine, Event, EventReceiver, SessionConfig, SessionHandle, TcpServerConfig,
};
use sockscope::session::store::{Store, StoreCaps};

/// How the suite was asked to run.
#[derive(Clone, Debug)]
pub struct Config {
    /// Small sizes for a CI smoke run.
    pub quick: bool,
}

/// One line of the final table.
#[derive(Clone, Debug)]
pub struct Row {
    /// "P1" ...
    pub part: &'static str,
    /// What was measured.
    pub what: String,
    /// Sockscope's figure, formatted.
    pub ours: String,
    /// The reference figure measured in the same run, formatted ("—" if none).
    pub reference: String,
    /// Ratio (or "—").
    pub ratio: String,
    /// The goal in words.
    pub goal: String,
    /// Whether the goal was met (None: no goal / informative).
    pub met: Option<bool>,
}

impl Row {
    /// A row with a reference and a ratio.
    pub fn new(part: &'static str, what: impl Into<String>) -> Row {
        Row {
            part,
            what: what.into(),
            ours: "—".into(),
            reference: "—".into(),
            ratio: "—".into(),
            goal: "—".into(),
            met: None,
        }
    }
    /// Sets Sockscope's figure.
    pub fn ours(mut self, s: impl Into<String>) -> Row {
        self.ours = s.into();
        self
    }
    /// Sets the reference figure.
    pub fn reference(mut self, s: impl Into<String>) -> Row {
        self.reference = s.into();
        self
    }
    /// Sets the ratio text.
    pub fn ratio(mut self, r: f64) -> Row {
        self.ratio = if r.is_finite() {
            format!("{r:.2}")
        } else {
            "—".into()
        };
        self
    }
    /// Sets the goal and whether it was met.
    pub fn goal(mut self, g: impl Into<String>, met: bool) -> Row {
        self.goal = g.into();
        self.met = Some(met);
        self
    }
    /// Sets an informative goal text without a verdict.
    pub fn note(mut self, g: impl Into<String>) -> Row {
        self.goal = g.into();
        self
    }
}

/// Renders the rows as a Markdown table (the README's format).
pub fn table(rows: &[Row]) -> String {
    let mut out = String::new();
    out.push_str("| part | measure | Sockscope | reference (same run) | ratio | goal | met |\n");
    out.push_str("|---|---|---|---|---|---|---|\n");
    for r in rows {
        let met = match r.met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "—",
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            r.part, r.what, r.ours, r.reference, r.ratio, r.goal, met
        );
    }
    out
}

/// Reads a `Key:   123 kB` line of a /proc status-like file, in bytes.
fn kb_field(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find(|l| l.starts_with(key) && l[key.len()..].starts_with(':'))
        .and_then(|l| l[key.len() + 1..].split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
        .map(|kb| kb * 1024)
}

/// VmRSS of this process in bytes (0 if unreadable).
pub fn rss() -> u64 {
    rss_of("self")
}

/// VmRSS of a process ("self" or a pid) in bytes (0 if unreadable).
pub fn rss_of(pid: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|t| kb_field(&t, "VmRSS"))
        .unwrap_or(0)
}

/// Threads of this process.
pub fn threads() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("Threads:"))
                .and_then(|l| l[8..].trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Kernel memory that grows with sockets and threads: KernelStack + Slab, bytes.
pub fn kernel_mem() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .map(|t| kb_field(&t, "KernelStack").unwrap_or(0) + kb_field(&t, "Slab").unwrap_or(0))
        .unwrap_or(0)
}

/// `TcpExt: ListenOverflows` from /proc/net/netstat (None if unreadable).
pub fn listen_overflows() -> Option<u64> {
    netstat_field("TcpExt", "ListenOverflows")
}

/// `TcpExt: ListenDrops` from /proc/net/netstat (None if unreadable).
pub fn listen_drops() -> Option<u64> {
    netstat_field("TcpExt", "ListenDrops")
}

fn netstat_field(group: &str, name: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/net/netstat").ok()?;
    let mut lines = text.lines();
    while let (Some(head), Some(vals)) = (lines.next(), lines.next()) {
        let prefix = format!("{group}:");
        if !head.starts_with(&prefix) {
            continue;
        }
        let names = head.split_whitespace().skip(1);
        let values = vals.split_whitespace().skip(1);
        for (n, v) in names.zip(values) {
            if n == name {
                return v.parse().ok();
            }
        }
    }
    None
}

/// UDP receive-buffer errors (`Udp: RcvbufErrors`) from /proc/net/snmp.
pub fn udp_rcvbuf_errors() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/net/snmp").ok()?;
    let mut lines = text.lines();
    while let (Some(head), Some(vals)) = (lines.next(), lines.next()) {
        if !head.starts_with("Udp:") {
            continue;
        }
        for (n, v) in head.split_whitespace().zip(vals.split_whitespace()) {
            if n == "RcvbufErrors" {
                return v.parse().ok();
            }
        }
    }
    None
}

/// CPU time consumed by the calling thread (CLOCK_THREAD_CPUTIME_ID; zero where there is
/// no such clock, and the CPU columns then read 0).
#[cfg(unix)]
pub fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into the valid pointer we pass.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// See the Unix version: not measured here.
#[cfg(not(unix))]
pub fn thread_cpu() -> Duration {
    Duration::ZERO
}

/// CPU time (user + system) of the whole process so far (zero where not measured).
#[cfg(unix)]
pub fn process_cpu() -> Duration {
    // SAFETY: getrusage fills the rusage struct we pass; all-zero is a valid start value.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above; RUSAGE_SELF is always valid.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return Duration::ZERO;
    }
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// See the Unix version: not measured here.
#[cfg(not(unix))]
pub fn process_cpu() -> Duration {
    Duration::ZERO
}

/// Raises the soft RLIMIT_NOFILE to the hard limit; returns (soft, hard) after ((0, 0)
/// where there is no such limit).
#[cfg(unix)]
pub fn raise_nofile() -> (u64, u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit read and write one rlimit struct we own.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return (0, 0);
        }
        lim.rlim_cur = lim.rlim_max;
        let _ = libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        let _ = libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
    }
    (lim.rlim_cur, lim.rlim_max)
}

/// See the Unix version: no descriptor limit to raise.
#[cfg(not(unix))]
pub fn raise_nofile() -> (u64, u64) {
    (0, 0)
}

/// Megabytes (10^6) per second.
pub fn mb_s(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / 1e6 / d.as_secs_f64().max(1e-9)
}

/// MiB, one decimal.
pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// Printable ASCII lines, like a log or a text protocol (valid in every encoding).
pub fn text_payload(len: usize) -> Vec<u8> {
    let line = b"2026-11-23 14:00:00.000 sensor=17 temp=21.5 hum=40 status=OK seq=0123456789\n";
    line.iter().copied().cycle().take(len).collect()
}

/// Percentile (0..=100) of sorted durations.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// Milliseconds with two decimals.
pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// What the store consumer thread reports.
pub struct StoreTotals {
    /// Received bytes counted by the store.
    pub rx_bytes: u64,
    /// Received messages counted by the store.
    pub rx_msgs: u64,
    /// ClientJoined events seen.
    pub joined: u64,
    /// When the last ClientJoined arrived.
    pub last_joined: Option<Instant>,
    /// Error events, in words.
    pub errors: Vec<String>,
    /// Dropped (UDP, cumulative, last seen).
    pub dropped: u64,
    /// Bytes held by the store at the end.
    pub held_bytes: usize,
    /// Records held at the end.
    pub records: usize,
}

/// Live counters the store consumer publishes while it runs.
#[derive(Default)]
pub struct Live {
    /// Rx bytes counted by the store so far.
    pub rx_bytes: AtomicU64,
    /// Rx messages counted by the store so far.
    pub rx_msgs: AtomicU64,
    /// ClientJoined seen so far.
    pub joined: AtomicU64,
    /// Closed seen so far.
    pub closed: AtomicU64,
    /// Asks the consumer to end.
    pub stop: AtomicBool,
    /// Listening address once seen (port), 0 before.
    pub listening_port: AtomicU64,
}

/// The UI's data path on its own thread: drains the engine's events into a `Store`
/// with default caps, as `SockscopeApp::handle_event` does for data (push_data) and
/// connection events (push_info), until `live.stop` is set and the queue is empty. As in
/// a tab, the store keeps room for what the engine may have queued for it (an engine's
/// default queue bound is `window_queue_bytes` of the default cap).
pub fn spawn_store_consumer(events: EventReceiver, live: Arc<Live>) -> JoinHandle<StoreTotals> {
    std::thread::spawn(move || {
        let caps = StoreCaps::default();
        let mut store = Store::new(caps, TextEncoding::Utf8);
        store.set_reserve(sockscope::session::store::window_queue_bytes(
            caps.max_bytes,
        ));
        let mut totals = StoreTotals {
            rx_bytes: 0,
            rx_msgs: 0,
            joined: 0,
            last_joined: None,
            errors: Vec::new(),
            dropped: 0,
            held_bytes: 0,
            records: 0,
        };
        loop {
            let Some(event) = events.recv_timeout(Duration::from_millis(20)) else {
                if live.stop.load(Ordering::Acquire) {
                    break;
                }
                continue;
            };
            match event {
                Event::Data {
                    session,
                    conn,
                    peer,
                    dir,
                    at,
                    bytes,
                    scan,
                    ..
                } => {
                    store.push_scanned(session, conn, peer, dir, at, bytes, scan);
                    live.rx_bytes
                        .store(store.stats.total.rx_bytes, Ordering::Relaxed);
                    live.rx_msgs
                        .store(store.stats.total.rx_msgs, Ordering::Relaxed);
                }
                Event::ClientJoined {
                    session,
                    conn,
                    peer,
                    at,
                    ..
                } => {
                    totals.joined += 1;
                    totals.last_joined = Some(Instant::now());
                    live.joined.fetch_add(1, Ordering::Relaxed);
                    store.push_info(
                        session,
                        Some(conn),
                        Some(peer),
                        at,
                        format!("{peer} joined"),
                    );
                }
                Event::Closed {
                    session,
                    at,
                    conn,
                    peer,
                    reason,
                    ..
                } => {
                    live.closed.fetch_add(1, Ordering::Relaxed);
                    store.end_conn(session, conn);
                    store.push_info(
                        session,
                        Some(conn),
                        Some(peer),
                        at,
                        format!("{peer} closed: {reason}"),
                    );
                }
                Event::Listening { local, .. } => {
                    live.listening_port
                        .store(u64::from(local.port()), Ordering::Release);
                }
                Event::Dropped { datagrams, .. } => totals.dropped = datagrams,
                Event::Error { error, .. } => totals.errors.push(error.to_string()),
                _ => {}
            }
        }
        totals.rx_bytes = store.stats.total.rx_bytes;
        totals.rx_msgs = store.stats.total.rx_msgs;
        totals.held_bytes = store.held_bytes();
        totals.records = store.len();
        totals
    })
}

/// Waits until `done()` or the deadline; true if done.
pub fn wait_until(deadline: Instant, mut done: impl FnMut() -> bool) -> bool {
    while !done() {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    true
}

/// 127.0.0.1 with this port.
pub fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Starts a Sockscope TCP server on 127.0.0.1 and a free port.
pub fn start_loopback_server(engine: &Engine) -> Result<SessionHandle, String> {
    engine
        .start(SessionConfig::TcpServer(TcpServerConfig {
            host: "127.0.0.1".into(),
            port: 0,
            ..TcpServerConfig::default()
        }))
        .map_err(|e| e.to_string())
}
