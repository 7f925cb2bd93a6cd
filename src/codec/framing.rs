//! Cutting a received byte stream into messages.
//!
//! TCP delivers a stream, not messages: one `send` may arrive as two reads and two
//! `send`s as one. A [`Framer`] per connection and direction puts the messages back
//! together by the rule the user picks ([`FrameMode`]). For every mode except
//! [`FrameMode::AsRead`] and [`FrameMode::IdleGap`] (which are about reads and time by
//! definition) the frames do not depend on how the stream was cut into reads.
//!
//! Nothing is dropped: concatenating everything a framer emits gives back the stream.
//! Nothing grows without bound either: a frame longer than `max_frame` is emitted as
//! [`FrameOut::Oversize`] pieces of `max_frame` bytes as soon as it is known to be too
//! long, so a peer that never sends the delimiter cannot make us buffer gigabytes.

use std::time::{Duration, Instant};

/// How a stream is cut into frames.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrameMode {
    /// Each read is one frame (what the socket happened to deliver).
    AsRead,
    /// A frame ends just after each occurrence of these bytes (e.g. `b"\r\n"`); the
    /// delimiter stays in the frame, so no byte is hidden. Searching is leftmost and
    /// non-overlapping. An empty delimiter behaves like `AsRead`.
    Delimiter(Vec<u8>),
    /// A frame ends when no byte has arrived for this long (see [`Framer::poll`]).
    IdleGap(Duration),
    /// Every frame is this many bytes. Zero behaves like `AsRead`.
    FixedLength(usize),
    /// A frame is `header` bytes, then a `width`-byte unsigned length, then a body.
    LengthPrefix {
        /// Size of the length field: 1, 2 or 4 usually; 1..=8 accepted, 0 is taken as
        /// 1 and anything above 8 as 8.
        width: u8,
        /// The length field is big-endian (network order); false: little-endian.
        big_endian: bool,
        /// Bytes before the length field (e.g. 4 for a Modbus TCP MBAP header: the
        /// transaction and protocol ids), part of the frame.
        header: usize,
        /// The length counts the whole frame (header, length field and body); false: it
        /// counts only the body after the length field. A whole-frame length shorter than
        /// header + width is taken as header + width, so the framer moves on instead of
        /// stalling.
        includes_header: bool,
    },
}

/// What a [`Framer`] emits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrameOut {
    /// One complete message (or, from [`Framer::finish`], what was left of one).
    Frame(Vec<u8>),
    /// A piece of a message longer than `max_frame`. Pieces are `max_frame` bytes except
    /// the last; together they are the whole message, so nothing is lost.
    Oversize {
        /// How many bytes of this oversize message have been emitted so far, including
        /// this piece; on the last piece, the message's length.
        len: usize,
        /// The piece's bytes.
        bytes: Vec<u8>,
    },
}

/// Streaming framer for one connection and direction.
#[derive(Clone, Debug)]
pub struct Framer {
    mode: FrameMode,
    max_frame: usize,
    /// Received bytes; `buf[start..]` is not yet emitted. In `Delimiter` mode a few
    /// already-emitted bytes of the current frame stay before `start`, so a delimiter
    /// that straddles an oversize piece boundary is still found.
    buf: Vec<u8>,
    start: usize,
    /// Bytes of the current frame already emitted as `Oversize` pieces.
    emitted: usize,
    /// `Delimiter`: index in `buf` from which to resume searching.
    scan: usize,
    /// `LengthPrefix`: the total length of the current frame once its header is read.
    frame_total: Option<usize>,
    /// `IdleGap`: when the last byte arrived.
    last_rx: Option<Instant>,
}

impl Framer {
    /// A framer cutting by `mode`; frames longer than `max_frame` bytes (at least 1) come
    /// out as `Oversize` pieces. For `LengthPrefix` the limit is raised to header + width
    /// when smaller, since the length must be read before anything can be decided.
    pub fn new(mode: FrameMode, max_frame: usize) -> Self {
        let mut max_frame = max_frame.max(1);
        if let FrameMode::LengthPrefix { width, header, .. } = &mode {
            max_frame = max_frame.max(header.saturating_add(clamp_width(*width)));
        }
        Framer {
            mode,
            max_frame,
            buf: Vec::new(),
            start: 0,
            emitted: 0,
            scan: 0,
            frame_total: None,
            last_rx: None,
        }
    }

    /// The rule this framer cuts by.
    pub fn mode(&self) -> &FrameMode {
        &self.mode
    }

    /// The largest frame emitted whole.
    pub fn max_frame(&self) -> usize {
        self.max_frame
    }

    /// Bytes received but not yet emitted.
    pub fn pending_len(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Feeds a chunk received at `now`; complete frames are pushed to `out`.
    ///
    /// After this returns at most `max_frame` bytes are pending.
    pub fn push(&mut self, bytes: &[u8], now: Instant, out: &mut Vec<FrameOut>) {
        if let FrameMode::IdleGap(gap) = self.mode {
            // The gap before this chunk ends the previous frame.
            self.poll_gap(gap, now, out);
        }
        if bytes.is_empty() {
            return;
        }
        self.last_rx = Some(now);
        self.compact();
        self.buf.extend_from_slice(bytes);
        match &self.mode {
            FrameMode::AsRead => self.take_all(out),
            FrameMode::Delimiter(delimiter) if delimiter.is_empty() => self.take_all(out),
            FrameMode::FixedLength(0) => self.take_all(out),
            FrameMode::Delimiter(_) => self.take_delimited(out),
            FrameMode::IdleGap(_) => self.take_oversize_pieces(out),
            &FrameMode::FixedLength(len) => while self.take_sized(len, out) {},
            FrameMode::LengthPrefix { .. } => while self.take_length_prefixed(out) {},
        }
    }

    /// For `IdleGap`: emits the pending frame if more than the gap has passed since the
    /// last byte. Call it regularly (e.g. from the read loop's timeout). Other modes:
    /// nothing.
    pub fn poll(&mut self, now: Instant, out: &mut Vec<FrameOut>) {
        if let FrameMode::IdleGap(gap) = self.mode {
            self.poll_gap(gap, now, out);
        }
    }

    /// The stream ended: emits what is pending as a (possibly partial) frame and starts
    /// afresh.
    pub fn finish(&mut self, out: &mut Vec<FrameOut>) {
        self.take_all(out);
        self.reset();
    }

    /// Forgets everything pending (without emitting it).
    pub fn reset(&mut self) {
        self.buf.clear();
        self.start = 0;
        self.emitted = 0;
        self.scan = 0;
        self.frame_total = None;
        self.last_rx = None;
    }

    fn poll_gap(&mut self, gap: Duration, now: Instant, out: &mut Vec<FrameOut>) {
        if let Some(last) = self.last_rx {
            if now.saturating_duration_since(last) >= gap {
                self.take_all(out);
            }
        }
    }

    /// Drops emitted bytes from the front of the buffer, once per push so the cost is
    /// linear in the data, keeping what a straddling delimiter may still need.
    fn compact(&mut self) {
        let keep = match &self.mode {
            FrameMode::Delimiter(d) => (d.len().saturating_sub(1)).min(self.emitted),
            _ => 0,
        }
        .min(self.start);
        let drop = self.start - keep;
        if drop > 0 {
            self.buf.drain(..drop);
            self.start -= drop;
            self.scan = self.scan.saturating_sub(drop);
        }
    }

    /// Emits the next `len` pending bytes. `end` means they finish the current frame.
    fn emit(&mut self, len: usize, end: bool, out: &mut Vec<FrameOut>) {
        let bytes = self.buf[self.start..self.start + len].to_vec();
        self.start += len;
        if end && self.emitted == 0 && len <= self.max_frame {
            out.push(FrameOut::Frame(bytes));
        } else {
            self.emitted += len;
            out.push(FrameOut::Oversize {
                len: self.emitted,
                bytes,
            });
        }
        if end {
            self.emitted = 0;
        }
    }

    /// Emits the `rest` bytes that end the current frame, cut into `max_frame` pieces
    /// when too long.
    fn emit_frame_end(&mut self, mut rest: usize, out: &mut Vec<FrameOut>) {
        while rest > self.max_frame {
            self.emit(self.max_frame, false, out);
            rest -= self.max_frame;
        }
        if rest > 0 {
            self.emit(rest, true, out);
        } else {
            self.emitted = 0;
        }
    }

    /// Emits everything pending as the end of the current frame.
    fn take_all(&mut self, out: &mut Vec<FrameOut>) {
        let pending = self.pending_len();
        if pending > 0 || self.emitted > 0 {
            self.emit_frame_end(pending, out);
        }
        self.frame_total = None;
        self.scan = self.start;
    }

    /// The current frame is already known to be longer than what is pending plus what
    /// was emitted: emit full pieces while more than `max_frame` bytes are pending.
    fn take_oversize_pieces(&mut self, out: &mut Vec<FrameOut>) {
        while self.pending_len() > self.max_frame {
            self.emit(self.max_frame, false, out);
        }
    }

    fn take_delimited(&mut self, out: &mut Vec<FrameOut>) {
        let FrameMode::Delimiter(delimiter) = &self.mode else {
            return;
        };
        let delimiter = delimiter.clone();
        let overlap = delimiter.len() - 1;
        loop {
            // Bytes of this frame still in the buffer before `start` (already emitted).
            let lo = self.start - overlap.min(self.emitted).min(self.start);
            let from = self.scan.max(lo);
            match find(&self.buf[from..], &delimiter) {
                Some(at) => {
                    let end = from + at + delimiter.len();
                    // Pieces are only emitted while no delimiter ends within them, so the
                    // end is past `start`; saturate anyway rather than underflow.
                    let rest = end.saturating_sub(self.start);
                    self.emit_frame_end(rest, out);
                    self.scan = self.start;
                }
                None => {
                    // No delimiter ends anywhere in the buffer, so the frame is longer
                    // than everything pending.
                    self.scan = self.buf.len().saturating_sub(overlap).max(lo);
                    self.take_oversize_pieces(out);
                    return;
                }
            }
        }
    }

    /// Takes one frame of `total` bytes if it can; true when a frame was completed.
    fn take_sized(&mut self, total: usize, out: &mut Vec<FrameOut>) -> bool {
        let rest = total - self.emitted.min(total);
        if self.pending_len() >= rest {
            self.emit_frame_end(rest, out);
            true
        } else {
            self.take_oversize_pieces(out);
            false
        }
    }

    fn take_length_prefixed(&mut self, out: &mut Vec<FrameOut>) -> bool {
        let FrameMode::LengthPrefix {
            width,
            big_endian,
            header,
            includes_header,
        } = self.mode
        else {
            return false;
        };
        let width = clamp_width(width);
        let total = match self.frame_total {
            Some(total) => total,
            None => {
                let head = header.saturating_add(width);
                if self.pending_len() < head {
                    return false;
                }
                let field = &self.buf[self.start + header..self.start + head];
                let value = field.iter().enumerate().fold(0u64, |acc, (i, &b)| {
                    let shift = if big_endian { width - 1 - i } else { i };
                    acc | u64::from(b) << (8 * shift)
                });
                let value = usize::try_from(value).unwrap_or(usize::MAX);
                let total = if includes_header {
                    value.max(head)
                } else {
                    head.saturating_add(value)
                };
                self.frame_total = Some(total);
                total
            }
        };
        let done = self.take_sized(total, out);
        if done {
            self.frame_total = None;
        }
        done
    }
}

/// The length-field width actually used for a requested one.
fn clamp_width(width: u8) -> usize {
    usize::from(width.clamp(1, 8))
}

/// Index of the first occurrence of `needle` (non-empty) in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    match needle {
        [] => Some(0),
        [byte] => haystack.iter().position(|b| b == byte),
        [first, rest @ ..] => {
            let mut offset = 0;
            while let Some(i) = haystack[offset..].iter().position(|b| b == first) {
                let at = offset + i;
                if haystack[at + 1..].starts_with(rest) {
                    return Some(at);
                }
                offset = at + 1;
            }
            None
        }
    }
}

#[cfg(test)]
// Tests may panic on a broken expectation: that is how they fail.
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn frames(framer: &mut Framer, chunks: &[&[u8]]) -> Vec<FrameOut> {
        let now = Instant::now();
        let mut out = Vec::new();
        for chunk in chunks {
            framer.push(chunk, now, &mut out);
        }
        out
    }

    fn frame(bytes: &[u8]) -> FrameOut {
        FrameOut::Frame(bytes.to_vec())
    }

    /// Each read is a frame.
    #[test]
    fn as_read() {
        let mut f = Framer::new(FrameMode::AsRead, 1024);
        assert_eq!(
            frames(&mut f, &[b"ab", b"", b"c"]),
            [frame(b"ab"), frame(b"c")]
        );
        assert_eq!(f.pending_len(), 0);
    }

    /// CRLF-delimited lines, split inside the delimiter, with the delimiter kept.
    #[test]
    fn delimiter() {
        let mut f = Framer::new(FrameMode::Delimiter(b"\r\n".to_vec()), 1024);
        let out = frames(&mut f, &[b"hello\r", b"\nwor", b"ld\r\n\r\nx"]);
        assert_eq!(
            out,
            [frame(b"hello\r\n"), frame(b"world\r\n"), frame(b"\r\n")]
        );
        assert_eq!(f.pending_len(), 1);
        let mut rest = Vec::new();
        f.finish(&mut rest);
        assert_eq!(rest, [frame(b"x")]);
        assert_eq!(f.pending_len(), 0);
        // Any hex bytes work as a delimiter.
        let mut f = Framer::new(FrameMode::Delimiter(vec![0x7E]), 1024);
        assert_eq!(
            frames(&mut f, &[&[1, 0x7E, 2, 3, 0x7E]]),
            [frame(&[1, 0x7E]), frame(&[2, 3, 0x7E])]
        );
    }

    /// A peer that never sends the delimiter costs at most `max_frame` of memory, and
    /// every byte still comes out.
    #[test]
    fn oversize_is_reported_not_buffered() {
        let mut f = Framer::new(FrameMode::Delimiter(b"\n".to_vec()), 4);
        let out = frames(&mut f, &[b"abcdefghij", b"k\nxy"]);
        assert_eq!(
            out,
            [
                FrameOut::Oversize {
                    len: 4,
                    bytes: b"abcd".to_vec()
                },
                FrameOut::Oversize {
                    len: 8,
                    bytes: b"efgh".to_vec()
                },
                FrameOut::Oversize {
                    len: 12,
                    bytes: b"ijk\n".to_vec()
                },
            ]
        );
        assert_eq!(f.pending_len(), 2);
        let mut f = Framer::new(FrameMode::Delimiter(b"\n".to_vec()), 16);
        let now = Instant::now();
        let mut out = Vec::new();
        for _ in 0..1000 {
            f.push(&[b'a'; 100], now, &mut out);
            assert!(f.pending_len() <= 16);
        }
        // A frame of exactly max_frame is a normal frame.
        let mut f = Framer::new(FrameMode::Delimiter(b"\r\n".to_vec()), 4);
        assert_eq!(frames(&mut f, &[b"ab\r\n"]), [frame(b"ab\r\n")]);
        // A delimiter straddling an oversize piece boundary still ends the frame.
        let mut f = Framer::new(FrameMode::Delimiter(b"\r\n".to_vec()), 4);
        assert_eq!(
            frames(&mut f, &[b"abcd\r", b"\nz"]),
            [
                FrameOut::Oversize {
                    len: 4,
                    bytes: b"abcd".to_vec()
                },
                FrameOut::Oversize {
                    len: 6,
                    bytes: b"\r\n".to_vec()
                },
            ]
        );
    }

    /// Fixed-length frames assembled across reads.
    #[test]
    fn fixed_length() {
        let mut f = Framer::new(FrameMode::FixedLength(3), 1024);
        assert_eq!(
            frames(&mut f, &[b"ab", b"cdefg"]),
            [frame(b"abc"), frame(b"def")]
        );
        assert_eq!(f.pending_len(), 1);
        let mut f = Framer::new(FrameMode::FixedLength(5), 2);
        let out = frames(&mut f, &[b"abcdefg"]);
        assert_eq!(out.len(), 3);
        assert_eq!(
            out[2],
            FrameOut::Oversize {
                len: 5,
                bytes: b"e".to_vec()
            }
        );
    }

    /// Length prefixes: widths, byte orders, headers, whole-frame lengths.
    #[test]
    fn length_prefix() {
        let mode = |width, big_endian, header, includes_header| FrameMode::LengthPrefix {
            width,
            big_endian,
            header,
            includes_header,
        };
        let mut f = Framer::new(mode(1, true, 0, false), 1024);
        assert_eq!(
            frames(&mut f, &[&[2, b'h'], &[b'i', 0, 1]]),
            [frame(&[2, b'h', b'i']), frame(&[0])]
        );
        let mut f = Framer::new(mode(2, true, 0, false), 1024);
        assert_eq!(frames(&mut f, &[&[0, 1, 9, 0]]), [frame(&[0, 1, 9])]);
        let mut f = Framer::new(mode(2, false, 0, false), 1024);
        assert_eq!(frames(&mut f, &[&[1, 0, 9]]), [frame(&[1, 0, 9])]);
        let mut f = Framer::new(mode(4, false, 0, false), 1024);
        assert_eq!(
            frames(&mut f, &[&[1, 0, 0, 0, 7]]),
            [frame(&[1, 0, 0, 0, 7])]
        );
        // Modbus TCP: 2-byte transaction id, 2-byte protocol id, then a length.
        let mbap = [
            0x00, 0x01, 0x00, 0x00, 0x00, 0x06, 0x01, 0x03, 0x00, 0x00, 0x00, 0x01,
        ];
        let mut f = Framer::new(mode(2, true, 4, false), 1024);
        assert_eq!(frames(&mut f, &[&mbap[..5], &mbap[5..]]), [frame(&mbap)]);
        // Whole-frame length, including a too-short one that must not stall.
        let mut f = Framer::new(mode(1, true, 1, true), 1024);
        assert_eq!(
            frames(&mut f, &[&[0xAA, 3, 9, 0xBB, 0, 0xCC]]),
            [frame(&[0xAA, 3, 9]), frame(&[0xBB, 0])]
        );
        // An absurd length is an oversize frame, emitted as it arrives.
        let mut f = Framer::new(mode(4, true, 0, false), 8);
        let out = frames(&mut f, &[&[0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4, 5, 6]]);
        assert_eq!(
            out,
            [FrameOut::Oversize {
                len: 8,
                bytes: vec![0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4]
            }]
        );
        assert_eq!(f.pending_len(), 2);
    }

    /// Idle gap: a pause ends the frame, on the next read or on poll.
    #[test]
    fn idle_gap() {
        let gap = Duration::from_millis(20);
        let t0 = Instant::now();
        let mut f = Framer::new(FrameMode::IdleGap(gap), 1024);
        let mut out = Vec::new();
        f.push(b"ab", t0, &mut out);
        f.push(b"cd", t0 + Duration::from_millis(5), &mut out);
        f.poll(t0 + Duration::from_millis(10), &mut out);
        assert!(out.is_empty());
        f.push(b"ef", t0 + Duration::from_millis(40), &mut out);
        assert_eq!(out, [frame(b"abcd")]);
        f.poll(t0 + Duration::from_millis(59), &mut out);
        assert_eq!(out.len(), 1);
        f.poll(t0 + Duration::from_millis(60), &mut out);
        assert_eq!(out, [frame(b"abcd"), frame(b"ef")]);
        f.poll(t0 + Duration::from_millis(100), &mut out);
        assert_eq!(out.len(), 2);
        // Bounded while the peer never pauses.
        let mut f = Framer::new(FrameMode::IdleGap(gap), 3);
        let mut out = Vec::new();
        f.push(b"abcdefg", t0, &mut out);
        assert_eq!(f.pending_len(), 1);
        f.poll(t0 + gap, &mut out);
        assert_eq!(
            out.last(),
            Some(&FrameOut::Oversize {
                len: 7,
                bytes: b"g".to_vec()
            })
        );
    }

    fn any_mode() -> impl Strategy<Value = FrameMode> {
        prop_oneof![
            proptest::collection::vec(proptest::sample::select(vec![0u8, 1, 0x0D, 0x0A]), 1..4)
                .prop_map(FrameMode::Delimiter),
            (1usize..12).prop_map(FrameMode::FixedLength),
            (1u8..5, any::<bool>(), 0usize..3, any::<bool>()).prop_map(
                |(width, big_endian, header, includes_header)| FrameMode::LengthPrefix {
                    width,
                    big_endian,
                    header,
                    includes_header,
                }
            ),
        ]
    }

    fn concat(frames: &[FrameOut]) -> Vec<u8> {
        frames
            .iter()
            .flat_map(|f| match f {
                FrameOut::Frame(b) | FrameOut::Oversize { bytes: b, .. } => b.clone(),
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 256,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        /// Any stream cut at any points gives the same frames as the uncut stream, and
        /// the frames put together are the stream.
        #[test]
        fn cut_invariant(
            mode in any_mode(),
            max_frame in 1usize..20,
            // Small alphabet so delimiters and small lengths actually occur.
            stream in proptest::collection::vec(proptest::sample::select(vec![0u8, 1, 2, 3, 0x0D, 0x0A, 0xFF]), 0..200),
            cuts in proptest::collection::vec(0usize..200, 0..12),
        ) {
            let now = Instant::now();
            let mut whole = Framer::new(mode.clone(), max_frame);
            let mut expected = Vec::new();
            whole.push(&stream, now, &mut expected);
            whole.finish(&mut expected);

            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(stream.len())).collect();
            cuts.sort_unstable();
            let mut cut = Framer::new(mode, max_frame);
            let mut got = Vec::new();
            let mut prev = 0;
            for c in cuts.into_iter().chain([stream.len()]) {
                cut.push(&stream[prev..c], now, &mut got);
                prop_assert!(cut.pending_len() <= cut.max_frame());
                prev = c;
            }
            cut.finish(&mut got);
            prop_assert_eq!(&got, &expected);
            prop_assert_eq!(concat(&got), stream);
            for f in &got {
                match f {
                    FrameOut::Frame(b) => prop_assert!(!b.is_empty() && b.len() <= cut.max_frame()),
                    FrameOut::Oversize { bytes, .. } => prop_assert!(!bytes.is_empty() && bytes.len() <= cut.max_frame()),
                }
            }
        }
    }
}
