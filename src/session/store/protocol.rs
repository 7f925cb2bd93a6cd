//! The store's protocol side: received bytes cut by a frame definition (each record
//! with its verdict), the values of its fields over time for plots, and round-trip
//! times of sends (see `crate::protocol`).
//!
//! With a definition set it replaces the receive framing for TCP streams, and each UDP
//! datagram is cut on its own (a datagram is one message, so nothing waits across
//! datagrams). Without one, every received read or datagram answers a waiting send.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::engine::{ConnId, SessionId};
use crate::protocol::{Cut, FieldValue, FrameCutter, FrameDef, Link, RttTracker, Verdict};

use super::{Record, RecordKind, Store, StreamKey, stream_key};

/// Most points kept per field series (the oldest go first).
pub const SERIES_POINTS: usize = 100_000;

/// How long a send waits for its answer by default before it counts as a timeout.
const RTT_TIMEOUT: Duration = Duration::from_secs(2);

/// One value of a field, at the time its frame arrived.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FieldPoint {
    /// When the frame arrived.
    pub at: SystemTime,
    /// The field's value (scaled).
    pub value: f64,
}

pub(super) struct ProtoState {
    pub(super) def: Option<Arc<FrameDef>>,
    rtt: RttTracker,
    /// One series per field of `def`, in its order.
    series: Vec<VecDeque<FieldPoint>>,
    /// Resyncs of cutters already gone (closed streams), plus the live ones' when asked.
    resyncs_done: u64,
    good: u64,
    bad: u64,
}

impl Default for ProtoState {
    fn default() -> Self {
        ProtoState {
            def: None,
            rtt: RttTracker::new(RTT_TIMEOUT),
            series: Vec::new(),
            resyncs_done: 0,
            good: 0,
            bad: 0,
        }
    }
}

/// The monotonic instant of a wall-clock time in the recent past (now, if in the future).
fn instant_of(at: SystemTime) -> Instant {
    let ago = SystemTime::now().duration_since(at).unwrap_or_default();
    Instant::now().checked_sub(ago).unwrap_or_else(Instant::now)
}

impl ProtoState {
    pub(super) fn on_tx(
        &mut self,
        conn: Option<ConnId>,
        peer: SocketAddr,
        len: usize,
        at: SystemTime,
    ) {
        self.rtt.on_tx(Link::of(conn, peer), len, at);
    }

    pub(super) fn on_answer(&mut self, conn: Option<ConnId>, peer: SocketAddr, at: SystemTime) {
        self.rtt.on_frame(Link::of(conn, peer), at);
    }

    pub(super) fn closed(&mut self, conn: ConnId) {
        self.rtt.closed(Link::Conn(conn));
    }
}

impl Store {
    /// The frame definition received bytes are cut by, if any.
    pub fn frame_def(&self) -> Option<&FrameDef> {
        self.proto.def.as_deref()
    }

    /// Cuts received bytes by `def` from now on (None: back to the receive framing).
    /// What the old cutters or framers hold is flushed as records first; the field
    /// series start again when the fields change.
    pub fn set_frame_def(&mut self, def: Option<FrameDef>) {
        if def.as_ref() == self.proto.def.as_deref() {
            return;
        }
        self.flush_framers();
        let fields_changed = match (&def, &self.proto.def) {
            (Some(new), Some(old)) => new.fields != old.fields,
            _ => true,
        };
        if fields_changed {
            let n = def.as_ref().map_or(0, |d| d.fields.len());
            self.proto.series = vec![VecDeque::new(); n];
        }
        self.proto.def = def.map(Arc::new);
    }

    /// A send of `len` bytes labelled `label` (a quick command's name, "compose", …)
    /// was handed to the engine for this connection or UDP peer: its round trip is
    /// measured from its Tx record to the next frame received there.
    pub fn expect_reply(
        &mut self,
        conn: Option<ConnId>,
        peer: SocketAddr,
        label: &str,
        len: usize,
    ) {
        self.proto.rtt.expect(Link::of(conn, peer), label, len);
    }

    /// The round-trip statistics.
    pub fn rtt(&self) -> &RttTracker {
        &self.proto.rtt
    }

    /// The round-trip statistics, to change the timeout or take samples.
    pub fn rtt_mut(&mut self) -> &mut RttTracker {
        &mut self.proto.rtt
    }

    /// The values of field `index` of the definition over time (oldest first).
    pub fn field_series(&self, index: usize) -> Option<&VecDeque<FieldPoint>> {
        self.proto.series.get(index)
    }

    /// The definition's fields read out of `record` (a received frame), by name; empty
    /// without a definition or for records that are not good frames.
    pub fn field_values(&self, record: &Record) -> Vec<(String, Option<FieldValue>)> {
        let Some(def) = self.proto.def.as_deref() else {
            return Vec::new();
        };
        if record.kind != RecordKind::Rx || !record.verdict().is_some_and(Verdict::is_good) {
            return Vec::new();
        }
        def.fields
            .iter()
            .map(|f| (f.name.clone(), f.read(&record.bytes)))
            .collect()
    }

    /// Good and bad frames received under definitions so far.
    pub fn frame_counts(&self) -> (u64, u64) {
        (self.proto.good, self.proto.bad)
    }

    /// Times a cutter lost the frame boundary and found it again.
    pub fn resyncs(&self) -> u64 {
        self.proto.resyncs_done
            + self
                .streams
                .values()
                .filter_map(|s| s.cutter.as_ref())
                .map(FrameCutter::resyncs)
                .sum::<u64>()
    }

    /// Received bytes under a definition: cut (a datagram on its own) and stored.
    pub(super) fn push_defined(
        &mut self,
        session: SessionId,
        conn: Option<ConnId>,
        peer: SocketAddr,
        at: SystemTime,
        bytes: &[u8],
    ) {
        let Some(def) = self.proto.def.clone() else {
            return;
        };
        let key = stream_key(session, conn, Some(peer), RecordKind::Rx);
        let mut cuts = Vec::new();
        {
            let state = self.stream_state(key);
            state.last_at = at;
            let cutter = state
                .cutter
                .get_or_insert_with(|| FrameCutter::new((*def).clone()));
            // The gap is measured between reads (when the worker read them), not
            // between the times the window drained them.
            cutter.push(bytes, instant_of(at), &mut cuts);
            if conn.is_none() {
                cutter.finish(&mut cuts);
            }
        }
        self.push_cuts(key, at, cuts);
    }

    /// Stores what a cutter cut, with verdicts; good frames feed the field series, and
    /// every whole frame (good or with a bad checksum) answers a waiting send.
    pub(super) fn push_cuts(&mut self, key: StreamKey, at: SystemTime, cuts: Vec<Cut>) {
        let Some(def) = self.proto.def.clone() else {
            return;
        };
        let checked = def.checksum.is_some();
        for cut in cuts {
            let whole = matches!(cut.verdict, Verdict::Good | Verdict::BadChecksum { .. });
            if whole {
                // A TCP stream's key has no peer: its connection is the link.
                let link = match (key.conn, key.peer) {
                    (Some(conn), _) => Some(Link::Conn(conn)),
                    (None, Some(peer)) => Some(Link::Peer(peer)),
                    (None, None) => None,
                };
                if let Some(link) = link {
                    self.proto.rtt.on_frame(link, at);
                }
            }
            if cut.verdict.is_good() {
                self.proto.good += 1;
                for (field, series) in def.fields.iter().zip(self.proto.series.iter_mut()) {
                    if let Some(v) = field.read(&cut.bytes) {
                        if series.len() == SERIES_POINTS {
                            series.pop_front();
                        }
                        series.push_back(FieldPoint { at, value: v.value });
                    }
                }
            } else {
                self.proto.bad += 1;
            }
            let seq = self.next_seq;
            let good = cut.verdict.is_good();
            self.push_bytes(
                key.session,
                key.conn,
                key.peer,
                key.kind,
                at,
                Arc::from(cut.bytes),
                super::Facts {
                    frame: whole,
                    ..super::Facts::default()
                },
            );
            if let Some(record) = self.records.back_mut().filter(|r| r.seq == seq) {
                record.defined = true;
                record.crc = (whole && checked).then_some(good);
                if !good {
                    record.verdict = Some(Box::new(cut.verdict));
                }
            }
        }
    }

    /// Lets cutters end frames whose idle gap passed, and counts sends left unanswered
    /// past the timeout.
    pub(super) fn poll_cutters(&mut self, now: Instant) {
        self.proto.rtt.poll(SystemTime::now());
        if self
            .proto
            .def
            .as_ref()
            .is_none_or(|d| d.idle_gap_ms.is_none())
        {
            return;
        }
        let keys: Vec<StreamKey> = self
            .streams
            .iter()
            .filter(|(_, s)| s.cutter.as_ref().is_some_and(|c| c.pending_len() > 0))
            .map(|(k, _)| *k)
            .collect();
        for key in keys {
            let mut cuts = Vec::new();
            let at = match self.streams.get_mut(&key) {
                Some(state) => {
                    if let Some(cutter) = state.cutter.as_mut() {
                        cutter.poll(now, &mut cuts);
                    }
                    state.last_at
                }
                None => continue,
            };
            self.push_cuts(key, at, cuts);
        }
    }

    /// A stream ends (closed, or the definition changes): its cutter's pending bytes
    /// are cut and its resyncs kept in the total.
    pub(super) fn finish_cutter(&mut self, key: StreamKey) {
        let mut cuts = Vec::new();
        let at = match self.streams.get_mut(&key) {
            Some(state) => match state.cutter.take() {
                Some(mut cutter) => {
                    cutter.finish(&mut cuts);
                    self.proto.resyncs_done += cutter.resyncs();
                    state.last_at
                }
                None => return,
            },
            None => return,
        };
        self.push_cuts(key, at, cuts);
    }
}
