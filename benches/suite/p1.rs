//! P1 — TCP receive: one loopback client streams into Sockscope's server path
//! (engine → store consumer thread, engine tap → recorder file) vs a plain std sink.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use sockscope::codec::text::TextEncoding;
use sockscope::engine::Engine;
use sockscope::session::recorder::{LogFormat, Recorder, raw_tx_path};

use crate::common::{
    Config, Live, Row, loopback, mb_s, process_cpu, spawn_store_consumer, start_loopback_server,
    text_payload,
};

/// Client write size.
const WRITE: usize = 256 * 1024;
/// Plain sink read size.
const READ: usize = 64 * 1024;
/// Event queue of the app (ui::EVENT_QUEUE) and the tap size the recorder is given.
const QUEUE: usize = 4096;

/// Streams `total` bytes of text to `addr`, then closes.
fn stream_to(
    addr: std::net::SocketAddr,
    total: u64,
) -> std::thread::JoinHandle<std::io::Result<()>> {
    std::thread::spawn(move || {
        let payload = text_payload(WRITE);
        let mut s = TcpStream::connect(addr)?;
        let mut left = total;
        while left > 0 {
            let n = left.min(WRITE as u64) as usize;
            s.write_all(&payload[..n])?;
            left -= n as u64;
        }
        s.shutdown(std::net::Shutdown::Write)?;
        Ok(())
    })
}

/// The machine's own limit: a plain std sink reading 64 KiB at a time.
fn plain_sink(total: u64) -> Option<(Duration, Duration)> {
    let listener = TcpListener::bind("127.0.0.1:0").ok()?;
    let addr = listener.local_addr().ok()?;
    let start = Instant::now();
    let cpu0 = process_cpu();
    let client = stream_to(addr, total);
    let (mut s, _) = listener.accept().ok()?;
    let mut buf = vec![0u8; READ];
    let mut got = 0u64;
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got += n as u64,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    let t = start.elapsed();
    let _ = client.join();
    (got == total).then(|| (t, process_cpu() - cpu0))
}

/// Result of one Sockscope run.
struct Run {
    /// Until the store had counted every byte.
    store: Duration,
    /// Until the recorder had written every byte and closed the file.
    all: Duration,
    file_bytes: u64,
    recorded: u64,
    /// CPU time of the whole process (client included) over the run.
    cpu: Duration,
}

/// One run; `format` None = no recorder (engine → store only).
fn sockscope(total: u64, format: Option<LogFormat>) -> Result<Run, String> {
    let (engine, events) = Engine::new(QUEUE, Box::new(|| {}));
    let path = std::env::temp_dir().join(format!(
        "sockscope-bench-p1-{}.{}",
        std::process::id(),
        format.map_or("none", |f| f.extension())
    ));
    let mut recorder = match format {
        Some(format) => {
            let (recorder, tap) = Recorder::start(&path, format, TextEncoding::Utf8, QUEUE)
                .map_err(|e| e.to_string())?;
            engine.set_tap(Some(tap));
            Some(recorder)
        }
        None => None,
    };
    let live = Arc::new(Live::default());
    let consumer = spawn_store_consumer(events, live.clone());
    let handle = start_loopback_server(&engine)?;
    let port = handle.local_addr().map(|a| a.port()).unwrap_or(0);
    let start = Instant::now();
    let cpu0 = process_cpu();
    let client = stream_to(loopback(port), total);
    let deadline = start + Duration::from_secs(120);
    let complete =
        crate::common::wait_until(deadline, || live.rx_bytes.load(Ordering::Relaxed) >= total);
    let store = start.elapsed();
    let status = recorder
        .as_mut()
        .map(|r| r.finish(Duration::from_secs(120)));
    let all = start.elapsed();
    let _ = client.join();
    let cpu = process_cpu() - cpu0;
    handle.stop();
    engine.set_tap(None);
    live.stop.store(true, Ordering::Release);
    drop(engine);
    let _ = consumer.join();
    let file_bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_file(raw_tx_path(&path));
    if !complete {
        return Err(format!(
            "store saw {} of {total} bytes within the time limit",
            live.rx_bytes.load(Ordering::Relaxed)
        ));
    }
    if let Some(e) = status.as_ref().and_then(|s| s.error.clone()) {
        return Err(e);
    }
    Ok(Run {
        store,
        all,
        file_bytes,
        recorded: status.map_or(total, |s| s.data_bytes),
        cpu,
    })
}

/// Runs P1 and appends its rows.
pub fn run(cfg: &Config, rows: &mut Vec<Row>) {
    let total: u64 = if cfg.quick { 64 << 20 } else { 1 << 30 };
    // The text formats write 1–4× the payload; a quarter of the stream bounds their time.
    let total_text = total / 4;
    let passes = if cfg.quick { 1 } else { 2 };
    println!(
        "P1 TCP receive: {} MiB, client writes {} KiB",
        total >> 20,
        WRITE >> 10
    );

    let best_plain = (0..passes).filter_map(|_| plain_sink(total)).min();
    let Some((plain, plain_cpu)) = best_plain else {
        println!("  plain sink failed");
        return;
    };
    let plain_rate = mb_s(total, plain);
    let gib =
        |cpu: Duration, bytes: u64| cpu.as_secs_f64() / (bytes as f64 / f64::from(1u32 << 30));
    println!(
        "  plain std sink (64 KiB reads): {plain_rate:.0} MB/s, {:.2} CPU-s per GiB (client included)",
        gib(plain_cpu, total)
    );

    let formats: [(Option<LogFormat>, u64); 5] = [
        (Some(LogFormat::Raw), total),
        (None, total),
        (Some(LogFormat::Text), total_text),
        (Some(LogFormat::TextHex), total_text),
        (Some(LogFormat::Hexdump), total_text),
    ];
    for (format, bytes) in formats {
        let mut best: Option<Run> = None;
        for _ in 0..passes {
            match sockscope(bytes, format) {
                Ok(r) => {
                    if best.as_ref().is_none_or(|b| r.all < b.all) {
                        best = Some(r);
                    }
                }
                Err(e) => println!("  {}: failed: {e}", name(format)),
            }
        }
        let Some(r) = best else { continue };
        let rate = mb_s(bytes, r.all);
        let store_rate = mb_s(bytes, r.store);
        let ratio = rate / plain_rate;
        let format_name = name(format);
        println!(
            "  engine → store + recorder ({format_name}): {rate:.0} MB/s to file closed, store done at {store_rate:.0} MB/s; recorded {} of {bytes} bytes, file {} bytes; {:.2} CPU-s per GiB; ratio {ratio:.2}",
            r.recorded,
            r.file_bytes,
            gib(r.cpu, bytes)
        );
        let what = format!("TCP receive, {} MiB, recorder `{format_name}`", bytes >> 20);
        let row = Row::new("P1", what)
            .ours(format!("{rate:.0} MB/s"))
            .reference(format!("{plain_rate:.0} MB/s (std sink)"))
            .ratio(ratio);
        let row = if format == Some(LogFormat::Raw) {
            row.goal("≥ 0.90", ratio >= 0.9 && r.recorded == bytes)
        } else if format.is_none() {
            row.note("informative (no recorder)")
        } else {
            row.note(format!(
                "informative (file {:.1}× payload)",
                r.file_bytes as f64 / bytes as f64
            ))
        };
        rows.push(row);
    }
}

fn name(format: Option<LogFormat>) -> String {
    format.map_or("none".into(), |f| f.to_string())
}

/// One 32 MiB run with the raw recorder, for callgrind.
pub fn profile() {
    match sockscope(32 << 20, Some(LogFormat::Raw)) {
        Ok(r) => println!("32 MiB in {:.3} s", r.all.as_secs_f64()),
        Err(e) => println!("failed: {e}"),
    }
}
