//! The entry model: what every format writes, borrowed from an engine event (live
//! recording) or a store record (saving the view).

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::SystemTime;

use crate::engine::{CloseReason, ConnId, Direction, Event, Notice, SessionId};
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
        /// UDP Rx: the multicast group the datagram was addressed to (where known).
        group: Option<IpAddr>,
    },
    /// A TCP connection ended.
    Close {
        at: SystemTime,
        session: SessionId,
        conn: ConnId,
        peer: SocketAddr,
        reason: &'a CloseReason,
        /// Queued bytes thrown away unsent by a forced close.
        discarded: u64,
    },
    /// A TLS handshake completed on a TCP connection: its data from here on is the
    /// decrypted plaintext (pcapng marks those packets).
    Tls {
        at: SystemTime,
        session: SessionId,
        conn: ConnId,
        peer: SocketAddr,
        text: Cow<'a, str>,
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
                discarded,
            } => (
                *at,
                *session,
                Some(*conn),
                Some(*peer),
                Cow::Owned(close_text(reason, *discarded)),
            ),
            Entry::Tls {
                at,
                session,
                conn,
                peer,
                text,
            } => (
                *at,
                *session,
                Some(*conn),
                Some(*peer),
                Cow::Borrowed(text.as_ref()),
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

    /// The entry of an engine event, at the time the engine stamped on it.
    pub(super) fn from_event(event: &Event) -> Entry<'_> {
        let at = event.at();
        let session = event.session();
        let note = |peer: Option<SocketAddr>, text: Cow<'static, str>| Entry::Note {
            at,
            session,
            conn: None,
            peer,
            text,
        };
        match event {
            Event::Connecting { addr, .. } => {
                note(Some(*addr), Cow::Owned(format!("connecting to {addr}")))
            }
            Event::Connected {
                conn, local, peer, ..
            } => Entry::Open {
                at,
                session,
                conn: *conn,
                local: *local,
                peer: *peer,
                initiator: Initiator::Local,
            },
            Event::Listening { local, .. } => Entry::Listening {
                at,
                session,
                local: *local,
            },
            Event::ClientJoined {
                conn, peer, local, ..
            } => Entry::Open {
                at,
                session,
                conn: *conn,
                local: *local,
                peer: *peer,
                initiator: Initiator::Peer,
            },
            Event::ClientRefused {
                peer, limit, count, ..
            } => {
                let text = if *count > 1 {
                    format!("{count} clients refused (last {peer}): client limit {limit} reached")
                } else {
                    format!("client {peer} refused: client limit {limit} reached")
                };
                note(Some(*peer), Cow::Owned(text))
            }
            Event::Data {
                conn,
                peer,
                dir,
                bytes,
                group,
                ..
            } => Entry::Data {
                at,
                session,
                conn: *conn,
                peer: *peer,
                dir: *dir,
                bytes,
                group: *group,
            },
            Event::Closed {
                conn,
                peer,
                reason,
                discarded,
                ..
            } => Entry::Close {
                at,
                session,
                conn: *conn,
                peer: *peer,
                reason,
                discarded: *discarded,
            },
            // The tap gets every read before the queue may shed it; should one come, say it.
            Event::Shed { peer, len, .. } => note(
                Some(*peer),
                Cow::Owned(format!("{len} bytes read, not shown in the view")),
            ),
            Event::Dropped {
                datagrams,
                bytes,
                kernel,
                ..
            } => note(
                None,
                Cow::Owned(format!(
                    "{datagrams} datagrams ({bytes} bytes) dropped so far: the event queue was full; {kernel} dropped by the system (receive buffer full)"
                )),
            ),
            Event::Notice { notice, .. } => match notice {
                Notice::TlsHandshake { conn, peer, .. } => Entry::Tls {
                    at,
                    session,
                    conn: *conn,
                    peer: *peer,
                    text: Cow::Owned(notice.to_string()),
                },
                // The line names the connection, as the close after it does.
                Notice::TlsNoCloseNotify { conn, peer } => Entry::Note {
                    at,
                    session,
                    conn: Some(*conn),
                    peer: Some(*peer),
                    text: Cow::Owned(notice.to_string()),
                },
                _ => note(None, Cow::Owned(notice.to_string())),
            },
            Event::Error { error, .. } => note(None, Cow::Owned(format!("error: {error}"))),
            Event::Stopped { .. } => note(None, Cow::Borrowed("session stopped")),
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
                group: record.group.as_deref().copied(),
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

/// The words of a close: `closed: <reason>`, plus what a forced close threw away.
pub(crate) fn close_text(reason: &CloseReason, discarded: u64) -> String {
    if discarded > 0 {
        format!("closed: {reason}; {discarded} queued bytes discarded unsent")
    } else {
        format!("closed: {reason}")
    }
}
