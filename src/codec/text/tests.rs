//! Unit tests of `codec::text`, in a file of their own (the module stays under 800 lines).

use super::*;
use proptest::prelude::*;

/// The strings the seed tutorials send back and forth.
const SEEDS: [&str; 3] = [
    "你好服务端，我是客户端小黑!",
    "ok, 问题正在处理中...",
    "信息已收到",
];

fn decoded(enc: TextEncoding, bytes: &[u8]) -> (String, usize) {
    decode_to_string(enc, bytes)
}

/// Names and aliases map both ways.
#[test]
fn names_and_aliases() {
    for enc in TextEncoding::ALL {
        assert_eq!(TextEncoding::from_name(enc.name()), Some(enc));
        assert_eq!(enc.to_string(), enc.name());
    }
    assert_eq!(TextEncoding::from_name("gb2312"), Some(TextEncoding::Gbk));
    assert_eq!(TextEncoding::from_name("CP936"), Some(TextEncoding::Gbk));
    assert_eq!(TextEncoding::from_name("utf8"), Some(TextEncoding::Utf8));
    assert_eq!(
        TextEncoding::from_name("latin1"),
        Some(TextEncoding::Windows1252)
    );
    assert_eq!(
        TextEncoding::from_name("ISO-8859-1"),
        Some(TextEncoding::Windows1252)
    );
    assert_eq!(
        TextEncoding::from_name("sjis"),
        Some(TextEncoding::ShiftJis)
    );
    assert_eq!(
        TextEncoding::from_name("utf_16_be"),
        Some(TextEncoding::Utf16Be)
    );
    assert_eq!(TextEncoding::from_name("klingon"), None);
    assert_eq!(TextEncoding::default(), TextEncoding::Utf8);
}

/// 你好 is C4 E3 BA C3 in GBK; the same bytes are four invalid bytes in UTF-8.
#[test]
fn nihao_gbk_vs_utf8() {
    let gbk = encode(TextEncoding::Gbk, "你好").unwrap();
    assert_eq!(gbk, [0xC4, 0xE3, 0xBA, 0xC3]);
    assert_eq!(decoded(TextEncoding::Gbk, &gbk), ("你好".to_string(), 0));
    assert_eq!(
        decoded(TextEncoding::Utf8, &gbk),
        ("\\xC4\\xE3\\xBA\\xC3".to_string(), 4)
    );
    assert_eq!(
        decoded(TextEncoding::Ascii, &gbk),
        ("\\xC4\\xE3\\xBA\\xC3".to_string(), 4)
    );
    assert_eq!(
        encode(TextEncoding::Utf8, "你好").unwrap(),
        "你好".as_bytes()
    );
}

/// The seed strings survive GBK, GB18030 and UTF-8 both ways.
#[test]
fn seed_strings_round_trip() {
    for seed in SEEDS {
        for enc in [TextEncoding::Gbk, TextEncoding::Gb18030, TextEncoding::Utf8] {
            let bytes = encode(enc, seed).unwrap();
            assert_eq!(decoded(enc, &bytes), (seed.to_string(), 0), "{enc}");
        }
    }
    // The tutorial's bug: GBK bytes read as UTF-8 are not the text.
    let gbk = encode(TextEncoding::Gbk, SEEDS[0]).unwrap();
    let (as_utf8, invalid) = decoded(TextEncoding::Utf8, &gbk);
    assert_ne!(as_utf8, SEEDS[0]);
    assert!(invalid > 0);
}

/// A GBK string split at every byte position across two reads decodes exactly like
/// the unsplit string, in every encoding's view (valid or not).
#[test]
fn split_at_every_position() {
    let text = SEEDS.concat();
    let gbk = encode(TextEncoding::Gbk, &text).unwrap();
    for enc in TextEncoding::ALL {
        let (whole, whole_invalid) = decoded(enc, &gbk);
        if enc == TextEncoding::Gbk || enc == TextEncoding::Gb18030 {
            assert_eq!(whole, text);
        }
        for cut in 0..=gbk.len() {
            let mut decoder = StreamDecoder::new(enc);
            let mut out = String::new();
            let a = decoder.decode(&gbk[..cut], false, &mut out);
            let b = decoder.decode(&gbk[cut..], true, &mut out);
            assert_eq!(out, whole, "{enc} cut at {cut}");
            assert_eq!(a + b, whole_invalid);
            assert_eq!(decoder.invalid_total(), whole_invalid as u64);
        }
    }
}

/// Bad bytes whose sequence began in an earlier read are still shown as themselves.
#[test]
fn invalid_sequences_across_reads() {
    // GB18030: a 4-byte sequence broken at its last byte; the lead byte is bad, and
    // the bytes after it are read again ("0" and the valid pair 81 41).
    let bytes = [0x81, 0x30, 0x81, 0x41, 0x20];
    let (whole, invalid) = decoded(TextEncoding::Gb18030, &bytes);
    assert_eq!(invalid, 1);
    assert!(whole.starts_with("\\x810"), "{whole}");
    for cut in 0..=bytes.len() {
        let mut decoder = StreamDecoder::new(TextEncoding::Gb18030);
        let mut out = String::new();
        decoder.decode(&bytes[..cut], false, &mut out);
        decoder.decode(&bytes[cut..], true, &mut out);
        assert_eq!(out, whole, "cut at {cut}");
    }
    // A lone lead byte at the very end is invalid only once the stream ends.
    let mut decoder = StreamDecoder::new(TextEncoding::Gbk);
    let mut out = String::new();
    assert_eq!(decoder.decode(&[0x41, 0xC4], false, &mut out), 0);
    assert_eq!(out, "A");
    assert_eq!(decoder.decode(&[], true, &mut out), 1);
    assert_eq!(out, "A\\xC4");
    // After `last` the decoder keeps working for a new stretch.
    assert_eq!(decoder.decode(&[0xC4, 0xE3], false, &mut out), 0);
    assert_eq!(out, "A\\xC4你");
    // UTF-16: a dangling odd byte and a lone surrogate are shown, not dropped.
    assert_eq!(
        decoded(TextEncoding::Utf16Le, &[0x41, 0x00, 0x42]),
        ("A\\x42".to_string(), 1)
    );
    let (lone, invalid) = decoded(TextEncoding::Utf16Le, &[0x00, 0xD8, 0x41, 0x00]);
    assert_eq!((lone.as_str(), invalid), ("\\x00\\xD8A", 2));
    // UTF-8: a truncated sequence before ASCII.
    assert_eq!(
        decoded(TextEncoding::Utf8, &[0xE4, 0xBD, 0x41]),
        ("\\xE4\\xBDA".to_string(), 2)
    );
}

/// Each encoding's basics, with known bytes.
#[test]
fn known_vectors() {
    let cases: [(TextEncoding, &str, &[u8]); 10] = [
        (TextEncoding::Utf8, "é", &[0xC3, 0xA9]),
        (TextEncoding::Gbk, "中", &[0xD6, 0xD0]),
        (TextEncoding::Gb18030, "😀", &[0x94, 0x39, 0xFC, 0x36]),
        (TextEncoding::Big5, "中", &[0xA4, 0xA4]),
        (TextEncoding::ShiftJis, "あ", &[0x82, 0xA0]),
        (TextEncoding::EucKr, "한", &[0xC7, 0xD1]),
        (TextEncoding::Utf16Le, "A€", &[0x41, 0x00, 0xAC, 0x20]),
        (TextEncoding::Utf16Be, "A€", &[0x00, 0x41, 0x20, 0xAC]),
        (TextEncoding::Windows1252, "é€", &[0xE9, 0x80]),
        (TextEncoding::Ascii, "Hi\r\n", b"Hi\r\n"),
    ];
    for (enc, text, bytes) in cases {
        assert_eq!(encode(enc, text).unwrap(), bytes, "{enc}");
        assert_eq!(decoded(enc, bytes), (text.to_string(), 0), "{enc}");
    }
    // Windows-1252 reads every byte; ASCII rejects the high half.
    assert_eq!(decoded(TextEncoding::Windows1252, &[0x81]).1, 0);
    assert_eq!(
        decoded(TextEncoding::Ascii, &[0x41, 0x80]),
        ("A\\x80".to_string(), 1)
    );
    // A BOM is data: shown, not swallowed.
    assert_eq!(decoded(TextEncoding::Utf8, b"\xEF\xBB\xBFA").0, "\u{FEFF}A");
}

/// Unencodable characters are errors naming the first one; no silent `?`.
#[test]
fn encode_errors_name_the_character() {
    let err = encode(TextEncoding::Gbk, "ab😀c").unwrap_err();
    assert_eq!(
        err,
        EncodeError {
            ch: '😀',
            position: 3,
            encoding: TextEncoding::Gbk
        }
    );
    assert_eq!(
        err.to_string(),
        "'😀' (U+1F600) at position 3 cannot be encoded in GBK"
    );
    assert_eq!(encode(TextEncoding::Ascii, "aé").unwrap_err().position, 2);
    assert_eq!(encode(TextEncoding::Big5, "A한").unwrap_err().ch, '한');
    assert_eq!(encode(TextEncoding::EucKr, "你好").unwrap_err().position, 1);
    assert_eq!(
        encode(TextEncoding::Windows1252, "€中").unwrap_err().ch,
        '中'
    );
    // One-way WHATWG mapping: Shift_JIS would send ¥ as 0x5C, which reads back as '\'.
    assert_eq!(
        encode(TextEncoding::ShiftJis, "a¥").unwrap_err().position,
        2
    );
    // GB18030 and the Unicode encodings carry everything.
    assert!(encode(TextEncoding::Gb18030, "😀").is_ok());
    assert!(encode(TextEncoding::Utf16Be, "😀").is_ok());
}

/// Side by side: which bytes made which character.
#[test]
fn char_spans_show_byte_ranges() {
    let bytes = [0xC4, 0xE3, 0xBA, 0xC3, 0x21];
    assert_eq!(
        char_spans(TextEncoding::Gbk, &bytes),
        vec![
            CharSpan {
                range: 0..2,
                text: "你".into(),
                valid: true
            },
            CharSpan {
                range: 2..4,
                text: "好".into(),
                valid: true
            },
            CharSpan {
                range: 4..5,
                text: "!".into(),
                valid: true
            },
        ]
    );
    let utf8 = char_spans(TextEncoding::Utf8, &bytes);
    assert_eq!(utf8.len(), 5);
    assert_eq!(
        utf8[0],
        CharSpan {
            range: 0..1,
            text: "\\xC4".into(),
            valid: false
        }
    );
    assert!(utf8[..4].iter().all(|s| !s.valid));
    assert_eq!(
        utf8[4],
        CharSpan {
            range: 4..5,
            text: "!".into(),
            valid: true
        }
    );
    let nihao = char_spans(TextEncoding::Utf8, "你好".as_bytes());
    assert_eq!(
        nihao.iter().map(|s| s.range.clone()).collect::<Vec<_>>(),
        [0..3, 3..6]
    );
    // A trailing incomplete character is invalid bytes.
    let cut = char_spans(TextEncoding::Utf8, &[0x41, 0xE4, 0xBD]);
    assert_eq!(cut.len(), 3);
    assert!(!cut[1].valid && !cut[2].valid);
    let astral = char_spans(TextEncoding::Utf16Le, &[0x3D, 0xD8, 0x00, 0xDE]);
    assert_eq!(
        astral,
        vec![CharSpan {
            range: 0..4,
            text: "😀".into(),
            valid: true
        }]
    );
    assert_eq!(char_spans(TextEncoding::Ascii, &[0x41, 0x80]).len(), 2);
    assert!(char_spans(TextEncoding::Gbk, &[]).is_empty());
}

/// Spans tile the input and agree with the streaming decoder's text.
fn check_spans(enc: TextEncoding, bytes: &[u8]) -> Result<(), TestCaseError> {
    let spans = char_spans(enc, bytes);
    let mut next = 0;
    let mut text = String::new();
    let mut invalid = 0;
    for span in &spans {
        prop_assert_eq!(span.range.start, next);
        prop_assert!(span.range.end > span.range.start);
        if !span.valid {
            prop_assert_eq!(span.range.len(), 1);
            invalid += 1;
        }
        next = span.range.end;
        text.push_str(&span.text);
    }
    prop_assert_eq!(next, bytes.len());
    prop_assert_eq!((text, invalid), decoded(enc, bytes));
    Ok(())
}

fn any_encoding() -> impl Strategy<Value = TextEncoding> {
    proptest::sample::select(TextEncoding::ALL.to_vec())
}

/// Text drawn from scripts the legacy encodings cover, plus anything at all.
fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9 ,.!?\r\n\\\\]{0,20}",
        "[你好服务端我是客户端小黑问题正在处理中信息已收到，。！ok]{0,20}",
        "[\u{3040}-\u{30FF}\u{AC00}-\u{D7A3}\u{4E00}-\u{9FFF}\u{A0}-\u{FF}]{0,20}",
        ".{0,20}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// The fast UTF-8 stream path gives exactly what `encoding_rs` gives for the whole
    /// stream at once (text, `\xNN` escapes, invalid count), however it is cut.
    #[test]
    fn fast_utf8_matches_encoding_rs(
        bytes in proptest::collection::vec(prop_oneof![
            any::<u8>(),
            Just(0xE4u8), Just(0xBDu8), Just(0xA0u8), Just(0xF0u8), Just(0x9Fu8),
            Just(0x98u8), Just(0x80u8), Just(0xC3u8), Just(0x41u8),
        ], 0..120),
        cuts in proptest::collection::vec(0usize..130, 0..6),
    ) {
        let mut reference = String::new();
        let mut rs = encoding_rs::UTF_8.new_decoder_without_bom_handling();
        let expected_invalid =
            decode_rs(&mut rs, &[], &bytes, true, &mut reference, &mut |_, _| {});
        let mut points: Vec<usize> = cuts.into_iter().map(|c| c % (bytes.len() + 1)).collect();
        points.push(0);
        points.push(bytes.len());
        points.sort_unstable();
        let mut decoder = StreamDecoder::new(TextEncoding::Utf8);
        let mut out = String::new();
        let mut invalid = 0;
        for pair in points.windows(2) {
            invalid += decoder.decode(&bytes[pair[0]..pair[1]], false, &mut out);
        }
        invalid += decoder.decode(&[], true, &mut out);
        prop_assert_eq!(&out, &reference);
        prop_assert_eq!(invalid, expected_invalid);
    }

    /// encode → decode gives the text back for every encoding that accepts it, and
    /// an encoding error names a character of the text at its position.
    #[test]
    fn encode_decode_round_trip(enc in any_encoding(), text in any_text()) {
        match encode(enc, &text) {
            Ok(bytes) => {
                prop_assert_eq!(decoded(enc, &bytes), (text.clone(), 0));
                check_spans(enc, &bytes)?;
            }
            Err(e) => {
                prop_assert_eq!(text.chars().nth(e.position - 1), Some(e.ch));
                prop_assert!(!matches!(enc, TextEncoding::Utf8 | TextEncoding::Gb18030
                    | TextEncoding::Utf16Le | TextEncoding::Utf16Be));
            }
        }
    }

    /// Arbitrary bytes: cutting the stream anywhere never changes the text, and the
    /// side-by-side spans tile the bytes.
    #[test]
    fn streaming_is_cut_invariant(
        enc in any_encoding(),
        bytes in proptest::collection::vec(any::<u8>(), 0..64),
        cuts in proptest::collection::vec(0usize..64, 0..4),
    ) {
        let whole = decoded(enc, &bytes);
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(bytes.len())).collect();
        cuts.sort_unstable();
        let mut decoder = StreamDecoder::new(enc);
        let mut out = String::new();
        let mut invalid = 0;
        let mut prev = 0;
        for cut in cuts {
            invalid += decoder.decode(&bytes[prev..cut], false, &mut out);
            prev = cut;
        }
        invalid += decoder.decode(&bytes[prev..], true, &mut out);
        prop_assert_eq!((out, invalid), whole);
        check_spans(enc, &bytes)?;
    }
}
