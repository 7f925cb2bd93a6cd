//! Decoding a record's bytes to text for the store's encoding, with the shortcut that
//! keeps no copy when the text is the bytes themselves.

use crate::codec::text::{StreamDecoder, TextEncoding, decode_all};

/// True when `bytes`, decoded in `encoding` by a decoder holding no partial character,
/// are exactly the same UTF-8 text.
fn text_is_bytes(encoding: TextEncoding, bytes: &[u8]) -> bool {
    match encoding {
        TextEncoding::Utf8 => std::str::from_utf8(bytes).is_ok(),
        TextEncoding::Utf16Le | TextEncoding::Utf16Be => false,
        _ => bytes.is_ascii(),
    }
}

/// True when a stream decoder that was given `bytes` last holds no partial character.
/// Conservative: an ASCII last byte ends every character in these encodings, except that
/// in GBK/GB18030 a digit may be the second byte of a four-byte sequence.
fn ends_clean(encoding: TextEncoding, bytes: &[u8]) -> bool {
    match bytes {
        [] => false,
        [.., before, last] if last.is_ascii() => match encoding {
            TextEncoding::Utf16Le | TextEncoding::Utf16Be => false,
            TextEncoding::Gbk | TextEncoding::Gb18030 => {
                !last.is_ascii_digit() || before.is_ascii()
            }
            _ => true,
        },
        [last] => {
            last.is_ascii()
                && !(matches!(encoding, TextEncoding::Utf16Le | TextEncoding::Utf16Be))
                && !(matches!(encoding, TextEncoding::Gbk | TextEncoding::Gb18030)
                    && last.is_ascii_digit())
        }
        _ => false,
    }
}

/// Decodes one record's bytes: through the stream's decoder (TCP) or on their own
/// (datagrams). Returns `None` as the text when it equals the bytes, and the invalid count.
pub(super) fn decode_record(
    encoding: TextEncoding,
    stream: Option<(&mut StreamDecoder, &mut bool)>,
    bytes: &[u8],
) -> (Option<String>, usize) {
    let clean_before = stream.as_ref().is_none_or(|(_, clean)| **clean);
    // An empty read changes nothing (and must not mark a holding decoder clean).
    if bytes.is_empty() || (clean_before && text_is_bytes(encoding, bytes)) {
        // A clean decoder fed these bytes would output them unchanged and stay clean.
        return (None, 0);
    }
    let mut text = String::with_capacity(bytes.len() + bytes.len() / 2);
    let invalid = match stream {
        Some((decoder, clean)) => {
            let invalid = decoder.decode(bytes, false, &mut text);
            *clean = ends_clean(encoding, bytes);
            invalid
        }
        None => decode_all(encoding, bytes, &mut text),
    };
    text.shrink_to_fit();
    (Some(text), invalid)
}
