//! Fuzzes `codec::text`: for every encoding, decoding arbitrary bytes in arbitrary
//! pieces gives the same text as one piece, and the side-by-side spans tile the bytes
//! and spell the same text.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../../src/codec/mod.rs"]
mod codec;

use codec::text::{self, StreamDecoder, TextEncoding};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    let enc = TextEncoding::ALL[usize::from(selector) % TextEncoding::ALL.len()];
    let step = usize::from(selector >> 4) + 1;
    let (whole, invalid) = text::decode_to_string(enc, bytes);

    let mut decoder = StreamDecoder::new(enc);
    let mut out = String::new();
    let mut count = 0;
    for chunk in bytes.chunks(step) {
        count += decoder.decode(chunk, false, &mut out);
    }
    count += decoder.decode(&[], true, &mut out);
    assert_eq!((&out, count), (&whole, invalid));

    let spans = text::char_spans(enc, bytes);
    let mut next = 0;
    let mut joined = String::new();
    for span in &spans {
        assert_eq!(span.range.start, next);
        assert!(span.range.end > next);
        next = span.range.end;
        joined.push_str(&span.text);
    }
    assert_eq!(next, bytes.len());
    assert_eq!(joined, whole);

    if invalid == 0 {
        if let Ok(again) = text::encode(enc, &whole) {
            assert_eq!(text::decode_to_string(enc, &again), (whole, 0));
        }
    }
});
