//! The store's text: a record's text in the current encoding (made when shown for the
//! encodings rendered lazily), counting invalid bytes within a budget per frame, and
//! switching the encoding (over several frames for the encodings decoded when stored).

use std::borrow::Cow;
use std::collections::HashMap;

use crate::codec::lazy::{self, Carry};
use crate::codec::text::{StreamDecoder, TextEncoding};

use super::decode::decode_record;
use super::{
    COUNT_BUDGET, Record, RecordKind, Store, StreamKey, lazy_facts, push_tail, received_invalid,
    stream_key,
};
use crate::session::hash::FastMap;

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
        if record.stored_text().is_some() || record.bytes.len() <= max_bytes {
            return self.text(record);
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
        let invalid = if lazy::renders_lazily(self.encoding) {
            let mut carry = record.carry;
            lazy::scan(self.encoding, &mut carry, &record.bytes, record.whole())
        } else {
            // Waiting for the re-decoding pass: decoded on its own for now.
            let mut out = String::new();
            lazy::render(
                self.encoding,
                Carry::default(),
                &record.bytes,
                record.whole(),
                &mut out,
            )
        };
        u32::try_from(invalid).unwrap_or(u32::MAX)
    }

    /// While a switch to an encoding decoded when stored is re-decoding the held records:
    /// how far it got, 0.0–1.0 (`None` when no pass runs).
    pub fn redecoding(&self) -> Option<f32> {
        self.redecode.as_ref()?;
        let total = self.redecode_total.max(1) as f64;
        let left = self.uncounted_bytes.min(self.redecode_total) as f64;
        Some((1.0 - left / total) as f32)
    }

    /// Bytes of held records whose invalid bytes are still to be counted
    /// ([`Self::decode_errors`] leaves them out until [`Self::poll`] has counted them).
    pub fn uncounted_bytes(&self) -> u64 {
        self.uncounted_bytes
    }

    /// Counts the invalid bytes of held records not counted yet, oldest first, until
    /// about `budget` bytes were scanned. During a re-decoding pass (see
    /// [`Store::set_encoding`]) this is the pass: each record is decoded in order with its
    /// stream's decoder, and when the pass reaches the newest record those decoders become
    /// the streams' own.
    pub fn count_some(&mut self, budget: usize) {
        if self.uncounted_bytes == 0 {
            self.end_redecode();
            return;
        }
        let first = self.records.front().map_or(self.next_seq, |r| r.seq);
        let start = self.count_cursor.max(first);
        let Some(index) = self.index_of_seq(start) else {
            return;
        };
        let encoding = self.encoding;
        let lazily = lazy::renders_lazily(encoding);
        let mut scanned = 0usize;
        let mut cursor = start;
        for record in self.records.iter_mut().skip(index) {
            if scanned >= budget {
                break;
            }
            cursor = record.seq + 1;
            if record.counted {
                continue;
            }
            let invalid = if lazily {
                let mut carry = record.carry;
                lazy::scan(encoding, &mut carry, &record.bytes, record.whole())
            } else {
                let before = record.cost();
                let (text, invalid) = if record.whole() {
                    decode_record(encoding, None, &record.bytes)
                } else {
                    let key = stream_key(record.session, record.conn, record.peer, record.kind);
                    let (decoder, clean) = self
                        .redecode
                        .get_or_insert_default()
                        .entry(key)
                        .or_insert_with(|| (StreamDecoder::new(encoding), true));
                    decode_record(encoding, Some((decoder, clean)), &record.bytes)
                };
                record.text = text;
                record.lazy = false;
                self.held_bytes = (self.held_bytes + record.cost()).saturating_sub(before);
                invalid
            };
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
            self.end_redecode();
        }
        // Decoded text counts against the byte cap.
        self.evict();
    }

    /// Ends a re-decoding pass that went through every held record: open streams go on
    /// from where the pass left their decoders, so a character split across the next read
    /// still comes out whole.
    pub(super) fn end_redecode(&mut self) {
        let Some(decoders) = self.redecode.take() else {
            return;
        };
        self.redecode_total = 0;
        for (key, (decoder, clean)) in decoders {
            if let Some(state) = self.streams.get_mut(&key) {
                state.decoder = decoder;
                state.clean = clean;
            }
        }
    }

    /// Invalid bytes in the held received records under the current encoding (what we
    /// sent is not a decoding problem of the peer's).
    pub fn decode_errors(&self) -> u64 {
        self.invalid_held
    }

    /// Switches the encoding. For the encodings rendered when shown (UTF-8, ASCII,
    /// Windows-1252) each held record only gets its carry from the bytes before it. For
    /// the others every held stream record is marked for a re-decoding pass, which
    /// [`Store::poll`] runs within a budget per frame, oldest first, with fresh streaming
    /// decoders (records not reached yet render on their own meanwhile), so a switch over
    /// a full store never stalls a frame.
    pub fn set_encoding(&mut self, encoding: TextEncoding) {
        if encoding == self.encoding {
            return;
        }
        self.encoding = encoding;
        for state in self.streams.values_mut() {
            state.decoder = StreamDecoder::new(encoding);
            state.clean = true;
        }
        let mut tails: HashMap<StreamKey, ([u8; 3], u8)> = HashMap::new();
        let lazily = lazy::renders_lazily(encoding);
        let mut held = 0usize;
        let mut invalid_held = 0u64;
        let mut uncounted = 0u64;
        for record in self.records.iter_mut() {
            if record.kind != RecordKind::Info && !record.bytes.is_empty() {
                let key = stream_key(record.session, record.conn, record.peer, record.kind);
                if lazily {
                    let carry = if record.whole() {
                        Carry::default()
                    } else {
                        let (tail, len) = tails.entry(key).or_default();
                        let carry = lazy::carry_after(encoding, &tail[..usize::from(*len)]);
                        push_tail(tail, len, &record.bytes);
                        carry
                    };
                    let (counted, invalid, is_lazy) = lazy_facts(encoding, carry, &record.bytes);
                    record.text = None;
                    record.lazy = is_lazy;
                    record.carry = carry;
                    record.counted = counted;
                    record.invalid = invalid;
                } else {
                    // Decoded by the pass (`count_some`); shown on its own until then.
                    record.text = None;
                    record.lazy = true;
                    record.carry = Carry::default();
                    record.counted = false;
                    record.invalid = 0;
                }
                if !record.counted {
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
        self.count_cursor = self.records.front().map_or(self.next_seq, |r| r.seq);
        self.redecode = (!lazily).then(FastMap::default);
        self.redecode_total = if lazily { 0 } else { uncounted };
        if !lazily {
            // Small stores are done at once; a full one goes on in the next frames.
            self.count_some(COUNT_BUDGET);
        }
        self.evict();
    }
}

#[cfg(test)]
mod tests {
    use super::super::StoreCaps;
    use super::super::tests::push;
    use super::*;
    use std::time::Instant;

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

    /// A switch to GBK over a store larger than one frame's budget re-decodes over
    /// several polls (with its progress), reads arriving meanwhile wait their turn, and
    /// at the end every record, the error count and the open stream's decoder are what
    /// one streaming decoder makes of the same reads: a character split across the read
    /// that arrived during the pass and the one after it comes out whole.
    #[test]
    fn switch_to_an_eager_encoding_runs_over_several_frames() {
        let line = gbk("温度=21.5 状态=正常\r\n");
        let mut reads: Vec<Vec<u8>> = Vec::new();
        let mut stream = Vec::new();
        while stream.len() < 3 * COUNT_BUDGET {
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
        assert!(progress > 0.0 && progress < 1.0, "{progress}");
        // Rows not reached yet still show text (decoded on their own).
        let newest = store.get(store.len() - 1).unwrap();
        assert!(store.text(newest).contains("状态"));
        // A read arrives during the pass, ending in half a character.
        let tail = gbk("你好");
        let mut during = line.clone();
        during.push(tail[0]);
        push(&mut store, Some(1), &during);
        reads.push(during);
        let mut polls = 0;
        while store.redecoding().is_some() {
            store.poll(Instant::now());
            polls += 1;
            assert!(polls < 100, "the pass never ends");
        }
        assert!(polls >= 2, "one frame did it all ({polls} polls)");
        // The next read completes the character with the pass's decoder.
        push(&mut store, Some(1), &tail[1..]);
        reads.push(tail[1..].to_vec());
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
