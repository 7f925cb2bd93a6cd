//! The entry model: what every format writes, borrowed from an engine event (live
//! recording) or a store record (saving the view).

use std::borrow::Cow;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::SystemTime;

use crate::engine::{CloseReason, ConnId, Direction, Event, SessionId};
use crate::session::store::{Record, RecordKind};

/// Who sent the SYN of a TCP connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Initiator {
    /// We connected (TCP client).
    Local,
    /// The peer connected to us (TCP server).
    Peer,
}

/// One thing to log, borrowed from an [`Event`] or a [`Record`].
#[derive(Clone, Debug)]
pub(crate) enum Entry<'a> {
    /// A TCP connection opened.
    Open {
        at: SystemTime,
        session: SessionId,
        conn: ConnId,
        local: SocketAddr,
        peer: SocketAddr,
        initiator: Initiator,
    },
    /// A server or UDP socket bound.
    Listening {
        at: SystemTime,
        session: SessionId,
        local: SocketAddr,
    },
    /// Bytes.
    Data {
        at: SystemTime,
        session: SessionId,
        conn: Option<ConnId>,
        peer: SocketAddr,
        dir: Direction,
        bytes: &'a [u8],
    },
    /// A TCP connection ended.
    Close {
        at: SystemTime,
        session: SessionId,
        conn: ConnId,
        peer: SocketAddr,
        reason: &'a CloseReason,
    },
    /// Anything else worth a line.
    Note {
        at: SystemTime,
        session: SessionId,
        conn: Option<ConnId>,
        peer: Option<SocketAddr>,
        text: Cow<'a, str>,
    },
}

/// The line an entry other than data makes, shared by the text and CSV logs.
pub(super) struct EventLine<'a> {
    pub(super) at: SystemTime,
    pub(super) session: SessionId,
    pub(super) conn: Option<ConnId>,
    pub(super) peer: Option<SocketAddr>,
    pub(super) text: Cow<'a, str>,
}

impl Entry<'_> {
    /// The event line of a non-data entry (`None` for data).
    pub(super) fn event_line(&self) -> Option<EventLine<'_>> {
        let (at, session, conn, peer, text) = match self {
            Entry::Data { .. } => return None,
            Entry::Open {
                at,
                session,
                conn,
                local,
                peer,
                initiator,
            } => {
                let text = match initiator {
                    Initiator::Local => format!("connected {local} -> {peer}"),
                    Initiator::Peer => format!("client {peer} joined (local {local})"),
                };
                (*at, *session, Some(*conn), Some(*peer), Cow::Owned(text))
            }
            Entry::Listening { at, session, local } => (
                *at,
                *session,
                None,
                None,
                Cow::Owned(format!("listening on {local}")),
            ),
            Entry::Close {
                at,
                session,
                conn,
                peer,
                reason,
            } => (
                *at,
                *session,
                Some(*conn),
                Some(*peer),
                Cow::Owned(format!("closed: {reason}")),
            ),
            Entry::Note {
                at,
                session,
                conn,
                peer,
                text,
            } => (*at, *session, *conn, *peer, Cow::Borrowed(text.as_ref())),
        };
        Some(EventLine {
            at,
            session,
            conn,
            peer,
            text,
        })
    }

    /// The entry of an engine event (times not carried by the event are now).
    pub(super) fn from_event(event: &Event) -> Entry<'_> {
        let now = SystemTime::now;
        match event {
            Event::Connecting { session, addr } => Entry::Note {
                at: now(),
                session: *session,
                conn: None,
                peer: Some(*addr),
                text: Cow::Owned(format!("connecting to {addr}")),
            },
            Event::Connected {
                session,
                conn,
                local,
                peer,
            } => Entry::Open {
                at: now(),
                session: *session,
                conn: *conn,
                local: *local,
                peer: *peer,
                initiator: Initiator::Local,
            },
            Event::Listening { session, local } => Entry::Listening {
                at: now(),
                session: *session,
                local: *local,
            },
            Event::ClientJoined {
                session,
                conn,
                peer,
                local,
                at,
            } => Entry::Open {
                at: *at,
                session: *session,
                conn: *conn,
                local: *local,
                peer: *peer,
                initiator: Initiator::Peer,
            },
            Event::ClientRefused {
                session,
                peer,
                limit,
            } => Entry::Note {
                at: now(),
                session: *session,
                conn: None,
                peer: Some(*peer),
                text: Cow::Owned(format!(
                    "client {peer} refused: client limit {limit} reached"
                )),
            },
            Event::Data {
                session,
                conn,
                peer,
                dir,
                at,
                bytes,
            } => Entry::Data {
                at: *at,
                session: *session,
                conn: *conn,
                peer: *peer,
                dir: *dir,
                bytes,
            },
            Event::Closed {
                session,
                conn,
                peer,
                reason,
            } => Entry::Close {
                at: now(),
                session: *session,
                conn: *conn,
                peer: *peer,
                reason,
            },
            Event::Dropped {
                session,
                datagrams,
                bytes,
            } => Entry::Note {
                at: now(),
                session: *session,
                conn: None,
                peer: None,
                text: Cow::Owned(format!(
                    "{datagrams} datagrams ({bytes} bytes) dropped so far: the event queue was full"
                )),
            },
            Event::Error { session, error } => Entry::Note {
                at: now(),
                session: *session,
                conn: None,
                peer: None,
                text: Cow::Owned(format!("error: {error}")),
            },
            Event::Stopped { session } => Entry::Note {
                at: now(),
                session: *session,
                conn: None,
                peer: None,
                text: Cow::Borrowed("session stopped"),
            },
        }
    }

    /// The entry of a store record (a record without a peer gets `0.0.0.0:0`).
    pub(super) fn from_record(record: &Record) -> Entry<'_> {
        match record.kind {
            RecordKind::Rx | RecordKind::Tx => Entry::Data {
                at: record.at,
                session: record.session,
                conn: record.conn,
                peer: record
                    .peer
                    .unwrap_or(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0))),
                dir: if record.kind == RecordKind::Rx {
                    Direction::Rx
                } else {
                    Direction::Tx
                },
                bytes: &record.bytes,
            },
            RecordKind::Info => Entry::Note {
                at: record.at,
                session: record.session,
                conn: record.conn,
                peer: record.peer,
                text: String::from_utf8_lossy(&record.bytes),
            },
        }
    }

    /// Payload bytes of a data entry; 0 for the others.
    pub(super) fn payload_len(&self) -> u64 {
        match self {
            Entry::Data { bytes, .. } => bytes.len() as u64,
            _ => 0,
        }
    }
}

/// `RX` or `TX`, as the text and CSV logs write a direction.
pub(super) fn dir_tag(dir: Direction) -> &'static str {
    match dir {
        Direction::Rx => "RX",
        Direction::Tx => "TX",
    }
}
