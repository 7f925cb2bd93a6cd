//! The store's text: a record's text in the current encoding, made when it is shown
//! from the record's bytes and its carry; counting invalid bytes within a budget per
//! frame; and switching the encoding without decoding anything (a carry pass over a few
//! frames for the encodings that need one).

use std::borrow::Cow;
use std::collections::HashMap;

use crate::codec::lazy::{self, Carry};
use crate::codec::text::TextEncoding;

use super::{
    COUNT_BUDGET, Record, RecordKind, Store, StreamKey, lazy_facts, push_tail, received_invalid,
    stream_key,
};
use crate::session::hash::FastMap;

/// Bytes of held records whose carry an encoding switch's pass finds per frame: the
/// carry scan runs at memory speed, so a 64 MiB view takes a few frames.
const CARRY_BUDGET: usize = 8 << 20;

impl Store {
    /// A record's payload as text in the store's encoding (`\xNN` for invalid bytes):
    /// stored, the bytes themselves, or made now for a lazily rendered record.
    pub fn text<'a>(&self, record: &'a Record) -> Cow<'a, str> {
        match record.stored_text() {
            Some(text) => Cow::Borrowed(text),
            None => {
                let mut out = String::with_capacity(record.bytes.len() + 16);
                lazy::render(
                    self.encoding,
                    record.carry,
                    &record.bytes,
                    record.whole(),
                    &mut out,
                );
                Cow::Owned(out)
            }
        }
    }

    /// The start of a record's text, for a list row: at most about `max_bytes` of its
    /// payload are decoded (a character cut there is left out).
    pub fn text_start<'a>(&self, record: &'a Record, max_bytes: usize) -> Cow<'a, str> {
        if record.bytes.len() <= max_bytes {
            return self.text(record);
        }
        if let Some(text) = record.stored_text_upto(max_bytes) {
            return Cow::Borrowed(text);
        }
        let mut out = String::with_capacity(max_bytes + 16);
        lazy::render(
            self.encoding,
            record.carry,
            &record.bytes[..max_bytes],
            false,
            &mut out,
        );
        Cow::Owned(out)
    }

    /// The encoding the text cache is in.
    pub fn encoding(&self) -> TextEncoding {
        self.encoding
    }

    /// A record's invalid bytes in the store's encoding (counted now if they were not yet).
    pub fn invalid_of(&self, record: &Record) -> u32 {
        if record.counted {
            return record.invalid;
        }
        let mut carry = record.carry;
        let invalid = lazy::scan(self.encoding, &mut carry, &record.bytes, record.whole());
        u32::try_from(invalid).unwrap_or(u32::MAX)
    }

    /// While a switch of the encoding is still counting the held records' invalid bytes
    /// (and, for GBK, Big5, UTF-16 …, finding their carries): how far it got, 0.0–1.0
    /// (`None` when no switch is going on).
    pub fn redecoding(&self) -> Option<f32> {
        if self.switch_uncounted == 0 {
            return None;
        }
        let total = self.switch_uncounted as f64;
        let left = self.uncounted_bytes.min(self.switch_uncounted) as f64;
        Some((1.0 - left / total) as f32)
    }

    /// Bytes of held records whose invalid bytes are still to be counted
    /// ([`Self::decode_errors`] leaves them out until [`Self::poll`] has counted them).
    pub fn uncounted_bytes(&self) -> u64 {
        self.uncounted_bytes
    }

    /// One frame's share of the background work on the held records, oldest first: the
    /// carry pass of an encoding switch (up to 8 MiB), then counting
    /// invalid bytes until about `budget` bytes were scanned (skipped in a frame after
    /// uncounted records were evicted: a flood outruns counting).
    pub fn count_some(&mut self, budget: usize) {
        self.resolve_carries(CARRY_BUDGET.max(budget), None);
        if self.uncounted_bytes == 0 {
            self.switch_uncounted = 0;
            return;
        }
        if std::mem::take(&mut self.outrun) {
            // A flood evicts records before they are counted: counting now would only
            // count what leaves the view next frame. It resumes when the flood stops.
            return;
        }
        let first = self.records.front().map_or(self.next_seq, |r| r.seq);
        let start = self.count_cursor.max(first);
        let Some(index) = self.index_of_seq(start) else {
            return;
        };
        let encoding = self.encoding;
        let mut scanned = 0usize;
        let mut cursor = start;
        for record in self.records.iter_mut().skip(index) {
            // Records the carry pass has not reached are counted when it has.
            if scanned >= budget || !record.carry_known {
                break;
            }
            cursor = record.seq + 1;
            if record.counted {
                continue;
            }
            let mut carry = record.carry;
            let invalid = lazy::scan(encoding, &mut carry, &record.bytes, record.whole());
            record.invalid = u32::try_from(invalid).unwrap_or(u32::MAX);
            record.counted = true;
            scanned += record.bytes.len();
            self.uncounted_bytes = self
                .uncounted_bytes
                .saturating_sub(record.bytes.len() as u64);
            if record.kind == RecordKind::Rx {
                self.invalid_held += u64::from(record.invalid);
            }
        }
        self.count_cursor = cursor;
        if self.uncounted_bytes == 0 {
            self.switch_uncounted = 0;
        }
    }

    /// Moves the carry pass on by about `budget` bytes (only the stream `only`, when
    /// given: a closing stream needs its carry now). When no record is left without its
    /// carry, the pass hands each stream's carry to the stream and ends.
    pub(super) fn resolve_carries(&mut self, budget: usize, only: Option<StreamKey>) {
        if self.carry_pass.is_none() {
            return;
        }
        let encoding = self.encoding;
        let first = self.records.front().map_or(self.next_seq, |r| r.seq);
        let start = self.carry_cursor.max(first);
        let index = self.index_of_seq(start).unwrap_or(self.records.len());
        let Some(pass) = self.carry_pass.as_mut() else {
            return;
        };
        let mut scanned = 0usize;
        let mut cursor = start;
        for record in self.records.iter_mut().skip(index) {
            if scanned >= budget {
                break;
            }
            if only.is_none() {
                cursor = record.seq + 1;
            }
            if record.carry_known {
                continue;
            }
            let key = stream_key(record.session, record.conn, record.peer, record.kind);
            if only.is_some_and(|k| k != key) {
                continue;
            }
            let carry = pass.entry(key).or_default();
            record.carry = *carry;
            record.carry_known = true;
            *carry = lazy::carry_through(encoding, *carry, &record.bytes);
            self.unknown_carries = self.unknown_carries.saturating_sub(1);
            scanned += record.bytes.len();
        }
        if only.is_none() {
            self.carry_cursor = cursor;
        }
        if self.unknown_carries == 0 {
            self.end_carry_pass();
        }
    }

    /// Ends a carry pass that went through every held record: open streams go on from
    /// the carry the pass found, so a character split across the next read still comes
    /// out whole.
    pub(super) fn end_carry_pass(&mut self) {
        let Some(carries) = self.carry_pass.take() else {
            return;
        };
        self.unknown_carries = 0;
        for (key, carry) in carries {
            if let Some(state) = self.streams.get_mut(&key) {
                state.pending = carry;
            }
        }
    }

    /// The carry a stream holds now (for its close), finding it first if a carry pass
    /// has not got that far.
    pub(super) fn stream_carry(&mut self, key: StreamKey) -> Carry {
        if !lazy::carries_by_scan(self.encoding) {
            return self
                .streams
                .get(&key)
                .map(|state| lazy::carry_after(self.encoding, state.tail()))
                .unwrap_or_default();
        }
        if self.carry_pass.is_some() {
            self.resolve_carries(usize::MAX, Some(key));
            if let Some(carry) = self.carry_pass.as_ref().and_then(|pass| pass.get(&key)) {
                return *carry;
            }
        }
        self.streams
            .get(&key)
            .map(|state| state.pending)
            .unwrap_or_default()
    }

    /// Invalid bytes in the held received records under the current encoding (what we
    /// sent is not a decoding problem of the peer's).
    pub fn decode_errors(&self) -> u64 {
        self.invalid_held
    }

    /// Switches the encoding. No record is decoded: each held record gets its carry (the
    /// unfinished character before it) and its invalid bytes are counted again within a
    /// budget per frame. For UTF-8, ASCII and Windows-1252 the carries follow from the
    /// bytes just before each record; for GBK, Big5, Shift_JIS, EUC-KR, GB18030 and UTF-16
    /// a carry pass finds them, a few MiB per frame, oldest first (records not reached yet
    /// render on their own, reads arriving meanwhile wait their turn), so a switch over a
    /// full store never stalls a frame.
    pub fn set_encoding(&mut self, encoding: TextEncoding) {
        if encoding == self.encoding {
            return;
        }
        self.encoding = encoding;
        for state in self.streams.values_mut() {
            state.pending = Carry::default();
        }
        let mut tails: HashMap<StreamKey, ([u8; 3], u8)> = HashMap::new();
        let by_scan = lazy::carries_by_scan(encoding);
        let mut held = 0usize;
        let mut invalid_held = 0u64;
        let mut uncounted = 0u64;
        let mut unknown = 0u64;
        for record in self.records.iter_mut() {
            if record.kind != RecordKind::Info && !record.bytes.is_empty() {
                let key = stream_key(record.session, record.conn, record.peer, record.kind);
                let (carry, known) = if record.whole() {
                    (Carry::default(), true)
                } else if by_scan {
                    (Carry::default(), false)
                } else {
                    let (tail, len) = tails.entry(key).or_default();
                    let carry = lazy::carry_after(encoding, &tail[..usize::from(*len)]);
                    push_tail(tail, len, &record.bytes);
                    (carry, true)
                };
                let (counted, invalid, is_lazy) = if known {
                    lazy_facts(encoding, carry, &record.bytes, record.scan)
                } else {
                    unknown += 1;
                    (false, 0, true)
                };
                record.text = None;
                record.lazy = is_lazy;
                record.carry = carry;
                record.carry_known = known;
                record.counted = counted;
                record.invalid = invalid;
                if !counted {
                    uncounted += record.bytes.len() as u64;
                }
                invalid_held += received_invalid(record);
            } else if record.kind != RecordKind::Info {
                // A close's flush record: the character it completed belongs to the old
                // encoding's reading.
                record.text = None;
                record.invalid = 0;
            }
            held += record.cost();
        }
        self.held_bytes = held;
        self.invalid_held = invalid_held;
        self.uncounted_bytes = uncounted;
        self.switch_uncounted = uncounted;
        let first = self.records.front().map_or(self.next_seq, |r| r.seq);
        self.count_cursor = first;
        self.carry_cursor = first;
        self.unknown_carries = unknown;
        self.carry_pass = (unknown > 0).then(FastMap::default);
        // Small stores are done at once; a full one goes on in the next frames.
        self.count_some(COUNT_BUDGET);
        self.evict();
    }
}

#[cfg(test)]
mod tests {
    use super::super::StoreCaps;
    use super::super::tests::push;
    use super::*;
    use crate::codec::text::StreamDecoder;
    use std::time::Instant;

    /// A row's start of a long record: text that is its bytes is cut before a
    /// character's start (never mid-character), a binary record is rendered only as far
    /// as asked, and either way the start is a prefix of the whole text.
    #[test]
    fn text_start_is_a_prefix_cut_at_a_character() {
        let mut store = Store::new(StoreCaps::default(), TextEncoding::Utf8);
        let chinese = "温度".repeat(1000);
        push(&mut store, Some(1), chinese.as_bytes());
        let mut binary = vec![0xFFu8; 4096];
        binary[0] = b'a';
        push(&mut store, Some(2), &binary);
        let records: Vec<&Record> = store.iter().collect();
        assert_eq!(store.text_start(records[0], 10), "温度温");
        assert_eq!(store.text_start(records[0], 9), "温度温");
        assert_eq!(store.text_start(records[0], 1 << 20), chinese);
        let start = store.text_start(records[1], 4);
        assert_eq!(start, "a\\xFF\\xFF\\xFF");
        assert!(store.text(records[1]).starts_with(start.as_ref()));
    }

    fn gbk(text: &str) -> Vec<u8> {
        crate::codec::text::encode(TextEncoding::Gbk, text).unwrap()
    }

    /// Every record's text and invalid count, however the store made them (when stored,
    /// or when looked at), equal what one streaming decoder per stream makes of the same
    /// reads, for every encoding, for random streams cut at random points; also after
    /// the encoding is switched over the held records, and for datagrams.
    #[test]
    fn rendered_rows_equal_eager_decoding() {
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let pieces: [&[u8]; 4] = [
            b"ok\r\n",
            "你好😀".as_bytes(),
            &[0xC4, 0xE3, 0xBA, 0xC3],
            &[0x81, 0x30, 0x81, 0x30, 0xFF, 0xD8],
        ];
        for round in 0..24 {
            let mut data = Vec::new();
            while data.len() < 3000 {
                match next() % 3 {
                    0 => data.push(next() as u8),
                    _ => data.extend_from_slice(pieces[(next() % 4) as usize]),
                }
            }
            let mut cuts = vec![0];
            while *cuts.last().unwrap() < data.len() {
                let at = cuts.last().unwrap() + 1 + (next() % 23) as usize;
                cuts.push(at.min(data.len()));
            }
            for encoding in TextEncoding::ALL {
                // Stored directly in `encoding`, and stored in another then switched.
                let other = if round % 2 == 0 {
                    TextEncoding::Gbk
                } else {
                    TextEncoding::Utf8
                };
                for start in [encoding, other] {
                    let mut store = Store::new(StoreCaps::default(), start);
                    for pair in cuts.windows(2) {
                        push(&mut store, Some(3), &data[pair[0]..pair[1]]);
                        push(&mut store, None, &data[pair[0]..pair[1]]);
                    }
                    store.set_encoding(encoding);
                    let mut decoder = StreamDecoder::new(encoding);
                    let mut records = store.iter();
                    for pair in cuts.windows(2) {
                        let read = &data[pair[0]..pair[1]];
                        let mut eager = String::new();
                        let invalid = decoder.decode(read, false, &mut eager);
                        let record = records.next().unwrap();
                        assert_eq!(store.text(record), eager, "{encoding} tcp from {start}");
                        assert_eq!(
                            store.invalid_of(record) as usize,
                            invalid,
                            "{encoding} tcp count"
                        );
                        let (whole, invalid) = crate::codec::text::decode_to_string(encoding, read);
                        let record = records.next().unwrap();
                        assert_eq!(store.text(record), whole, "{encoding} datagram");
                        assert_eq!(
                            store.invalid_of(record) as usize,
                            invalid,
                            "{encoding} datagram count"
                        );
                    }
                }
            }
        }
    }

    /// A switch to GBK over a store larger than a frame's budgets goes on over several
    /// polls (with its progress): the carry pass first, then the counting. A read that
    /// arrives during the carry pass waits its turn, and at the end every record, the
    /// error count and the open stream's carry are what one streaming decoder makes of
    /// the same reads: a character split across the read that arrived during the pass and
    /// the one after it comes out whole.
    #[test]
    fn switch_to_gbk_runs_over_several_frames() {
        let line = gbk("温度=21.5 状态=正常\r\n");
        let mut reads: Vec<Vec<u8>> = Vec::new();
        let mut stream = Vec::new();
        while stream.len() < CARRY_BUDGET + 3 * COUNT_BUDGET {
            stream.extend_from_slice(&line);
            stream.push(0xFF);
        }
        for chunk in stream.chunks(4093) {
            reads.push(chunk.to_vec());
        }
        let mut store = Store::new(StoreCaps::default(), TextEncoding::Utf8);
        for read in &reads {
            push(&mut store, Some(1), read);
        }
        store.set_encoding(TextEncoding::Gbk);
        let progress = store.redecoding().expect("a pass runs");
        assert!((0.0..1.0).contains(&progress), "{progress}");
        assert!(store.carry_pass.is_some(), "the carry pass took one frame");
        // Rows not reached yet still show text (decoded on their own).
        let newest = store.get(store.len() - 1).unwrap();
        assert!(store.text(newest).contains("状态"));
        // A read arrives during the carry pass, ending in half a character.
        let tail = gbk("你好");
        let mut during = line.clone();
        during.push(tail[0]);
        push(&mut store, Some(1), &during);
        assert!(!store.get(store.len() - 1).unwrap().carry_known);
        reads.push(during);
        let mut polls = 0;
        while store.redecoding().is_some() {
            store.poll(Instant::now());
            polls += 1;
            assert!(polls < 200, "the pass never ends");
        }
        assert!(polls >= 2, "one frame did it all ({polls} polls)");
        assert!(store.carry_pass.is_none());
        // The next read completes the character from the carry the pass left.
        push(&mut store, Some(1), &tail[1..]);
        reads.push(tail[1..].to_vec());
        store.poll(Instant::now());
        let mut decoder = StreamDecoder::new(TextEncoding::Gbk);
        let mut errors = 0;
        for (record, read) in store.iter().zip(&reads) {
            let mut eager = String::new();
            let invalid = decoder.decode(read, false, &mut eager);
            errors += invalid as u64;
            assert_eq!(store.text(record), eager);
            assert_eq!(record.invalid(), Some(invalid as u32));
        }
        assert_eq!(store.len(), reads.len());
        assert_eq!(store.text(store.get(store.len() - 1).unwrap()), "你好");
        assert_eq!(store.decode_errors(), errors);
        assert_eq!(store.uncounted_bytes(), 0);
    }

    /// A GBK character split across two reads decodes whole, in the second record.
    #[test]
    fn split_character_decodes_whole() {
        let mut store = Store::new(StoreCaps::default(), TextEncoding::Gbk);
        let bytes = gbk("你好");
        push(&mut store, Some(7), &bytes[..1]);
        push(&mut store, Some(7), &bytes[1..]);
        assert_eq!(store.text(store.get(0).unwrap()), "");
        assert_eq!(store.text(store.get(1).unwrap()), "你好");
        assert_eq!(store.decode_errors(), 0);
    }

    /// Switching the encoding re-renders what is held from the bytes, and the invalid
    /// count follows the encoding.
    #[test]
    fn encoding_switch_rerenders() {
        let mut store = Store::new(StoreCaps::default(), TextEncoding::Utf8);
        push(&mut store, Some(1), &gbk("你好\n"));
        assert_eq!(store.text(store.get(0).unwrap()), "\\xC4\\xE3\\xBA\\xC3\n");
        // Counted within a frame's budget, not when stored.
        assert_eq!(store.uncounted_bytes(), 5);
        store.poll(Instant::now());
        assert_eq!(store.uncounted_bytes(), 0);
        assert_eq!(store.decode_errors(), 4);
        store.set_encoding(TextEncoding::Gbk);
        assert_eq!(store.text(store.get(0).unwrap()), "你好\n");
        assert_eq!(store.decode_errors(), 0);
        // A UDP datagram (no connection) is decoded on its own.
        push(&mut store, None, &gbk("信息已收到"));
        assert_eq!(store.text(store.get(1).unwrap()), "信息已收到");
    }
}
