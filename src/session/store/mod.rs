//! The in-memory record store the window draws from.
//!
//! Raw bytes are the truth: every record keeps the exact bytes of one read, one datagram,
//! one frame or one send, and the unfinished character its stream held before it (its
//! carry, `codec::lazy`). Text is made from those when a row is shown, so a character
//! split across two reads comes out whole and nothing is decoded that nobody looks at.
//! Switching the encoding gives each record its carry in the new encoding (`text.rs`).
//!
//! The store is capped by bytes and by record count; eviction drops the oldest records and
//! keeps a tally of what was dropped so the UI can say so. Counters live in
//! [`super::stats`] and are updated before eviction, so they never lie.
//!
//! Received TCP streams can be cut into frames (`frames`: any of codec's framings) and
//! each complete frame checked against a checksum ([`Store::set_frame_check`]).

use std::collections::VecDeque;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use crate::codec::checksum::Checksum;
use crate::codec::framing::{FrameMode, FrameOut, Framer};
use crate::codec::lazy::{self, Carry, TextScan};
use crate::codec::text::TextEncoding;
use crate::engine::{ConnId, Direction, SessionId};

use super::hash::FastMap;
use super::stats::Stats;

pub use self::record::{Record, RecordKind};

mod budget;
mod frames;
mod protocol;
mod record;
mod text;

pub use self::budget::{MAX_QUEUE, QueueSizer, allocator_slack, window_queue_bytes};
pub use self::protocol::{FieldPoint, SERIES_POINTS};

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

/// Key of one byte stream: a connection (or UDP peer) in one direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct StreamKey {
    session: SessionId,
    conn: Option<ConnId>,
    peer: Option<SocketAddr>,
    kind: RecordKind,
}

/// Per-stream state: the unfinished character the stream holds (from its last bytes, or
/// carried through each read for the encodings that need it) and the receive framer.
struct StreamState {
    /// What a decoder of the stream holds now, for the encodings of
    /// [`lazy::carries_by_scan`] (unused while a switch's carry pass runs).
    pending: Carry,
    /// The stream's last bytes (up to 3), whatever the encoding: for UTF-8 they decide
    /// the unfinished character the stream holds.
    tail: [u8; 3],
    tail_len: u8,
    framer: Option<Framer>,
    /// The frame definition's cutter (when one is set, instead of `framer`).
    cutter: Option<crate::protocol::FrameCutter>,
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

/// The facts a record gets when stored: whether its invalid bytes are counted yet (and
/// how many), and whether its text is made on demand. Counting is cheap for ASCII and
/// free for Windows-1252; for the others it waits for [`Store::poll`], which counts
/// within a budget per frame, so a binary flood costs the store no pass over its bytes
/// beyond a validation that stops at the first bad byte (and, for the encodings of
/// [`lazy::carries_by_scan`], the carry scan).
fn lazy_facts(
    encoding: TextEncoding,
    carry: Carry,
    bytes: &[u8],
    scan: TextScan,
) -> (bool, u32, bool) {
    if lazy::text_is_bytes(encoding, carry, bytes, scan) {
        return (true, 0, false);
    }
    match encoding {
        TextEncoding::Ascii | TextEncoding::Windows1252 => {
            let mut none = Carry::default();
            let invalid = lazy::scan(encoding, &mut none, bytes, true);
            (true, u32::try_from(invalid).unwrap_or(u32::MAX), true)
        }
        _ => (false, 0, true),
    }
}

/// What the store is told about bytes it stores besides where they come from.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Facts {
    /// Cut because a frame outgrew the framing limit.
    pub(super) oversize: bool,
    /// One complete received frame (the frame check applies).
    pub(super) frame: bool,
    /// What the reader found the bytes to be as text.
    pub(super) scan: TextScan,
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
    /// Bytes of reads the engine's queue shed (counted in `evicted_bytes` too).
    shed_bytes: u64,
    encoding: TextEncoding,
    frame_mode: FrameMode,
    frame_check: Option<Checksum>,
    streams: FastMap<StreamKey, StreamState>,
    invalid_held: u64,
    /// Bytes of held records whose invalid bytes are not counted yet.
    uncounted_bytes: u64,
    /// A record left the store before its invalid bytes were counted since the last
    /// [`Store::count_some`]: counting is losing the race against a flood, so that frame
    /// counts nothing (what it would count is evicted before it matters).
    outrun: bool,
    /// Records before this sequence number are counted.
    count_cursor: u64,
    /// After a switch to an encoding of [`lazy::carries_by_scan`] (GBK, Big5, UTF-16, …):
    /// the carry of each stream as far as the carry pass got. [`Store::poll`] moves the
    /// pass through the held records, oldest first, a few MiB per frame; records it has
    /// not reached render on their own. `None` when no pass runs.
    carry_pass: Option<FastMap<StreamKey, Carry>>,
    /// Records whose carry the pass has not found yet.
    unknown_carries: u64,
    /// Records before this sequence number have their carry.
    carry_cursor: u64,
    /// Bytes a switch left to count (for its progress; 0 when none is going on).
    switch_uncounted: u64,
    frame_buf: Vec<FrameOut>,
    /// The protocol side: frame definition, round trips, field series (`protocol.rs`).
    proto: protocol::ProtoState,
    /// The view is paused: keep what it shows, drop new records that do not fit.
    pinned: bool,
    /// Paused and a record was dropped: every later data record is dropped too until the
    /// view resumes, so what is held stays one stretch of the streams with no hidden gap.
    pinned_full: bool,
    /// Bytes on their way to the store that the cap keeps room for ([`Store::set_reserve`]).
    coming: usize,
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
            shed_bytes: 0,
            encoding,
            frame_mode: FrameMode::AsRead,
            frame_check: None,
            streams: FastMap::default(),
            invalid_held: 0,
            uncounted_bytes: 0,
            outrun: false,
            count_cursor: 0,
            carry_pass: None,
            unknown_carries: 0,
            carry_cursor: 0,
            switch_uncounted: 0,
            frame_buf: Vec::new(),
            proto: protocol::ProtoState::default(),
            pinned: false,
            pinned_full: false,
            coming: 0,
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
    /// removes them; new records are kept until the first that does not fit, and from
    /// then on counted as dropped from the view (counters and logs still see every byte).
    /// A smaller read that would still fit is dropped too: keeping it would show it right
    /// after bytes that came long before it. Notices (connected, closed) still show while
    /// they fit.
    pub fn set_pinned(&mut self, pinned: bool) {
        self.pinned = pinned;
        self.pinned_full = false;
        if !pinned {
            self.evict();
        }
    }

    /// Keeps `bytes` of the byte cap free for data on its way to the store (the engine's
    /// queue for the window, sized by a [`QueueSizer`]), and with it an eighth of the cap
    /// for the allocator ([`Store::slack`]), so what is held and what is coming together
    /// stay within the cap as the process's memory counts them; at most 7/8 of the cap
    /// in all. 0 keeps nothing free (nothing is on its way).
    pub fn set_reserve(&mut self, bytes: usize) {
        self.coming = bytes;
        self.evict();
    }

    /// Bytes of the byte cap kept free for data on its way and the allocator's slack
    /// ([`Store::set_reserve`]).
    pub fn reserve(&self) -> usize {
        (self.coming + self.slack()).min(self.caps.max_bytes / 8 * 7)
    }

    /// The part of the reserve kept for the allocator: with reads of every size freed
    /// oldest first while new ones arrive, the heap holds up to about an eighth of what
    /// passes through it in holes (measured by the bench suite's P6 on glibc) beside the
    /// records and the queue.
    pub fn slack(&self) -> usize {
        if self.coming == 0 {
            0
        } else {
            allocator_slack(self.caps.max_bytes)
        }
    }

    /// The caps in force.
    pub fn caps(&self) -> StoreCaps {
        self.caps
    }

    /// Changes the caps, evicting at once if the store is over the new ones.
    pub fn set_caps(&mut self, caps: StoreCaps) {
        self.caps = caps;
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
        self.push_scanned(session, conn, peer, dir, at, bytes, TextScan::Unknown);
    }

    /// [`Store::push_data`] with what the engine's reader found the bytes to be as text
    /// (the `scan` of [`crate::engine::Event::Data`]), so the store does not read them
    /// again to know whether their text is the bytes themselves.
    #[allow(clippy::too_many_arguments)]
    pub fn push_scanned(
        &mut self,
        session: SessionId,
        conn: Option<ConnId>,
        peer: SocketAddr,
        dir: Direction,
        at: SystemTime,
        bytes: Arc<[u8]>,
        scan: TextScan,
    ) {
        self.stats.count(session, peer, dir, bytes.len() as u64, at);
        let kind = RecordKind::from(dir);
        if dir == Direction::Tx {
            self.proto.on_tx(conn, peer, bytes.len(), at);
        } else if self.proto.def.is_some() {
            self.push_defined(session, conn, peer, at, &bytes);
            return;
        }
        let framed = dir == Direction::Rx && conn.is_some() && self.frame_mode != FrameMode::AsRead;
        if !framed {
            if dir == Direction::Rx {
                self.proto.on_answer(conn, peer, at);
            }
            let facts = Facts {
                scan,
                ..Facts::default()
            };
            self.push_bytes(session, conn, Some(peer), kind, at, bytes, facts);
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

    /// [`Store::push_data`] for a UDP datagram the OS says was addressed to `group`: the
    /// record says so (when the view took it).
    pub fn push_group_data(
        &mut self,
        session: SessionId,
        peer: SocketAddr,
        at: SystemTime,
        bytes: Arc<[u8]>,
        group: IpAddr,
        scan: TextScan,
    ) {
        let seq = self.next_seq;
        self.push_scanned(session, None, peer, Direction::Rx, at, bytes, scan);
        if let Some(record) = self.records.back_mut().filter(|r| r.seq == seq) {
            record.group = Some(Box::new(group));
        }
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
            scan: TextScan::Unknown,
            carry_known: true,
            counted: true,
            invalid: 0,
            oversize: false,
            frame: false,
            crc: None,
            verdict: None,
            defined: false,
            group: None,
        };
        self.insert(record);
    }

    /// A received read the engine's queue shed ([`crate::engine::Event::Shed`]): counted
    /// like any read and dropped from the view, as the view would have dropped it on
    /// taking it. The stream's next read follows a gap, so its text starts from a fresh
    /// decoder (as the oldest held record's does after eviction).
    pub fn push_shed(
        &mut self,
        session: SessionId,
        conn: ConnId,
        peer: SocketAddr,
        at: SystemTime,
        len: u64,
    ) {
        self.stats.count(session, peer, Direction::Rx, len, at);
        self.proto.on_answer(Some(conn), peer, at);
        let key = stream_key(session, Some(conn), Some(peer), RecordKind::Rx);
        if let Some(state) = self.streams.get_mut(&key) {
            state.pending = Carry::default();
            state.tail_len = 0;
            state.last_at = at;
            // Shedding is off while reads are framed; one shed as framing was switched
            // on ends the frame being assembled (its bytes leave the view with the gap).
            state.framer = None;
            state.cutter = None;
        }
        if let Some(pass) = self.carry_pass.as_mut() {
            pass.insert(key, Carry::default());
        }
        self.evicted_records += 1;
        self.evicted_bytes += len;
        self.shed_bytes += len;
    }

    /// Bytes of received reads the engine's queue shed for this view (part of
    /// [`Store::evicted_bytes`]).
    pub fn shed_bytes(&self) -> u64 {
        self.shed_bytes
    }

    /// The view size the engine's queue may shed received reads for
    /// ([`crate::engine::Engine::set_shedding`]); 0: none.
    /// - A live view: its cap less the allocator's slack, so the queue sheds only what
    ///   the store would evict on taking it.
    /// - A paused view once a read did not fit: the queue's bound, so the queue sheds
    ///   whatever it cannot hold (the store drops every new read then anyway) and the
    ///   readers never wait for the window.
    /// - None while paused with room left (the view keeps what fits), nor while reads are
    ///   framed or cut by a frame definition (a gap would split a frame).
    pub fn shed_view(&self) -> usize {
        if self.frame_mode != FrameMode::AsRead || self.proto.def.is_some() {
            0
        } else if !self.pinned {
            self.caps.max_bytes - self.slack()
        } else if self.pinned_full {
            self.coming
        } else {
            0
        }
    }

    /// True while the view is paused: the queue's bound must not grow then (the room
    /// would come out of the records the view keeps).
    pub fn pinned(&self) -> bool {
        self.pinned
    }

    /// Ends the streams of a connection (closed): pending frame bytes become a record and
    /// the decoders flush what they held.
    pub fn end_conn(&mut self, session: SessionId, conn: ConnId) {
        let keys: Vec<StreamKey> = self
            .streams
            .keys()
            .filter(|k| k.session == session && k.conn == Some(conn))
            .copied()
            .collect();
        self.proto.closed(conn);
        for key in keys {
            self.finish_stream(key);
            // A character cut off by the close is shown as `\xNN`, never lost silently.
            let encoding = self.encoding;
            let carry = self.stream_carry(key);
            if let Some(state) = self.streams.remove(&key)
                && !carry.is_empty()
            {
                let mut text = String::new();
                let invalid = lazy::render(encoding, carry, &[], true, &mut text);
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
                        scan: TextScan::Unknown,
                        carry_known: true,
                        counted: true,
                        invalid: u32::try_from(invalid).unwrap_or(u32::MAX),
                        oversize: false,
                        frame: false,
                        crc: None,
                        verdict: None,
                        defined: false,
                        group: None,
                    };
                    self.insert(record);
                }
            }
            if let Some(pass) = self.carry_pass.as_mut() {
                pass.remove(&key);
            }
        }
    }

    /// Drops every record and resets the eviction tally (counters are kept).
    pub fn clear(&mut self) {
        self.records = VecDeque::new();
        self.held_bytes = 0;
        self.invalid_held = 0;
        self.uncounted_bytes = 0;
        self.carry_pass = None;
        self.unknown_carries = 0;
        self.switch_uncounted = 0;
        self.evicted_records = 0;
        self.evicted_bytes = 0;
        self.shed_bytes = 0;
    }

    fn stream_state(&mut self, key: StreamKey) -> &mut StreamState {
        self.streams.entry(key).or_insert_with(|| StreamState {
            pending: Carry::default(),
            tail: [0; 3],
            tail_len: 0,
            framer: None,
            cutter: None,
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
        facts: Facts,
    ) {
        let Facts {
            oversize,
            frame,
            scan,
        } = facts;
        let encoding = self.encoding;
        let whole = conn.is_none();
        let key = stream_key(session, conn, peer, kind);
        // No pass over the bytes but a validation that stops at the first bad byte (and,
        // for the encodings that need it, the carry scan): the text is made when a row
        // shows it, and the invalid bytes are counted within a budget per frame (`poll`).
        let by_scan = lazy::carries_by_scan(encoding);
        let passing = self.carry_pass.is_some();
        let (carry, carry_known) = if whole {
            (Carry::default(), true)
        } else {
            let state = self.stream_state(key);
            let carry = if by_scan {
                if passing {
                    // The pass has this stream's carry; this read waits its turn.
                    None
                } else {
                    let carry = state.pending;
                    state.pending = lazy::carry_through(encoding, carry, &bytes);
                    Some(carry)
                }
            } else {
                Some(lazy::carry_after(encoding, state.tail()))
            };
            push_tail(&mut state.tail, &mut state.tail_len, &bytes);
            (carry.unwrap_or_default(), carry.is_some())
        };
        let (counted, invalid, lazy) = if carry_known {
            lazy_facts(encoding, carry, &bytes, scan)
        } else {
            self.unknown_carries += 1;
            (false, 0, true)
        };
        let text = None;
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
            scan,
            carry_known,
            counted,
            invalid,
            oversize,
            frame,
            crc,
            verdict: None,
            defined: false,
            group: None,
        };
        self.insert(record);
    }

    fn insert(&mut self, mut record: Record) {
        // A notice (connected, closed) is no stream bytes: it still shows, with its time,
        // after a paused view dropped data, as long as it fits.
        let data = record.kind != RecordKind::Info;
        if self.pinned
            && ((self.pinned_full && data)
                || self.records.len() >= self.caps.max_records
                || self.over_cap(record.cost()))
        {
            self.pinned_full = true;
            // Paused and full: what the user is looking at stays; this one is dropped from
            // the view (it takes no sequence number, so the held ones stay contiguous).
            self.evicted_records += 1;
            self.evicted_bytes += record.bytes.len() as u64;
            return;
        }
        // Room first, so the held records and the new one never exceed the cap together.
        self.evict_for(record.cost());
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
        self.evict_for(0);
    }

    /// Whether what is held, `incoming` more bytes and the reserve pass the byte cap.
    fn over_cap(&self, incoming: usize) -> bool {
        self.held_bytes() + incoming + self.reserve() > self.caps.max_bytes
    }

    /// Evicts the oldest records until the cap has room for `incoming` more bytes (with
    /// none coming, the newest record stays however large it is).
    fn evict_for(&mut self, incoming: usize) {
        let keep = usize::from(incoming == 0);
        loop {
            let over_bytes = self.over_cap(incoming) && self.records.len() > keep;
            let count = self.records.len() + usize::from(incoming > 0);
            if !over_bytes && count <= self.caps.max_records {
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
                self.outrun = true;
            }
            if !old.carry_known {
                // The pass has not reached it: carry its bytes through so the stream's
                // next record still starts where this one ended.
                self.unknown_carries = self.unknown_carries.saturating_sub(1);
                let key = stream_key(old.session, old.conn, old.peer, old.kind);
                if let Some(pass) = self.carry_pass.as_mut() {
                    let carry = pass.entry(key).or_default();
                    *carry = lazy::carry_through(self.encoding, *carry, &old.bytes);
                }
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
mod tests;
