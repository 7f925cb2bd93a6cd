//! The in-memory record store the window draws from.
//!
//! Raw bytes are the truth: every record keeps the exact bytes of one read, one datagram,
//! one frame or one send. The decoded text is a cache for the current encoding, produced
//! by a streaming decoder per connection and direction so that a character split across
//! two reads comes out whole. Switching the encoding rebuilds the cache from the bytes.
//!
//! The store is capped by bytes and by record count; eviction drops the oldest records and
//! keeps a tally of what was dropped so the UI can say so. Counters live in
//! [`super::stats`] and are updated before eviction, so they never lie.
//!
//! Received TCP streams can be cut into frames (`frames`: any of codec's framings) and
//! each complete frame checked against a checksum ([`Store::set_frame_check`]).

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use crate::codec::checksum::Checksum;
use crate::codec::framing::{FrameMode, FrameOut, Framer};
use crate::codec::lazy::{self, Carry};
use crate::codec::text::{StreamDecoder, TextEncoding};
use crate::engine::{ConnId, Direction, SessionId};

use super::hash::FastMap;
use super::stats::Stats;

use self::decode::decode_record;
pub use self::record::{Record, RecordKind};

mod decode;
mod frames;
mod record;

/// The store's limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreCaps {
    /// Maximum approximate memory held by records (bytes plus their decoded text).
    pub max_bytes: usize,
    /// Maximum number of records.
    pub max_records: usize,
}

impl Default for StoreCaps {
    fn default() -> Self {
        StoreCaps {
            max_bytes: 64 * 1024 * 1024,
            max_records: 1_000_000,
        }
    }
}

/// How many received bytes may be on their way to a store of `view_bytes` (queued
/// between the engine's readers and the window): half the view, at most 32 MiB, at least
/// 1 MiB. The store keeps that much of its cap free ([`Store::set_reserve`]), so the
/// store and the queue together stay within the view's cap.
pub fn window_queue_bytes(view_bytes: usize) -> usize {
    (view_bytes / 2).clamp(1 << 20, 32 << 20)
}

/// Key of one byte stream: a connection (or UDP peer) in one direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct StreamKey {
    session: SessionId,
    conn: Option<ConnId>,
    peer: Option<SocketAddr>,
    kind: RecordKind,
}

/// Per-stream state: the streaming decoder (or, for encodings rendered lazily, the
/// unfinished character it would hold) and the receive framer.
struct StreamState {
    decoder: StreamDecoder,
    /// The decoder holds no partial character (so text-is-bytes records may skip it).
    clean: bool,
    /// The stream's last bytes (up to 3), whatever the encoding: for lazily rendered
    /// encodings they decide the unfinished character the stream holds.
    tail: [u8; 3],
    tail_len: u8,
    framer: Option<Framer>,
    last_at: SystemTime,
}

impl StreamState {
    fn tail(&self) -> &[u8] {
        &self.tail[..usize::from(self.tail_len)]
    }
}

/// Keeps the last (up to) 3 bytes of a stream in `tail` after `bytes` were added.
fn push_tail(tail: &mut [u8; 3], tail_len: &mut u8, bytes: &[u8]) {
    if bytes.len() >= 3 {
        tail.copy_from_slice(&bytes[bytes.len() - 3..]);
        *tail_len = 3;
        return;
    }
    let mut joined = [0u8; 5];
    let old = usize::from(*tail_len);
    joined[..old].copy_from_slice(&tail[..old]);
    joined[old..old + bytes.len()].copy_from_slice(bytes);
    let all = old + bytes.len();
    let keep = all.min(3);
    tail[..keep].copy_from_slice(&joined[all - keep..all]);
    *tail_len = keep as u8;
}

/// The facts a record of a lazily rendered encoding gets when stored: its carry, whether
/// its invalid bytes are counted yet (and how many), and whether its text is made on
/// demand. Counting is cheap for ASCII and free for Windows-1252; for UTF-8 it waits for
/// [`Store::poll`], which counts within a budget per frame, so a binary flood costs the
/// store no pass over its bytes beyond a validation that stops at the first bad byte.
fn lazy_facts(encoding: TextEncoding, carry: Carry, bytes: &[u8]) -> (bool, u32, bool) {
    if lazy::text_is_bytes(encoding, carry, bytes) {
        return (true, 0, false);
    }
    match encoding {
        TextEncoding::Utf8 => (false, 0, true),
        _ => {
            let mut none = Carry::default();
            let invalid = lazy::scan(encoding, &mut none, bytes, true);
            (true, u32::try_from(invalid).unwrap_or(u32::MAX), true)
        }
    }
}

/// Bytes of held records counted (or re-decoded) per [`Store::poll`]: about a
/// millisecond of scanning, so a flood leaves the frame its time for drawing.
const COUNT_BUDGET: usize = 256 << 10;

/// Largest frame the framer assembles before it reports an oversize frame.
const MAX_FRAME: usize = 1024 * 1024;

/// The capped record store with its counters.
pub struct Store {
    records: VecDeque<Record>,
    caps: StoreCaps,
    held_bytes: usize,
    next_seq: u64,
    evicted_records: u64,
    evicted_bytes: u64,
    encoding: TextEncoding,
    frame_mode: FrameMode,
    frame_check: Option<Checksum>,
    streams: FastMap<StreamKey, StreamState>,
    invalid_held: u64,
    /// Bytes of held records whose invalid bytes are not counted yet.
    uncounted_bytes: u64,
    /// Records before this sequence number are counted.
    count_cursor: u64,
    /// After a switch to an encoding decoded when stored (GBK, Big5, UTF-16, …): the
    /// streaming decoders of the re-decoding pass, which [`Store::poll`] moves through the
    /// held records within a budget per frame, oldest first. `None` when no pass runs.
    redecode: Option<FastMap<StreamKey, (StreamDecoder, bool)>>,
    /// Bytes the running re-decoding pass started with (for its progress).
    redecode_total: u64,
    frame_buf: Vec<FrameOut>,
    /// The view is paused: keep what it shows, drop new records that do not fit.
    pinned: bool,
    /// Bytes of the cap kept free for data on its way to the store.
    reserve: usize,
    /// Counters per session and per peer.
    pub stats: Stats,
}

impl Store {
    /// An empty store with the given caps, decoding text in `encoding`.
    pub fn new(caps: StoreCaps, encoding: TextEncoding) -> Self {
        Store {
            records: VecDeque::new(),
            caps,
            held_bytes: 0,
            next_seq: 1,
            evicted_records: 0,
            evicted_bytes: 0,
            encoding,
            frame_mode: FrameMode::AsRead,
            frame_check: None,
            streams: FastMap::default(),
            invalid_held: 0,
            uncounted_bytes: 0,
            count_cursor: 0,
            redecode: None,
            redecode_total: 0,
            frame_buf: Vec::new(),
            pinned: false,
            reserve: 0,
            stats: Stats::default(),
        }
    }

    /// Records currently held, oldest first.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// True when no record is held.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The record at `index` (0 = oldest held).
    pub fn get(&self, index: usize) -> Option<&Record> {
        self.records.get(index)
    }

    /// Iterates over the held records, oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Record> + ExactSizeIterator {
        self.records.iter()
    }

    /// Index of the record with sequence number `seq`, if still held.
    pub fn index_of_seq(&self, seq: u64) -> Option<usize> {
        let first = self.records.front()?.seq;
        let index = seq.checked_sub(first)? as usize;
        (self.records.get(index)?.seq == seq).then_some(index)
    }

    /// Sequence number the next record will get (all records ever pushed = this − 1).
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Records evicted from the view since start (or the last clear).
    pub fn evicted_records(&self) -> u64 {
        self.evicted_records
    }

    /// Payload bytes evicted from the view since start (or the last clear).
    pub fn evicted_bytes(&self) -> u64 {
        self.evicted_bytes
    }

    /// Approximate memory held by the records: their allocations plus the queue's slots
    /// (its whole capacity, since that is what is allocated).
    pub fn held_bytes(&self) -> usize {
        self.held_bytes + self.records.capacity() * std::mem::size_of::<Record>()
    }

    /// Pins the records held now (the view is paused): while pinned, eviction never
    /// removes them; new records are kept while they fit and otherwise counted as dropped
    /// from the view (counters and logs still see every byte).
    pub fn set_pinned(&mut self, pinned: bool) {
        self.pinned = pinned;
        if !pinned {
            self.evict();
        }
    }

    /// Keeps `bytes` of the byte cap free for data on its way to the store (the engine's
    /// queue for the window, [`window_queue_bytes`]), so what is held and what is coming
    /// together stay within the cap; at most half the cap.
    pub fn set_reserve(&mut self, bytes: usize) {
        self.reserve = bytes.min(self.caps.max_bytes / 2);
        self.evict();
    }

    /// Bytes of the byte cap kept free for data on its way ([`Store::set_reserve`]).
    pub fn reserve(&self) -> usize {
        self.reserve
    }

    /// The caps in force.
    pub fn caps(&self) -> StoreCaps {
        self.caps
    }

    /// Changes the caps, evicting at once if the store is over the new ones.
    pub fn set_caps(&mut self, caps: StoreCaps) {
        self.caps = caps;
        self.reserve = self.reserve.min(caps.max_bytes / 2);
        self.evict();
    }

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
    fn end_redecode(&mut self) {
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

    /// Adds bytes read from or written to `peer`. Received TCP bytes go through the
    /// framer (which may hold them until a frame is complete); UDP datagrams and sends
    /// are one record each.
    pub fn push_data(
        &mut self,
        session: SessionId,
        conn: Option<ConnId>,
        peer: SocketAddr,
        dir: Direction,
        at: SystemTime,
        bytes: Arc<[u8]>,
    ) {
        self.stats.count(session, peer, dir, bytes.len() as u64, at);
        let kind = RecordKind::from(dir);
        let framed = dir == Direction::Rx && conn.is_some() && self.frame_mode != FrameMode::AsRead;
        if !framed {
            self.push_bytes(session, conn, Some(peer), kind, at, bytes, false, false);
            return;
        }
        let key = stream_key(session, conn, Some(peer), kind);
        let mode = self.frame_mode.clone();
        let mut frames = std::mem::take(&mut self.frame_buf);
        {
            let state = self.stream_state(key);
            state.last_at = at;
            state
                .framer
                .get_or_insert_with(|| Framer::new(mode, MAX_FRAME))
                .push(&bytes, Instant::now(), &mut frames);
        }
        self.push_frames(key, at, &mut frames, true);
        self.frame_buf = frames;
    }

    /// Adds a line of information (joined, closed, error) to the view.
    pub fn push_info(
        &mut self,
        session: SessionId,
        conn: Option<ConnId>,
        peer: Option<SocketAddr>,
        at: SystemTime,
        text: String,
    ) {
        let bytes: Arc<[u8]> = Arc::from(text.into_bytes());
        let record = Record {
            seq: 0,
            at,
            session,
            conn,
            peer,
            kind: RecordKind::Info,
            bytes,
            text: None,
            lazy: false,
            carry: Carry::default(),
            counted: true,
            invalid: 0,
            oversize: false,
            frame: false,
            crc: None,
        };
        self.insert(record);
    }

    /// Ends the streams of a connection (closed): pending frame bytes become a record and
    /// the decoders flush what they held.
    pub fn end_conn(&mut self, session: SessionId, conn: ConnId) {
        if self.redecode.is_some() {
            // The flush below needs the streams' decoders where the pass leaves them.
            self.count_some(usize::MAX);
        }
        let keys: Vec<StreamKey> = self
            .streams
            .keys()
            .filter(|k| k.session == session && k.conn == Some(conn))
            .copied()
            .collect();
        for key in keys {
            self.finish_stream(key);
            // A character cut off by the close is shown as `\xNN`, never lost silently.
            let encoding = self.encoding;
            let carry_of = |state: &StreamState| lazy::carry_after(encoding, state.tail());
            if let Some(mut state) = self.streams.remove(&key)
                && (if lazy::renders_lazily(encoding) {
                    !carry_of(&state).is_empty()
                } else {
                    !state.clean
                })
            {
                let mut text = String::new();
                let invalid = if lazy::renders_lazily(encoding) {
                    lazy::render(encoding, carry_of(&state), &[], true, &mut text)
                } else {
                    state.decoder.decode(&[], true, &mut text)
                };
                if !text.is_empty() {
                    let record = Record {
                        seq: 0,
                        at: state.last_at,
                        session: key.session,
                        conn: key.conn,
                        peer: key.peer,
                        kind: key.kind,
                        bytes: Arc::from(Vec::new()),
                        text: Some(text),
                        lazy: false,
                        carry: Carry::default(),
                        counted: true,
                        invalid: u32::try_from(invalid).unwrap_or(u32::MAX),
                        oversize: false,
                        frame: false,
                        crc: None,
                    };
                    self.insert(record);
                }
            }
        }
    }

    /// Drops every record and resets the eviction tally (counters are kept).
    pub fn clear(&mut self) {
        self.records = VecDeque::new();
        self.held_bytes = 0;
        self.invalid_held = 0;
        self.uncounted_bytes = 0;
        self.end_redecode();
        self.evicted_records = 0;
        self.evicted_bytes = 0;
    }

    fn stream_state(&mut self, key: StreamKey) -> &mut StreamState {
        let encoding = self.encoding;
        self.streams.entry(key).or_insert_with(|| StreamState {
            decoder: StreamDecoder::new(encoding),
            clean: true,
            tail: [0; 3],
            tail_len: 0,
            framer: None,
            last_at: SystemTime::now(),
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn push_bytes(
        &mut self,
        session: SessionId,
        conn: Option<ConnId>,
        peer: Option<SocketAddr>,
        kind: RecordKind,
        at: SystemTime,
        bytes: Arc<[u8]>,
        oversize: bool,
        frame: bool,
    ) {
        let encoding = self.encoding;
        let whole = conn.is_none();
        let key = stream_key(session, conn, peer, kind);
        let (text, invalid, counted, lazy, carry) = if lazy::renders_lazily(encoding) {
            // No pass over the bytes but a validation that stops at the first bad byte:
            // the text is made when a row shows it, and the invalid bytes are counted
            // within a budget per frame (`poll`).
            let carry = if whole {
                Carry::default()
            } else {
                let state = self.stream_state(key);
                let carry = lazy::carry_after(encoding, state.tail());
                push_tail(&mut state.tail, &mut state.tail_len, &bytes);
                carry
            };
            let (counted, invalid, is_lazy) = lazy_facts(encoding, carry, &bytes);
            (None, invalid as usize, counted, is_lazy, carry)
        } else if !whole && self.redecode.is_some() {
            // A re-decoding pass runs: this read waits its turn in the pass, which holds
            // the stream's decoder.
            let state = self.stream_state(key);
            push_tail(&mut state.tail, &mut state.tail_len, &bytes);
            (None, 0, false, true, Carry::default())
        } else {
            let (text, invalid) = if whole {
                decode_record(encoding, None, &bytes)
            } else {
                let state = self.stream_state(key);
                push_tail(&mut state.tail, &mut state.tail_len, &bytes);
                decode_record(
                    encoding,
                    Some((&mut state.decoder, &mut state.clean)),
                    &bytes,
                )
            };
            (text, invalid, true, false, Carry::default())
        };
        let crc = if frame {
            self.frame_check.map(|c| c.verify(&bytes))
        } else {
            None
        };
        let record = Record {
            seq: 0,
            at,
            session,
            conn,
            peer,
            kind,
            bytes,
            text,
            lazy,
            carry,
            counted,
            invalid: u32::try_from(invalid).unwrap_or(u32::MAX),
            oversize,
            frame,
            crc,
        };
        self.insert(record);
    }

    fn insert(&mut self, mut record: Record) {
        if self.pinned
            && (self.records.len() >= self.caps.max_records
                || self.held_bytes() + record.cost() + self.reserve > self.caps.max_bytes)
        {
            // Paused and full: what the user is looking at stays; this one is dropped from
            // the view (it takes no sequence number, so the held ones stay contiguous).
            self.evicted_records += 1;
            self.evicted_bytes += record.bytes.len() as u64;
            return;
        }
        record.seq = self.next_seq;
        self.next_seq += 1;
        self.held_bytes += record.cost();
        self.invalid_held += received_invalid(&record);
        if !record.counted {
            self.uncounted_bytes += record.bytes.len() as u64;
        }
        if self.records.len() == self.records.capacity() {
            // Grow by a quarter rather than doubling, so the slots never hold twice what
            // the records need (the byte cap counts the slots).
            let more = (self.records.len() / 4).max(1024);
            self.records.reserve_exact(more);
        }
        self.records.push_back(record);
        self.evict();
    }

    fn evict(&mut self) {
        loop {
            let over_bytes =
                self.held_bytes() + self.reserve > self.caps.max_bytes && self.records.len() > 1;
            if !over_bytes && self.records.len() <= self.caps.max_records {
                break;
            }
            // Spare slots left by an earlier flood of small records count against the
            // cap: give them back before evicting records for them. Only when well over
            // (half again what is wanted), so shrinking stays rare while evicting.
            let wanted = self.records.len() + self.records.len() / 4 + 1024;
            if over_bytes && self.records.capacity() > wanted + wanted / 2 {
                self.records.shrink_to(wanted);
                continue;
            }
            let Some(old) = self.records.pop_front() else {
                break;
            };
            self.held_bytes = self.held_bytes.saturating_sub(old.cost());
            self.invalid_held = self.invalid_held.saturating_sub(received_invalid(&old));
            if !old.counted {
                self.uncounted_bytes = self.uncounted_bytes.saturating_sub(old.bytes.len() as u64);
            }
            self.evicted_records += 1;
            self.evicted_bytes += old.bytes.len() as u64;
        }
    }
}

fn stream_key(
    session: SessionId,
    conn: Option<ConnId>,
    peer: Option<SocketAddr>,
    kind: RecordKind,
) -> StreamKey {
    StreamKey {
        session,
        conn,
        // A TCP stream is identified by its connection; the peer only matters for UDP.
        peer: if conn.is_some() { None } else { peer },
        kind,
    }
}

/// A record's invalid bytes as the decode-error count sees them: received ones only.
fn received_invalid(record: &Record) -> u64 {
    if record.kind == RecordKind::Rx && record.counted {
        u64::from(record.invalid)
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
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

    /// The room kept for data on its way (the engine's queue for the window) comes off
    /// the byte cap, at most half of it, so what is held and what is coming stay within
    /// the cap; a larger cap gives the room back.
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
        store.set_reserve(window_queue_bytes(caps.max_bytes));
        assert_eq!(window_queue_bytes(caps.max_bytes), 1 << 20);
        // 1 MiB asked, half the cap kept.
        assert!(store.held_bytes() <= 512 << 10, "{}", store.held_bytes());
        for _ in 0..200 {
            push(&mut store, Some(1), &read);
            assert!(store.held_bytes() + (512 << 10) <= caps.max_bytes);
        }
        assert_eq!(window_queue_bytes(64 << 20), 32 << 20);
        assert_eq!(window_queue_bytes(1 << 30), 32 << 20);
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
}
