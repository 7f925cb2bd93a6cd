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
//! see `bind`), and for [`tls`] rustls (ring provider), rcgen, rustls-native-certs,
//! x509-cert and ring.

mod address;
mod bind;
mod config;
mod core;
mod counters;
mod error;
mod event;
mod handle;
pub mod interfaces;
mod keepalive;
mod multicast;
mod readbuf;
mod responder;
mod sink;
mod tcp_client;
mod tcp_server;
pub mod tls;
mod udp;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex, Weak};

pub(crate) use self::address::resolve;
pub use self::address::{parse_host_port, parse_port};
pub use self::bind::port_needs_privilege;
pub use self::config::{
    Reconnect, SessionConfig, SessionKind, TcpClientConfig, TcpServerConfig, UdpConfig,
};
use self::core::{SEND_BUDGET, SendBudget, SessionCore};
pub use self::counters::Counters;
pub use self::error::{EngineError, MAX_DATAGRAM};
pub use self::event::{
    CloseReason, Direction, Event, Notice, REFUSAL_SUMMARY_EVERY, certificate_words,
    handshake_words, seconds,
};
pub use self::handle::{ClientInfo, SendTarget, SessionHandle};
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
        readbuf::keep_freed_buffers();
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
    /// (the window): readers wait above it, UDP counts what does not fit. 16 MiB unless
    /// set; a window moves it with the traffic ([`crate::session::store::QueueSizer`]).
    pub fn set_queue_bytes(&self, bytes: usize) {
        self.sink.set_queue_bytes(bytes);
    }

    /// Lets the queue shed received TCP reads for a consumer whose view holds
    /// `view_bytes` (0: never shed, the default). When the queue is over its bound, a
    /// reader no longer waits while the oldest queued reads are ones that view would
    /// evict as soon as it took the queue (the newest `view_bytes` minus the bound stay):
    /// they reach the consumer as [`Event::Shed`], their memory freed at once. The view
    /// ends up holding the same bytes, and a flood is no longer limited to one queue
    /// per frame.
    pub fn set_shedding(&self, view_bytes: usize) {
        self.sink.set_shedding(view_bytes);
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
