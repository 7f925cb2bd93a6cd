//! The network engine: every socket lives on worker threads, driven by method calls on
//! [`Engine`] and [`SessionHandle`], reporting through one bounded event queue
//! ([`EventReceiver`]) plus an optional recorder tee ([`Engine::set_tap`]).
//!
//! Why threads and blocking sockets: a debugging assistant holds at most thousands of
//! connections, and blocking std sockets behave the same on Linux, Windows and macOS
//! without an async runtime. Idle connections cost one reader thread with a small stack;
//! writer threads exist only while there is something to write.
//!
//! Guarantees the UI relies on:
//! - no method here blocks (they signal workers and return);
//! - every session ends with exactly one [`Event::Stopped`], its last event;
//! - TCP data is never dropped (workers wait for the queue), UDP data that does not fit
//!   the queue is counted and reported as [`Event::Dropped`];
//! - errors arrive typed ([`EngineError`]) with a sentence for the user;
//! - a panic in a worker is caught and reported as [`EngineError::WorkerPanic`];
//! - an installed [`Responder`] (auto-reply) sees every read on the worker that read it,
//!   after its Rx event, and its replies travel the normal send path, within the safety
//!   limits of [`ReplyLimits`] (rate, own address, loops, amplification);
//! - every event carries `at`, the time it happened ([`Event::at`]);
//! - no byte goes unaccounted: TX counts what the kernel accepted (the part of a failed
//!   write included); a peer's half-close lets everything queued be written before the
//!   connection closes; a forced close (kick, disconnect, stop, error) reports the queued
//!   bytes it threw away in [`Event::Closed`]; a read that races a close is still
//!   reported; UDP reports queue and kernel drops ([`Event::Dropped`], once more at stop)
//!   and what the recorder's tap missed ([`Notice::NotRecorded`]);
//! - state is bounded for the whole program: one send budget for the engine
//!   ([`Engine::set_send_budget`]), per-peer UDP counters for [`MAX_UDP_PEERS`] peers plus
//!   one "others" entry, a bounded accept→admit hand-off with the client limit enforced
//!   at accept and refusals summarised once per second, capped auto-reply timers.
//!
//! Imports: std and socket2 (plus `windows-sys` for the one Windows-only socket option,
//! see `bind`).

mod bind;
mod core;
mod counters;
mod error;
pub mod interfaces;
mod keepalive;
mod multicast;
mod readbuf;
mod responder;
mod sink;
mod tcp_client;
mod tcp_server;
mod udp;

use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime};

pub use self::bind::port_needs_privilege;
use self::core::{SEND_BUDGET, SendBudget, SessionCore};
pub use self::counters::Counters;
pub use self::error::{EngineError, MAX_DATAGRAM};
pub use self::responder::{
    Action, LOOP_GAP, MAX_REPLY_DELAY, MAX_TIMER_JOBS, ReplyLimits, Responder,
};
pub use self::sink::{EventReceiver, Waker};
pub use self::udp::MAX_UDP_PEERS;
use crate::sync::lock;
pub use keepalive::Keepalive;
pub use multicast::{GroupSpec, GroupState, GroupStatus, MulticastOptions, parse_group};

/// Identifies a session; unique per [`Engine`], starting at 1.
pub type SessionId = u64;
/// Identifies a TCP connection; unique per [`Engine`] across all sessions, never 0.
pub type ConnId = u64;

/// Which way bytes went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Received from the peer.
    Rx,
    /// Sent to the peer.
    Tx,
}

/// The three kinds of session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SessionKind {
    /// One outgoing TCP connection.
    TcpClient,
    /// A TCP listener and its clients.
    TcpServer,
    /// One bound UDP socket.
    Udp,
}

/// What to start.
#[derive(Clone, Debug)]
pub enum SessionConfig {
    /// Connect to a TCP server.
    TcpClient(TcpClientConfig),
    /// Listen for TCP clients.
    TcpServer(TcpServerConfig),
    /// Bind a UDP socket.
    Udp(UdpConfig),
}

impl SessionConfig {
    /// The kind of session this config starts.
    pub fn kind(&self) -> SessionKind {
        match self {
            SessionConfig::TcpClient(_) => SessionKind::TcpClient,
            SessionConfig::TcpServer(_) => SessionKind::TcpServer,
            SessionConfig::Udp(_) => SessionKind::Udp,
        }
    }
}

/// Settings of a TCP client session.
#[derive(Clone, Debug)]
pub struct TcpClientConfig {
    /// Host name or IP (IPv6 with or without brackets).
    pub host: String,
    /// Server port.
    pub port: u16,
    /// Give up one address after this long (each resolved address gets its own try).
    pub connect_timeout: Duration,
    /// Disable Nagle's algorithm (send small frames at once).
    pub nodelay: bool,
    /// TCP keepalive (on by default); `None` turns it off.
    pub keepalive: Option<Keepalive>,
    /// Connect from this local address and port (bind before connect). An unspecified
    /// IP (`0.0.0.0`/`::`) fixes only the source port; port 0 fixes only the address.
    pub local: Option<SocketAddr>,
    /// Connect again after a loss or a failed attempt (None: the session ends).
    pub reconnect: Option<Reconnect>,
}

/// TCP client reconnect: the wait before each attempt doubles from `delay` up to `max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reconnect {
    /// The wait before the first attempt after a loss.
    pub delay: Duration,
    /// The longest wait (the backoff cap).
    pub max: Duration,
}

impl Reconnect {
    /// The wait before attempt `attempt` (1-based): `delay`, then twice as long each
    /// time, never more than `max`.
    pub fn delay_for(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(31);
        self.delay
            .checked_mul(1u32 << doublings)
            .unwrap_or(self.max)
            .min(self.max.max(self.delay))
    }
}

impl Default for Reconnect {
    /// 1 s, doubling up to 30 s.
    fn default() -> Self {
        Reconnect {
            delay: Duration::from_secs(1),
            max: Duration::from_secs(30),
        }
    }
}

impl Default for TcpClientConfig {
    fn default() -> Self {
        TcpClientConfig {
            host: "127.0.0.1".into(),
            port: 8080,
            connect_timeout: Duration::from_secs(5),
            nodelay: true,
            keepalive: Some(Keepalive::default()),
            local: None,
            reconnect: None,
        }
    }
}

/// Settings of a TCP server session.
#[derive(Clone, Debug)]
pub struct TcpServerConfig {
    /// Address to bind: "0.0.0.0" (all IPv4), "::" (IPv6 and IPv4 unless `ipv6_only`),
    /// "127.0.0.1", or a name; empty means "0.0.0.0".
    pub host: String,
    /// Port to bind; 0 lets the OS choose (see [`Event::Listening`]).
    pub port: u16,
    /// For an IPv6 address: accept IPv6 clients only (IPV6_V6ONLY). Off by default, so
    /// `::` takes IPv4 clients too on every system (Windows' own default is on).
    pub ipv6_only: bool,
    /// Listen backlog (pending connections the OS queues before we accept them).
    pub backlog: i32,
    /// Clients beyond this many are accepted and closed at once ([`Event::ClientRefused`]).
    pub max_clients: usize,
    /// TCP keepalive on every client connection (on by default); `None` turns it off.
    pub keepalive: Option<Keepalive>,
}

impl Default for TcpServerConfig {
    fn default() -> Self {
        TcpServerConfig {
            host: "0.0.0.0".into(),
            port: 8080,
            ipv6_only: false,
            backlog: 4096,
            max_clients: 10_000,
            keepalive: Some(Keepalive::default()),
        }
    }
}

/// Settings of a UDP session.
#[derive(Clone, Debug)]
pub struct UdpConfig {
    /// Address to bind; empty means "0.0.0.0"; "::" is IPv6 and IPv4 unless `ipv6_only`.
    pub host: String,
    /// Port to bind; 0 lets the OS choose.
    pub port: u16,
    /// For an IPv6 address: IPv6 peers only (IPV6_V6ONLY). Off by default, so `::`
    /// exchanges datagrams with IPv4 peers too on every system.
    pub ipv6_only: bool,
    /// Default destination "host:port" (`[v6]:port`), used by [`SendTarget::Default`].
    pub peer: Option<String>,
    /// SO_RCVBUF in bytes (the OS may clamp it); big enough to absorb bursts.
    pub recv_buffer: usize,
    /// Multicast: groups joined at start, TTL, loopback, the outgoing interface.
    pub multicast: MulticastOptions,
}

impl Default for UdpConfig {
    fn default() -> Self {
        UdpConfig {
            host: "0.0.0.0".into(),
            port: 8080,
            ipv6_only: false,
            peer: None,
            recv_buffer: 4 << 20,
            multicast: MulticastOptions::default(),
        }
    }
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
            Notice::AutoReplyPaused { peer, echoes } => write!(
                f,
                "auto-reply paused: reply loop with {peer} ({echoes} of our replies came back as requests); turn auto-reply on again to resume"
            ),
        }
    }
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
            | Event::Closed { at, .. }
            | Event::Dropped { at, .. }
            | Event::Notice { at, .. }
            | Event::Error { at, .. }
            | Event::Stopped { at, .. } => *at,
        }
    }
}

/// Where [`SessionHandle::send`] sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SendTarget {
    /// Client: its connection; server: all clients; UDP: the configured peer, else the
    /// last peer heard from.
    Default,
    /// One TCP connection.
    Conn(ConnId),
    /// Several TCP connections.
    Conns(Vec<ConnId>),
    /// Server: every client; UDP: every peer in the peer list.
    All,
    /// UDP: this address; TCP: the connection(s) whose peer is this address.
    Peer(SocketAddr),
    /// UDP: one datagram to each address; TCP: the connections whose peer is one of them.
    Peers(Vec<SocketAddr>),
}

impl SendTarget {
    /// True when the target names this peer address (`Peer` or `Peers`).
    pub fn names_peer(&self, peer: SocketAddr) -> bool {
        match self {
            SendTarget::Peer(addr) => *addr == peer,
            SendTarget::Peers(addrs) => addrs.contains(&peer),
            _ => false,
        }
    }
}

/// One connection as seen by [`SessionHandle::clients`].
#[derive(Clone, Debug)]
pub struct ClientInfo {
    /// Its id.
    pub conn: ConnId,
    /// The other end.
    pub peer: SocketAddr,
    /// When it connected.
    pub since: SystemTime,
    /// Its counters now.
    pub counters: Counters,
}

/// Parses a port typed by the user ("8080"; surrounding spaces allowed).
pub fn parse_port(input: &str) -> Result<u16, EngineError> {
    input
        .trim()
        .parse::<u16>()
        .map_err(|_| EngineError::InvalidPort {
            input: input.to_string(),
        })
}

/// Parses "host:port" or "[v6]:port" into (host, port); the host comes back without
/// brackets. "::1:80" is rejected (ambiguous: IPv6 needs brackets).
pub fn parse_host_port(input: &str) -> Result<(String, u16), EngineError> {
    let s = input.trim();
    let invalid = || EngineError::InvalidAddress {
        input: input.to_string(),
    };
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(invalid)?;
        let port = after.strip_prefix(':').ok_or_else(invalid)?;
        (host, port)
    } else {
        let (host, port) = s.rsplit_once(':').ok_or_else(invalid)?;
        if host.contains(':') {
            return Err(invalid());
        }
        (host, port)
    };
    if host.is_empty() || port.trim().is_empty() {
        return Err(invalid());
    }
    let port = port.parse::<u16>().map_err(|_| EngineError::InvalidPort {
        input: port.to_string(),
    })?;
    Ok((host.to_string(), port))
}

/// Resolves `host` (brackets allowed; empty = "0.0.0.0") with `port` on this thread.
pub(crate) fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, EngineError> {
    let mut h = host.trim();
    if let Some(inner) = h.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        h = inner;
    }
    if h.is_empty() {
        h = "0.0.0.0";
    }
    match (h, port).to_socket_addrs() {
        Ok(addrs) => {
            let addrs: Vec<SocketAddr> = addrs.collect();
            if addrs.is_empty() {
                Err(EngineError::Resolve {
                    host: host.to_string(),
                    cause: "the name has no addresses".into(),
                })
            } else {
                Ok(addrs)
            }
        }
        Err(e) => Err(EngineError::Resolve {
            host: host.to_string(),
            cause: e.to_string(),
        }),
    }
}

/// Owns the event queue and starts sessions. Dropping it asks every session to stop.
pub struct Engine {
    sink: Arc<sink::Sink>,
    next_session: AtomicU64,
    next_conn: Arc<AtomicU64>,
    send_budget: Arc<SendBudget>,
    sessions: Mutex<Vec<Weak<SessionCore>>>,
}

impl Engine {
    /// Bounded event queue of `queue_capacity` events; `waker` is called (coalesced: at
    /// most once until the receiver drains) whenever an event is pushed.
    pub fn new(queue_capacity: usize, waker: Waker) -> (Engine, EventReceiver) {
        let (sink, rx) = sink::Sink::new(queue_capacity, waker);
        let engine = Engine {
            sink: Arc::new(sink),
            next_session: AtomicU64::new(1),
            next_conn: Arc::new(AtomicU64::new(1)),
            send_budget: Arc::new(SendBudget::new(SEND_BUDGET)),
            sessions: Mutex::new(Vec::new()),
        };
        (engine, rx)
    }

    /// Bounds the received payload bytes queued for the consumer of this engine's events
    /// (the window): readers wait above it, UDP counts what does not fit. 32 MiB unless
    /// set; see [`crate::session::store::window_queue_bytes`].
    pub fn set_queue_bytes(&self, bytes: usize) {
        self.sink.set_queue_bytes(bytes);
    }

    /// Starts a session. A client returns at once and resolves + connects on a worker
    /// (`Connecting`, then `Connected` or `Error`, ... `Stopped`). A server or UDP session
    /// resolves and binds here, so errors such as `AddrInUse` are returned directly (and
    /// no events follow); on success `Listening` is the first event.
    pub fn start(&self, config: SessionConfig) -> Result<SessionHandle, EngineError> {
        let id = self.next_session.fetch_add(1, Ordering::Relaxed);
        let core = SessionCore::new(
            id,
            config.kind(),
            self.sink.clone(),
            self.next_conn.clone(),
            self.send_budget.clone(),
        );
        let udp = match config {
            SessionConfig::TcpClient(c) => {
                tcp_client::start(&core, c)?;
                None
            }
            SessionConfig::TcpServer(c) => {
                tcp_server::start(&core, &c)?;
                None
            }
            SessionConfig::Udp(c) => Some(udp::start(&core, &c)?),
        };
        let mut sessions = lock(&self.sessions);
        sessions.retain(|w| w.strong_count() > 0);
        sessions.push(Arc::downgrade(&core));
        Ok(SessionHandle { core, udp })
    }

    /// Recorder tee: every event is also sent to `tap` (blocking, so the recorder gets
    /// everything, except UDP data which uses `try_send`). A disconnected tap is removed.
    pub fn set_tap(&self, tap: Option<SyncSender<Event>>) {
        self.sink.set_tap(tap);
    }

    /// The engine-wide budget of bytes queued for sending (all sessions and connections
    /// together; default 256 MiB). A send that would pass it fails with
    /// [`EngineError::SendBudget`]. Each queue also keeps its own 64 MiB cap.
    pub fn set_send_budget(&self, bytes: usize) {
        self.send_budget.set_limit(bytes);
    }

    /// Bytes queued for sending engine-wide, and the budget: (queued, limit).
    pub fn send_budget(&self) -> (usize, usize) {
        (self.send_budget.used(), self.send_budget.limit())
    }

    /// Asks every running session to stop (never blocks).
    pub fn stop_all(&self) {
        for core in lock(&self.sessions).iter().filter_map(Weak::upgrade) {
            core.request_stop();
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.stop_all();
    }
}

/// Controls one session; cheap to clone, every method returns at once.
#[derive(Clone)]
pub struct SessionHandle {
    core: Arc<SessionCore>,
    udp: Option<Arc<udp::UdpState>>,
}

impl fmt::Debug for SessionHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionHandle")
            .field("id", &self.core.id)
            .field("kind", &self.core.kind)
            .finish()
    }
}

impl SessionHandle {
    /// The session's id.
    pub fn id(&self) -> SessionId {
        self.core.id
    }

    /// The session's kind.
    pub fn kind(&self) -> SessionKind {
        self.core.kind
    }

    /// Bound address (server/UDP, known as soon as `start` returns), or the local address
    /// once connected (client).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        *lock(&self.core.local)
    }

    /// Queues `bytes` for sending and returns at once with how many connections/peers it
    /// was queued for; a `Data` Tx event follows each completed write.
    pub fn send(&self, target: SendTarget, bytes: Vec<u8>) -> Result<usize, EngineError> {
        if let Some(udp) = &self.udp {
            return udp.send(target, bytes);
        }
        let conns = lock(&self.core.conns);
        let server = self.core.kind == SessionKind::TcpServer;
        let (picked, all) = match &target {
            SendTarget::Default | SendTarget::All => {
                if !server && conns.is_empty() {
                    return Err(EngineError::NotConnected);
                }
                (conns.values().cloned().collect::<Vec<_>>(), true)
            }
            SendTarget::Conn(id) => (
                vec![
                    conns
                        .get(id)
                        .cloned()
                        .ok_or(EngineError::UnknownConn { conn: *id })?,
                ],
                false,
            ),
            SendTarget::Conns(ids) => {
                let mut v = Vec::with_capacity(ids.len());
                for id in ids {
                    v.push(
                        conns
                            .get(id)
                            .cloned()
                            .ok_or(EngineError::UnknownConn { conn: *id })?,
                    );
                }
                (v, false)
            }
            SendTarget::Peer(_) | SendTarget::Peers(_) => {
                let v: Vec<_> = conns
                    .values()
                    .filter(|c| target.names_peer(c.peer))
                    .cloned()
                    .collect();
                if v.is_empty() {
                    return Err(EngineError::NotConnected);
                }
                (v, false)
            }
        };
        drop(conns);
        let bytes: Arc<[u8]> = Arc::from(bytes);
        let mut sent = 0;
        let mut first_err = None;
        for c in picked {
            match c.send(bytes.clone()) {
                Ok(()) => sent += 1,
                Err(e) if all => {
                    first_err.get_or_insert(e);
                }
                Err(e) => return Err(e),
            }
        }
        match first_err {
            Some(e) if sent == 0 => Err(e),
            _ => Ok(sent),
        }
    }

    /// Server: closes one client now (its `Closed` says `Kicked` and how many queued
    /// bytes were discarded unsent).
    pub fn kick(&self, conn: ConnId) -> Result<(), EngineError> {
        let c = lock(&self.core.conns).get(&conn).cloned();
        match c {
            Some(c) => {
                c.close(CloseReason::Kicked);
                Ok(())
            }
            None => Err(EngineError::UnknownConn { conn }),
        }
    }

    /// Asks the session to stop and returns at once; `Closed` (ServerStopped /
    /// LocalDisconnect) for each connection, then `Stopped`, follow promptly.
    pub fn stop(&self) {
        self.core.request_stop();
    }

    /// True once the session has ended (its `Stopped` event was queued).
    pub fn is_stopped(&self) -> bool {
        self.core.is_done()
    }

    /// Counters of the whole session.
    pub fn counters(&self) -> Counters {
        self.core.counters.snapshot()
    }

    /// Counters of one open connection.
    pub fn conn_counters(&self, conn: ConnId) -> Option<Counters> {
        lock(&self.core.conns)
            .get(&conn)
            .map(|c| c.counters.snapshot())
    }

    /// Server: the connected clients (sorted by id); client: its one connection.
    pub fn clients(&self) -> Vec<ClientInfo> {
        let mut v: Vec<ClientInfo> = lock(&self.core.conns)
            .values()
            .map(|c| ClientInfo {
                conn: c.id,
                peer: c.peer,
                since: c.since,
                counters: c.counters.snapshot(),
            })
            .collect();
        v.sort_by_key(|c| c.conn);
        v
    }

    /// UDP: peers heard from or sent to, in order of first contact, with their counters
    /// (the first [`MAX_UDP_PEERS`]; see [`SessionHandle::udp_others`] for the rest).
    pub fn udp_peers(&self) -> Vec<(SocketAddr, Counters)> {
        self.udp.as_ref().map(|u| u.peers()).unwrap_or_default()
    }

    /// UDP: cumulative (datagrams, bytes) dropped because the event queue was full.
    pub fn udp_dropped(&self) -> (u64, u64) {
        self.udp.as_ref().map(|u| u.dropped()).unwrap_or_default()
    }

    /// UDP: datagrams the kernel dropped because the receive buffer was full
    /// (cumulative; Linux only, 0 elsewhere).
    pub fn udp_kernel_dropped(&self) -> u64 {
        self.udp
            .as_ref()
            .map(|u| u.kernel_dropped())
            .unwrap_or_default()
    }

    /// UDP: the receive buffer (asked for, granted by the OS) in bytes.
    pub fn udp_recv_buffer(&self) -> Option<(usize, usize)> {
        self.udp.as_ref().map(|u| u.recv_buffer())
    }

    /// UDP: the summed counters of the peers beyond [`MAX_UDP_PEERS`] (the "others"
    /// entry next to [`SessionHandle::udp_peers`]); None while every peer has its own.
    pub fn udp_others(&self) -> Option<Counters> {
        self.udp.as_ref().and_then(|u| u.others())
    }

    /// UDP: asks the worker to join a multicast group (it does so within ~100 ms); the
    /// result comes as [`Notice::GroupJoined`] or an `Error` event (not a multicast
    /// address, interface without that family, refused by the OS with its reason), and
    /// [`SessionHandle::multicast_groups`] shows it. Not UDP or stopped: `NotConnected`.
    pub fn join_group(&self, group: GroupSpec) -> Result<(), EngineError> {
        self.running_udp()?.queue_group(group, true);
        Ok(())
    }

    /// UDP: asks the worker to leave a group joined with [`SessionHandle::join_group`]
    /// (the same spec); [`Notice::GroupLeft`] or an `Error` follows.
    pub fn leave_group(&self, group: GroupSpec) -> Result<(), EngineError> {
        self.running_udp()?.queue_group(group, false);
        Ok(())
    }

    /// UDP: changes the sending options for groups (TTL / hop limit, loopback, the
    /// outgoing interface; `join` is ignored) while the socket runs. The worker applies
    /// them within ~100 ms and answers with [`Notice::MulticastSending`] or an `Error`.
    pub fn set_multicast_sending(&self, options: MulticastOptions) -> Result<(), EngineError> {
        self.running_udp()?.queue_send_options(options);
        Ok(())
    }

    /// The UDP worker of a session that still runs; `NotConnected` otherwise.
    fn running_udp(&self) -> Result<&udp::UdpState, EngineError> {
        match &self.udp {
            Some(udp) if !self.core.stopping() => Ok(udp),
            _ => Err(EngineError::NotConnected),
        }
    }

    /// UDP: the multicast TTL / hop limit and loopback the socket holds, read back from
    /// the OS (None: not UDP). A socket call: for diagnostics and tests, not for every
    /// frame of the window.
    pub fn multicast_sending_now(&self) -> Option<std::io::Result<(u32, bool)>> {
        self.udp.as_ref().map(|u| u.multicast_readback())
    }

    /// UDP: the session's multicast groups and where each stands (empty otherwise).
    pub fn multicast_groups(&self) -> Vec<GroupState> {
        self.udp.as_ref().map(|u| u.groups()).unwrap_or_default()
    }

    /// Datagrams of this session the recorder's tap could not take (datagrams, bytes),
    /// since the session started; the log says where with "N datagrams not recorded".
    pub fn unrecorded(&self) -> (u64, u64) {
        self.core.sink.unrecorded(self.core.id)
    }

    /// Installs (or with `None` removes) the auto-reply hook of this session. From the
    /// next read on, every TCP read / UDP datagram is passed to it on the worker that
    /// read it, after its Rx `Data` event; see [`Responder`] and [`Action`].
    pub fn set_responder(&self, responder: Option<Arc<dyn Responder>>) {
        self.core.set_responder(responder);
    }

    /// Bytes queued for writing and not yet written: of connection `conn` (None if it is
    /// not open), or with `conn` None the whole session (UDP: its one queue; TCP: the sum
    /// over connections). Senders of big data use it to keep a bounded amount in flight
    /// below the queue cap that makes `send` fail with `QueueFull`.
    pub fn queued_bytes(&self, conn: Option<ConnId>) -> Option<usize> {
        if let Some(udp) = &self.udp {
            return match conn {
                None => Some(udp.queued_bytes()),
                Some(_) => None,
            };
        }
        let conns = lock(&self.core.conns);
        match conn {
            Some(id) => conns.get(&id).map(|c| c.queued_bytes()),
            None => Some(conns.values().map(|c| c.queued_bytes()).sum()),
        }
    }

    /// The keepalive options connection `conn`'s socket holds, read back from the OS
    /// (None: no such connection; `Ok(None)`: keepalive off). Linux and macOS report
    /// idle, interval and count; elsewhere on/off only (the rest shows the defaults).
    /// A socket call: for diagnostics and tests, not for every frame of the window.
    pub fn conn_keepalive(&self, conn: ConnId) -> Option<std::io::Result<Option<Keepalive>>> {
        let c = lock(&self.core.conns).get(&conn).cloned();
        c.map(|c| c.keepalive())
    }

    /// Test hook: makes the next worker loop of this session panic, to prove panics are
    /// caught. Not for application use.
    #[doc(hidden)]
    pub fn inject_panic(&self) {
        self.core.inject_fault();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// parse_port accepts 0..=65535 and names the bad input otherwise.
    #[test]
    fn parse_port_accepts_range_only() {
        assert_eq!(parse_port(" 8080 "), Ok(8080));
        assert_eq!(parse_port("0"), Ok(0));
        assert_eq!(parse_port("65535"), Ok(65535));
        let e = parse_port("70000").err().map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some("port \"70000\" is not a number from 0 to 65535")
        );
        assert!(parse_port("-1").is_err());
        assert!(parse_port("abc").is_err());
        assert!(parse_port("").is_err());
    }

    /// parse_host_port handles names, IPv4, bracketed IPv6 and rejects bare IPv6.
    #[test]
    fn parse_host_port_forms() {
        assert_eq!(
            parse_host_port("localhost:80"),
            Ok(("localhost".into(), 80))
        );
        assert_eq!(
            parse_host_port("127.0.0.1:8989"),
            Ok(("127.0.0.1".into(), 8989))
        );
        assert_eq!(parse_host_port("[::1]:9000"), Ok(("::1".into(), 9000)));
        assert!(matches!(
            parse_host_port("::1"),
            Err(EngineError::InvalidAddress { .. })
        ));
        assert!(matches!(
            parse_host_port("::1:80"),
            Err(EngineError::InvalidAddress { .. })
        ));
        assert!(matches!(
            parse_host_port("foo"),
            Err(EngineError::InvalidAddress { .. })
        ));
        assert!(matches!(
            parse_host_port(":80"),
            Err(EngineError::InvalidAddress { .. })
        ));
        assert!(matches!(
            parse_host_port("[::1]"),
            Err(EngineError::InvalidAddress { .. })
        ));
        assert!(matches!(
            parse_host_port("h:99999"),
            Err(EngineError::InvalidPort { .. })
        ));
        let e = parse_host_port("foo")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.starts_with("\"foo\" is not host:port"), "{e}");
    }

    /// CloseReason reads as the sentences the UI shows.
    #[test]
    fn close_reason_display() {
        assert_eq!(
            CloseReason::PeerClosed.to_string(),
            "peer closed the connection"
        );
        assert_eq!(CloseReason::Reset.to_string(), "connection reset by peer");
        assert_eq!(CloseReason::Error("x".into()).to_string(), "error: x");
    }
}
