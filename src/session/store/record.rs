//! One entry of the store: the exact bytes of a read, a datagram, a frame or a send,
//! what it takes to make its text in the store's encoding, and, for received frames, the
//! checksum verdict.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::SystemTime;

use crate::codec::lazy::{Carry, TextScan};
use crate::engine::{ConnId, Direction, SessionId};

/// What a record holds: received bytes, sent bytes, or a line of information
/// (a client joined, a connection closed, an error).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RecordKind {
    /// Bytes received from the peer.
    Rx,
    /// Bytes written to the peer.
    Tx,
    /// A notice from the session (connected, closed, error); the bytes are UTF-8 text.
    Info,
}

impl From<Direction> for RecordKind {
    fn from(dir: Direction) -> Self {
        match dir {
            Direction::Rx => RecordKind::Rx,
            Direction::Tx => RecordKind::Tx,
        }
    }
}

/// One entry in the store.
#[derive(Clone, Debug)]
pub struct Record {
    /// Sequence number over the whole session (never reused, survives eviction).
    pub seq: u64,
    /// Wall-clock time the bytes were read or written.
    pub at: SystemTime,
    /// The engine session the record belongs to.
    pub session: SessionId,
    /// The TCP connection, if any (UDP has none).
    pub conn: Option<ConnId>,
    /// The remote address, when known.
    pub peer: Option<SocketAddr>,
    /// UDP Rx: the multicast group the datagram was addressed to, where the OS says
    /// (boxed: most records have none, and a record's size counts against the cap).
    pub group: Option<Box<IpAddr>>,
    /// Received, sent or information.
    pub kind: RecordKind,
    /// The exact bytes.
    pub bytes: Arc<[u8]>,
    /// Text of the bytes in the store's current encoding (`\xNN` for invalid bytes), for
    /// encodings decoded when stored; `None` when the text is the bytes themselves
    /// (valid, complete UTF-8 or ASCII in an ASCII-compatible encoding) or is made when
    /// looked at (`lazy`).
    pub(super) text: Option<String>,
    /// The text is made when looked at, from the bytes after `carry`
    /// ([`crate::codec::lazy`]); see [`super::Store::text`].
    pub(super) lazy: bool,
    /// The unfinished character the stream held before these bytes (lazy records).
    pub(super) carry: Carry,
    /// What the reader found the bytes to be as text (ASCII, UTF-8, neither), so an
    /// encoding switch need not read them again to know it.
    pub(super) scan: TextScan,
    /// Invalid bytes found while decoding this record (when `counted`; see
    /// [`super::Store::invalid_of`]).
    pub(super) invalid: u32,
    /// `invalid` is known (lazily rendered UTF-8 records are counted within a budget per
    /// frame).
    pub(super) counted: bool,
    /// `carry` is known: false only for stream records an encoding switch's carry pass
    /// has not reached yet (they render on their own meanwhile).
    pub(super) carry_known: bool,
    /// True when this record was cut because a frame outgrew the framing limit.
    pub oversize: bool,
    /// True when this record is one complete received frame (framing on), so the frame
    /// check applies to it.
    pub(super) frame: bool,
    /// The frame check's verdict; `None` when no check is set or this is not a frame.
    pub(super) crc: Option<bool>,
    /// Received under a frame definition: what the cutter thought of these bytes (None
    /// for a good frame stored without one, see [`Record::verdict`]).
    pub(super) verdict: Option<Box<crate::protocol::Verdict>>,
    /// Cut by a frame definition.
    pub(super) defined: bool,
}

/// Heap overhead of one record's allocations beyond their contents: the `Arc` header and
/// the allocator's headers. The record's own slot is counted through the queue's capacity.
const RECORD_OVERHEAD: usize = 32;

impl Record {
    /// The text when it is stored or is the bytes themselves; `None` for a record whose
    /// text is made when looked at ([`super::Store::text`] makes it).
    pub fn stored_text(&self) -> Option<&str> {
        self.stored_text_upto(self.bytes.len())
    }

    /// [`Record::stored_text`], but of a record whose text is its bytes only the first
    /// `max_bytes` or fewer (cut before a character's start) are looked at: a row of a
    /// 256 KiB read does not validate the whole read. Stored text is given whole.
    pub(super) fn stored_text_upto(&self, max_bytes: usize) -> Option<&str> {
        match &self.text {
            Some(text) => Some(text),
            None if self.lazy => None,
            None => {
                let mut end = max_bytes.min(self.bytes.len());
                while end > 0 && end < self.bytes.len() && self.bytes[end] & 0xC0 == 0x80 {
                    end -= 1;
                }
                Some(std::str::from_utf8(&self.bytes[..end]).unwrap_or_default())
            }
        }
    }

    /// Invalid bytes in the store's encoding, when counted already; the store's
    /// [`super::Store::invalid_of`] always knows.
    pub fn invalid(&self) -> Option<u32> {
        self.counted.then_some(self.invalid)
    }

    /// True for a datagram or a send without a connection: decoded on its own, as a
    /// whole (an unfinished character at its end is invalid).
    pub(super) fn whole(&self) -> bool {
        self.conn.is_none()
    }

    /// The frame check's verdict on this record: `Some(true)` when it ends with the
    /// correct checksum ("CRC ok"), `Some(false)` when not ("CRC bad"), `None` when no
    /// check is set ([`super::Store::set_frame_check`]) or the record is not a complete
    /// received frame (framing "as read", a send, a datagram, an information line, an
    /// oversize piece, bytes left over when a connection closed mid-frame).
    pub fn crc_ok(&self) -> Option<bool> {
        self.crc
    }

    /// What the frame definition's cutter thought of these bytes: `Some(Good)`, a bad
    /// checksum, an impossible length, … ; None when no definition was set when they
    /// came (or the record is a send or a line of information).
    pub fn verdict(&self) -> Option<&crate::protocol::Verdict> {
        const GOOD: &crate::protocol::Verdict = &crate::protocol::Verdict::Good;
        match &self.verdict {
            Some(v) => Some(v),
            None if self.frame && self.defined => Some(GOOD),
            None => None,
        }
    }

    /// Approximate heap cost of the record, used against the byte cap.
    pub(super) fn cost(&self) -> usize {
        self.bytes.len() + self.text.as_ref().map_or(0, |t| t.capacity() + 16) + RECORD_OVERHEAD
    }
}
