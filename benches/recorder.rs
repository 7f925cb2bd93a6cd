//! Session log recorder throughput per format, as a ratio to a plain `BufWriter` write of
//! the same payload bytes to a file in the same run.
//!
//! Run with `cargo bench --bench recorder`. Plain `std::time::Instant`, no framework.
//! Each measurement feeds 256 MB of synthetic `Event::Data` (as the engine's tap would)
//! through the recorder's channel and thread, timed from the first event to `finish()`
//! returning (file flushed and closed); files go to `std::env::temp_dir()` and are
//! removed afterwards. MB/s counts payload bytes, not the (larger) text written.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::sync_channel;
use std::time::{Duration, Instant, SystemTime};

use sockscope::codec::text::{self, TextEncoding};
use sockscope::engine::{Direction, Event};
use sockscope::session::recorder::{LogFormat, LogOptions, Recorder, raw_tx_path};

/// Payload bytes per measurement.
const TOTAL: usize = 256 << 20;
/// Passes of the baseline; the fastest counts.
const PASSES: usize = 3;

fn mb_per_s(bytes: usize, time: Duration) -> f64 {
    bytes as f64 / 1e6 / time.as_secs_f64().max(1e-9)
}

fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("sockscope-bench-{}-{name}", std::process::id()))
}

fn remove(path: &Path) {
    let _ = std::fs::remove_file(path);
    let _ = std::fs::remove_file(raw_tx_path(path));
}

/// `BufWriter` (1 MiB) writes of the same chunks, flushed: the floor any format pays.
fn baseline(chunks: &[Arc<[u8]>]) -> Duration {
    let path = temp_path("baseline.bin");
    let best = (0..PASSES)
        .filter_map(|_| {
            // Start from no file, as the recorder runs do (truncating costs time too).
            remove(&path);
            let start = Instant::now();
            let file = File::create(&path).ok()?;
            let mut out = BufWriter::with_capacity(1 << 20, file);
            for c in chunks {
                out.write_all(c).ok()?;
            }
            out.flush().ok()?;
            drop(out);
            Some(start.elapsed())
        })
        .min()
        .unwrap_or_default();
    remove(&path);
    best
}

/// Feeds `chunks` as Data events (alternating RX and TX every 8 events, as a chatty
/// session would) through a recorder writing `format`; returns the time and file size.
fn run(format: LogFormat, encoding: TextEncoding, chunks: &[Arc<[u8]>]) -> Option<(Duration, u64)> {
    let path = temp_path(&format!("log.{}", format.extension()));
    let (tx, rx) = sync_channel::<Event>(4096);
    let options = LogOptions::new(format, encoding);
    let start = Instant::now();
    let mut recorder = match Recorder::start_receiver(&path, &options, rx, usize::MAX) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{format}: {e}");
            return None;
        }
    };
    let peer: SocketAddr = SocketAddr::from(([192, 0, 2, 7], 50_000));
    for (i, bytes) in chunks.iter().enumerate() {
        let dir = if i / 8 % 2 == 0 {
            Direction::Rx
        } else {
            Direction::Tx
        };
        let event = Event::Data {
            session: 1,
            conn: Some(1),
            peer,
            dir,
            at: SystemTime::now(),
            bytes: bytes.clone(),
            group: None,
            scan: sockscope::codec::lazy::TextScan::Unknown,
        };
        if tx.send(event).is_err() {
            break;
        }
    }
    drop(tx);
    let status = recorder.finish(Duration::from_secs(600));
    let time = start.elapsed();
    remove(&path);
    if let Some(e) = status.error {
        eprintln!("{format}: {e}");
        return None;
    }
    Some((time, status.bytes_written))
}

/// `TOTAL` bytes cut into `size`-byte shared chunks.
fn chunks_of(data: &[u8], size: usize) -> Vec<Arc<[u8]>> {
    data.chunks(size).map(Arc::from).collect()
}

fn main() {
    let seed = "你好服务端，我是客户端小黑! ok, 问题正在处理中... 信息已收到\r\n";
    let unit = text::encode(TextEncoding::Gbk, seed).unwrap_or_else(|_| seed.as_bytes().to_vec());
    let gbk_text: Vec<u8> = unit.iter().copied().cycle().take(TOTAL).collect();
    let binary: Vec<u8> = (0..TOTAL)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();

    let big = chunks_of(&gbk_text, 64 << 10);
    let base = baseline(&big);
    let base_rate = mb_per_s(TOTAL, base);
    println!(
        "{:<44} {:>8.1} MB/s  (baseline, 256 MB in 64 KiB writes)",
        "BufWriter<File> write_all", base_rate
    );

    let report = |name: &str, result: Option<(Duration, u64)>| match result {
        Some((time, size)) => {
            let rate = mb_per_s(TOTAL, time);
            println!(
                "{name:<44} {rate:>8.1} MB/s  {:>6.3}× BufWriter  (file {:.0} MB)",
                rate / base_rate,
                size as f64 / 1e6
            );
        }
        None => println!("{name:<44} failed"),
    };

    for format in [
        LogFormat::Raw,
        LogFormat::Pcapng,
        LogFormat::Csv,
        LogFormat::TextHex,
        LogFormat::Hexdump,
    ] {
        report(
            &format!("{format}, 64 KiB events"),
            run(format, TextEncoding::Utf8, &big),
        );
    }
    report(
        "text GBK (GBK text), 64 KiB events",
        run(LogFormat::Text, TextEncoding::Gbk, &big),
    );
    report(
        "text UTF-8 (binary: \\xNN escapes), 64 KiB",
        run(
            LogFormat::Text,
            TextEncoding::Utf8,
            &chunks_of(&binary, 64 << 10),
        ),
    );
    let small = chunks_of(&gbk_text, 512);
    for format in [LogFormat::Raw, LogFormat::Pcapng, LogFormat::Text] {
        report(
            &format!("{format}, 512 B events (per-record cost)"),
            run(format, TextEncoding::Gbk, &small),
        );
    }
}
