//! Text made when it is looked at: the facts a record needs so that its text can be
//! rendered later, exactly as the streaming decoder would have rendered it when the
//! bytes arrived.
//!
//! For UTF-8, ASCII and Windows-1252 the decoder's whole state between two reads is the
//! unfinished character it holds (at most 3 bytes of UTF-8, nothing for the others). A
//! [`Carry`] keeps those bytes; [`scan`] runs over a read in one fast pass that only
//! counts invalid bytes and finds the new carry, and [`render`] makes the text of a read
//! from its carry and bytes on demand. The scanner follows the same "maximal subpart"
//! rules as std's `utf8_chunks` (which [`StreamDecoder`] uses), so counts and text match
//! the eager decoder byte for byte; a property test checks it.
//!
//! The CJK encodings (GBK, GB18030, Big5, Shift_JIS, EUC-KR) and UTF-16 keep state inside
//! `encoding_rs` that cannot be captured this way; the store decodes those when it stores
//! them ([`renders_lazily`] says which is which).

use super::text::{StreamDecoder, TextEncoding};

/// The bytes of a character a stream left unfinished at the end of a read (at most 3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Carry {
    bytes: [u8; 3],
    len: u8,
}

impl Carry {
    /// True when no character is unfinished.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The unfinished bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    fn set(&mut self, bytes: &[u8]) {
        let len = bytes.len().min(3);
        self.bytes[..len].copy_from_slice(&bytes[..len]);
        self.len = len as u8;
    }
}

/// True for the encodings whose text can be made on demand from a [`Carry`].
pub fn renders_lazily(encoding: TextEncoding) -> bool {
    matches!(
        encoding,
        TextEncoding::Utf8 | TextEncoding::Ascii | TextEncoding::Windows1252
    )
}

/// Counts the invalid bytes of one read decoded after `carry` (as [`StreamDecoder`]
/// would count them) and leaves in `carry` the character the read leaves unfinished.
/// `last`: the stream ends here (an unfinished character is invalid). Only for
/// [`renders_lazily`] encodings; others count 0.
pub fn scan(encoding: TextEncoding, carry: &mut Carry, bytes: &[u8], last: bool) -> usize {
    match encoding {
        TextEncoding::Utf8 => scan_utf8(carry, bytes, last),
        TextEncoding::Ascii => bytes.iter().filter(|b| !b.is_ascii()).count(),
        // Every byte is a character in Windows-1252 (WHATWG maps all 256).
        _ => 0,
    }
}

/// The text of one read decoded after `carry`, exactly as [`StreamDecoder`] made it when
/// the read arrived (invalid bytes as `\xNN`); returns the invalid count as well.
pub fn render(
    encoding: TextEncoding,
    carry: Carry,
    bytes: &[u8],
    last: bool,
    out: &mut String,
) -> usize {
    let mut decoder = StreamDecoder::new(encoding);
    if !carry.is_empty() {
        // An unfinished valid prefix: the decoder holds it and writes nothing.
        let mut none = String::new();
        decoder.decode(carry.as_slice(), false, &mut none);
    }
    decoder.decode(bytes, last, out)
}

/// What the UTF-8 sequence starting at `data[i]` is.
enum Step {
    /// A whole valid character of this many bytes.
    Valid(usize),
    /// An invalid maximal subpart of this many bytes.
    Invalid(usize),
    /// A valid beginning that `data` ends in the middle of.
    Incomplete,
}

/// The allowed range of the second byte after a lead byte, and the sequence length;
/// `None` for a byte that cannot start a sequence.
fn lead(byte: u8) -> Option<(u8, u8, usize)> {
    match byte {
        0xC2..=0xDF => Some((0x80, 0xBF, 2)),
        0xE0 => Some((0xA0, 0xBF, 3)),
        0xE1..=0xEC | 0xEE..=0xEF => Some((0x80, 0xBF, 3)),
        0xED => Some((0x80, 0x9F, 3)),
        0xF0 => Some((0x90, 0xBF, 4)),
        0xF1..=0xF3 => Some((0x80, 0xBF, 4)),
        0xF4 => Some((0x80, 0x8F, 4)),
        _ => None,
    }
}

/// The sequence at `data[i]` (not ASCII).
fn step(data: &[u8], i: usize) -> Step {
    let Some((low, high, len)) = lead(data[i]) else {
        return Step::Invalid(1);
    };
    for k in 1..len {
        let Some(&byte) = data.get(i + k) else {
            return Step::Incomplete;
        };
        let (lo, hi) = if k == 1 { (low, high) } else { (0x80, 0xBF) };
        if !(lo..=hi).contains(&byte) {
            return Step::Invalid(k);
        }
    }
    Step::Valid(len)
}

/// Skips ASCII from `i`, a machine word at a time; the index of the first non-ASCII byte.
fn skip_ascii(data: &[u8], mut i: usize) -> usize {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    while let Some(word) = data.get(i..i + 8) {
        let mut eight = [0u8; 8];
        eight.copy_from_slice(word);
        if u64::from_ne_bytes(eight) & HIGH != 0 {
            break;
        }
        i += 8;
    }
    while data.get(i).is_some_and(u8::is_ascii) {
        i += 1;
    }
    i
}

/// Scans `data` from `i`; the invalid count, and where an unfinished character at the
/// very end begins (not counted), if there is one.
fn scan_from(data: &[u8], mut i: usize) -> (usize, Option<usize>) {
    let mut invalid = 0;
    loop {
        i = skip_ascii(data, i);
        if i >= data.len() {
            return (invalid, None);
        }
        match step(data, i) {
            Step::Valid(len) => i += len,
            Step::Invalid(len) => {
                invalid += len;
                i += len;
            }
            Step::Incomplete => return (invalid, Some(i)),
        }
    }
}

fn scan_utf8(carry: &mut Carry, bytes: &[u8], last: bool) -> usize {
    let mut invalid = 0;
    let mut start = 0;
    if !carry.is_empty() {
        // The sequences that begin in the carry end within its length + 4 bytes: settle
        // them on a small joined buffer, then go on in `bytes` where they ended.
        let held = usize::from(carry.len);
        let mut joined = [0u8; 7];
        let take = bytes.len().min(4);
        joined[..held].copy_from_slice(carry.as_slice());
        joined[held..held + take].copy_from_slice(&bytes[..take]);
        let joined = &joined[..held + take];
        let mut i = 0;
        while i < held {
            match step(joined, i) {
                Step::Valid(len) => i += len,
                Step::Invalid(len) => {
                    invalid += len;
                    i += len;
                }
                Step::Incomplete => {
                    // Still unfinished: the read was too short to finish it.
                    if last {
                        carry.len = 0;
                        return invalid + joined.len() - i;
                    }
                    carry.set(&joined[i..]);
                    return invalid;
                }
            }
        }
        start = i - held;
    }
    let (more, pending) = scan_from(bytes, start);
    invalid += more;
    match pending {
        Some(at) if last => {
            carry.len = 0;
            invalid + bytes.len() - at
        }
        Some(at) => {
            carry.set(&bytes[at..]);
            invalid
        }
        None => {
            carry.len = 0;
            invalid
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator (xorshift) for the property tests.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// Streams that mix ASCII, Chinese in UTF-8 and GBK, and random bytes.
    fn stream(rng: &mut Rng, len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len + 8);
        while out.len() < len {
            match rng.below(4) {
                0 => out.extend_from_slice(b"hello \r\n"),
                1 => out.extend_from_slice("你好，世界😀".as_bytes()),
                2 => out.extend_from_slice(&[0xC4, 0xE3, 0xBA, 0xC3]),
                _ => {
                    for _ in 0..rng.below(16) {
                        out.push(rng.next() as u8);
                    }
                }
            }
        }
        out
    }

    /// Scanning a stream cut at random points counts, read by read, what the streaming
    /// decoder counts, and rendering each read from its carry gives the decoder's text.
    #[test]
    fn lazy_equals_eager_on_random_cuts() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for round in 0..400 {
            let len = 64 + rng.below(4096);
            let data = stream(&mut rng, len);
            for encoding in [
                TextEncoding::Utf8,
                TextEncoding::Ascii,
                TextEncoding::Windows1252,
            ] {
                let mut decoder = StreamDecoder::new(encoding);
                let mut carry = Carry::default();
                let mut at = 0;
                while at < data.len() {
                    let cut = (at + 1 + rng.below(9)).min(data.len());
                    let last = cut == data.len() && round % 2 == 0;
                    let read = &data[at..cut];
                    let mut eager = String::new();
                    let eager_invalid = decoder.decode(read, last, &mut eager);
                    let before = carry;
                    let counted = scan(encoding, &mut carry, read, last);
                    assert_eq!(counted, eager_invalid, "{encoding} count at {at}..{cut}");
                    let mut lazy = String::new();
                    let rendered = render(encoding, before, read, last, &mut lazy);
                    assert_eq!(lazy, eager, "{encoding} text at {at}..{cut}");
                    assert_eq!(rendered, eager_invalid);
                    at = cut;
                }
            }
        }
    }

    /// The edge sequences: surrogates, overlongs, out-of-range leads, a 4-byte character
    /// split in every way.
    #[test]
    fn utf8_edges_match_std() {
        let cases: [&[u8]; 6] = [
            &[0xED, 0xA0, 0x80],
            &[0xE0, 0x80, 0x80],
            &[0xF4, 0x90, 0x80, 0x80],
            &[0xF5, 0x41],
            "😀".as_bytes(),
            &[0xF0, 0x9F, 0x98, 0x41],
        ];
        for case in cases {
            for cut in 0..=case.len() {
                let mut decoder = StreamDecoder::new(TextEncoding::Utf8);
                let mut carry = Carry::default();
                for (read, last) in [(&case[..cut], false), (&case[cut..], true)] {
                    let mut eager = String::new();
                    let n = decoder.decode(read, last, &mut eager);
                    assert_eq!(scan(TextEncoding::Utf8, &mut carry, read, last), n);
                }
            }
        }
    }
}
