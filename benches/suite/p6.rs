//! P6 — memory under flood, run in a fresh child process: RSS after 1 GB has passed
//! through the store (default caps, 64 MiB) via the engine, as a ratio to the cap; and
//! the same with 64-byte records pushed straight into the store (per-record overhead).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use sockscope::codec::text::TextEncoding;
use sockscope::engine::{Direction, Engine};
use sockscope::session::store::{Store, StoreCaps};

use crate::common::{
    Config, Live, Row, loopback, mib, rss, spawn_store_consumer, start_loopback_server,
    text_payload, wait_until,
};

/// VmHWM (peak RSS) of this process, bytes.
fn peak_rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|t| {
            t.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l[6..]
                    .split_whitespace()
                    .next()
                    .and_then(|v| v.parse::<u64>().ok())
            })
        })
        .map_or(0, |kb| kb * 1024)
}

/// RSS after glibc's `malloc_trim(0)` returned free heap pages: what is left is live
/// data; the difference to the RSS before is memory the allocator kept. With
/// `SOCKSCOPE_MALLOC_STATS` set, glibc's per-arena statistics go to stderr first.
fn trimmed_rss() -> u64 {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free heap memory back to the OS.
    unsafe {
        if std::env::var_os("SOCKSCOPE_MALLOC_STATS").is_some() {
            libc::malloc_stats();
        }
        libc::malloc_trim(0);
    }
    rss()
}

fn row(
    what: String,
    cap: u64,
    base: u64,
    after: u64,
    trimmed: u64,
    held: usize,
    records: usize,
) -> Row {
    let ratio = after as f64 / cap as f64;
    let delta = after.saturating_sub(base) as f64 / cap as f64;
    println!(
        "  {what}: RSS {} before, {} after (peak {}), store holds {} in {records} records; RSS/cap {ratio:.2}, (RSS−before)/cap {delta:.2}",
        mib(base),
        mib(after),
        mib(peak_rss()),
        mib(held as u64)
    );
    println!(
        "    after malloc_trim(0) with the store still full: RSS {}",
        mib(trimmed)
    );
    Row::new("P6", what)
        .ours(format!(
            "{} RSS ({} before; +{:.2}× cap)",
            mib(after),
            mib(base),
            delta
        ))
        .reference(format!("cap {}", mib(cap)))
        .ratio(ratio)
        .goal("RSS / cap ≤ 1.10", ratio <= 1.1)
}

/// TCP through the engine into a store consumer thread (reads of up to 256 KiB → records).
pub fn run_tcp(cfg: &Config, rows: &mut Vec<Row>) {
    let total: u64 = if cfg.quick { 256 << 20 } else { 1 << 30 };
    let cap = StoreCaps::default().max_bytes as u64;
    let (engine, events) = Engine::new(4096, Box::new(|| {}));
    let live = Arc::new(Live::default());
    let consumer = spawn_store_consumer(events, live.clone());
    let handle = match start_loopback_server(&engine) {
        Ok(h) => h,
        Err(e) => {
            println!("  server start failed: {e}");
            return;
        }
    };
    let port = handle.local_addr().map_or(0, |a| a.port());
    std::thread::sleep(Duration::from_millis(50));
    let base = rss();
    let client = std::thread::spawn(move || -> std::io::Result<()> {
        use std::io::Write;
        let payload = text_payload(256 << 10);
        let mut s = std::net::TcpStream::connect(loopback(port))?;
        let mut left = total;
        while left > 0 {
            let n = left.min(payload.len() as u64) as usize;
            s.write_all(&payload[..n])?;
            left -= n as u64;
        }
        Ok(())
    });
    let done = wait_until(Instant::now() + Duration::from_secs(120), || {
        live.rx_bytes.load(Ordering::Relaxed) >= total
    });
    let _ = client.join();
    let after = rss();
    let trimmed = trimmed_rss();
    handle.stop();
    live.stop.store(true, Ordering::Release);
    drop(engine);
    let Ok(totals) = consumer.join() else { return };
    if !done {
        println!(
            "  only {} of {total} bytes reached the store",
            totals.rx_bytes
        );
    }
    rows.push(row(
        format!(
            "RSS after {} MiB TCP through the store (reads of up to 256 KiB), default cap",
            total >> 20
        ),
        cap,
        base,
        after,
        trimmed,
        totals.held_bytes,
        totals.records,
    ));
}

/// 64-byte records pushed straight into a default store (the UDP flood shape).
pub fn run_small(cfg: &Config, rows: &mut Vec<Row>) {
    let total: u64 = if cfg.quick { 64 << 20 } else { 256 << 20 };
    let cap = StoreCaps::default().max_bytes as u64;
    let base = rss();
    let mut store = Store::new(StoreCaps::default(), TextEncoding::Utf8);
    let peer = SocketAddr::from(([127, 0, 0, 1], 40000));
    let payload = text_payload(64);
    let start = Instant::now();
    let mut pushed = 0u64;
    while pushed < total {
        store.push_data(
            1,
            None,
            peer,
            Direction::Rx,
            SystemTime::now(),
            Arc::from(&payload[..]),
        );
        pushed += payload.len() as u64;
    }
    println!(
        "  pushed {} records in {:.1} s",
        pushed / 64,
        start.elapsed().as_secs_f64()
    );
    let after = rss();
    let trimmed = trimmed_rss();
    rows.push(row(
        format!(
            "RSS after {} MiB in 64-byte records through the store, default cap",
            total >> 20
        ),
        cap,
        base,
        after,
        trimmed,
        store.held_bytes(),
        store.len(),
    ));
}
