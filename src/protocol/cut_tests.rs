use std::time::{Duration, Instant};

use super::*;
use crate::codec::checksum::Checksum;
use crate::protocol::def::FrameChecksum;

/// xorshift64*, deterministic per seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A Modbus RTU read response from unit 1 with these registers.
fn rtu_response(registers: &[u16]) -> Vec<u8> {
    let mut f = vec![0x01, 0x03, (registers.len() * 2) as u8];
    for r in registers {
        f.extend_from_slice(&r.to_be_bytes());
    }
    Checksum::Crc16Modbus.append(&mut f);
    f
}

fn cut_all(def: &FrameDef, stream: &[u8], pieces: &[usize]) -> (Vec<Cut>, u64) {
    let mut cutter = FrameCutter::new(def.clone());
    let mut out = Vec::new();
    let now = Instant::now();
    let mut at = 0;
    for &len in pieces {
        cutter.push(&stream[at..at + len], now, &mut out);
        at += len;
    }
    cutter.push(&stream[at..], now, &mut out);
    cutter.finish(&mut out);
    (out, cutter.resyncs())
}

/// Random split points of `len` bytes (pieces of 1 byte up to ~1/4 of it).
fn split(rng: &mut Rng, len: usize) -> Vec<usize> {
    let mut pieces = Vec::new();
    let mut left = len;
    while left > 0 {
        let n = 1 + rng.below((len / 4).max(1)).min(left - 1);
        pieces.push(n);
        left -= n;
    }
    pieces
}

/// Property: however a stream of Modbus RTU responses (some with a corrupted CRC) is
/// split into reads, it is cut into exactly those frames, each judged right, and the
/// cuts put together give back the stream.
#[test]
fn rtu_frames_cut_right_however_split() {
    let def = FrameDef::modbus_rtu();
    for seed in 1..=300u64 {
        let mut rng = Rng(seed * 0x9E37_79B9);
        let mut stream = Vec::new();
        let mut expected = Vec::new();
        for _ in 0..(1 + rng.below(12)) {
            let regs: Vec<u16> = (0..1 + rng.below(20)).map(|_| rng.next() as u16).collect();
            let mut frame = rtu_response(&regs);
            let corrupt = rng.below(5) == 0;
            if corrupt {
                let i = 3 + rng.below(frame.len() - 3);
                frame[i] ^= 1 << rng.below(8);
            }
            stream.extend_from_slice(&frame);
            expected.push((frame, corrupt));
        }
        let pieces = split(&mut rng, stream.len());
        let (cuts, resyncs) = cut_all(&def, &stream, &pieces);
        assert_eq!(resyncs, 0, "seed {seed}");
        assert_eq!(cuts.len(), expected.len(), "seed {seed}: {cuts:?}");
        for (cut, (frame, corrupt)) in cuts.iter().zip(&expected) {
            assert_eq!(&cut.bytes, frame, "seed {seed}");
            assert_eq!(
                !cut.verdict.is_good(),
                *corrupt,
                "seed {seed}: {:?}",
                cut.verdict
            );
        }
        let joined: Vec<u8> = cuts.iter().flat_map(|c| c.bytes.clone()).collect();
        assert_eq!(joined, stream);
    }
}

/// A corrupted CRC says what was expected and what came.
#[test]
fn bad_crc_says_expected_and_found() {
    let mut frame = rtu_response(&[0x1234]);
    let n = frame.len();
    frame[n - 1] ^= 0xFF;
    let (cuts, _) = cut_all(&FrameDef::modbus_rtu(), &frame, &[]);
    let Verdict::BadChecksum { expected, found } = &cuts[0].verdict else {
        panic!("{cuts:?}")
    };
    assert_eq!(found, &frame[n - 2..]);
    assert_eq!(expected[1], found[1] ^ 0xFF);
    assert_eq!(expected[0], found[0]);
}

/// A sync-framed protocol (AA 55, u8 length of the body, XOR8 over everything before
/// it): garbage between frames is cut as NoSync and counted once per run; frames are
/// found again right after it, however the stream is split.
#[test]
fn garbage_before_sync_is_shown_and_counted() {
    let def = FrameDef {
        name: "t".into(),
        sync: vec![0xAA, 0x55],
        length: FrameLength::Field {
            offset: 2,
            width: 1,
            endian: Endian::Big,
            counts: LengthCounts::AfterField,
            adjust: 1,
        },
        idle_gap_ms: None,
        checksum: Some(FrameChecksum {
            kind: Checksum::Xor8,
            from: 0,
            trailer: 0,
            endian: None,
        }),
        max_len: 64,
        fields: Vec::new(),
    };
    let frame = |body: &[u8]| {
        let mut f = vec![0xAA, 0x55, body.len() as u8];
        f.extend_from_slice(body);
        Checksum::Xor8.append(&mut f);
        f
    };
    let mut stream = frame(b"one");
    stream.extend_from_slice(&[0x00, 0xAA, 0x13, 0x37]); // garbage, with a lone AA
    stream.extend(frame(b"two"));
    stream.extend(frame(b""));
    stream.extend_from_slice(b"xyz");
    stream.extend(frame(b"three"));
    for seed in 1..=100 {
        let mut rng = Rng(seed);
        let (cuts, resyncs) = cut_all(&def, &stream, &split(&mut rng, stream.len()));
        let good: Vec<_> = cuts
            .iter()
            .filter(|c| c.verdict.is_good())
            .map(|c| c.bytes[3..c.bytes.len() - 1].to_vec())
            .collect();
        assert_eq!(good, [&b"one"[..], b"two", b"", b"three"], "{cuts:?}");
        assert_eq!(resyncs, 2, "{cuts:?}");
        assert!(
            cuts.iter()
                .all(|c| c.verdict.is_good() || c.verdict == Verdict::NoSync)
        );
        let joined: Vec<u8> = cuts.iter().flat_map(|c| c.bytes.clone()).collect();
        assert_eq!(joined, stream);
    }
}

/// A length no frame can have is shown with its value, and the cutter starts again at
/// the next sync.
#[test]
fn impossible_length_then_resync() {
    let mut def = FrameDef::u16_length_prefix();
    def.sync = vec![0x7E];
    def.length = FrameLength::Field {
        offset: 1,
        width: 2,
        endian: Endian::Big,
        counts: LengthCounts::AfterField,
        adjust: 0,
    };
    def.max_len = 32;
    let mut stream = vec![0x7E, 0x10, 0x00, 1, 2, 3]; // says 4096 bytes
    stream.extend_from_slice(&[0x7E, 0x00, 0x02, b'o', b'k']);
    let (cuts, resyncs) = cut_all(&def, &stream, &[]);
    assert_eq!(cuts[0].verdict, Verdict::BadLength { value: 0x1000 });
    assert_eq!(cuts[0].bytes, [0x7E, 0x10, 0x00, 1, 2, 3]);
    assert_eq!(cuts[1].verdict, Verdict::Good);
    assert_eq!(cuts[1].bytes, [0x7E, 0x00, 0x02, b'o', b'k']);
    assert_eq!(resyncs, 1);
}

/// Modbus TCP: the MBAP length counts the unit id and PDU.
#[test]
fn modbus_tcp_mbap() {
    let def = FrameDef::modbus_tcp();
    let frame = [0x00, 0x07, 0, 0, 0x00, 0x05, 0x01, 0x03, 0x02, 0x01, 0x2C];
    let mut stream = frame.to_vec();
    stream.extend_from_slice(&frame);
    let (cuts, _) = cut_all(&def, &stream, &[3, 7, 2]);
    assert_eq!(cuts.len(), 2);
    assert!(cuts.iter().all(|c| c.bytes == frame && c.verdict.is_good()));
    let reg = def.fields.iter().find(|f| f.name == "register 0").unwrap();
    assert_eq!(reg.read(&cuts[0].bytes).unwrap().raw, 300.0);
}

/// Text lines, and a terminator with a checksum before a trailer ("...*hh\r\n" style
/// with SUM8 as one raw byte).
#[test]
fn terminators_and_trailers() {
    let (cuts, _) = cut_all(&FrameDef::text_lines(), b"a\r\nbb\nccc", &[1, 3]);
    let got: Vec<_> = cuts.iter().map(|c| c.bytes.clone()).collect();
    assert_eq!(got, [&b"a\r\n"[..], b"bb\n", b"ccc"]);
    let mut def = FrameDef::text_lines();
    def.checksum = Some(FrameChecksum {
        kind: Checksum::Sum8,
        from: 1,
        trailer: 1,
        endian: None,
    });
    let mut good = b"$abc".to_vec();
    good.push(crate::codec::checksum::sum8(b"abc"));
    good.push(b'\n');
    let mut bad = good.clone();
    bad[1] = b'x';
    let mut stream = good.clone();
    stream.extend_from_slice(&bad);
    let (cuts, _) = cut_all(&def, &stream, &[]);
    assert!(cuts[0].verdict.is_good(), "{cuts:?}");
    assert!(matches!(cuts[1].verdict, Verdict::BadChecksum { .. }));
}

/// The idle gap ends a frame cut short, and a line without its terminator; a line
/// longer than the longest frame is cut at that length.
#[test]
fn idle_gap_and_too_long() {
    let mut def = FrameDef::modbus_rtu();
    def.idle_gap_ms = Some(20);
    let mut cutter = FrameCutter::new(def);
    let t0 = Instant::now();
    let mut out = Vec::new();
    cutter.push(&[0x01, 0x03, 0x04, 0x00], t0, &mut out);
    cutter.poll(t0 + Duration::from_millis(10), &mut out);
    assert!(out.is_empty());
    cutter.poll(t0 + Duration::from_millis(25), &mut out);
    assert_eq!(out[0].verdict, Verdict::Short { expected: Some(9) });
    assert_eq!(cutter.resyncs(), 1);
    // The next response is cut right again.
    out.clear();
    cutter.push(
        &rtu_response(&[7]),
        t0 + Duration::from_millis(30),
        &mut out,
    );
    assert!(out[0].verdict.is_good());

    let mut lines = FrameDef::text_lines();
    lines.idle_gap_ms = Some(20);
    lines.max_len = 8;
    let mut cutter = FrameCutter::new(lines);
    out.clear();
    cutter.push(b"partial", t0, &mut out);
    cutter.poll(t0 + Duration::from_millis(30), &mut out);
    assert_eq!(out[0].bytes, b"partial");
    assert!(out[0].verdict.is_good());
    out.clear();
    cutter.push(b"0123456789\n", t0, &mut out);
    assert_eq!(out[0].verdict, Verdict::TooLong);
    assert_eq!(out[0].bytes, b"01234567");
}

/// Presets are usable and survive JSON.
#[test]
fn presets_round_trip_json() {
    for def in FrameDef::presets() {
        assert_eq!(def.problem(), None, "{}", def.name);
        let json = serde_json::to_string(&def).unwrap();
        let back: FrameDef = serde_json::from_str(&json).unwrap();
        assert_eq!(back, def);
    }
    let mut def = FrameDef::text_lines();
    def.sync = vec![0xAA, 0x55];
    let json = serde_json::to_string(&def).unwrap();
    assert!(json.contains("\"AA 55\""), "{json}");
    assert!(json.contains("\"0A\""), "{json}");
}
