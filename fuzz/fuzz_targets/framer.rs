//! Fuzzes `codec::framing::Framer`: for the stream-defined modes, any cutting of the
//! stream into reads gives the same frames as one read; in every mode the frames put
//! together are the stream and nothing pending exceeds `max_frame`.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../../src/codec/mod.rs"]
mod codec;

use codec::framing::{FrameMode, FrameOut, Framer};

fn concat(frames: &[FrameOut]) -> Vec<u8> {
    frames
        .iter()
        .flat_map(|f| match f {
            FrameOut::Frame(b) | FrameOut::Oversize { bytes: b, .. } => b.clone(),
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 6 {
        return;
    }
    let (head, rest) = data.split_at(6);
    let max_frame = usize::from(head[1] % 64) + 1;
    let mode = match head[0] % 6 {
        0 => FrameMode::Delimiter(head[2..2 + usize::from(head[2] % 3) + 1].to_vec()),
        1 => FrameMode::FixedLength(usize::from(head[2] % 40)),
        2 => FrameMode::LengthPrefix {
            width: head[2] % 10,
            big_endian: head[3] & 1 != 0,
            header: usize::from(head[3] >> 1) % 5,
            includes_header: head[3] & 0x80 != 0,
        },
        3 => FrameMode::AsRead,
        4 => FrameMode::IdleGap(Duration::from_millis(u64::from(head[2]))),
        _ => FrameMode::Delimiter(Vec::new()),
    };
    // Cut points come from the stream itself so they are varied and reproducible.
    let step = usize::from(head[4] % 17) + 1;
    let stream = rest;
    let t0 = Instant::now();

    let mut whole = Framer::new(mode.clone(), max_frame);
    let mut expected = Vec::new();
    whole.push(stream, t0, &mut expected);
    whole.finish(&mut expected);
    assert_eq!(concat(&expected), stream);

    let mut cut = Framer::new(mode.clone(), max_frame);
    let mut got = Vec::new();
    let mut at = 0;
    let mut tick = 0u64;
    while at < stream.len() {
        let len = (usize::from(stream[at]) % step + 1).min(stream.len() - at);
        tick += u64::from(head[5] % 50);
        let now = t0 + Duration::from_millis(tick);
        cut.poll(now, &mut got);
        cut.push(&stream[at..at + len], now, &mut got);
        assert!(cut.pending_len() <= cut.max_frame());
        at += len;
    }
    cut.finish(&mut got);
    assert_eq!(concat(&got), stream);
    for f in &got {
        match f {
            FrameOut::Frame(b) => assert!(!b.is_empty() && b.len() <= cut.max_frame()),
            FrameOut::Oversize { bytes, .. } => {
                assert!(!bytes.is_empty() && bytes.len() <= cut.max_frame())
            }
        }
    }
    if !matches!(mode, FrameMode::AsRead | FrameMode::IdleGap(_))
        && mode != FrameMode::Delimiter(Vec::new())
        && mode != FrameMode::FixedLength(0)
    {
        assert_eq!(got, expected);
    }
});
