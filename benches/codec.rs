//! Codec throughput, as a ratio to a plain memory copy of the same data.
//!
//! Run with `cargo bench --bench codec`. Plain `std::time::Instant`, no framework: each
//! figure is the best of a few passes over 100 MB, and a `copy_from_slice` of the same
//! 100 MB is measured in the same run so the numbers can be compared across machines.

use std::hint::black_box;
use std::time::{Duration, Instant};

use sockscope::codec::hex;
use sockscope::codec::lazy;
use sockscope::codec::text::{self, StreamDecoder, TextEncoding};

/// Bytes pushed through each measurement.
const TOTAL: usize = 100 * 1024 * 1024;
/// Read size for the streaming decoders, like a socket read.
const CHUNK: usize = 64 * 1024;
/// Passes per measurement; the fastest counts (least disturbed by other processes).
const PASSES: usize = 3;

/// Runs `pass` a few times and returns the fastest.
fn best_of(mut pass: impl FnMut()) -> Duration {
    (0..PASSES)
        .map(|_| {
            let start = Instant::now();
            pass();
            start.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn mb_per_s(bytes: usize, time: Duration) -> f64 {
    bytes as f64 / 1e6 / time.as_secs_f64().max(1e-9)
}

/// `len` bytes of `text` in `enc`, repeated.
fn corpus(enc: TextEncoding, text: &str, len: usize) -> Vec<u8> {
    let unit = text::encode(enc, text).unwrap_or_else(|_| text.as_bytes().to_vec());
    unit.iter().copied().cycle().take(len).collect()
}

/// Formats the data chunk by chunk into a reused string, as a view would.
fn bench_format(data: &[u8], format: fn(&[u8], &mut String)) -> Duration {
    let mut out = String::with_capacity(CHUNK * 5);
    best_of(|| {
        for chunk in data.chunks(CHUNK) {
            out.clear();
            format(chunk, &mut out);
            black_box(&out);
        }
    })
}

fn bench_decode(enc: TextEncoding, data: &[u8]) -> (Duration, u64) {
    let mut out = String::with_capacity(CHUNK * 3);
    let mut invalid = 0;
    let time = best_of(|| {
        let mut decoder = StreamDecoder::new(enc);
        for chunk in data.chunks(CHUNK) {
            out.clear();
            decoder.decode(chunk, false, &mut out);
            black_box(&out);
        }
        decoder.decode(&[], true, &mut out);
        invalid = decoder.invalid_total();
    });
    (time, invalid)
}

fn main() {
    let seed = "你好服务端，我是客户端小黑! ok, 问题正在处理中... 信息已收到\r\n";
    let binary: Vec<u8> = (0..TOTAL)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();

    let mut copy_target = vec![0u8; TOTAL];
    let memcpy = best_of(|| {
        for (dst, src) in copy_target.chunks_mut(CHUNK).zip(binary.chunks(CHUNK)) {
            dst.copy_from_slice(src);
        }
        black_box(&copy_target);
    });
    let memcpy_rate = mb_per_s(TOTAL, memcpy);
    println!(
        "{:<34} {:>9.1} MB/s  (baseline)",
        "memcpy (copy_from_slice)", memcpy_rate
    );

    let report = |name: &str, time: Duration| {
        let rate = mb_per_s(TOTAL, time);
        println!(
            "{name:<34} {rate:>9.1} MB/s  {:>6.3}× memcpy",
            rate / memcpy_rate
        );
    };

    report(
        "hex spaced (format_spaced)",
        bench_format(&binary, hex::format_spaced),
    );
    report("hex dump (hexdump)", bench_format(&binary, hex::hexdump));

    for (name, enc) in [("GBK", TextEncoding::Gbk), ("UTF-8", TextEncoding::Utf8)] {
        let data = corpus(enc, seed, TOTAL);
        let (time, invalid) = bench_decode(enc, &data);
        report(&format!("{name} StreamDecoder, 64 KiB reads"), time);
        // Only the last, cut-off character of the corpus may be invalid.
        assert!(
            invalid <= 4,
            "{name}: {invalid} invalid bytes in valid text"
        );
    }
    let (time, invalid) = bench_decode(TextEncoding::Utf8, &corpus(TextEncoding::Gbk, seed, TOTAL));
    report("GBK bytes read as UTF-8 (invalid)", time);
    println!("  ({invalid} invalid bytes shown as \\xNN)");
    let (time, invalid) = bench_decode(TextEncoding::Gbk, &binary);
    report("binary read as GBK, StreamDecoder", time);
    println!("  ({invalid} invalid bytes shown as \\xNN)");
    let (time, invalid) = bench_decode(TextEncoding::Utf8, &binary);
    report("binary read as UTF-8, StreamDecoder", time);
    println!("  ({invalid} invalid bytes shown as \\xNN)");
    // What the store does when it stores a read now: count, and keep the carry.
    let mut counted = 0;
    let time = best_of(|| {
        let mut carry = lazy::Carry::default();
        counted = 0;
        for chunk in binary.chunks(CHUNK) {
            counted += lazy::scan(TextEncoding::Utf8, &mut carry, chunk, false);
        }
        black_box(counted);
    });
    report("binary read as UTF-8, lazy::scan (count only)", time);
    println!("  ({counted} invalid bytes counted)");
    // What the store does when it stores a read in GBK now: carry the unfinished
    // character through (no text, no count).
    for (name, enc, data) in [
        ("binary", TextEncoding::Gbk, binary.clone()),
        (
            "GBK text",
            TextEncoding::Gbk,
            corpus(TextEncoding::Gbk, seed, TOTAL),
        ),
    ] {
        let time = best_of(|| {
            let mut carry = lazy::Carry::default();
            for chunk in data.chunks(CHUNK) {
                carry = lazy::carry_through(enc, carry, chunk);
            }
            black_box(carry);
        });
        report(
            &format!("{name} in GBK, lazy::carry_through (stored)"),
            time,
        );
    }
}
