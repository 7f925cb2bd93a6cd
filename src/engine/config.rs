//! What starts a session: [`SessionConfig`] and the settings of each kind (TCP client
//! with its [`Reconnect`] policy, TCP server, UDP), with their defaults.

use std::net::SocketAddr;
use std::time::Duration;

use super::tls::{TlsClientOptions, TlsServerOptions};
use super::{Keepalive, MulticastOptions};

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
    /// Speak TLS over the connection (None: plain TCP). The handshake runs on the
    /// connection's worker after `Connected`, within `connect_timeout`; what it agreed on
    /// is reported as [`Notice::TlsHandshake`], a failure as an error and a close with
    /// [`CloseReason::Tls`].
    ///
    /// [`Notice::TlsHandshake`]: super::Notice::TlsHandshake
    /// [`CloseReason::Tls`]: super::CloseReason::Tls
    pub tls: Option<TlsClientOptions>,
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
            tls: None,
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
    ///
    /// [`Event::Listening`]: super::Event::Listening
    pub port: u16,
    /// For an IPv6 address: accept IPv6 clients only (IPV6_V6ONLY). Off by default, so
    /// `::` takes IPv4 clients too on every system (Windows' own default is on).
    pub ipv6_only: bool,
    /// Listen backlog (pending connections the OS queues before we accept them).
    pub backlog: i32,
    /// Clients beyond this many are accepted and closed at once ([`Event::ClientRefused`]).
    ///
    /// [`Event::ClientRefused`]: super::Event::ClientRefused
    pub max_clients: usize,
    /// TCP keepalive on every client connection (on by default); `None` turns it off.
    pub keepalive: Option<Keepalive>,
    /// Speak TLS with every client (None: plain TCP). The certificate is read or made
    /// when the session starts and reported as [`Notice::TlsIdentity`]; each client's
    /// handshake runs on its own worker after `ClientJoined`.
    ///
    /// [`Notice::TlsIdentity`]: super::Notice::TlsIdentity
    pub tls: Option<TlsServerOptions>,
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
            tls: None,
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
    ///
    /// [`SendTarget::Default`]: super::SendTarget::Default
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
