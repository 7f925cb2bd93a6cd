//! Unit tests of the receive view's filter: worked through a full store over several
//! frames, it finds what a full scan finds.

use super::*;
use crate::engine::Direction;
use crate::session::store::StoreCaps;

/// A filter over a full store is worked through over several calls (frames), and
/// once done it has found exactly the records a full scan finds, in order.
#[test]
fn filter_over_a_full_store_finds_every_match() {
    let mut store = Store::new(StoreCaps::default(), TextEncoding::Utf8);
    let peer = "127.0.0.1:9".parse().unwrap();
    for i in 0..100_000u32 {
        let line = if i % 1000 == 7 {
            format!("{i} the needle is here\n")
        } else {
            format!("{i} hay \u{00FF}\u{3000} and more hay\n")
        };
        let at = std::time::SystemTime::now();
        let bytes = std::sync::Arc::from(line.into_bytes());
        store.push_data(1, Some(1), peer, Direction::Rx, at, bytes);
    }
    let mut state = ReceiveState {
        filter: "needle".into(),
        ..ReceiveState::default()
    };
    let mut calls = 0;
    loop {
        state.refresh_filter(&store);
        calls += 1;
        if state.filter_progress(&store).is_none() {
            break;
        }
        assert!(calls < 100_000, "the filter never finished");
    }
    let expected: Vec<u64> = store
        .iter()
        .filter(|r| store.text(r).contains("needle"))
        .map(|r| r.seq)
        .collect();
    assert_eq!(expected.len(), 100);
    assert_eq!(Vec::from(state.filter_cache.matches.clone()), expected);
}

/// A row's payload stops at the characters the row can show (escapes count as the
/// characters they write) and says it was cut; within the width nothing is cut.
#[test]
fn row_text_stops_at_the_width() {
    let mut drawable = |_: char| true;
    assert_eq!(rows::row_text("abc\r\n", &mut drawable, 80), "abc\\r\\n");
    let long = "x".repeat(500);
    let cut = rows::row_text(&long, &mut drawable, 40);
    assert_eq!(cut, format!("{}…", "x".repeat(40)));
    // Control bytes write four characters each: ten of them fill 40.
    let controls = "\u{1}".repeat(100);
    let cut = rows::row_text(&controls, &mut drawable, 40);
    assert_eq!(cut, format!("{}…", "\\x01".repeat(10)));
    // The list's own bound still holds on a wide row.
    let cut = rows::row_text(&long, &mut drawable, 10_000);
    assert_eq!(cut.chars().count(), ROW_CHARS + 1);
}

/// Every 512-byte sample of random bytes reads as binary (rows of a binary flood do not
/// flip between hex and escapes); ASCII with a few control bytes, GBK text and UTF-8 text
/// read as text.
#[test]
fn random_bytes_always_look_binary_text_never() {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let random: Vec<u8> = (0..(1 << 20))
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    for sample in random.chunks(512) {
        assert!(rows::bytes_look_binary(sample));
    }
    // STX, 20 ASCII bytes, ETX: 9% control bytes.
    let frame = b"\x02TEMP=21.5;HUM=40;OK\x03";
    assert!(!rows::bytes_look_binary(frame));
    let gbk = crate::codec::text::encode(TextEncoding::Gbk, "温度传感器 正常 湿度百分之四十\r\n")
        .unwrap();
    assert!(!rows::bytes_look_binary(&gbk));
    assert!(!rows::bytes_look_binary("状态=正常 temp=21.5\n".as_bytes()));
    assert!(rows::bytes_look_binary(&[
        0x01, 0x03, 0x00, 0x00, 0x00, 0x0A, 0xC5, 0xCD
    ]));
}
