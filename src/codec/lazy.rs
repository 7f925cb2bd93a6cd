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
//! The CJK encodings (GBK, GB18030, Big5, Shift_JIS, EUC-KR) and UTF-16 do not
//! resynchronise on a byte: what a decoder holds at the end of a read depends on the
//! whole read. [`carry_through`] finds it with a small state machine per encoding that
//! follows the WHATWG decoders (which `encoding_rs` implements) only as far as which bytes
//! stay pending, with no output and no index lookups, so it runs at memory speed; the
//! count of invalid bytes for these encodings is made with the real decoder, within the
//! store's budget per frame ([`scan`]).

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

/// True for the encodings whose carry after a read needs a pass over the read
/// ([`carry_through`]); for the others it follows from the stream's last bytes
/// ([`carry_after`]).
pub fn carries_by_scan(encoding: TextEncoding) -> bool {
    !matches!(
        encoding,
        TextEncoding::Utf8 | TextEncoding::Ascii | TextEncoding::Windows1252
    )
}

/// The carry after `bytes` when the stream held `carry` before them, for the encodings
/// of [`carries_by_scan`] (for the others: [`carry_after`] of the stream's tail).
pub fn carry_through(encoding: TextEncoding, carry: Carry, bytes: &[u8]) -> Carry {
    match encoding {
        TextEncoding::Gbk | TextEncoding::Gb18030 => gb18030_carry(carry, bytes),
        TextEncoding::Big5 | TextEncoding::EucKr => {
            double_byte_carry(carry, bytes, |b| (0x81..=0xFE).contains(&b))
        }
        TextEncoding::ShiftJis => double_byte_carry(carry, bytes, |b| {
            (0x81..=0x9F).contains(&b) || (0xE0..=0xFC).contains(&b)
        }),
        TextEncoding::Utf16Le => utf16_carry(carry, bytes, false),
        TextEncoding::Utf16Be => utf16_carry(carry, bytes, true),
        TextEncoding::Utf8 => {
            let mut carry = carry;
            scan_utf8(&mut carry, bytes, false);
            carry
        }
        TextEncoding::Ascii | TextEncoding::Windows1252 => Carry::default(),
    }
}

/// The last `held` bytes of the stream `carry` + `bytes` (held ≤ 3), as a carry.
fn held_tail(carry: Carry, bytes: &[u8], held: usize) -> Carry {
    let mut joined = [0u8; 6];
    let before = carry.as_slice();
    joined[..before.len()].copy_from_slice(before);
    let take = bytes.len().min(3);
    joined[before.len()..before.len() + take].copy_from_slice(&bytes[bytes.len() - take..]);
    let all = before.len() + take;
    let mut out = Carry::default();
    out.set(&joined[all - held.min(all)..all]);
    out
}

/// Big5, EUC-KR and Shift_JIS: a lead byte waits for one more byte, which ends the
/// character whatever it is (an invalid ASCII trail is read again as ASCII, which holds
/// nothing). After a byte that is not a lead nothing is held, and each lead after it
/// flips whether one is held: so only the run of leads the read ends with is looked at.
fn double_byte_carry(carry: Carry, bytes: &[u8], is_lead: impl Fn(u8) -> bool) -> Carry {
    let run = bytes.iter().rev().take_while(|&&b| is_lead(b)).count();
    let before = if run == bytes.len() {
        carry.as_slice().len()
    } else {
        0
    };
    held_tail(carry, bytes, (before + run) % 2)
}

/// GB18030 (and GBK, which `encoding_rs` decodes with the same decoder): a lead byte
/// (0x81–0xFE) may start a two-byte character or, followed by a digit, a lead and a digit,
/// a four-byte one; up to three bytes are held. When a sequence breaks, the WHATWG
/// decoder reads some of its bytes again, but those never start a new sequence that
/// survives the byte that broke it. So a byte that is neither a lead nor a digit leaves
/// nothing held, and only what follows the last such byte is scanned.
fn gb18030_carry(carry: Carry, bytes: &[u8]) -> Carry {
    let lead = |b: u8| (0x81..=0xFE).contains(&b);
    let digit = |b: u8| (0x30..=0x39).contains(&b);
    let step = |held: u8, b: u8| -> u8 {
        match held {
            0 => u8::from(lead(b)),
            1 if digit(b) => 2,
            2 if lead(b) => 3,
            _ => 0,
        }
    };
    let (mut held, rest) = match bytes.iter().rposition(|&b| !lead(b) && !digit(b)) {
        Some(reset) => (0, &bytes[reset + 1..]),
        None => (carry.as_slice().iter().fold(0, |h, &b| step(h, b)), bytes),
    };
    for &b in rest {
        held = step(held, b);
    }
    held_tail(carry, bytes, usize::from(held))
}

/// UTF-16: code units are pairs of bytes counted from the stream's start, so a lone byte
/// is held when the stream's length is odd; a lead surrogate is held when the last whole
/// code unit is one (a unit that does not complete a pending lead surrogate is read again
/// on its own, and a trail surrogate is never a lead).
fn utf16_carry(carry: Carry, bytes: &[u8], big_endian: bool) -> Carry {
    let before = carry.as_slice();
    let total = before.len() + bytes.len();
    let odd = total % 2;
    // The stream's byte at `i` bytes before its end (1-based), if there is one.
    let from_end = |i: usize| -> Option<u8> {
        if i <= bytes.len() {
            Some(bytes[bytes.len() - i])
        } else {
            before
                .get(before.len().checked_sub(i - bytes.len())?)
                .copied()
        }
    };
    let surrogate = match (from_end(odd + 2), from_end(odd + 1)) {
        (Some(a), Some(b)) => {
            let unit = if big_endian {
                u16::from_be_bytes([a, b])
            } else {
                u16::from_le_bytes([a, b])
            };
            (0xD800..=0xDBFF).contains(&unit)
        }
        _ => false,
    };
    held_tail(carry, bytes, 2 * usize::from(surrogate) + odd)
}

/// Counts the invalid bytes of one read decoded after `carry` (as [`StreamDecoder`]
/// would count them) and leaves in `carry` the character the read leaves unfinished.
/// `last`: the stream ends here (an unfinished character is invalid). UTF-8 and ASCII
/// are counted by a scanner; the encodings of [`carries_by_scan`] with the real decoder
/// (their text is made and dropped: slower, which is why the store counts within a
/// budget per frame).
pub fn scan(encoding: TextEncoding, carry: &mut Carry, bytes: &[u8], last: bool) -> usize {
    match encoding {
        TextEncoding::Utf8 => scan_utf8(carry, bytes, last),
        TextEncoding::Ascii => bytes.iter().filter(|b| !b.is_ascii()).count(),
        // Every byte is a character in Windows-1252 (WHATWG maps all 256).
        TextEncoding::Windows1252 => 0,
        _ => {
            let mut text = String::with_capacity(bytes.len() * 2);
            let invalid = render(encoding, *carry, bytes, last, &mut text);
            *carry = if last {
                Carry::default()
            } else {
                carry_through(encoding, *carry, bytes)
            };
            invalid
        }
    }
}

/// The unfinished character a stream holds after `tail`, its last bytes (up to 3; fewer
/// only when the stream is that short). UTF-8 resynchronises on every lead byte, so these
/// few bytes decide it: no scan of the stream is needed. Empty for the other
/// encodings, which hold nothing or need [`carry_through`].
pub fn carry_after(encoding: TextEncoding, tail: &[u8]) -> Carry {
    let mut carry = Carry::default();
    if encoding != TextEncoding::Utf8 {
        return carry;
    }
    let tail = &tail[tail.len().saturating_sub(3)..];
    // The longest suffix that is one valid unfinished sequence (it begins with a lead
    // byte, which always starts a new sequence, so it is what the decoder holds).
    for start in 0..tail.len() {
        let suffix = &tail[start..];
        let (state, invalid) = run(ACCEPT, suffix);
        if invalid == 0 && usize::from(HELD[usize::from(state)]) == suffix.len() {
            carry.set(suffix);
            break;
        }
    }
    carry
}

/// What a read's bytes are as text, found once where they are read (the engine's reader
/// has them in its cache) so that the store, which needs it for every read in every
/// encoding, does not read them again on the UI thread.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TextScan {
    /// Not scanned: whoever needs the fact looks at the bytes.
    #[default]
    Unknown,
    /// Every byte is ASCII.
    Ascii,
    /// Valid, complete UTF-8 with some non-ASCII character.
    Utf8,
    /// Neither (binary, another encoding, or a character cut at either end).
    Other,
}

impl TextScan {
    /// Scans `bytes`: one pass over ASCII text, and on anything else a pass that stops at
    /// the first non-ASCII byte followed by UTF-8 validation (which stops at the first
    /// invalid byte, so binary costs next to nothing).
    pub fn of(bytes: &[u8]) -> TextScan {
        if bytes.is_ascii() {
            TextScan::Ascii
        } else if std::str::from_utf8(bytes).is_ok() {
            TextScan::Utf8
        } else {
            TextScan::Other
        }
    }

    /// Whether `bytes` are valid UTF-8, from the scan when there was one.
    fn utf8(self, bytes: &[u8]) -> bool {
        match self {
            TextScan::Unknown => std::str::from_utf8(bytes).is_ok(),
            TextScan::Ascii | TextScan::Utf8 => true,
            TextScan::Other => false,
        }
    }

    /// Whether `bytes` are all ASCII, from the scan when there was one.
    fn ascii(self, bytes: &[u8]) -> bool {
        match self {
            TextScan::Unknown => bytes.is_ascii(),
            TextScan::Ascii => true,
            TextScan::Utf8 | TextScan::Other => false,
        }
    }
}

/// True when the text of `bytes` after `carry` is the bytes themselves (valid, complete
/// UTF-8; ASCII in the other encodings): the store then keeps no text at all. `scan` is
/// what the reader found (then the bytes are not read again), or
/// [`TextScan::Unknown`]: then this validates them, fast on text (std's validation) and
/// on binary (it stops at the first bad byte).
pub fn text_is_bytes(encoding: TextEncoding, carry: Carry, bytes: &[u8], scan: TextScan) -> bool {
    carry.is_empty()
        && match encoding {
            TextEncoding::Utf8 => scan.utf8(bytes),
            // Two bytes a character: never the bytes themselves.
            TextEncoding::Utf16Le | TextEncoding::Utf16Be => false,
            // ASCII-compatible: ASCII bytes are their own text.
            _ => scan.ascii(bytes),
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

// The UTF-8 scanner is a table-driven automaton: one table lookup per byte gives the next
// state and how many bytes just turned out invalid, with no branch on the data, so binary
// (where a third of the bytes are invalid, at random) costs what text costs. A byte that
// cannot continue the sequence in progress ends it as an invalid maximal subpart (the
// bytes held so far) and is itself read as the start of a new one, which folds into the
// same table entry.

/// Byte classes: what a byte can be in UTF-8.
const ASCII: u8 = 0;
const C80_8F: u8 = 1;
const C90_9F: u8 = 2;
const CA0_BF: u8 = 3;
const BAD: u8 = 4;
const LEAD2: u8 = 5;
const E0: u8 = 6;
const LEAD3: u8 = 7;
const ED: u8 = 8;
const F0: u8 = 9;
const LEAD4: u8 = 10;
const F4: u8 = 11;
const CLASSES: usize = 12;

/// States: 0 is "between characters"; the others hold 1–3 bytes of a sequence.
const ACCEPT: u8 = 0;
/// (bytes held, the class range allowed next, the state after it or ACCEPT, …) per state.
const STATES: usize = 11;

const fn class_of(byte: u8) -> u8 {
    match byte {
        0x00..=0x7F => ASCII,
        0x80..=0x8F => C80_8F,
        0x90..=0x9F => C90_9F,
        0xA0..=0xBF => CA0_BF,
        0xC2..=0xDF => LEAD2,
        0xE0 => E0,
        0xE1..=0xEC | 0xEE..=0xEF => LEAD3,
        0xED => ED,
        0xF0 => F0,
        0xF1..=0xF3 => LEAD4,
        0xF4 => F4,
        _ => BAD,
    }
}

const CLASS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = class_of(i as u8);
        i += 1;
    }
    table
};

/// Bytes held in each state.
const HELD: [u8; STATES] = [0, 1, 1, 1, 1, 2, 1, 1, 1, 2, 3];

/// The state a lead byte of `class` starts, or ACCEPT with one invalid byte (a
/// continuation or a byte that can never appear), or ACCEPT for ASCII.
const fn from_accept(class: u8) -> (u8, u8) {
    match class {
        ASCII => (ACCEPT, 0),
        LEAD2 => (1, 0),
        E0 => (2, 0),
        LEAD3 => (3, 0),
        ED => (4, 0),
        F0 => (6, 0),
        LEAD4 => (7, 0),
        F4 => (8, 0),
        _ => (ACCEPT, 1),
    }
}

/// For a state holding part of a sequence: the classes that continue it and the state
/// they lead to.
const fn continues(state: u8, class: u8) -> Option<u8> {
    let any_cont = class == C80_8F || class == C90_9F || class == CA0_BF;
    match state {
        // C2..DF: one continuation ends it.
        1 if any_cont => Some(ACCEPT),
        // E0: A0..BF, then one more.
        2 if class == CA0_BF => Some(5),
        // E1..EC, EE..EF: any, then one more.
        3 if any_cont => Some(5),
        // ED: 80..9F (no surrogates), then one more.
        4 if class == C80_8F || class == C90_9F => Some(5),
        // Third byte of a 3-byte sequence.
        5 if any_cont => Some(ACCEPT),
        // F0: 90..BF; F1..F3: any; F4: 80..8F; then two more.
        6 if class == C90_9F || class == CA0_BF => Some(9),
        7 if any_cont => Some(9),
        8 if class == C80_8F => Some(9),
        9 if any_cont => Some(10),
        10 if any_cont => Some(ACCEPT),
        _ => None,
    }
}

/// `TABLE[state * 16 + class]`: the next state in the low 4 bits, the bytes found
/// invalid by this byte in the high 4.
const TABLE: [u8; STATES * 16] = {
    let mut table = [0u8; STATES * 16];
    let mut state = 0;
    while state < STATES {
        let mut class = 0;
        while class < CLASSES {
            let (next, invalid) = match continues(state as u8, class as u8) {
                Some(next) => (next, 0),
                None => {
                    let (next, invalid) = from_accept(class as u8);
                    (next, invalid + HELD[state])
                }
            };
            table[state * 16 + class] = next | (invalid << 4);
            class += 1;
        }
        state += 1;
    }
    table
};

/// Runs the automaton over `bytes` from `state`; the state at the end and the invalid
/// bytes found.
fn run(mut state: u8, bytes: &[u8]) -> (u8, usize) {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut invalid = 0usize;
    let mut rest = bytes;
    loop {
        if state == ACCEPT {
            // Between characters, ASCII goes eight bytes at a time.
            while let Some((word, tail)) = rest.split_first_chunk::<8>() {
                if u64::from_ne_bytes(*word) & HIGH != 0 {
                    break;
                }
                rest = tail;
            }
        }
        let Some((chunk, tail)) = rest.split_first_chunk::<64>() else {
            break;
        };
        for &byte in chunk {
            let entry = TABLE[usize::from(state) * 16 + usize::from(CLASS[usize::from(byte)])];
            state = entry & 0x0F;
            invalid += usize::from(entry >> 4);
        }
        rest = tail;
    }
    for &byte in rest {
        let entry = TABLE[usize::from(state) * 16 + usize::from(CLASS[usize::from(byte)])];
        state = entry & 0x0F;
        invalid += usize::from(entry >> 4);
    }
    (state, invalid)
}

fn scan_utf8(carry: &mut Carry, bytes: &[u8], last: bool) -> usize {
    // The carry is a valid unfinished prefix: replaying it gives the state it left.
    let (start, _) = run(ACCEPT, carry.as_slice());
    let (end, mut invalid) = run(start, bytes);
    let held = usize::from(HELD[usize::from(end)]);
    if held == 0 {
        carry.len = 0;
    } else if last {
        invalid += held;
        carry.len = 0;
    } else if bytes.len() >= held {
        carry.set(&bytes[bytes.len() - held..]);
    } else {
        // Still unfinished after a very short read: the old carry's tail and the read.
        let mut joined = [0u8; 6];
        let old = carry.as_slice();
        joined[..old.len()].copy_from_slice(old);
        joined[old.len()..old.len() + bytes.len()].copy_from_slice(bytes);
        let all = old.len() + bytes.len();
        carry.set(&joined[all - held..all]);
    }
    invalid
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

    /// Streams that mix ASCII, Chinese in UTF-8 and GBK, GB18030 four-byte sequences
    /// (whole and broken), UTF-16 surrogates (paired and lone), and random bytes.
    fn stream(rng: &mut Rng, len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len + 8);
        while out.len() < len {
            match rng.below(7) {
                0 => out.extend_from_slice(b"hello \r\n"),
                1 => out.extend_from_slice("你好，世界😀".as_bytes()),
                2 => out.extend_from_slice(&[0xC4, 0xE3, 0xBA, 0xC3]),
                3 => out.extend_from_slice(&[0x81, 0x30, 0x81, 0x30, 0x95, 0x32, 0x82, 0x36]),
                4 => out.extend_from_slice(&[0x81, 0x30, 0x41, 0x84, 0x31, 0xFF]),
                5 => out.extend_from_slice(&[0x3D, 0xD8, 0x00, 0xDE, 0xD8, 0x3D, 0x41, 0x00]),
                _ => {
                    for _ in 0..rng.below(16) {
                        out.push(rng.next() as u8);
                    }
                }
            }
        }
        out
    }

    /// The reader's scan gives the store the same answer as looking at the bytes: for
    /// random reads of mixed streams (ASCII, Chinese, GBK, broken sequences, binary), in
    /// every encoding, with and without a carry.
    #[test]
    fn text_scan_agrees_with_the_bytes() {
        let mut rng = Rng(0x5CA1_AB1E);
        assert_eq!(TextScan::of(b"hello"), TextScan::Ascii);
        assert_eq!(TextScan::of("温度".as_bytes()), TextScan::Utf8);
        assert_eq!(TextScan::of(&[0xC4, 0xE3]), TextScan::Other);
        assert_eq!(
            TextScan::of(&[0xE6, 0xB8]),
            TextScan::Other,
            "cut character"
        );
        assert_eq!(TextScan::of(b""), TextScan::Ascii);
        let mut kinds = [0usize; 3];
        for _ in 0..2000 {
            let all = stream(&mut rng, 64);
            let start = rng.below(all.len());
            let end = start + rng.below(all.len() - start + 1);
            let bytes = &all[start..end];
            let scan = TextScan::of(bytes);
            kinds[match scan {
                TextScan::Ascii => 0,
                TextScan::Utf8 => 1,
                _ => 2,
            }] += 1;
            let mut carry = Carry::default();
            if rng.below(4) == 0 {
                carry.set(&[0xE6]);
            }
            for encoding in TextEncoding::ALL {
                assert_eq!(
                    text_is_bytes(encoding, carry, bytes, scan),
                    text_is_bytes(encoding, carry, bytes, TextScan::Unknown),
                    "{encoding:?} {bytes:02X?}"
                );
            }
        }
        assert!(
            kinds.iter().all(|&k| k > 50),
            "every kind was drawn: {kinds:?}"
        );
    }

    /// Scanning a stream cut at random points counts, read by read, what the streaming
    /// decoder counts, and rendering each read from its carry gives the decoder's text.
    #[test]
    fn lazy_equals_eager_on_random_cuts() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for round in 0..400 {
            let len = 64 + rng.below(4096);
            let data = stream(&mut rng, len);
            for encoding in TextEncoding::ALL {
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

    /// The stateful encodings' carries over streams drawn from the bytes that matter to
    /// their state machines (leads, trails, GB18030 digits, surrogate halves), cut into
    /// reads of 1–5 bytes: rendering every read from its carry gives the decoder's text.
    #[test]
    fn carries_follow_the_decoder_on_hostile_bytes() {
        const ALPHABET: [u8; 18] = [
            0x00, 0x30, 0x39, 0x3D, 0x41, 0x7F, 0x80, 0x81, 0x84, 0xA1, 0xD8, 0xDB, 0xDC, 0xDF,
            0xE0, 0xFC, 0xFE, 0xFF,
        ];
        let mut rng = Rng(0x243F_6A88_85A3_08D3);
        for _ in 0..1500 {
            let data: Vec<u8> = (0..1 + rng.below(120))
                .map(|_| ALPHABET[rng.below(ALPHABET.len())])
                .collect();
            for encoding in TextEncoding::ALL
                .into_iter()
                .filter(|&e| carries_by_scan(e))
            {
                let mut decoder = StreamDecoder::new(encoding);
                let mut carry = Carry::default();
                let mut at = 0;
                while at < data.len() {
                    let cut = (at + 1 + rng.below(5)).min(data.len());
                    let read = &data[at..cut];
                    let mut eager = String::new();
                    let invalid = decoder.decode(read, false, &mut eager);
                    let mut lazy = String::new();
                    assert_eq!(render(encoding, carry, read, false, &mut lazy), invalid);
                    assert_eq!(lazy, eager, "{encoding} {data:02X?} at {at}..{cut}");
                    carry = carry_through(encoding, carry, read);
                    at = cut;
                }
                // And at the end of the stream.
                let mut eager = String::new();
                let invalid = decoder.decode(&[], true, &mut eager);
                let mut lazy = String::new();
                assert_eq!(render(encoding, carry, &[], true, &mut lazy), invalid);
                assert_eq!(lazy, eager, "{encoding} {data:02X?} at the end");
            }
        }
    }

    /// The carry found from a stream's last three bytes is the one a full scan leaves.
    #[test]
    fn carry_from_the_tail_equals_a_full_scan() {
        let mut rng = Rng(0xD1B5_4A32_D192_ED03);
        for _ in 0..2000 {
            let len = 1 + rng.below(40);
            let data = stream(&mut rng, len);
            let mut scanned = Carry::default();
            scan(TextEncoding::Utf8, &mut scanned, &data, false);
            assert_eq!(
                carry_after(TextEncoding::Utf8, &data),
                scanned,
                "{data:02X?}"
            );
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
