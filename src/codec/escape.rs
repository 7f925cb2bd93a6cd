//! Typed text → bytes to send: escapes, line endings, and the whole payload.
//!
//! With escapes on, `\r \n \t \\ \0` stand for those characters (encoded like the rest
//! of the text, so `\n` is `0A 00` in UTF-16LE) and `\xNN` is one raw byte that bypasses
//! the encoding — that is how users put a stray 0xFF into an otherwise textual command.

use std::fmt;

use super::text::{self, EncodeError, TextEncoding};

/// What is appended after the typed text when it is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash)]
pub enum LineEnding {
    /// Nothing.
    #[default]
    None,
    /// `\r` (0x0D).
    Cr,
    /// `\n` (0x0A).
    Lf,
    /// `\r\n` (0x0D 0x0A).
    CrLf,
}

impl LineEnding {
    /// Every choice, in the order a picker should list them.
    pub const ALL: [LineEnding; 4] = [
        LineEnding::None,
        LineEnding::Cr,
        LineEnding::Lf,
        LineEnding::CrLf,
    ];

    /// The line ending as ASCII bytes (for byte-oriented encodings and hex mode).
    pub fn bytes(self) -> &'static [u8] {
        match self {
            LineEnding::None => b"",
            LineEnding::Cr => b"\r",
            LineEnding::Lf => b"\n",
            LineEnding::CrLf => b"\r\n",
        }
    }

    /// The line ending as text.
    pub fn as_str(self) -> &'static str {
        match self {
            LineEnding::None => "",
            LineEnding::Cr => "\r",
            LineEnding::Lf => "\n",
            LineEnding::CrLf => "\r\n",
        }
    }

    /// The line ending in `enc`: `0D 00 0A 00` for CRLF in UTF-16LE, the ASCII bytes
    /// otherwise (every other supported encoding is ASCII-compatible).
    pub fn encoded(self, enc: TextEncoding) -> Vec<u8> {
        // CR and LF exist in every supported encoding, so this never fails; fall back to
        // the ASCII bytes rather than panic if that ever changes.
        text::encode(enc, self.as_str()).unwrap_or_else(|_| self.bytes().to_vec())
    }

    /// The name shown in the UI: `"None"`, `"CR"`, `"LF"`, `"CRLF"`.
    pub fn name(self) -> &'static str {
        match self {
            LineEnding::None => "None",
            LineEnding::Cr => "CR",
            LineEnding::Lf => "LF",
            LineEnding::CrLf => "CRLF",
        }
    }
}

/// A malformed escape in typed text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EscapeError {
    /// 1-based character position of the backslash that starts the bad escape.
    pub position: usize,
    /// What is wrong, in words, without the position.
    pub message: String,
}

impl fmt::Display for EscapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at position {}", self.message, self.position)
    }
}

impl std::error::Error for EscapeError {}

/// Why typed text could not be turned into bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SendTextError {
    /// A malformed `\` escape.
    Escape(EscapeError),
    /// A character the chosen encoding cannot carry.
    Encode(EncodeError),
}

impl fmt::Display for SendTextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendTextError::Escape(e) => e.fmt(f),
            SendTextError::Encode(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for SendTextError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SendTextError::Escape(e) => Some(e),
            SendTextError::Encode(e) => Some(e),
        }
    }
}

impl From<EscapeError> for SendTextError {
    fn from(e: EscapeError) -> Self {
        SendTextError::Escape(e)
    }
}

impl From<EncodeError> for SendTextError {
    fn from(e: EncodeError) -> Self {
        SendTextError::Encode(e)
    }
}

/// A run of text waiting to be encoded, with the input position of each of its
/// characters so an encoding error points at what the user typed.
#[derive(Default)]
struct Run {
    text: String,
    positions: Vec<usize>,
}

impl Run {
    fn push(&mut self, ch: char, position: usize) {
        self.text.push(ch);
        self.positions.push(position);
    }

    /// Encodes the run onto `out` and empties it.
    fn flush(&mut self, enc: TextEncoding, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        if self.text.is_empty() {
            return Ok(());
        }
        match text::encode(enc, &self.text) {
            Ok(bytes) => out.extend_from_slice(&bytes),
            Err(mut e) => {
                e.position = self
                    .positions
                    .get(e.position.saturating_sub(1))
                    .copied()
                    .unwrap_or(e.position);
                return Err(e);
            }
        }
        self.text.clear();
        self.positions.clear();
        Ok(())
    }
}

/// Typed text → bytes.
///
/// With `escapes` on, `\r \n \t \\ \0` are those characters and `\xNN` (exactly two hex
/// digits, either case) is the raw byte NN, not encoded; any other backslash sequence,
/// including a lone trailing `\`, is an error naming its position. The rest of the text
/// is encoded strictly with `enc` (see [`text::encode`]).
pub fn text_to_bytes(
    input: &str,
    enc: TextEncoding,
    escapes: bool,
) -> Result<Vec<u8>, SendTextError> {
    if !escapes {
        return Ok(text::encode(enc, input)?);
    }
    let mut out = Vec::with_capacity(input.len());
    let mut run = Run::default();
    let mut chars = input.chars().enumerate();
    while let Some((index, ch)) = chars.next() {
        let position = index + 1;
        if ch != '\\' {
            run.push(ch, position);
            continue;
        }
        let error = |message: String| SendTextError::Escape(EscapeError { position, message });
        match chars.next().map(|(_, c)| c) {
            Some('r') => run.push('\r', position),
            Some('n') => run.push('\n', position),
            Some('t') => run.push('\t', position),
            Some('0') => run.push('\0', position),
            Some('\\') => run.push('\\', position),
            Some('x' | 'X') => {
                let high = chars.next().and_then(|(_, c)| c.to_digit(16));
                let low = chars.next().and_then(|(_, c)| c.to_digit(16));
                let (Some(high), Some(low)) = (high, low) else {
                    return Err(error("\\x must be followed by two hex digits".to_string()));
                };
                run.flush(enc, &mut out)?;
                // Both digits are below 16, so the value fits a byte.
                out.push((high * 16 + low) as u8);
            }
            Some(other) => {
                return Err(error(format!(
                    "unknown escape \\{other} (use \\\\ for a backslash)"
                )));
            }
            None => {
                return Err(error(
                    "a lone \\ at the end (use \\\\ for a backslash)".to_string(),
                ));
            }
        }
    }
    run.flush(enc, &mut out)?;
    Ok(out)
}

/// Shows bytes as escaped ASCII text that [`text_to_bytes`] (with escapes on, in ASCII
/// or UTF-8) turns back into the same bytes: printable ASCII as is, `\\`, `\r`, `\n`,
/// `\t`, `\0`, and `\xNN` for everything else.
pub fn escape_bytes_for_display(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &byte in bytes {
        match byte {
            b'\\' => out.push_str("\\\\"),
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            0 => out.push_str("\\0"),
            0x20..=0x7E => out.push(char::from(byte)),
            _ => super::hex::push_byte_escape(&mut out, byte),
        }
    }
    out
}

#[cfg(test)]
// Tests may panic on a broken expectation: that is how they fail.
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Each escape, and `\xNN` as a raw byte that skips the encoding.
    #[test]
    fn escapes_become_bytes() {
        let utf8 = TextEncoding::Utf8;
        assert_eq!(
            text_to_bytes("a\\r\\n\\t\\\\\\0b", utf8, true).unwrap(),
            b"a\r\n\t\\\0b"
        );
        assert_eq!(
            text_to_bytes("\\x41\\xff\\XfE", utf8, true).unwrap(),
            [0x41, 0xFF, 0xFE]
        );
        // Off: backslashes are text.
        assert_eq!(text_to_bytes("a\\n", utf8, false).unwrap(), b"a\\n");
        // Mixed with an encoding: text is GBK, \x bytes are raw.
        assert_eq!(
            text_to_bytes("你\\xFF好\\n", TextEncoding::Gbk, true).unwrap(),
            [0xC4, 0xE3, 0xFF, 0xBA, 0xC3, 0x0A]
        );
        // Escaped characters are encoded like text: \n is 0A 00 in UTF-16LE.
        assert_eq!(
            text_to_bytes("A\\n\\x01", TextEncoding::Utf16Le, true).unwrap(),
            [0x41, 0x00, 0x0A, 0x00, 0x01]
        );
    }

    /// Malformed escapes and unencodable characters name their position.
    #[test]
    fn errors_name_the_position() {
        let utf8 = TextEncoding::Utf8;
        let err = text_to_bytes("abc\\x4", utf8, true).unwrap_err();
        assert_eq!(
            err.to_string(),
            "\\x must be followed by two hex digits at position 4"
        );
        assert!(matches!(
            text_to_bytes("ab\\xZZ", utf8, true),
            Err(SendTextError::Escape(EscapeError { position: 3, .. }))
        ));
        assert!(matches!(
            text_to_bytes("\\q", utf8, true),
            Err(SendTextError::Escape(EscapeError { position: 1, .. }))
        ));
        assert!(matches!(
            text_to_bytes("ab\\", utf8, true),
            Err(SendTextError::Escape(EscapeError { position: 3, .. }))
        ));
        // The encoding error points at the character as typed, escapes counted as typed.
        let err = text_to_bytes("\\t\\x00😀", TextEncoding::Gbk, true).unwrap_err();
        assert_eq!(
            err,
            SendTextError::Encode(EncodeError {
                ch: '😀',
                position: 7,
                encoding: TextEncoding::Gbk
            })
        );
        assert!(text_to_bytes("😀", TextEncoding::Ascii, false).is_err());
    }

    /// Line endings, plain and in UTF-16.
    #[test]
    fn line_endings() {
        assert_eq!(LineEnding::default(), LineEnding::None);
        let names: Vec<_> = LineEnding::ALL.iter().map(|l| l.name()).collect();
        assert_eq!(names, ["None", "CR", "LF", "CRLF"]);
        assert_eq!(LineEnding::CrLf.bytes(), b"\r\n");
        assert_eq!(LineEnding::Cr.bytes(), b"\r");
        assert_eq!(LineEnding::Lf.bytes(), b"\n");
        assert_eq!(LineEnding::None.bytes(), b"");
        assert_eq!(
            LineEnding::CrLf.encoded(TextEncoding::Utf16Le),
            [0x0D, 0x00, 0x0A, 0x00]
        );
        assert_eq!(LineEnding::CrLf.encoded(TextEncoding::Gbk), b"\r\n");
    }

    /// The display form of a few awkward bytes.
    #[test]
    fn display_escapes() {
        assert_eq!(
            escape_bytes_for_display(b"A\\\r\n\t\0\x7F\xFF "),
            "A\\\\\\r\\n\\t\\0\\x7F\\xFF "
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 256,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        /// Escaped display text parses back to the same bytes.
        #[test]
        fn display_escape_round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
            let shown = escape_bytes_for_display(&bytes);
            prop_assert_eq!(text_to_bytes(&shown, TextEncoding::Ascii, true), Ok(bytes.clone()));
            prop_assert_eq!(text_to_bytes(&shown, TextEncoding::Utf8, true), Ok(bytes));
        }

        /// Arbitrary typed text never panics; escape errors point at a backslash.
        #[test]
        fn arbitrary_text(input in "[a-z\\\\xrnt0-9A-F😀]{0,30}") {
            if let Err(SendTextError::Escape(e)) = text_to_bytes(&input, TextEncoding::Gbk, true) {
                prop_assert_eq!(input.chars().nth(e.position - 1), Some('\\'));
            }
        }
    }
}
