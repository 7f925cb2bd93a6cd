//! Matching an expect against what has arrived and not been consumed yet.
//!
//! On a TCP stream without framing, `exact` and `hex` are anchored: the next bytes must
//! be these (so a wrong byte fails at once instead of waiting for the timeout), while
//! `contains` and `regex` skip what comes before the match. With framing (and for every
//! UDP datagram) the expect takes the next whole message and matches it: `exact` and
//! `hex` the whole message, `contains` and `regex` somewhere inside it. With a checksum,
//! `exact` and `hex` describe the data and the checksum bytes follow it.

use crate::codec::framing::{FrameMode, FrameOut, Framer};
use crate::codec::text::char_spans;

use super::model::{Expect, MAX_FRAME, Pattern};

/// What an expect found in the received bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It matched: consume this many bytes (stream) or the message; `message` is what
    /// matched (for the checksum check and reports).
    Matched {
        /// Bytes (stream) to consume.
        consumed: usize,
        /// The matched message or bytes.
        message: Vec<u8>,
    },
    /// Not yet: more bytes may still make it match.
    Wait,
    /// It cannot match any more: this is what arrived instead.
    Mismatch(Vec<u8>),
}

/// Tries `expect` on an unconsumed TCP stream `buf`; `framing` cuts messages when the
/// expect asks for frames.
pub fn match_stream(expect: &Expect, framing: Option<&FrameMode>, buf: &[u8]) -> Outcome {
    if expect.frame
        && let Some(mode) = framing
    {
        let Some(frame_len) = first_frame(mode, buf) else {
            return Outcome::Wait;
        };
        let frame = &buf[..frame_len];
        return match match_message(expect, frame) {
            true => Outcome::Matched {
                consumed: frame_len,
                message: frame.to_vec(),
            },
            false => Outcome::Mismatch(frame.to_vec()),
        };
    }
    // A checksum follows the data the pattern describes; the runner verifies it.
    let sum = expect.checksum.width();
    match &expect.pattern {
        Pattern::Exact(want) => anchored(buf, want.len() + sum, |i, b| {
            want.get(i).is_none_or(|w| *w == b)
        }),
        Pattern::Hex(want) => anchored(buf, want.len() + sum, |i, b| {
            want.get(i).is_none_or(|w| w.is_none_or(|w| w == b))
        }),
        Pattern::Contains(want) => match find(buf, want) {
            Some(at) => Outcome::Matched {
                consumed: at + want.len(),
                message: buf[..at + want.len()].to_vec(),
            },
            None => Outcome::Wait,
        },
        Pattern::Regex(re) => {
            let (text, starts) = decode_with_offsets(expect, buf);
            match re.find(&text) {
                Some(m) => {
                    // The first character that begins at or after the match's end.
                    let end = starts
                        .iter()
                        .find(|(t, _)| *t >= m.end())
                        .map(|(_, b)| *b)
                        .unwrap_or(buf.len());
                    Outcome::Matched {
                        consumed: end,
                        message: buf[..end].to_vec(),
                    }
                }
                None => Outcome::Wait,
            }
        }
    }
}

/// True when the whole `message` (a frame or a datagram) satisfies `expect`; with a
/// checksum, the pattern is matched against the message without its last checksum bytes
/// (the runner verifies those).
pub fn match_message(expect: &Expect, message: &[u8]) -> bool {
    let Some(data_len) = message.len().checked_sub(expect.checksum.width()) else {
        return false;
    };
    let message = &message[..data_len];
    match &expect.pattern {
        Pattern::Exact(want) => message == want.as_slice(),
        Pattern::Hex(want) => {
            message.len() == want.len()
                && want
                    .iter()
                    .zip(message)
                    .all(|(w, b)| w.is_none_or(|w| w == *b))
        }
        Pattern::Contains(want) => find(message, want).is_some(),
        Pattern::Regex(re) => re.is_match(&decode_with_offsets(expect, message).0),
    }
}

/// The next `len` bytes must satisfy `same(i, byte)`.
fn anchored(buf: &[u8], len: usize, same: impl Fn(usize, u8) -> bool) -> Outcome {
    let n = len.min(buf.len());
    if !buf[..n].iter().enumerate().all(|(i, b)| same(i, *b)) {
        // Show what came instead: as much as the pattern's length, at least.
        return Outcome::Mismatch(buf[..buf.len().min(len.max(64))].to_vec());
    }
    if buf.len() >= len {
        Outcome::Matched {
            consumed: len,
            message: buf[..len].to_vec(),
        }
    } else {
        Outcome::Wait
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The bytes decoded in the expect's encoding, and for each character the (text, byte)
/// offsets where it begins.
fn decode_with_offsets(expect: &Expect, bytes: &[u8]) -> (String, Vec<(usize, usize)>) {
    let mut text = String::with_capacity(bytes.len());
    let mut starts = Vec::new();
    for span in char_spans(expect.encoding, bytes) {
        starts.push((text.len(), span.range.start));
        text.push_str(&span.text);
    }
    (text, starts)
}

/// Length of the first complete frame at the start of `buf`, if there is one. A fresh
/// framer each time: every mode a plan allows cuts the same frames however the bytes
/// arrived.
fn first_frame(mode: &FrameMode, buf: &[u8]) -> Option<usize> {
    let mut framer = Framer::new(mode.clone(), MAX_FRAME);
    let mut out = Vec::new();
    framer.push(buf, std::time::Instant::now(), &mut out);
    match out.into_iter().next()? {
        FrameOut::Frame(frame) => Some(frame.len()),
        // A message longer than MAX_FRAME: match its first piece.
        FrameOut::Oversize { bytes, .. } => Some(bytes.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::checksum::Checksum;
    use crate::codec::text::TextEncoding;

    fn expect(pattern: Pattern, frame: bool) -> Expect {
        Expect {
            pattern,
            source: String::new(),
            encoding: TextEncoding::Gbk,
            frame,
            checksum: Checksum::None,
        }
    }

    /// Exact and hex are anchored and fail at the first wrong byte; contains skips.
    #[test]
    fn stream_matching() {
        let e = expect(Pattern::Exact(b"ok!".to_vec()), false);
        assert_eq!(match_stream(&e, None, b"ok"), Outcome::Wait);
        assert_eq!(
            match_stream(&e, None, b"ok!rest"),
            Outcome::Matched {
                consumed: 3,
                message: b"ok!".to_vec()
            }
        );
        assert!(matches!(
            match_stream(&e, None, b"no"),
            Outcome::Mismatch(_)
        ));
        let h = expect(Pattern::Hex(vec![Some(1), None, Some(3)]), false);
        assert!(matches!(
            match_stream(&h, None, &[1, 9, 3]),
            Outcome::Matched { consumed: 3, .. }
        ));
        assert!(matches!(
            match_stream(&h, None, &[1, 9, 4]),
            Outcome::Mismatch(_)
        ));
        let c = expect(Pattern::Contains(b"ok".to_vec()), false);
        assert_eq!(match_stream(&c, None, b"xxo"), Outcome::Wait);
        assert!(matches!(
            match_stream(&c, None, b"xxokyy"),
            Outcome::Matched { consumed: 4, .. }
        ));
    }

    /// With a checksum, a hex pattern describes the data and the checksum bytes follow:
    /// the match takes both (the runner then verifies the sum).
    #[test]
    fn checksum_follows_the_pattern() {
        let mut e = expect(
            Pattern::Hex(vec![Some(1), Some(3), Some(2), None, None]),
            false,
        );
        e.checksum = Checksum::Crc16Modbus;
        let mut reply = vec![1, 3, 2, 0, 0x2A];
        Checksum::Crc16Modbus.append(&mut reply);
        assert_eq!(match_stream(&e, None, &reply[..5]), Outcome::Wait);
        assert_eq!(
            match_stream(&e, None, &reply),
            Outcome::Matched {
                consumed: 7,
                message: reply.clone()
            }
        );
        assert!(match_message(&e, &reply));
        assert!(!match_message(&e, &reply[..5]));
    }

    /// A regex sees GBK text and consumes through the end of its match, in bytes.
    #[test]
    fn regex_on_decoded_text() {
        let (gbk, _, _) = encoding_rs::GBK.encode("收到请求 tail");
        let e = expect(Pattern::Regex(regex::Regex::new("收到.求").unwrap()), false);
        match match_stream(&e, None, &gbk) {
            Outcome::Matched { consumed, .. } => assert_eq!(consumed, 8),
            other => panic!("{other:?}"),
        }
    }

    /// With framing the expect takes the next whole frame and fails on a different one.
    #[test]
    fn frames() {
        let mode = FrameMode::Delimiter(b"\r\n".to_vec());
        let e = expect(Pattern::Contains(b"ok".to_vec()), true);
        assert_eq!(match_stream(&e, Some(&mode), b"ok"), Outcome::Wait);
        assert!(matches!(
            match_stream(&e, Some(&mode), b"is ok\r\nnext"),
            Outcome::Matched { consumed: 7, .. }
        ));
        assert_eq!(
            match_stream(&e, Some(&mode), b"bad\r\nok\r\n"),
            Outcome::Mismatch(b"bad\r\n".to_vec())
        );
    }
}
