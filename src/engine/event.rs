//! What the engine reports: [`Event`] (one per read, write, connection change, error),
//! [`Notice`] (a session's status lines) and [`CloseReason`], with their English
//! sentences.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::tls::{CertSummary, HandshakeInfo, PeerTrust, utc_text};
use super::{ConnId, EngineError, GroupSpec, SessionId};
use crate::codec::lazy::TextScan;

/// Which way bytes went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Received from the peer.
    Rx,
    /// Sent to the peer.
    Tx,
}

/// Why a TCP connection ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// The peer closed its side (a 0-byte read).
    PeerClosed,
    /// The peer reset the connection.
    Reset,
    /// We disconnected (client stop).
    LocalDisconnect,
    /// We kicked this client (server).
    Kicked,
    /// The server session was stopped.
    ServerStopped,
    /// TLS failed (the handshake, or a TLS error later); the error event before the
    /// close says what went wrong.
    Tls,
    /// Any other failure, in words.
    Error(String),
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::PeerClosed => write!(f, "peer closed the connection"),
            CloseReason::Reset => write!(f, "connection reset by peer"),
            CloseReason::LocalDisconnect => write!(f, "disconnected"),
            CloseReason::Kicked => write!(f, "kicked"),
            CloseReason::ServerStopped => write!(f, "server stopped"),
            CloseReason::Tls => write!(f, "TLS failed"),
            CloseReason::Error(e) => write!(f, "error: {e}"),
        }
    }
}

/// What the engine reports, in order per connection; [`Event::Stopped`] ends a session.
///
/// Every event carries `at`, the time it happened (stamped by the worker when it read,
/// wrote, accepted, closed or failed), so a view that drains the queue late still shows
/// and logs each record at its own time and in order with the data around it.
#[derive(Clone, Debug)]
pub enum Event {
    /// TCP client: about to try this address (once per resolved address).
    Connecting {
        /// Session.
        session: SessionId,
        /// When the attempt started.
        at: SystemTime,
        /// Address being tried.
        addr: SocketAddr,
    },
    /// TCP client: connected.
    Connected {
        /// Session.
        session: SessionId,
        /// When the connection was established.
        at: SystemTime,
        /// The connection's id.
        conn: ConnId,
        /// Our address.
        local: SocketAddr,
        /// The server's address.
        peer: SocketAddr,
    },
    /// TCP server listening / UDP bound, with the address actually bound.
    Listening {
        /// Session.
        session: SessionId,
        /// When the socket was ready.
        at: SystemTime,
        /// Bound address (the real port when 0 was asked).
        local: SocketAddr,
    },
    /// TCP server: a client connected.
    ClientJoined {
        /// Session.
        session: SessionId,
        /// The new connection's id.
        conn: ConnId,
        /// The client's address.
        peer: SocketAddr,
        /// Our end of the connection.
        local: SocketAddr,
        /// When it was accepted.
        at: SystemTime,
    },
    /// TCP server: clients beyond `max_clients` were accepted and closed at once. One
    /// event summarises the refusals of up to [`REFUSAL_SUMMARY_EVERY`] (a flood of
    /// connection attempts makes one line per second, not one per attempt).
    ClientRefused {
        /// Session.
        session: SessionId,
        /// When the last refusal of this summary happened.
        at: SystemTime,
        /// The last refused client.
        peer: SocketAddr,
        /// The limit in force.
        limit: usize,
        /// Clients refused since the previous `ClientRefused` of this session (≥ 1).
        count: u64,
    },
    /// Bytes: Rx is one read or one datagram, Tx one completed write or datagram (or the
    /// part of a write the kernel accepted before the write failed).
    Data {
        /// Session.
        session: SessionId,
        /// The TCP connection; None for UDP.
        conn: Option<ConnId>,
        /// The other end.
        peer: SocketAddr,
        /// Received or sent.
        dir: Direction,
        /// When it was read or written.
        at: SystemTime,
        /// The bytes, shared (cheap to clone for the recorder).
        bytes: Arc<[u8]>,
        /// UDP Rx: the multicast group the datagram was addressed to, where the OS says
        /// (Linux, by IP_PKTINFO); None for unicast, Tx, TCP, and elsewhere.
        group: Option<IpAddr>,
        /// What the bytes are as text (ASCII, UTF-8, neither), found by the worker while
        /// they were in its cache, so the UI need not read a flood twice to know it.
        scan: TextScan,
    },
    /// TCP Rx: a read the queue let go of before the consumer took it, to make room for
    /// newer ones, because the consumer's view would have evicted it at once anyway (only
    /// after [`crate::engine::Engine::set_shedding`]). It was counted, recorded and seen
    /// by the auto-reply rules like any read; only its bytes never reach the consumer.
    Shed {
        /// Session.
        session: SessionId,
        /// The connection.
        conn: ConnId,
        /// The other end.
        peer: SocketAddr,
        /// When it was read.
        at: SystemTime,
        /// Its length in bytes.
        len: u64,
    },
    /// A TCP connection ended (client or server side).
    Closed {
        /// Session.
        session: SessionId,
        /// When the connection was closed.
        at: SystemTime,
        /// The connection.
        conn: ConnId,
        /// The other end.
        peer: SocketAddr,
        /// Why.
        reason: CloseReason,
        /// Bytes queued for sending (sends and auto-replies) that a forced close (kick,
        /// disconnect, stop, an error) threw away unsent; 0 after a graceful close,
        /// where everything queued was written first.
        discarded: u64,
    },
    /// UDP only: cumulative totals of datagrams lost before they reached the view.
    /// Sent at most every 200 ms while drops happen, and once more at stop.
    Dropped {
        /// Session.
        session: SessionId,
        /// When the totals were taken.
        at: SystemTime,
        /// Datagrams dropped so far because the event queue was full (cumulative).
        datagrams: u64,
        /// Bytes of those datagrams (cumulative).
        bytes: u64,
        /// Datagrams the kernel dropped because the socket's receive buffer was full
        /// (cumulative; Linux SO_RXQ_OVFL, always 0 elsewhere).
        kernel: u64,
    },
    /// Something worth a status line that is neither data nor an error (see [`Notice`]).
    Notice {
        /// Session.
        session: SessionId,
        /// When it happened.
        at: SystemTime,
        /// What happened.
        notice: Notice,
    },
    /// Something failed; the session may go on (see the error) or stop (then `Stopped`).
    Error {
        /// Session.
        session: SessionId,
        /// When it failed.
        at: SystemTime,
        /// What went wrong.
        error: EngineError,
    },
    /// The session ended; always its last event.
    Stopped {
        /// Session.
        session: SessionId,
        /// When its last worker ended.
        at: SystemTime,
    },
}

/// How often at most a server reports refused clients ([`Event::ClientRefused`]).
pub const REFUSAL_SUMMARY_EVERY: Duration = Duration::from_secs(1);

/// Status lines of a session ([`Event::Notice`]); `Display` is the English sentence, the
/// UI has its own translations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    /// UDP: the receive buffer the OS actually granted (it may clamp what was asked).
    RecvBuffer {
        /// SO_RCVBUF asked for, in bytes.
        requested: usize,
        /// SO_RCVBUF read back, in bytes (Linux reports twice the usable size).
        granted: usize,
    },
    /// Datagrams that did not fit the recorder's queue since the previous such notice
    /// (sent to the recorder only, at the point of the loss, so the log says where).
    NotRecorded {
        /// Datagrams lost to the log.
        datagrams: u64,
        /// Their bytes.
        bytes: u64,
    },
    /// Auto-replies to one peer were skipped by the per-peer rate limit (summarised at
    /// most once per second per session).
    RepliesLimited {
        /// The peer.
        peer: SocketAddr,
        /// Replies skipped since the previous notice.
        skipped: u64,
        /// The limit in force, replies per second.
        per_second: u32,
    },
    /// A UDP auto-reply was not sent because it is more than `factor` times larger than
    /// the request and amplification was not allowed (see [`ReplyLimits`]).
    ///
    /// [`ReplyLimits`]: super::ReplyLimits
    AmplificationBlocked {
        /// The peer.
        peer: SocketAddr,
        /// Request size in bytes.
        request: usize,
        /// Reply size in bytes.
        reply: usize,
        /// The allowed factor.
        factor: u32,
    },
    /// An auto-reply to our own address was not sent (it would answer itself forever).
    SelfReplyBlocked {
        /// The address (ours).
        peer: SocketAddr,
    },
    /// TCP server: accepting works again after a failure (such as the open-file limit).
    AcceptRecovered {
        /// The listening address.
        local: SocketAddr,
    },
    /// UDP: datagrams still queued for sending when the session stopped were thrown away.
    UnsentDiscarded {
        /// Their bytes.
        bytes: u64,
    },
    /// UDP: the socket joined a multicast group.
    GroupJoined {
        /// The group as asked (with its interface and source).
        group: GroupSpec,
    },
    /// UDP: the socket left a multicast group.
    GroupLeft {
        /// The group as asked.
        group: GroupSpec,
    },
    /// UDP: the sending options for groups changed while the socket runs.
    MulticastSending {
        /// TTL / hop limit (None: unchanged).
        ttl: Option<u32>,
        /// Loopback of our own group datagrams (None: unchanged).
        loopback: Option<bool>,
        /// The outgoing interface ("" for the system's choice).
        interface: String,
    },
    /// TCP client with reconnect on: the connection is down; the next attempt starts
    /// after `delay`.
    Reconnecting {
        /// The attempt about to be made (1 for the first after a loss).
        attempt: u32,
        /// The wait before it.
        delay: Duration,
    },
    /// A TLS handshake completed on a connection: what it agreed on and the peer's
    /// certificate. Sent after `Connected`/`ClientJoined`; data follows it.
    TlsHandshake {
        /// The connection.
        conn: ConnId,
        /// The other end.
        peer: SocketAddr,
        /// What was agreed.
        info: Box<HandshakeInfo>,
    },
    /// TLS server: the certificate it presents (read from PEM or made at start), sent
    /// once after `Listening`; clients can pin its SHA-256 fingerprint.
    TlsIdentity {
        /// The server's certificate.
        certificate: Box<CertSummary>,
        /// True when it was made on the spot (self-signed).
        self_signed: bool,
    },
    /// A TLS peer closed TCP without sending close_notify first (its data may have been
    /// cut short, or it simply does not say goodbye).
    TlsNoCloseNotify {
        /// The connection.
        conn: ConnId,
        /// The other end.
        peer: SocketAddr,
    },
    /// Auto-reply is paused for this session; install the responder again to resume.
    AutoReplyPaused {
        /// The peer we were looping with.
        peer: SocketAddr,
        /// Consecutive requests that were our own replies coming back.
        echoes: u32,
    },
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Notice::RecvBuffer { requested, granted } => write!(
                f,
                "UDP receive buffer: asked for {requested} bytes, the system granted {granted}"
            ),
            Notice::NotRecorded { datagrams, bytes } => write!(
                f,
                "{datagrams} datagrams not recorded ({bytes} bytes): the recorder fell behind"
            ),
            Notice::RepliesLimited {
                peer,
                skipped,
                per_second,
            } => write!(
                f,
                "{skipped} auto-replies to {peer} skipped: limit {per_second} replies/s per peer"
            ),
            Notice::AmplificationBlocked {
                peer,
                request,
                reply,
                factor,
            } => write!(
                f,
                "auto-reply to {peer} not sent: {reply} bytes answer a {request}-byte datagram (more than {factor}x; allow amplification to send it)"
            ),
            Notice::SelfReplyBlocked { peer } => {
                write!(f, "auto-reply to {peer} not sent: that is our own address")
            }
            Notice::AcceptRecovered { local } => {
                write!(f, "accepting clients on {local} again")
            }
            Notice::UnsentDiscarded { bytes } => {
                write!(f, "{bytes} queued bytes discarded unsent at stop")
            }
            Notice::GroupJoined { group } => write!(f, "joined {}", group_words(group)),
            Notice::GroupLeft { group } => write!(f, "left {}", group_words(group)),
            Notice::MulticastSending {
                ttl,
                loopback,
                interface,
            } => {
                write!(f, "sending to groups")?;
                if let Some(ttl) = ttl {
                    write!(f, " with TTL {ttl}")?;
                }
                match loopback {
                    Some(true) => write!(f, ", looped back to this host")?,
                    Some(false) => write!(f, ", not looped back to this host")?,
                    None => {}
                }
                if interface.is_empty() {
                    write!(f, ", by the system's default interface")
                } else {
                    write!(f, ", by {interface}")
                }
            }
            Notice::Reconnecting { attempt, delay } => {
                write!(f, "reconnecting in {} (attempt {attempt})", seconds(*delay))
            }
            Notice::TlsHandshake { peer, info, .. } => {
                write!(f, "TLS with {peer}: {}", handshake_words(info))
            }
            Notice::TlsIdentity {
                certificate,
                self_signed,
            } => {
                let made = if *self_signed {
                    "self-signed certificate made for this session"
                } else {
                    "certificate"
                };
                write!(f, "TLS {made}: {}", certificate_words(certificate))
            }
            Notice::TlsNoCloseNotify { peer, .. } => write!(
                f,
                "{peer} closed TCP without TLS close_notify (its last data may be cut short)"
            ),
            Notice::AutoReplyPaused { peer, echoes } => write!(
                f,
                "auto-reply paused: reply loop with {peer} ({echoes} of our replies came back as requests); turn auto-reply on again to resume"
            ),
        }
    }
}

/// A handshake in English: "TLS 1.3, TLS13_AES_256_GCM_SHA384, X25519, ALPN h2, SNI
/// example.com; certificate: …; trust: …".
pub fn handshake_words(info: &HandshakeInfo) -> String {
    let mut s = format!("{}, {}", info.protocol, info.cipher_suite);
    if let Some(group) = &info.key_exchange {
        s.push_str(&format!(", {group}"));
    }
    match &info.alpn {
        Some(alpn) => s.push_str(&format!(", ALPN {alpn}")),
        None => s.push_str(", no ALPN"),
    }
    match &info.sni {
        Some(sni) => s.push_str(&format!(", SNI {sni}")),
        None => s.push_str(", no SNI"),
    }
    if let Some(cert) = &info.peer {
        s.push_str(&format!("; certificate: {}", certificate_words(cert)));
    }
    let trust = match &info.trust {
        PeerTrust::SystemRoots => "verified against the system's roots".to_string(),
        PeerTrust::Pinned => "pinned fingerprint matches".to_string(),
        PeerTrust::AcceptedAny { problem: None } => {
            "ACCEPT ANY CERTIFICATE is on (a strict check would have passed)".to_string()
        }
        PeerTrust::AcceptedAny { problem: Some(p) } => {
            format!("ACCEPT ANY CERTIFICATE is on (a strict check says: {p})")
        }
        PeerTrust::NotAsked => "client certificates not asked".to_string(),
    };
    s.push_str(&format!("; trust: {trust}"));
    s
}

/// A certificate in English: subject, issuer, validity, names, SHA-256.
pub fn certificate_words(cert: &CertSummary) -> String {
    let mut s = format!("subject {}", cert.subject);
    if cert.issuer == cert.subject {
        s.push_str(" (self-signed)");
    } else {
        s.push_str(&format!(", issuer {}", cert.issuer));
    }
    s.push_str(&format!(
        ", valid {} to {}",
        utc_text(cert.not_before),
        utc_text(cert.not_after)
    ));
    if !cert.names.is_empty() {
        s.push_str(&format!(", names {}", cert.names.join(" ")));
    }
    s.push_str(&format!(", SHA-256 {}", cert.sha256));
    s
}

/// "239.1.2.3 on eth0 (source 10.0.0.5)" in English.
fn group_words(group: &GroupSpec) -> String {
    let mut s = group.group.to_string();
    if group.interface.is_empty() {
        s.push_str(" on the system's default interface");
    } else {
        s.push_str(&format!(" on {}", group.interface));
    }
    if let Some(source) = group.source {
        s.push_str(&format!(" (source {source})"));
    }
    s
}

/// A delay as "2 s" or "500 ms".
pub fn seconds(delay: Duration) -> String {
    if delay.subsec_millis() == 0 {
        format!("{} s", delay.as_secs())
    } else {
        format!("{} ms", delay.as_millis())
    }
}

impl Event {
    /// The session this event belongs to.
    pub fn session(&self) -> SessionId {
        match self {
            Event::Connecting { session, .. }
            | Event::Connected { session, .. }
            | Event::Listening { session, .. }
            | Event::ClientJoined { session, .. }
            | Event::ClientRefused { session, .. }
            | Event::Data { session, .. }
            | Event::Shed { session, .. }
            | Event::Closed { session, .. }
            | Event::Dropped { session, .. }
            | Event::Notice { session, .. }
            | Event::Error { session, .. }
            | Event::Stopped { session, .. } => *session,
        }
    }

    /// When it happened (stamped by the engine, not when it was drained).
    pub fn at(&self) -> SystemTime {
        match self {
            Event::Connecting { at, .. }
            | Event::Connected { at, .. }
            | Event::Listening { at, .. }
            | Event::ClientJoined { at, .. }
            | Event::ClientRefused { at, .. }
            | Event::Data { at, .. }
            | Event::Shed { at, .. }
            | Event::Closed { at, .. }
            | Event::Dropped { at, .. }
            | Event::Notice { at, .. }
            | Event::Error { at, .. }
            | Event::Stopped { at, .. } => *at,
        }
    }
}
