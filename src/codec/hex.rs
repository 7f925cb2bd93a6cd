//! Hex input and output.
//!
//! Parsing accepts what people paste from datasheets, logic analysers and other tools:
//! `48 65 6C`, `48656C`, `0x48,0x65`, `\x48\x65`, `48-65`, `48:65`, mixed case, tabs and
//! newlines. Formatting goes through a 256-entry lookup table and writes whole chunks at
//! once, because `format!("{:02X} ")` per byte is 20–70× slower and the hex view of a
//! 100 MB/s stream has to keep up.

use std::fmt;

/// Why a piece of pasted hex could not be turned into bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HexError {
    /// 1-based character (not byte) position in the input of the offending character,
    /// or of the unpaired last digit when `found` is `None`.
    pub position: usize,
    /// The character that is neither a hex digit nor a separator; `None` means a group
    /// of digits had an odd count, so its last digit has no partner.
    pub found: Option<char>,
}

impl fmt::Display for HexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.found {
            Some(ch) => write!(
                f,
                "invalid hex character {ch:?} at position {}",
                self.position
            ),
            None => write!(
                f,
                "odd number of hex digits: the last digit at position {} has no partner",
                self.position
            ),
        }
    }
}

impl std::error::Error for HexError {}

/// Characters that separate bytes without meaning anything themselves. Full-width
/// comma and ideographic space come along when hex is pasted from Chinese documents.
fn is_separator(ch: char) -> bool {
    ch.is_whitespace() || matches!(ch, ',' | ';' | '-' | ':' | '，' | '；' | '：')
}

/// Value of an ASCII hex digit.
fn digit_value(ch: char) -> Option<u8> {
    // `to_digit` returns at most 15 here, so the narrowing cannot lose anything.
    ch.to_digit(16).map(|v| v as u8)
}

/// Parses pasted hex into bytes.
///
/// Digits are paired within each group (a run of digits between separators or
/// prefixes), so `48656C` and `48 65 6C` are the same, while a group with an odd number
/// of digits (`48 6 6C`) is an error rather than a silent guess. Separators: whitespace
/// (incl. newlines and the ideographic space), `,` `;` `-` `:` and their full-width forms.
/// A `0x`/`0X` or `\x` prefix may start a group.
pub fn parse(input: &str) -> Result<Vec<u8>, HexError> {
    let mut bytes = Vec::with_capacity(input.len() / 2);
    // The pending high nibble and the 1-based position of its digit.
    let mut high: Option<(u8, usize)> = None;
    // True at the start and after a separator: only there may a `0x` prefix begin,
    // so in `00x1` the `x` is reported as stray instead of being swallowed.
    let mut group_start = true;
    let mut chars = input.chars().enumerate().peekable();
    while let Some((index, ch)) = chars.next() {
        let position = index + 1;
        if let Some(value) = digit_value(ch) {
            if ch == '0' && group_start && matches!(chars.peek(), Some(&(_, 'x' | 'X'))) {
                chars.next();
                group_start = false;
                continue;
            }
            group_start = false;
            match high.take() {
                Some((h, _)) => bytes.push(h << 4 | value),
                None => high = Some((value, position)),
            }
        } else if is_separator(ch) {
            if let Some((_, pos)) = high {
                return Err(HexError {
                    position: pos,
                    found: None,
                });
            }
            group_start = true;
        } else if ch == '\\' && high.is_none() && matches!(chars.peek(), Some(&(_, 'x' | 'X'))) {
            // `\x48\x65` as printed by Python and C: the prefix may follow a complete pair.
            chars.next();
            group_start = false;
        } else {
            return Err(HexError {
                position,
                found: Some(ch),
            });
        }
    }
    match high {
        Some((_, pos)) => Err(HexError {
            position: pos,
            found: None,
        }),
        None => Ok(bytes),
    }
}

/// The uppercase hex digits: the crate's one digit table (every hex table and escape
/// is built from it).
pub(crate) const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// `"00"` … `"FF"`: the uppercase hex pair of every byte value, built at compile time.
pub(crate) static HEX_PAIRS: [[u8; 2]; 256] = {
    let mut table = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = [HEX_UPPER[i >> 4], HEX_UPPER[i & 0xF]];
        i += 1;
    }
    table
};

/// `"00 "` … `"FF "`: the spaced form of every byte value (a pair and a space, so the
/// hex view copies three bytes per input byte).
static SPACED: [[u8; 3]; 256] = {
    let mut table = [[0u8; 3]; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = [HEX_PAIRS[i][0], HEX_PAIRS[i][1], b' '];
        i += 1;
    }
    table
};

/// Appends `bytes` as contiguous uppercase hex (`00ABFF`), as raw ASCII bytes.
pub(crate) fn extend_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    let start = out.len();
    out.resize(start + bytes.len() * 2, 0);
    for (slot, &b) in out[start..].chunks_exact_mut(2).zip(bytes) {
        slot.copy_from_slice(&HEX_PAIRS[usize::from(b)]);
    }
}

/// Appends the visible escape of one byte: `\xC4`.
pub(crate) fn push_byte_escape(out: &mut String, byte: u8) {
    let [high, low] = HEX_PAIRS[usize::from(byte)];
    out.push('\\');
    out.push('x');
    out.push(char::from(high));
    out.push(char::from(low));
}

/// ASCII column character for each byte value: printable ASCII as is, everything else `.`.
static PRINTABLE: [u8; 256] = {
    let mut table = [b'.'; 256];
    let mut i = 0x20;
    while i < 0x7F {
        table[i] = i as u8;
        i += 1;
    }
    table
};

/// Appends ASCII bytes built in a scratch buffer to `out`. The buffers only ever hold
/// ASCII from the tables above, so the check cannot fail; it is kept (instead of
/// `unsafe`) because validating ASCII runs at many GB/s.
fn push_ascii(out: &mut String, ascii: &[u8]) {
    if let Ok(text) = std::str::from_utf8(ascii) {
        out.push_str(text);
    }
}

/// Input bytes formatted per scratch buffer; 3 output bytes each.
const CHUNK: usize = 4096;

/// Appends `bytes` as uppercase hex pairs separated by single spaces: `48 65 6C`.
/// Nothing is appended for empty input, and there is no trailing space.
pub fn format_spaced(bytes: &[u8], out: &mut String) {
    if bytes.is_empty() {
        return;
    }
    out.reserve(bytes.len() * 3 - 1);
    let mut buf = [0u8; CHUNK * 3];
    let chunks = bytes.chunks(CHUNK);
    let last_chunk = chunks.len() - 1;
    for (chunk_index, chunk) in chunks.enumerate() {
        for (slot, &byte) in buf.chunks_exact_mut(3).zip(chunk) {
            slot.copy_from_slice(&SPACED[usize::from(byte)]);
        }
        let mut len = chunk.len() * 3;
        if chunk_index == last_chunk {
            len -= 1; // no space after the very last byte
        }
        push_ascii(out, &buf[..len]);
    }
}

/// Returns `bytes` as uppercase hex pairs separated by single spaces: `48 65 6C`.
pub fn to_spaced(bytes: &[u8]) -> String {
    let mut out = String::new();
    format_spaced(bytes, &mut out);
    out
}

/// Bytes per hexdump row.
pub const ROW_BYTES: usize = 16;

/// Longest row [`hexdump_row`] writes: a 16-digit offset, hex area, ASCII column.
const ROW_MAX: usize = 16 + 2 + ROW_BYTES * 3 + 1 + 2 + ROW_BYTES + 1;

/// Writes one row into `buf`, returning its length.
/// `buf` must hold at least `ROW_MAX` bytes.
fn write_row(offset: usize, row: &[u8], buf: &mut [u8]) -> usize {
    let row = &row[..row.len().min(ROW_BYTES)];
    // Eight digits like `hexdump -C`; offsets past 4 GiB widen to sixteen so they stay exact.
    let digits = if (offset as u64) > 0xFFFF_FFFF { 16 } else { 8 };
    let mut len = 0;
    for shift in (0..digits).rev() {
        let nibble = ((offset as u64) >> (shift * 4)) & 0xF;
        buf[len] = SPACED[nibble as usize][1];
        len += 1;
    }
    buf[len] = b' ';
    buf[len + 1] = b' ';
    len += 2;
    for column in 0..ROW_BYTES {
        if column == ROW_BYTES / 2 {
            // The extra gap after eight bytes makes columns countable at a glance.
            buf[len] = b' ';
            len += 1;
        }
        match row.get(column) {
            Some(&byte) => buf[len..len + 3].copy_from_slice(&SPACED[usize::from(byte)]),
            None => buf[len..len + 3].copy_from_slice(b"   "),
        }
        len += 3;
    }
    buf[len] = b' ';
    buf[len + 1] = b'|';
    len += 2;
    for &byte in row {
        buf[len] = PRINTABLE[usize::from(byte)];
        len += 1;
    }
    buf[len] = b'|';
    len + 1
}

/// Appends one hexdump row (no newline), in the layout of `hexdump -C` with uppercase
/// digits: `00000010  48 65 6C 6C 6F 20 77 6F  72 6C 64 0A              |Hello world.|`.
///
/// The hex area is padded so the ASCII column lines up for short rows; the ASCII column
/// shows printable ASCII and `.` for anything else. Only the first 16 bytes of `row` are
/// used. Offsets above `0xFFFFFFFF` are written with 16 digits.
pub fn hexdump_row(offset: usize, row: &[u8], out: &mut String) {
    let mut buf = [0u8; ROW_MAX];
    let len = write_row(offset, row, &mut buf);
    push_ascii(out, &buf[..len]);
}

/// Appends a hexdump of `bytes` with offsets starting at 0: rows separated by `'\n'`,
/// no newline after the last row, nothing for empty input.
pub fn hexdump(bytes: &[u8], out: &mut String) {
    hexdump_at(0, bytes, out);
}

/// Like [`hexdump`], but the first row's offset is `base` (for a record that sits
/// further into a stream).
pub fn hexdump_at(base: usize, bytes: &[u8], out: &mut String) {
    // Rows are batched into one buffer so the UTF-8 check and the copy into `out` run
    // over kilobytes at a time instead of 78 bytes.
    const BATCH: usize = 64;
    let mut buf = [0u8; (ROW_MAX + 1) * BATCH];
    let rows = bytes.len().div_ceil(ROW_BYTES);
    out.reserve(rows * (ROW_MAX - 8 + 1));
    let mut len = 0;
    for (index, row) in bytes.chunks(ROW_BYTES).enumerate() {
        if index > 0 {
            buf[len] = b'\n';
            len += 1;
        }
        let offset = base.wrapping_add(index * ROW_BYTES);
        len += write_row(offset, row, &mut buf[len..]);
        if len > buf.len() - (ROW_MAX + 1) {
            push_ascii(out, &buf[..len]);
            len = 0;
        }
    }
    push_ascii(out, &buf[..len]);
}

#[cfg(test)]
// Tests may panic on a broken expectation: that is how they fail.
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Every pasting style from the issue parses to the same bytes.
    #[test]
    fn parses_common_styles() {
        let hello = vec![0x48, 0x65, 0x6C];
        for input in [
            "48 65 6C",
            "48656C",
            "0x48,0x65,0x6C",
            "0x48, 0x65, 0x6c",
            "48-65-6C",
            "48:65:6c",
            "\\x48\\x65\\x6C",
            "  48\t65\r\n6C\n",
            "4865\n6c",
            "0X48 0x65 6C",
            "48，65　6C",
        ] {
            assert_eq!(parse(input), Ok(hello.clone()), "input {input:?}");
        }
        assert_eq!(parse(""), Ok(vec![]));
        assert_eq!(parse("  \n"), Ok(vec![]));
        assert_eq!(parse("0x00 0x0A"), Ok(vec![0, 10]));
        assert_eq!(parse("00"), Ok(vec![0]));
    }

    /// A stray character is named with its 1-based character position.
    #[test]
    fn stray_character_is_named() {
        let err = parse("48 6g").unwrap_err();
        assert_eq!(
            err,
            HexError {
                position: 5,
                found: Some('g')
            }
        );
        assert_eq!(err.to_string(), "invalid hex character 'g' at position 5");
        // Positions count characters, not bytes.
        assert_eq!(
            parse("你 41 z").unwrap_err(),
            HexError {
                position: 1,
                found: Some('你')
            }
        );
        assert_eq!(parse("41 z").unwrap_err().position, 4);
        // `x` is only a prefix right after `0` at the start of a group.
        assert_eq!(parse("480x65").unwrap_err().found, Some('x'));
        assert_eq!(parse("\\48").unwrap_err().found, Some('\\'));
    }

    /// An odd digit count names the unpaired digit.
    #[test]
    fn odd_digit_count_is_an_error() {
        let err = parse("48 65 6").unwrap_err();
        assert_eq!(
            err,
            HexError {
                position: 7,
                found: None
            }
        );
        assert_eq!(
            err.to_string(),
            "odd number of hex digits: the last digit at position 7 has no partner"
        );
        assert_eq!(parse("486 5").unwrap_err().position, 3);
        assert_eq!(parse("0x4").unwrap_err().position, 3);
    }

    /// Spaced formatting: uppercase, single spaces, no trailing space.
    #[test]
    fn formats_spaced() {
        assert_eq!(to_spaced(b"Hel"), "48 65 6C");
        assert_eq!(to_spaced(&[]), "");
        assert_eq!(to_spaced(&[0x00, 0xFF, 0xab]), "00 FF AB");
        // Longer than one internal chunk, so the chunk seams are covered.
        let data: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
        let text = to_spaced(&data);
        assert_eq!(text.len(), data.len() * 3 - 1);
        assert_eq!(parse(&text), Ok(data));
        let mut out = String::from("> ");
        format_spaced(&[1], &mut out);
        assert_eq!(out, "> 01");
    }

    /// Hexdump rows have the `hexdump -C` layout, padded so the ASCII column aligns.
    #[test]
    fn hexdump_rows() {
        let mut row = String::new();
        hexdump_row(0x10, b"Hello, world!\n\x00\xFF", &mut row);
        assert_eq!(
            row,
            "00000010  48 65 6C 6C 6F 2C 20 77  6F 72 6C 64 21 0A 00 FF  |Hello, world!...|"
        );
        let mut short = String::new();
        hexdump_row(0, b"Hi", &mut short);
        assert_eq!(
            short,
            "00000000  48 69                                             |Hi|"
        );
        assert_eq!(short.find('|'), row.find('|'));
        let mut big = String::new();
        hexdump_row(0x1_0000_0000, b"A", &mut big);
        assert!(big.starts_with("0000000100000000  41 "), "{big}");

        let data: Vec<u8> = (0..40u8).collect();
        let mut dump = String::new();
        hexdump(&data, &mut dump);
        let lines: Vec<&str> = dump.split('\n').collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[1].starts_with("00000010  10 11"));
        assert!(lines[2].starts_with("00000020  20 21 22 23 24 25 26 27 "));
        assert!(lines[2].ends_with("| !\"#$%&'|"));
        let mut empty = String::new();
        hexdump(&[], &mut empty);
        assert_eq!(empty, "");
        // Many rows cross the internal batch boundary intact.
        let big_data = vec![0x41u8; 16 * 200];
        let mut dump = String::new();
        hexdump_at(0x100, &big_data, &mut dump);
        assert_eq!(dump.lines().count(), 200);
        assert!(dump.lines().all(|l| l.len() == 78));
        assert!(
            dump.lines()
                .nth(199)
                .is_some_and(|l| l.starts_with("00000D70"))
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 256,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        /// format → parse gives the bytes back, in both output styles' hex part.
        #[test]
        fn format_parse_round_trip(data in proptest::collection::vec(any::<u8>(), 0..600)) {
            prop_assert_eq!(parse(&to_spaced(&data)), Ok(data.clone()));
            let compact: String = to_spaced(&data).split(' ').collect();
            prop_assert_eq!(parse(&compact), Ok(data.clone()));
            let lower = to_spaced(&data).to_lowercase().replace(' ', ",0x");
            let prefixed = if data.is_empty() { String::new() } else { format!("0x{lower}") };
            prop_assert_eq!(parse(&prefixed), Ok(data));
        }

        /// Parsing arbitrary text never panics, and errors point inside the input.
        #[test]
        fn parse_arbitrary_text(input in ".{0,40}") {
            if let Err(e) = parse(&input) {
                prop_assert!(e.position >= 1 && e.position <= input.chars().count());
                if let Some(ch) = e.found {
                    prop_assert_eq!(input.chars().nth(e.position - 1), Some(ch));
                }
            }
        }
    }
}
