//! Cutting a received stream into frames by a [`FrameDef`] ([`FrameCutter`]), each with
//! a [`Verdict`]: good, bad checksum, impossible length, cut short, bytes before a sync.
//!
//! Like `codec::framing`, nothing is dropped (concatenating every [`Cut`] gives back the
//! stream) and nothing grows without bound (at most `max_len` bytes wait). Except for
//! the idle-gap fallback, which is about time by definition, the cuts do not depend on
//! how the stream was split into reads.

use std::time::Instant;

use crate::codec::checksum::Checksum;

use super::def::{Endian, FrameChecksum, FrameDef, FrameLength, LengthCounts};

/// What the cutter thinks of a frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// A whole frame whose checksum (if any) is right.
    Good,
    /// A whole frame whose checksum is wrong.
    BadChecksum {
        /// What the covered bytes sum to, as it would be on the wire.
        expected: Vec<u8>,
        /// What the frame carries.
        found: Vec<u8>,
    },
    /// The length field says something no frame can be (shorter than the field itself,
    /// or longer than the longest frame); the bytes up to the next sync are shown with
    /// it and the cutter starts again there.
    BadLength {
        /// The length field's value.
        value: u64,
    },
    /// What was pending when the idle gap passed or the stream ended, shorter than the
    /// frame it started.
    Short {
        /// The frame's length, when it was known.
        expected: Option<usize>,
    },
    /// Bytes before the sync bytes (garbage, or the tail of a frame we joined late).
    NoSync,
    /// No terminator within the longest frame.
    TooLong,
}

impl std::fmt::Display for Verdict {
    /// The verdict in English ("good", "bad checksum: expected 12 34, found 56 78", …).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::codec::hex::to_spaced;
        match self {
            Verdict::Good => write!(f, "good"),
            Verdict::BadChecksum { expected, found } => write!(
                f,
                "bad checksum: expected {}, found {}",
                to_spaced(expected),
                to_spaced(found)
            ),
            Verdict::BadLength { value } => {
                write!(f, "impossible length {value}: looking for the next frame")
            }
            Verdict::Short { expected: Some(n) } => write!(f, "cut short ({n} bytes expected)"),
            Verdict::Short { expected: None } => write!(f, "cut short"),
            Verdict::NoSync => write!(f, "no sync bytes: skipped"),
            Verdict::TooLong => write!(f, "too long: no end within the longest frame"),
        }
    }
}

impl Verdict {
    /// True for a good frame.
    pub fn is_good(&self) -> bool {
        matches!(self, Verdict::Good)
    }
}

/// One piece of the stream as the cutter cut it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cut {
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// What it is.
    pub verdict: Verdict,
}

/// Streaming cutter for one connection and direction.
#[derive(Clone, Debug)]
pub struct FrameCutter {
    def: FrameDef,
    buf: Vec<u8>,
    start: usize,
    last_rx: Option<Instant>,
    /// Times the cutter lost the frame boundary and looked for the next one.
    resyncs: u64,
    /// The previous cut was garbage (one resync per run of garbage).
    lost: bool,
}

impl FrameCutter {
    /// A cutter for `def` (check [`FrameDef::problem`] first: a definition with a
    /// problem still cuts, but not usefully).
    pub fn new(def: FrameDef) -> FrameCutter {
        FrameCutter {
            def,
            buf: Vec::new(),
            start: 0,
            last_rx: None,
            resyncs: 0,
            lost: false,
        }
    }

    /// The definition it cuts by.
    pub fn def(&self) -> &FrameDef {
        &self.def
    }

    /// How many times it lost the frame boundary (garbage before a sync, an impossible
    /// length, a frame cut short by the gap) and started again.
    pub fn resyncs(&self) -> u64 {
        self.resyncs
    }

    /// Bytes received and not cut yet.
    pub fn pending_len(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Feeds bytes received at `now`; what they complete is pushed to `out`.
    pub fn push(&mut self, bytes: &[u8], now: Instant, out: &mut Vec<Cut>) {
        self.poll(now, out);
        if bytes.is_empty() {
            return;
        }
        self.last_rx = Some(now);
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
        while self.step(out) {}
    }

    /// The idle-gap fallback: when the gap has passed since the last byte, what is
    /// pending is cut as a frame. Call it regularly; without a gap it does nothing.
    pub fn poll(&mut self, now: Instant, out: &mut Vec<Cut>) {
        let (Some(gap), Some(last)) = (self.def.idle_gap(), self.last_rx) else {
            return;
        };
        if self.pending_len() > 0 && now.saturating_duration_since(last) >= gap {
            self.cut_pending(out);
        }
    }

    /// The stream ended: what is pending is cut.
    pub fn finish(&mut self, out: &mut Vec<Cut>) {
        if self.pending_len() > 0 {
            self.cut_pending(out);
        }
        self.buf.clear();
        self.start = 0;
        self.last_rx = None;
    }

    /// Cuts everything pending: under a terminator rule it is a frame the gap (or the
    /// end) finished, checked like any other; otherwise a frame cut short.
    fn cut_pending(&mut self, out: &mut Vec<Cut>) {
        let bytes = self.buf[self.start..].to_vec();
        self.start = self.buf.len();
        let verdict = match &self.def.length {
            FrameLength::Terminator { .. } => check(&self.def.checksum, &bytes),
            FrameLength::Fixed { len } => Verdict::Short {
                expected: Some(*len),
            },
            FrameLength::Field { .. } => Verdict::Short {
                expected: self.field_total(&bytes).ok().flatten(),
            },
        };
        self.emit(bytes, verdict, out);
    }

    fn emit(&mut self, bytes: Vec<u8>, verdict: Verdict, out: &mut Vec<Cut>) {
        let lost = matches!(
            verdict,
            Verdict::NoSync | Verdict::BadLength { .. } | Verdict::Short { .. } | Verdict::TooLong
        );
        if lost && !self.lost {
            self.resyncs += 1;
        }
        self.lost = lost;
        out.push(Cut { bytes, verdict });
    }

    /// The frame length a length field gives: Ok(None) while the field is not all
    /// here; Err(value) when no frame can be that long.
    fn field_total(&self, pending: &[u8]) -> Result<Option<usize>, u64> {
        let FrameLength::Field {
            offset,
            width,
            endian,
            counts,
            adjust,
        } = &self.def.length
        else {
            return Ok(None);
        };
        let width = usize::from(*width).clamp(1, 8);
        let Some(field) = pending.get(*offset..offset + width) else {
            return Ok(None);
        };
        let value = match endian {
            Endian::Big => field.iter().fold(0u64, |v, b| v << 8 | u64::from(*b)),
            Endian::Little => field.iter().rev().fold(0u64, |v, b| v << 8 | u64::from(*b)),
        };
        let base: i128 = match counts {
            LengthCounts::AfterField => (offset + width) as i128,
            LengthCounts::WholeFrame => 0,
        };
        let total = base + i128::from(value) + i128::from(*adjust);
        let least = (offset + width).max(self.def.sync.len()).max(1) as i128;
        if total < least || total > self.def.max_len as i128 {
            return Err(value);
        }
        Ok(Some(total as usize))
    }

    /// One cut if the pending bytes allow it; false when more bytes are needed.
    fn step(&mut self, out: &mut Vec<Cut>) -> bool {
        let pending = &self.buf[self.start..];
        if pending.is_empty() {
            return false;
        }
        let sync = &self.def.sync;
        if !sync.is_empty() {
            match find(pending, sync) {
                Some(0) => {}
                Some(i) => {
                    let junk = pending[..i].to_vec();
                    self.start += i;
                    self.emit(junk, Verdict::NoSync, out);
                    return true;
                }
                None => {
                    // The last bytes may be the start of a sync: they wait.
                    let keep = (sync.len() - 1).min(pending.len());
                    let junk = pending.len() - keep;
                    if junk == 0 {
                        return false;
                    }
                    let bytes = pending[..junk].to_vec();
                    self.start += junk;
                    self.emit(bytes, Verdict::NoSync, out);
                    return false;
                }
            }
        }
        let total = match &self.def.length {
            FrameLength::Fixed { len } => (*len).max(1),
            FrameLength::Terminator { bytes } => {
                let from = sync.len().min(pending.len());
                match find(&pending[from..], bytes) {
                    Some(i) if from + i + bytes.len() <= self.def.max_len => from + i + bytes.len(),
                    Some(_) => return self.too_long(out),
                    None if pending.len() >= self.def.max_len => return self.too_long(out),
                    None => return false,
                }
            }
            FrameLength::Field { .. } => match self.field_total(pending) {
                Ok(Some(total)) => total,
                Ok(None) => return false,
                Err(value) => {
                    // Up to the next sync (searched after this frame's first byte), or
                    // everything pending when there is no sync to look for.
                    let skip = if sync.is_empty() {
                        pending.len()
                    } else {
                        find(&pending[1..], sync).map_or(pending.len(), |i| i + 1)
                    };
                    let bytes = pending[..skip].to_vec();
                    self.start += skip;
                    self.emit(bytes, Verdict::BadLength { value }, out);
                    return true;
                }
            },
        };
        if pending.len() < total {
            return false;
        }
        let bytes = pending[..total].to_vec();
        self.start += total;
        let verdict = check(&self.def.checksum, &bytes);
        self.emit(bytes, verdict, out);
        true
    }

    fn too_long(&mut self, out: &mut Vec<Cut>) -> bool {
        let len = self.def.max_len.max(1).min(self.pending_len());
        let bytes = self.buf[self.start..self.start + len].to_vec();
        self.start += len;
        self.emit(bytes, Verdict::TooLong, out);
        true
    }
}

/// Checks a frame's checksum by the definition (Good when it has none).
pub fn check(checksum: &Option<FrameChecksum>, frame: &[u8]) -> Verdict {
    let Some(ck) = checksum.as_ref().filter(|c| c.kind != Checksum::None) else {
        return Verdict::Good;
    };
    let width = ck.kind.width();
    let end = frame.len().checked_sub(ck.trailer);
    let at = end.and_then(|e| e.checked_sub(width));
    let (Some(end), Some(at)) = (end, at) else {
        return Verdict::BadChecksum {
            expected: Vec::new(),
            found: frame.to_vec(),
        };
    };
    let covered = frame.get(ck.from.min(at)..at).unwrap_or(&[]);
    let mut expected = ck.kind.compute(covered);
    let usual = if ck.kind == Checksum::Crc16Modbus {
        Endian::Little
    } else {
        Endian::Big
    };
    if ck.endian.is_some_and(|e| e != usual) {
        expected.reverse();
    }
    let found = &frame[at..end];
    if expected == found {
        Verdict::Good
    } else {
        Verdict::BadChecksum {
            expected,
            found: found.to_vec(),
        }
    }
}

/// The first position of `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
#[path = "cut_tests.rs"]
mod tests;
