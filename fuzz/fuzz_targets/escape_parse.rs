//! Fuzzes `codec::escape::text_to_bytes` over every encoding: never panics, error
//! positions point inside the input, and the display escape of arbitrary bytes parses
//! back to those bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../../src/codec/mod.rs"]
mod codec;

use codec::escape::{self, SendTextError};
use codec::text::TextEncoding;

fuzz_target!(|data: &[u8]| {
    let shown = escape::escape_bytes_for_display(data);
    assert_eq!(
        escape::text_to_bytes(&shown, TextEncoding::Ascii, true),
        Ok(data.to_vec())
    );
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(input) = std::str::from_utf8(rest) else {
        return;
    };
    let enc = TextEncoding::ALL[usize::from(selector) % TextEncoding::ALL.len()];
    let escapes = selector & 0x80 != 0;
    match escape::text_to_bytes(input, enc, escapes) {
        Ok(_) => {}
        Err(SendTextError::Escape(e)) => {
            assert!(escapes);
            assert_eq!(input.chars().nth(e.position - 1), Some('\\'));
        }
        Err(SendTextError::Encode(e)) => {
            assert_eq!(e.encoding, enc);
            let at = input.chars().nth(e.position - 1);
            assert!(at.is_some(), "position {} outside {input:?}", e.position);
            if !escapes {
                assert_eq!(at, Some(e.ch));
            }
        }
    }
});
