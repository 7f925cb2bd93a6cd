//! Unit tests of the store: caps, eviction, pinning, the queue reserve, closes.

use super::*;

pub(super) fn peer() -> SocketAddr {
    "127.0.0.1:5000".parse().unwrap()
}

pub(super) fn push(store: &mut Store, conn: Option<ConnId>, bytes: &[u8]) {
    store.push_data(
        1,
        conn,
        peer(),
        Direction::Rx,
        SystemTime::now(),
        Arc::from(bytes),
    );
}

fn gbk(text: &str) -> Vec<u8> {
    crate::codec::text::encode(TextEncoding::Gbk, text).unwrap()
}

/// The room kept for data on its way (the engine's queue for the window) and for the
/// allocator comes off the byte cap, at most 7/8 of it, so what is held and what is
/// coming stay within the cap; a smaller reserve lets the store grow back.
#[test]
fn reserve_keeps_room_for_the_queue() {
    let caps = StoreCaps {
        max_bytes: 1 << 20,
        max_records: 1_000_000,
    };
    let mut store = Store::new(caps, TextEncoding::Utf8);
    let read = vec![b'x'; 16 << 10];
    for _ in 0..200 {
        push(&mut store, Some(1), &read);
    }
    assert!(store.held_bytes() > 900 << 10, "{}", store.held_bytes());
    let held = store.len();
    store.set_reserve(caps.max_bytes);
    // The whole cap asked, 7/8 kept; the store keeps at least its newest record.
    assert_eq!(store.reserve(), 896 << 10);
    let within =
        |store: &Store| store.len() == 1 || store.held_bytes() + store.reserve() <= caps.max_bytes;
    assert!(within(&store) && store.len() < held / 4, "{}", store.len());
    for _ in 0..200 {
        push(&mut store, Some(1), &read);
        assert!(within(&store));
    }
    let small = store.len();
    store.set_reserve(256 << 10);
    // What is coming, and an eighth of the cap for the allocator's holes.
    assert_eq!(store.reserve(), (256 << 10) + (128 << 10));
    assert_eq!(store.slack(), 128 << 10);
    for _ in 0..200 {
        push(&mut store, Some(1), &read);
        assert!(within(&store));
    }
    assert!(store.len() > small * 4, "{small} → {}", store.len());
}

/// The record cap evicts the oldest and keeps the tally; counters still count all.
#[test]
fn record_cap_evicts_oldest() {
    let caps = StoreCaps {
        max_bytes: usize::MAX,
        max_records: 10,
    };
    let mut store = Store::new(caps, TextEncoding::Utf8);
    for i in 0..25u8 {
        push(&mut store, Some(1), &[b'a' + (i % 26); 3]);
    }
    assert_eq!(store.len(), 10);
    assert_eq!(store.evicted_records(), 15);
    assert_eq!(store.evicted_bytes(), 45);
    assert_eq!(store.get(0).unwrap().seq, 16);
    assert_eq!(store.index_of_seq(20), Some(4));
    assert_eq!(store.index_of_seq(3), None);
    assert_eq!(store.stats.total.rx_bytes, 75);
    assert_eq!(store.stats.total.rx_msgs, 25);
}

/// A character cut off by the connection closing shows as `\xNN` in a record of its
/// own and counts as a decode error, rather than vanishing.
#[test]
fn close_flushes_partial_character() {
    let mut store = Store::new(StoreCaps::default(), TextEncoding::Gbk);
    push(&mut store, Some(4), &gbk("你")[..1]);
    assert_eq!(store.decode_errors(), 0);
    store.end_conn(1, 4);
    assert_eq!(store.len(), 2);
    assert_eq!(store.text(store.get(1).unwrap()), "\\xC4");
    assert_eq!(store.decode_errors(), 1);
}

/// Lowering the byte cap after a flood of small records gives back the spare queue
/// slots instead of evicting everything.
#[test]
fn lower_cap_keeps_records() {
    let mut store = Store::new(StoreCaps::default(), TextEncoding::Utf8);
    for _ in 0..200_000 {
        push(&mut store, None, b"0123456789abcdef");
    }
    let before = store.len();
    store.set_caps(StoreCaps {
        max_bytes: 8 * 1024 * 1024,
        max_records: 1_000_000,
    });
    assert!(store.held_bytes() <= 8 * 1024 * 1024);
    assert!(store.len() > 20_000, "{} of {before} kept", store.len());
    store.push_info(1, None, None, SystemTime::now(), "still here".into());
    assert!(store.len() > 20_000);
}

/// While pinned (paused) the held records survive a flood; what does not fit is
/// counted as dropped from the view; unpinning lets eviction resume.
#[test]
fn pinned_records_survive_a_flood() {
    let caps = StoreCaps {
        max_bytes: usize::MAX,
        max_records: 100,
    };
    let mut store = Store::new(caps, TextEncoding::Utf8);
    for _ in 0..50 {
        push(&mut store, Some(1), b"old");
    }
    store.set_pinned(true);
    for _ in 0..1000 {
        push(&mut store, Some(1), b"new");
    }
    assert_eq!(store.len(), 100);
    assert_eq!(
        store.get(0).unwrap().seq,
        1,
        "the paused snapshot is intact"
    );
    assert_eq!(store.evicted_records(), 950);
    assert_eq!(store.stats.total.rx_msgs, 1050, "counters saw everything");
    assert_eq!(
        store.index_of_seq(100),
        Some(99),
        "sequence numbers stay contiguous"
    );
    store.set_pinned(false);
    push(&mut store, Some(1), b"after");
    assert_eq!(store.len(), 100);
    assert_eq!(&*store.get(99).unwrap().bytes, b"after");
}

/// Paused, the records kept are one stretch of the stream: once a read does not fit,
/// a later small one that would is dropped too (it would show right after bytes that
/// came long before it); resuming keeps new records again.
#[test]
fn a_paused_view_never_skips_a_read_it_dropped() {
    let caps = StoreCaps {
        max_bytes: 1 << 20,
        max_records: 1000,
    };
    let mut store = Store::new(caps, TextEncoding::Utf8);
    store.set_pinned(true);
    push(&mut store, Some(1), &vec![b'a'; 256 << 10]);
    push(&mut store, Some(1), &vec![b'b'; 1 << 20]);
    push(&mut store, Some(1), b"small, would fit");
    assert_eq!(
        store.len(),
        1,
        "only the read before the first that did not fit"
    );
    assert_eq!(store.evicted_records(), 2);
    assert_eq!(store.evicted_bytes(), (1 << 20) + 16);
    assert_eq!(
        store.stats.total.rx_bytes,
        (1 << 20) + (256 << 10) + 16,
        "counters saw all"
    );
    store.push_info(1, Some(1), None, SystemTime::now(), "closed".into());
    assert_eq!(store.len(), 2, "a notice still shows");
    store.set_pinned(false);
    push(&mut store, Some(1), b"after");
    assert_eq!(&*store.get(store.len() - 1).unwrap().bytes, b"after");
}

/// After 1 GiB has passed through, the store holds no more than its byte cap (by its
/// own accounting) and has counted every byte.
#[test]
fn memory_bounded_after_1_gib() {
    let caps = StoreCaps::default();
    let mut store = Store::new(caps, TextEncoding::Utf8);
    let chunk: Arc<[u8]> = Arc::from(vec![b'x'; 64 * 1024]);
    let total: u64 = 1 << 30;
    for _ in 0..total / chunk.len() as u64 {
        store.push_data(
            1,
            Some(1),
            peer(),
            Direction::Rx,
            SystemTime::now(),
            chunk.clone(),
        );
    }
    assert!(
        store.held_bytes() <= caps.max_bytes,
        "{} held",
        store.held_bytes()
    );
    assert_eq!(store.stats.total.rx_bytes, total);
    let held_payload: u64 = store.iter().map(|r| r.bytes.len() as u64).sum();
    assert_eq!(held_payload + store.evicted_bytes(), total);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..proptest::prelude::ProptestConfig::default()
    })]

    /// However a stream is cut into reads, the records' texts joined equal the whole
    /// stream decoded at once: the text-is-bytes shortcut never loses or adds a
    /// character, in every ASCII-compatible encoding (GB18030's digit trail bytes too).
    #[test]
    fn cut_stream_texts_join_to_whole(
        chars in proptest::collection::vec(proptest::sample::select(vec![
            'a', '0', '9', ' ', '\n', '你', '好', '信', '息', '€', 'é', 'ö', '😀', '丂', '乣',
        ]), 0..40),
        cuts in proptest::collection::vec(0usize..200, 0..8),
        which in 0usize..6,
    ) {
        let encoding = [
            TextEncoding::Utf8,
            TextEncoding::Gbk,
            TextEncoding::Gb18030,
            TextEncoding::Big5,
            TextEncoding::ShiftJis,
            TextEncoding::EucKr,
        ][which];
        let text: String = chars
            .into_iter()
            .filter(|c| crate::codec::text::encode(encoding, &c.to_string()).is_ok())
            .collect();
        let bytes = crate::codec::text::encode(encoding, &text).unwrap();
        let mut points: Vec<usize> = cuts.into_iter().map(|c| c % (bytes.len() + 1)).collect();
        points.push(0);
        points.push(bytes.len());
        points.sort_unstable();
        let mut store = Store::new(StoreCaps::default(), encoding);
        for pair in points.windows(2) {
            push(&mut store, Some(9), &bytes[pair[0]..pair[1]]);
        }
        let joined: String = store.iter().map(|r| store.text(r)).collect();
        proptest::prop_assert_eq!(&joined, &text);
        proptest::prop_assert_eq!(store.decode_errors(), 0);
    }
}

/// Under a flood that evicts records before they are counted, a frame counts nothing
/// (the count would only cover what leaves next); once the flood stops, counting goes
/// on and ends with the exact count of what is held.
#[test]
fn counting_waits_while_a_flood_outruns_it() {
    let caps = StoreCaps {
        max_bytes: 1 << 20,
        max_records: 1_000_000,
    };
    let mut store = Store::new(caps, TextEncoding::Utf8);
    // One invalid byte in every 64 KiB read: binary to the scan, counted later.
    let mut read = vec![b'x'; 64 << 10];
    read[100] = 0xFF;
    for _ in 0..40 {
        push(&mut store, Some(1), &read);
    }
    let left = store.uncounted_bytes();
    assert!(left > 0 && store.evicted_records() > 0);
    store.count_some(COUNT_BUDGET);
    assert_eq!(store.uncounted_bytes(), left, "counted while outrun");
    while store.uncounted_bytes() > 0 {
        store.count_some(COUNT_BUDGET);
    }
    assert_eq!(store.decode_errors(), store.len() as u64);
}

/// A shed read is counted and dropped from view; the stream's next read decodes from a
/// fresh state (the bytes before it are gone), not as the end of a character the shed
/// read never delivered. Shedding is allowed while the view is live and unframed (for
/// what the store would evict), and once a paused view is full (for all it cannot keep).
#[test]
fn a_shed_read_counts_and_leaves_a_gap() {
    let caps = StoreCaps {
        max_bytes: 1 << 20,
        max_records: 1000,
    };
    let mut store = Store::new(caps, TextEncoding::Utf8);
    assert_eq!(store.shed_view(), 1 << 20, "nothing on its way: no slack");
    store.set_reserve(256 << 10);
    assert_eq!(
        store.shed_view(),
        (1 << 20) - (128 << 10),
        "the cap less the slack"
    );
    // "a" and the first two bytes of 你 (E4 BD A0).
    push(&mut store, Some(1), b"a\xE4\xBD");
    store.push_shed(1, 1, peer(), SystemTime::now(), 1000);
    push(&mut store, Some(1), b"b");
    assert_eq!(store.stats.total.rx_bytes, 1004);
    assert_eq!((store.evicted_bytes(), store.shed_bytes()), (1000, 1000));
    assert_eq!(store.evicted_records(), 1);
    let last = store.get(store.len() - 1).unwrap();
    assert_eq!(
        store.text(last),
        "b",
        "no half character carried over the gap"
    );

    store.set_pinned(true);
    assert_eq!(
        store.shed_view(),
        0,
        "paused with room: the view keeps what fits"
    );
    push(&mut store, Some(1), &vec![b'c'; 1 << 20]);
    assert_eq!(
        store.shed_view(),
        256 << 10,
        "paused and full: the queue sheds all it cannot hold"
    );
    store.set_pinned(false);
    store.set_frame_mode(FrameMode::IdleGap(std::time::Duration::from_millis(20)));
    assert_eq!(store.shed_view(), 0, "framed: a gap would split a frame");
}
