//! Text encodings: streaming decoding for display, strict encoding for sending, and
//! byte → character spans for the side-by-side view.
//!
//! Decoding goes through `encoding_rs` (ASCII is done here: it is not a WHATWG
//! encoding). Two rules shape this file:
//!
//! - A decoder lives as long as a connection direction ([`StreamDecoder`]), so a
//!   character split across two TCP reads comes out whole instead of as two errors.
//! - Nothing is silently replaced. `encoding_rs`'s replacing decoders turn bad input
//!   into U+FFFD, which hides *which* bytes were bad; we use the
//!   `*_without_replacement` calls, which stop at each malformed sequence and say how
//!   long it was and how many bytes after it were already consumed, and we print the
//!   bad bytes themselves as `\xNN`. On the sending side, a character the encoding
//!   cannot carry is an [`EncodeError`], never a `?`.

use std::fmt;
use std::ops::Range;

use encoding_rs::{DecoderResult, EncoderResult, Encoding};

/// A text encoding the user can pick for viewing or sending.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum TextEncoding {
    /// UTF-8 (the default).
    #[default]
    Utf8,
    /// GBK (decoded as GB18030, its superset, like browsers do; encoded strictly as GBK).
    Gbk,
    /// GB18030 (covers all of Unicode).
    Gb18030,
    /// Big5 (traditional Chinese).
    Big5,
    /// Shift_JIS (Japanese).
    ShiftJis,
    /// EUC-KR (Korean).
    EucKr,
    /// UTF-16, little-endian, no byte order mark.
    Utf16Le,
    /// UTF-16, big-endian, no byte order mark.
    Utf16Be,
    /// Windows-1252, also what the web means by "Latin-1"/ISO-8859-1.
    Windows1252,
    /// 7-bit US-ASCII: bytes from 0x80 up are invalid.
    Ascii,
}

impl TextEncoding {
    /// Every encoding, in the order a picker should list them.
    pub const ALL: [TextEncoding; 10] = [
        TextEncoding::Utf8,
        TextEncoding::Gbk,
        TextEncoding::Gb18030,
        TextEncoding::Big5,
        TextEncoding::ShiftJis,
        TextEncoding::EucKr,
        TextEncoding::Utf16Le,
        TextEncoding::Utf16Be,
        TextEncoding::Windows1252,
        TextEncoding::Ascii,
    ];

    /// The display (and settings-file) name: `"UTF-8"`, `"GBK"`, `"Shift_JIS"`, ….
    pub fn name(self) -> &'static str {
        match self {
            TextEncoding::Utf8 => "UTF-8",
            TextEncoding::Gbk => "GBK",
            TextEncoding::Gb18030 => "GB18030",
            TextEncoding::Big5 => "Big5",
            TextEncoding::ShiftJis => "Shift_JIS",
            TextEncoding::EucKr => "EUC-KR",
            TextEncoding::Utf16Le => "UTF-16LE",
            TextEncoding::Utf16Be => "UTF-16BE",
            TextEncoding::Windows1252 => "Windows-1252",
            TextEncoding::Ascii => "ASCII",
        }
    }

    /// Looks an encoding up by name or common alias, ignoring case, `-`, `_` and spaces:
    /// `"utf8"`, `"gb2312"`/`"cp936"` (→ GBK), `"latin1"`, `"sjis"`, `"us-ascii"`, ….
    pub fn from_name(name: &str) -> Option<Self> {
        let key: String = name
            .chars()
            .filter(|c| !matches!(c, '-' | '_' | ' '))
            .map(|c| c.to_ascii_lowercase())
            .collect();
        let enc = match key.as_str() {
            "utf8" => TextEncoding::Utf8,
            // GB2312 text is GBK text (GBK is its superset), and Windows calls GBK cp936.
            "gbk" | "gb2312" | "cp936" | "ms936" | "windows936" | "euccn" => TextEncoding::Gbk,
            "gb18030" => TextEncoding::Gb18030,
            "big5" | "big5hkscs" | "cp950" => TextEncoding::Big5,
            "shiftjis" | "sjis" | "cp932" | "windows31j" | "mskanji" => TextEncoding::ShiftJis,
            "euckr" | "cp949" | "uhc" | "ksc5601" => TextEncoding::EucKr,
            "utf16le" | "utf16" => TextEncoding::Utf16Le,
            "utf16be" => TextEncoding::Utf16Be,
            "windows1252" | "cp1252" | "latin1" | "iso88591" | "l1" => TextEncoding::Windows1252,
            "ascii" | "usascii" => TextEncoding::Ascii,
            _ => return None,
        };
        Some(enc)
    }

    /// The `encoding_rs` encoding behind this one; `None` for ASCII, done here.
    fn encoding_rs(self) -> Option<&'static Encoding> {
        Some(match self {
            TextEncoding::Utf8 => encoding_rs::UTF_8,
            TextEncoding::Gbk => encoding_rs::GBK,
            TextEncoding::Gb18030 => encoding_rs::GB18030,
            TextEncoding::Big5 => encoding_rs::BIG5,
            TextEncoding::ShiftJis => encoding_rs::SHIFT_JIS,
            TextEncoding::EucKr => encoding_rs::EUC_KR,
            TextEncoding::Utf16Le => encoding_rs::UTF_16LE,
            TextEncoding::Utf16Be => encoding_rs::UTF_16BE,
            TextEncoding::Windows1252 => encoding_rs::WINDOWS_1252,
            TextEncoding::Ascii => return None,
        })
    }
}

impl fmt::Display for TextEncoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Appends the visible escape for an invalid byte: `\xC4` (one table lookup).
fn push_invalid(out: &mut String, byte: u8) {
    super::hex::push_byte_escape(out, byte);
}

/// The escape for an invalid byte as its own string, for [`CharSpan::text`].
fn invalid_text(byte: u8) -> String {
    let mut text = String::with_capacity(4);
    push_invalid(&mut text, byte);
    text
}

/// How many of the most recent stream bytes we remember across calls. A malformed
/// sequence reported by `encoding_rs` can start in an earlier chunk: it is at most 4
/// bytes long (GB18030) with at most 3 bytes consumed after it, so 8 is enough.
const HISTORY: usize = 8;

/// The decoding machinery without the per-stream bookkeeping, shared by
/// [`StreamDecoder`] and the one-shot functions.
enum Inner {
    /// An `encoding_rs` decoder (all encodings but ASCII).
    Rs(encoding_rs::Decoder),
    /// ASCII is stateless: one byte is one character or one invalid byte.
    Ascii,
    /// UTF-8 for streams, done with std's `utf8_chunks`: the same maximal-subpart rules as
    /// `encoding_rs`, but several times faster on binary data, where most bytes are
    /// invalid (a binary flood viewed as UTF-8 is the common case to keep fast). Holds an
    /// incomplete trailing sequence (at most 3 bytes) for the next call.
    Utf8 { pending: [u8; 4], len: usize },
}

/// The decoder a stream uses: the fast UTF-8 path, or [`new_inner`].
fn stream_inner(enc: TextEncoding) -> Inner {
    match enc {
        TextEncoding::Utf8 => Inner::Utf8 {
            pending: [0; 4],
            len: 0,
        },
        _ => new_inner(enc),
    }
}

/// Decodes UTF-8 with std's chunk iterator; invalid bytes become `\xNN`.
fn decode_utf8(
    pending: &mut [u8; 4],
    len: &mut usize,
    bytes: &[u8],
    last: bool,
    out: &mut String,
) -> usize {
    let joined: Vec<u8>;
    let data: &[u8] = if *len == 0 {
        bytes
    } else {
        joined = [&pending[..*len], bytes].concat();
        &joined
    };
    *len = 0;
    out.reserve(data.len());
    let mut invalid = 0;
    let mut chunks = data.utf8_chunks().peekable();
    while let Some(chunk) = chunks.next() {
        out.push_str(chunk.valid());
        let bad = chunk.invalid();
        if bad.is_empty() {
            continue;
        }
        // A valid but unfinished sequence at the very end waits for the next read.
        let incomplete = matches!(std::str::from_utf8(bad), Err(e) if e.error_len().is_none());
        if chunks.peek().is_none() && !last && incomplete && bad.len() < pending.len() {
            pending[..bad.len()].copy_from_slice(bad);
            *len = bad.len();
        } else {
            for &byte in bad {
                push_invalid(out, byte);
                invalid += 1;
            }
        }
    }
    invalid
}

fn new_inner(enc: TextEncoding) -> Inner {
    match enc.encoding_rs() {
        // Without BOM handling: a BOM on the wire is data the user should see, and it
        // must not switch the decoder to another encoding behind the user's back.
        Some(encoding) => Inner::Rs(encoding.new_decoder_without_bom_handling()),
        None => Inner::Ascii,
    }
}

/// Decodes one piece of a byte stream into text, one decoder per connection and direction.
///
/// A multi-byte character split across two reads is held back until its last byte
/// arrives. Invalid bytes are written as `\xNN` (uppercase) and counted.
pub struct StreamDecoder {
    encoding: TextEncoding,
    inner: Inner,
    /// The last up-to-`HISTORY` bytes fed in earlier calls, oldest first, so the bytes of
    /// a malformed sequence that began in an earlier chunk can still be shown.
    history: [u8; HISTORY],
    history_len: usize,
    invalid_total: u64,
}

impl fmt::Debug for StreamDecoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamDecoder")
            .field("encoding", &self.encoding)
            .field("invalid_total", &self.invalid_total)
            .finish_non_exhaustive()
    }
}

impl StreamDecoder {
    /// A fresh decoder for one stream in `enc`.
    pub fn new(enc: TextEncoding) -> Self {
        StreamDecoder {
            encoding: enc,
            inner: stream_inner(enc),
            history: [0; HISTORY],
            history_len: 0,
            invalid_total: 0,
        }
    }

    /// The encoding this decoder reads.
    pub fn encoding(&self) -> TextEncoding {
        self.encoding
    }

    /// Forgets any partial character and the invalid count, as for a new connection.
    pub fn reset(&mut self) {
        *self = StreamDecoder::new(self.encoding);
    }

    /// Decodes `bytes` (the next chunk of the stream) appending text to `out`.
    ///
    /// An incomplete character at the end is kept for the next call unless `last`, in
    /// which case its bytes are reported invalid and the decoder starts afresh. Invalid
    /// bytes appear as `\xNN`. Returns the number of invalid bytes found in this call
    /// (which may include bytes held over from an earlier call).
    pub fn decode(&mut self, bytes: &[u8], last: bool, out: &mut String) -> usize {
        if bytes.is_empty() && !last {
            // Nothing to do, and `encoding_rs` 0.8.35's Big5 decoder forgets a pending
            // lead byte when handed an empty non-final buffer.
            return 0;
        }
        let invalid = match &mut self.inner {
            Inner::Ascii => decode_ascii(bytes, out),
            Inner::Utf8 { pending, len } => decode_utf8(pending, len, bytes, last, out),
            Inner::Rs(decoder) => decode_rs(
                decoder,
                &self.history[..self.history_len],
                bytes,
                last,
                out,
                &mut |_, _| {},
            ),
        };
        self.remember(bytes);
        self.invalid_total += invalid as u64;
        if last {
            // `encoding_rs` decoders must not be used after `last`; the stream may go on
            // (the user can keep reading after an explicit flush), so start a new one.
            self.inner = stream_inner(self.encoding);
            self.history_len = 0;
        }
        invalid
    }

    /// Invalid bytes seen since this decoder was created or reset.
    pub fn invalid_total(&self) -> u64 {
        self.invalid_total
    }

    /// Keeps the tail of the stream for reporting malformed sequences that straddle calls.
    fn remember(&mut self, bytes: &[u8]) {
        if bytes.len() >= HISTORY {
            self.history
                .copy_from_slice(&bytes[bytes.len() - HISTORY..]);
            self.history_len = HISTORY;
        } else {
            let keep = (HISTORY - bytes.len()).min(self.history_len);
            self.history
                .copy_within(self.history_len - keep..self.history_len, 0);
            self.history[keep..keep + bytes.len()].copy_from_slice(bytes);
            self.history_len = keep + bytes.len();
        }
    }
}

/// ASCII: bytes below 0x80 are characters, the rest invalid.
fn decode_ascii(bytes: &[u8], out: &mut String) -> usize {
    let mut invalid = 0;
    let mut rest = bytes;
    while !rest.is_empty() {
        let ascii_len = rest
            .iter()
            .position(|b| !b.is_ascii())
            .unwrap_or(rest.len());
        let (ascii, tail) = rest.split_at(ascii_len);
        if let Ok(text) = std::str::from_utf8(ascii) {
            out.push_str(text);
        }
        if let Some((&byte, tail)) = tail.split_first() {
            push_invalid(out, byte);
            invalid += 1;
            rest = tail;
        } else {
            rest = tail;
        }
    }
    invalid
}

/// Runs an `encoding_rs` decoder over `bytes`, writing invalid bytes as `\xNN`.
///
/// `history` holds the stream bytes before `bytes` (oldest first) so a malformed
/// sequence that began earlier can be spelled out. `on_invalid(offset, out_len)` is
/// called for each invalid byte with its offset relative to the start of `bytes`
/// (negative: from an earlier chunk) and the length of `out` just before its escape.
/// Returns the number of invalid bytes.
fn decode_rs(
    decoder: &mut encoding_rs::Decoder,
    history: &[u8],
    bytes: &[u8],
    last: bool,
    out: &mut String,
    on_invalid: &mut dyn FnMut(isize, usize),
) -> usize {
    let mut invalid = 0;
    let mut consumed = 0;
    loop {
        let rest = &bytes[consumed..];
        // The decoder only writes into spare capacity; reserve the worst case up front so
        // a chunk normally decodes in a single call.
        let need = decoder
            .max_utf8_buffer_length_without_replacement(rest.len())
            .unwrap_or(rest.len().saturating_mul(3).saturating_add(16));
        out.reserve(need);
        let (result, read) = decoder.decode_to_string_without_replacement(rest, out, last);
        consumed += read;
        match result {
            DecoderResult::InputEmpty => return invalid,
            DecoderResult::OutputFull => {}
            DecoderResult::Malformed(bad, after) => {
                // The bad bytes end `after` bytes before the current position and may
                // reach back into earlier chunks (see `HISTORY`).
                let end = consumed as isize - isize::from(after);
                let start = end - isize::from(bad);
                for offset in start..end {
                    let byte = if offset >= 0 {
                        bytes.get(offset as usize).copied()
                    } else {
                        history
                            .len()
                            .checked_sub(offset.unsigned_abs())
                            .and_then(|i| history.get(i).copied())
                    };
                    on_invalid(offset, out.len());
                    // A byte we no longer have would mean HISTORY is too short; show it as
                    // U+FFFD rather than lose the fact that something was there.
                    match byte {
                        Some(byte) => push_invalid(out, byte),
                        None => out.push(char::REPLACEMENT_CHARACTER),
                    }
                    invalid += 1;
                }
            }
        }
    }
}

/// Decodes a complete byte slice in one go, with the same `\xNN` rules as
/// [`StreamDecoder`]; an incomplete character at the end is invalid. Returns the number
/// of invalid bytes.
pub fn decode_all(enc: TextEncoding, bytes: &[u8], out: &mut String) -> usize {
    StreamDecoder::new(enc).decode(bytes, true, out)
}

/// Convenience: [`decode_all`] into a new string, with the invalid-byte count.
pub fn decode_to_string(enc: TextEncoding, bytes: &[u8]) -> (String, usize) {
    let mut out = String::new();
    let invalid = decode_all(enc, bytes, &mut out);
    (out, invalid)
}

/// Text to send that the chosen encoding cannot represent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EncodeError {
    /// The first character that cannot be encoded.
    pub ch: char,
    /// Its 1-based character position in the text.
    pub position: usize,
    /// The encoding that was asked for.
    pub encoding: TextEncoding,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} (U+{:04X}) at position {} cannot be encoded in {}",
            self.ch, self.ch as u32, self.position, self.encoding
        )
    }
}

impl std::error::Error for EncodeError {}

/// Encodes text to send, strictly: the result decodes back to exactly `text`.
///
/// A character the encoding cannot carry is an error naming it, never a `?`. That
/// includes the WHATWG encoders' few one-way mappings (for example Shift_JIS writes `¥`
/// as 0x5C, which reads back as `\`), because a debugging tool must send what it shows.
/// UTF-16 is written without a byte order mark.
pub fn encode(enc: TextEncoding, text: &str) -> Result<Vec<u8>, EncodeError> {
    let error_at = |byte_index: usize, ch: char| EncodeError {
        ch,
        position: text[..byte_index].chars().count() + 1,
        encoding: enc,
    };
    match enc {
        TextEncoding::Utf8 => Ok(text.as_bytes().to_vec()),
        TextEncoding::Utf16Le => Ok(text.encode_utf16().flat_map(u16::to_le_bytes).collect()),
        TextEncoding::Utf16Be => Ok(text.encode_utf16().flat_map(u16::to_be_bytes).collect()),
        TextEncoding::Ascii => match text.char_indices().find(|(_, ch)| !ch.is_ascii()) {
            Some((index, ch)) => Err(error_at(index, ch)),
            None => Ok(text.as_bytes().to_vec()),
        },
        _ => {
            let Some(encoding) = enc.encoding_rs() else {
                return Ok(text.as_bytes().to_vec());
            };
            let mut encoder = encoding.new_encoder();
            let mut out = Vec::with_capacity(text.len() + 8);
            let mut consumed = 0;
            loop {
                let rest = &text[consumed..];
                let need = encoder
                    .max_buffer_length_from_utf8_without_replacement(rest.len())
                    .unwrap_or(rest.len().saturating_mul(4).saturating_add(16));
                out.reserve(need);
                let (result, read) =
                    encoder.encode_from_utf8_to_vec_without_replacement(rest, &mut out, true);
                consumed += read;
                match result {
                    EncoderResult::InputEmpty => break,
                    EncoderResult::OutputFull => {}
                    EncoderResult::Unmappable(ch) => {
                        // `consumed` is just past the unmappable character.
                        return Err(error_at(consumed - ch.len_utf8(), ch));
                    }
                }
            }
            check_round_trip(enc, text, &out)?;
            Ok(out)
        }
    }
}

/// Rejects the encoders' one-way mappings: decodes `bytes` and names the first
/// character of `text` that does not come back.
fn check_round_trip(enc: TextEncoding, text: &str, bytes: &[u8]) -> Result<(), EncodeError> {
    let mut decoded = String::with_capacity(text.len());
    let invalid = decode_all(enc, bytes, &mut decoded);
    if invalid == 0 && decoded == text {
        return Ok(());
    }
    let mut back = decoded.chars();
    for (position, ch) in text.chars().enumerate() {
        if back.next() != Some(ch) {
            return Err(EncodeError {
                ch,
                position: position + 1,
                encoding: enc,
            });
        }
    }
    // The text is a proper prefix of what came back; blame its last character, which
    // must have produced the extra output.
    let (position, ch) = text
        .chars()
        .enumerate()
        .last()
        .unwrap_or((0, char::REPLACEMENT_CHARACTER));
    Err(EncodeError {
        ch,
        position: position + 1,
        encoding: enc,
    })
}

/// One character (or one invalid byte) of a side-by-side reading.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CharSpan {
    /// The bytes that produced it, as indices into the decoded slice.
    pub range: Range<usize>,
    /// The character(s) decoded from `range` (a few Big5 sequences make two code points),
    /// or `\xNN` when `valid` is false.
    pub text: String,
    /// False for an invalid byte; then `range` is exactly that one byte.
    pub valid: bool,
}

/// Reads `bytes` in `enc` as a list of spans, one per character or invalid byte,
/// covering the slice in order without gaps or overlaps, so a view can show which bytes
/// made which character (`你好` is C4 E3 BA C3 in GBK; in UTF-8 those are 4 invalid bytes).
///
/// An incomplete character at the end is reported as invalid bytes. Meant for one
/// record at a time (it feeds the decoder a byte at a time to learn the boundaries).
pub fn char_spans(enc: TextEncoding, bytes: &[u8]) -> Vec<CharSpan> {
    let mut spans = Vec::with_capacity(bytes.len());
    let Inner::Rs(mut decoder) = new_inner(enc) else {
        for (index, &byte) in bytes.iter().enumerate() {
            spans.push(if byte.is_ascii() {
                CharSpan {
                    range: index..index + 1,
                    text: char::from(byte).to_string(),
                    valid: true,
                }
            } else {
                CharSpan {
                    range: index..index + 1,
                    text: invalid_text(byte),
                    valid: false,
                }
            });
        }
        return spans;
    };
    // Where the next valid character's bytes begin.
    let mut char_start = 0;
    let mut text = String::new();
    // (byte index, where its escape starts in `text`) for each invalid byte of one feed.
    let mut invalid: Vec<(usize, usize)> = Vec::new();
    let mut feed = |index: usize, input: &[u8], last: bool, spans: &mut Vec<CharSpan>| {
        text.clear();
        invalid.clear();
        decode_rs(
            &mut decoder,
            &bytes[index.saturating_sub(HISTORY)..index],
            input,
            last,
            &mut text,
            &mut |offset, text_len| {
                invalid.push((index.saturating_add_signed(offset), text_len));
            },
        );
        // With one byte per feed the output is: valid text, invalid escapes and more valid
        // text interleaved in stream order (GB18030 re-reads bytes after a bad lead byte).
        // Valid text before an invalid byte came from the bytes since the last span.
        let mut text_pos = 0;
        for &(byte_index, escape_start) in &invalid {
            push_valid(char_start, byte_index, &text[text_pos..escape_start], spans);
            let escape_end = text[escape_start..]
                .char_indices()
                .nth(if text[escape_start..].starts_with('\\') {
                    4
                } else {
                    1
                })
                .map_or(text.len(), |(i, _)| escape_start + i);
            spans.push(CharSpan {
                range: byte_index..byte_index + 1,
                text: text[escape_start..escape_end].to_string(),
                valid: false,
            });
            text_pos = escape_end;
            char_start = byte_index + 1;
        }
        let end = index + input.len();
        if text_pos < text.len() {
            push_valid(char_start, end, &text[text_pos..], spans);
            char_start = end;
        }
    };
    for index in 0..bytes.len() {
        feed(index, &bytes[index..index + 1], false, &mut spans);
    }
    feed(bytes.len(), &[], true, &mut spans);
    spans
}

/// Adds the span of valid `text` decoded from bytes `start..upto` (never empty).
fn push_valid(start: usize, upto: usize, text: &str, spans: &mut Vec<CharSpan>) {
    if !text.is_empty() {
        let start = start.min(upto.saturating_sub(1));
        spans.push(CharSpan {
            range: start..upto.max(start + 1),
            text: text.to_string(),
            valid: true,
        });
    }
}

#[cfg(test)]
// Tests may panic on a broken expectation: that is how they fail.
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
