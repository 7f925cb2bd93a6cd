//! CSV with a frame definition: received bytes are cut into frames per connection (or
//! per UDP datagram), one row per frame, with three more kinds of column after the
//! usual ones: `frame` (the verdict: `good`, `bad checksum: expected …, found …`, …),
//! `rtt_ms` (for the first frame after a send on that link: milliseconds from the
//! send's last byte written to this frame) and one column per field (its value, scaled,
//! without the unit; empty when the frame is not good or too short for it).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use crate::engine::{ConnId, SessionId};
use crate::protocol::{Cut, FrameCutter, FrameDef, Link, RttTracker, Verdict};

/// A send unanswered this long no longer waits for its answer in the log.
const RTT_TIMEOUT: Duration = Duration::from_secs(60);

/// The frames side of a CSV log.
pub(super) struct CsvFrames {
    def: FrameDef,
    cutters: HashMap<(SessionId, Link), FrameCutter>,
    rtt: RttTracker,
}

/// One row's extra columns.
pub(super) struct FrameColumns {
    pub(super) verdict: String,
    pub(super) rtt_ms: Option<f64>,
    pub(super) fields: Vec<Option<f64>>,
}

impl CsvFrames {
    pub(super) fn new(def: FrameDef) -> Self {
        CsvFrames {
            def,
            cutters: HashMap::new(),
            rtt: RttTracker::new(RTT_TIMEOUT),
        }
    }

    /// The header's extra columns (`,frame,rtt_ms,<fields>`), fields quoted as needed.
    pub(super) fn header_tail(&self, push_field: impl Fn(&mut Vec<u8>, &str)) -> Vec<u8> {
        let mut out = b",frame,rtt_ms".to_vec();
        for f in &self.def.fields {
            out.push(b',');
            push_field(&mut out, &f.name);
        }
        out
    }

    /// How many field columns rows have.
    pub(super) fn field_count(&self) -> usize {
        self.def.fields.len()
    }

    /// A send: its round trip starts.
    pub(super) fn sent(
        &mut self,
        conn: Option<ConnId>,
        peer: SocketAddr,
        len: usize,
        at: SystemTime,
    ) {
        let link = Link::of(conn, peer);
        self.rtt.expect(link, "", len);
        self.rtt.on_tx(link, len, at);
        self.rtt.poll(at);
    }

    /// Received bytes: the frames they complete, each with its columns.
    pub(super) fn received(
        &mut self,
        session: SessionId,
        conn: Option<ConnId>,
        peer: SocketAddr,
        bytes: &[u8],
        at: SystemTime,
    ) -> Vec<(Cut, FrameColumns)> {
        let link = Link::of(conn, peer);
        let cutter = self
            .cutters
            .entry((session, link))
            .or_insert_with(|| FrameCutter::new(self.def.clone()));
        let mut cuts = Vec::new();
        cutter.push(bytes, Instant::now(), &mut cuts);
        if conn.is_none() {
            cutter.finish(&mut cuts);
        }
        self.columns(link, cuts, at)
    }

    /// A connection closed: what its cutter held.
    pub(super) fn closed(
        &mut self,
        session: SessionId,
        conn: ConnId,
        at: SystemTime,
    ) -> Vec<(Cut, FrameColumns)> {
        let link = Link::Conn(conn);
        self.rtt.closed(link);
        let mut cuts = Vec::new();
        if let Some(mut cutter) = self.cutters.remove(&(session, link)) {
            cutter.finish(&mut cuts);
        }
        self.columns(link, cuts, at)
    }

    fn columns(&mut self, link: Link, cuts: Vec<Cut>, at: SystemTime) -> Vec<(Cut, FrameColumns)> {
        cuts.into_iter()
            .map(|cut| {
                let whole = matches!(cut.verdict, Verdict::Good | Verdict::BadChecksum { .. });
                let rtt_ms = if whole {
                    self.rtt
                        .on_frame(link, at)
                        .map(|d| d.as_secs_f64() * 1000.0)
                } else {
                    None
                };
                let fields = self
                    .def
                    .fields
                    .iter()
                    .map(|f| {
                        cut.verdict
                            .is_good()
                            .then(|| f.read(&cut.bytes).map(|v| v.value))
                            .flatten()
                    })
                    .collect();
                let verdict = cut.verdict.to_string();
                (
                    cut,
                    FrameColumns {
                        verdict,
                        rtt_ms,
                        fields,
                    },
                )
            })
            .collect()
    }
}
