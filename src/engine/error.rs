//! Typed engine errors. Every failure the user can cause (a bad port, a busy address, a
//! refused connection) becomes one `EngineError` whose `Display` is a clear English
//! sentence, so the UI shows it as is and tests assert on the words.

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use super::ConnId;

/// Largest payload of one UDP datagram over IPv4 (65,535 − 8 UDP − 20 IP header bytes).
pub const MAX_DATAGRAM: usize = 65_507;

/// Everything that can go wrong in the engine, with the details needed to say it in words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EngineError {
    /// The text is not a port number from 0 to 65535.
    InvalidPort {
        /// What the user typed.
        input: String,
    },
    /// The text is not `host:port` (IPv6 hosts need brackets: `[::1]:8080`).
    InvalidAddress {
        /// What the user typed.
        input: String,
    },
    /// The host name did not resolve to any address.
    Resolve {
        /// The host name as given.
        host: String,
        /// The resolver's answer in words.
        cause: String,
    },
    /// Nothing is listening at the address (TCP RST on connect).
    Refused {
        /// The address we tried.
        addr: SocketAddr,
    },
    /// The connect attempt got no answer in time.
    TimedOut {
        /// The address we tried.
        addr: SocketAddr,
        /// The connect timeout that expired.
        after: Duration,
    },
    /// Another socket already holds the address.
    AddrInUse {
        /// The address we tried to bind.
        addr: SocketAddr,
    },
    /// The OS refused the bind or connect (privileged port, firewall policy).
    PermissionDenied {
        /// The address concerned.
        addr: SocketAddr,
    },
    /// The IP is not one of this machine's addresses.
    AddrNotAvailable {
        /// The address concerned.
        addr: SocketAddr,
    },
    /// A send on a connection that is not (or no longer) connected.
    NotConnected,
    /// No connection with that id in this session (it may have closed).
    UnknownConn {
        /// The id asked for.
        conn: ConnId,
    },
    /// UDP send with no peer configured and none heard from yet.
    NoPeer,
    /// The per-connection send queue is over its byte cap: the peer is not reading.
    QueueFull {
        /// The connection (None for a UDP session).
        conn: Option<ConnId>,
    },
    /// The engine-wide budget of bytes waiting to be sent is used up (many clients or
    /// sessions each queued a lot, and their peers are not reading).
    SendBudget {
        /// The budget in bytes.
        limit: usize,
        /// Bytes queued engine-wide when the send was refused.
        queued: usize,
    },
    /// An auto-reply action asked for a delay above the maximum; it was not scheduled.
    ReplyDelay {
        /// The delay asked for.
        delay: Duration,
        /// The largest allowed.
        max: Duration,
    },
    /// Too many delayed auto-reply actions are waiting in this session; this one was
    /// not scheduled.
    TimerFull {
        /// Most waiting actions per session.
        limit: usize,
    },
    /// Any other I/O failure, with what we were doing.
    Io {
        /// What we were doing ("binding 0.0.0.0:8080", "reading from 10.0.0.2:5000").
        context: String,
        /// The OS error in words.
        cause: String,
    },
    /// The address given as a multicast group is not one (IPv4 224.0.0.0/4, IPv6 ff00::/8).
    NotMulticast {
        /// What the user typed.
        input: String,
    },
    /// No network interface has this name or this address.
    NoSuchInterface {
        /// The interface name or address as given.
        interface: String,
    },
    /// The interface exists but has no address of the family the group needs.
    InterfaceFamily {
        /// The interface as given.
        interface: String,
        /// "IPv4" or "IPv6".
        family: &'static str,
    },
    /// A multicast group of one family on a socket of the other (an IPv6 group on an
    /// IPv4 socket, or an IPv4 group on an IPv6-only socket).
    GroupFamily {
        /// The group.
        group: IpAddr,
        /// The socket's bound address.
        local: SocketAddr,
    },
    /// The system refused a multicast join (or leave), with its reason.
    JoinRefused {
        /// The group.
        group: IpAddr,
        /// The interface as given ("" for the system's choice).
        interface: String,
        /// The system's error in words.
        cause: String,
    },
    /// A source-specific join this system (or this family) does not offer.
    SourceSpecificUnsupported {
        /// The group.
        group: IpAddr,
    },
    /// A TLS certificate or key file could not be used.
    TlsPem {
        /// The file.
        path: PathBuf,
        /// True for the private key file, false for the certificate file.
        key: bool,
        /// What is wrong, in words.
        cause: String,
    },
    /// TLS could not be set up (a key that does not belong to its certificate, a
    /// self-signed certificate that could not be made, …).
    TlsSetup {
        /// What went wrong, in words.
        cause: String,
    },
    /// The TLS server name (SNI) is neither a DNS name nor an IP address.
    TlsServerName {
        /// The name as given.
        name: String,
    },
    /// The text is not a SHA-256 fingerprint (64 hex digits).
    TlsFingerprint {
        /// What the user typed.
        input: String,
    },
    /// The server's certificate was not issued by a root this system trusts (a
    /// self-signed or private-CA certificate).
    TlsUnknownIssuer {
        /// The server name asked for.
        server: String,
    },
    /// The server presented a CA certificate as its own (`openssl req -x509` makes
    /// CA:TRUE certificates by default), which TLS verification refuses.
    TlsCaAsServer {
        /// The server name asked for.
        server: String,
    },
    /// The server's certificate has expired.
    TlsExpired {
        /// The server name asked for.
        server: String,
        /// The end of its validity, if known.
        not_after: Option<SystemTime>,
        /// The time it was checked at, if known.
        now: Option<SystemTime>,
    },
    /// The server's certificate is not valid yet.
    TlsNotYetValid {
        /// The server name asked for.
        server: String,
        /// The start of its validity, if known.
        not_before: Option<SystemTime>,
        /// The time it was checked at, if known.
        now: Option<SystemTime>,
    },
    /// The server's certificate is not for the name we asked for.
    TlsNameMismatch {
        /// The name asked for (SNI).
        asked: String,
        /// The names the certificate is for (may be empty when unknown).
        presented: Vec<String>,
    },
    /// The server's certificate is not the one whose fingerprint is pinned.
    TlsPinMismatch {
        /// The pinned fingerprint.
        expected: String,
        /// The presented certificate's fingerprint.
        presented: String,
    },
    /// Another problem with the server's certificate (bad signature, revoked, …).
    TlsBadCertificate {
        /// The server name asked for.
        server: String,
        /// The verifier's reason.
        cause: String,
    },
    /// The two sides have no TLS version in common.
    TlsProtocolMismatch {
        /// The versions this side accepts, in words ("TLS 1.3 only").
        ours: String,
    },
    /// The two sides have no ALPN protocol in common.
    TlsNoAlpn {
        /// The protocols this side offered or accepts.
        ours: Vec<String>,
    },
    /// The peer ended the handshake with a TLS alert.
    TlsAlert {
        /// The alert's name (`UnknownCA`, `BadCertificate`, `HandshakeFailure`, …).
        alert: String,
    },
    /// The peer does not speak TLS (it answered with something else, e.g. plaintext).
    TlsNotTls {
        /// The first bytes it sent (up to 16; empty if it sent none).
        first_bytes: Vec<u8>,
    },
    /// The peer closed the connection during the TLS handshake.
    TlsClosed,
    /// The TLS handshake did not finish in time (the peer went silent).
    TlsTimeout {
        /// The handshake timeout.
        after: Duration,
    },
    /// Any other TLS handshake failure, in rustls's words.
    TlsHandshake {
        /// What went wrong.
        cause: String,
    },
    /// A worker thread panicked (a bug); the panic was caught and the process lives.
    WorkerPanic {
        /// The worker's thread name.
        worker: String,
        /// The panic message.
        message: String,
    },
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EngineError::InvalidPort { input } => {
                write!(f, "port {input:?} is not a number from 0 to 65535")
            }
            EngineError::InvalidAddress { input } => write!(
                f,
                "{input:?} is not host:port (write IPv6 addresses in brackets, e.g. [::1]:8080)"
            ),
            EngineError::Resolve { host, cause } => {
                write!(f, "cannot resolve host {host:?}: {cause}")
            }
            EngineError::Refused { addr } => {
                write!(
                    f,
                    "connection refused by {addr} (nothing is listening there)"
                )
            }
            EngineError::TimedOut { addr, after } => write!(
                f,
                "connecting to {addr} timed out after {after:?} (no answer: wrong address, host down or a firewall)"
            ),
            EngineError::AddrInUse { addr } => write!(
                f,
                "address {addr} is already in use (another program is listening on that port)"
            ),
            EngineError::PermissionDenied { addr } => {
                write!(f, "permission denied for {addr}")?;
                // Each system's own reason; macOS has none to add.
                if super::port_needs_privilege(addr.port()) {
                    write!(
                        f,
                        " (ports below 1024 are privileged: they need root rights; use a port from 1024 up)"
                    )?;
                } else if cfg!(windows) {
                    write!(
                        f,
                        " (Windows reserves some port ranges, see `netsh interface ipv4 show excludedportrange protocol=tcp`, or another program holds the port exclusively)"
                    )?;
                }
                Ok(())
            }
            EngineError::AddrNotAvailable { addr } => write!(
                f,
                "address {addr} is not available (no network interface on this machine has that IP)"
            ),
            EngineError::NotConnected => write!(f, "not connected: send on a closed connection"),
            EngineError::UnknownConn { conn } => {
                write!(
                    f,
                    "no connection #{conn} in this session (it may have closed)"
                )
            }
            EngineError::NoPeer => write!(
                f,
                "no UDP peer to send to: set a peer address or wait until someone sends to us"
            ),
            EngineError::QueueFull { conn } => {
                match conn {
                    Some(c) => write!(f, "send queue of connection #{c} is full")?,
                    None => write!(f, "send queue is full")?,
                }
                write!(
                    f,
                    ": more than {} MiB are waiting to be written (the peer is not reading)",
                    super::core::SEND_QUEUE_CAP >> 20
                )
            }
            EngineError::SendBudget { limit, queued } => write!(
                f,
                "send refused: {} MiB are already waiting to be sent in all sessions together (limit {} MiB); wait until the peers read, or disconnect the slow ones",
                queued >> 20,
                limit >> 20
            ),
            EngineError::ReplyDelay { delay, max } => write!(
                f,
                "auto-reply delay of {} ms is longer than the maximum {} s; the action was not scheduled",
                delay.as_millis(),
                max.as_secs()
            ),
            EngineError::TimerFull { limit } => write!(
                f,
                "{limit} delayed auto-replies are already waiting; this one was not scheduled"
            ),
            EngineError::Io { context, cause } => write!(f, "{context}: {cause}"),
            EngineError::NotMulticast { input } => write!(
                f,
                "{input:?} is not a multicast address (IPv4 224.0.0.0 to 239.255.255.255, IPv6 ff00::/8)"
            ),
            EngineError::NoSuchInterface { interface } => write!(
                f,
                "no network interface is named {interface:?} or has that address"
            ),
            EngineError::InterfaceFamily { interface, family } => {
                write!(f, "interface {interface:?} has no {family} address")
            }
            EngineError::GroupFamily { group, local } => write!(
                f,
                "cannot join {group} on a socket bound to {local}: the group and the socket are of different IP versions (bind :: for both)"
            ),
            EngineError::JoinRefused {
                group,
                interface,
                cause,
            } => {
                if interface.is_empty() {
                    write!(f, "the system refused to join {group}: {cause}")
                } else {
                    write!(
                        f,
                        "the system refused to join {group} on {interface:?}: {cause}"
                    )
                }
            }
            EngineError::SourceSpecificUnsupported { group } => write!(
                f,
                "source-specific join of {group}: not supported on this OS for this IP version"
            ),
            EngineError::TlsPem { path, key, cause } => write!(
                f,
                "cannot use the TLS {} file {}: {cause}",
                if *key { "private key" } else { "certificate" },
                path.display()
            ),
            EngineError::TlsSetup { cause } => write!(f, "cannot set up TLS: {cause}"),
            EngineError::TlsServerName { name } => write!(
                f,
                "{name:?} cannot be a TLS server name (SNI): give a DNS name or an IP address"
            ),
            EngineError::TlsFingerprint { input } => write!(
                f,
                "{input:?} is not a SHA-256 fingerprint (64 hex digits, colons allowed)"
            ),
            EngineError::TlsUnknownIssuer { server } => write!(
                f,
                "the certificate of {server} is not trusted: its issuer is not among this system's trusted roots (a self-signed or private-CA certificate); pin its fingerprint or turn on \"Accept any certificate\" to go on"
            ),
            EngineError::TlsCaAsServer { server } => write!(
                f,
                "the certificate of {server} is not trusted: it is a CA certificate (CA:TRUE, as `openssl req -x509` makes by default) used as a server's own certificate; pin its fingerprint, turn on \"Accept any certificate\", or make it with -addext basicConstraints=critical,CA:FALSE"
            ),
            EngineError::TlsExpired {
                server,
                not_after,
                now,
            } => {
                write!(f, "the certificate of {server} has expired")?;
                if let Some(t) = not_after {
                    write!(f, ": valid until {}", super::tls::utc_text(*t))?;
                }
                if let Some(t) = now {
                    write!(f, ", checked at {}", super::tls::utc_text(*t))?;
                }
                Ok(())
            }
            EngineError::TlsNotYetValid {
                server,
                not_before,
                now,
            } => {
                write!(f, "the certificate of {server} is not valid yet")?;
                if let Some(t) = not_before {
                    write!(f, ": valid from {}", super::tls::utc_text(*t))?;
                }
                if let Some(t) = now {
                    write!(
                        f,
                        ", checked at {} (is a clock wrong?)",
                        super::tls::utc_text(*t)
                    )?;
                }
                Ok(())
            }
            EngineError::TlsNameMismatch { asked, presented } => {
                write!(f, "the server's certificate is not for {asked:?}")?;
                if !presented.is_empty() {
                    write!(f, ": it is for {}", presented.join(", "))?;
                }
                write!(f, " (set the server name (SNI) to one of its names)")
            }
            EngineError::TlsPinMismatch {
                expected,
                presented,
            } => write!(
                f,
                "the server's certificate is not the pinned one: its SHA-256 fingerprint is {presented}, the pinned one is {expected}"
            ),
            EngineError::TlsBadCertificate { server, cause } => {
                write!(f, "the certificate of {server} was rejected: {cause}")
            }
            EngineError::TlsProtocolMismatch { ours } => write!(
                f,
                "TLS version mismatch: the peer accepts none of the versions we offer ({ours})"
            ),
            EngineError::TlsNoAlpn { ours } => {
                if ours.is_empty() {
                    write!(
                        f,
                        "no common application protocol (ALPN): the peer requires one and we offer none"
                    )
                } else {
                    write!(
                        f,
                        "no common application protocol (ALPN): the peer accepts none of {}",
                        ours.join(", ")
                    )
                }
            }
            EngineError::TlsAlert { alert } => {
                write!(f, "the peer ended the TLS handshake with alert {alert}")?;
                match super::tls::alert_meaning(alert) {
                    Some(meaning) => write!(f, ": {meaning}"),
                    None => Ok(()),
                }
            }
            EngineError::TlsNotTls { first_bytes } => {
                if first_bytes.is_empty() {
                    write!(f, "the peer does not speak TLS")
                } else {
                    write!(
                        f,
                        "the peer does not speak TLS: it sent \"{}\" (plaintext?)",
                        super::tls::shown_bytes(first_bytes)
                    )
                }
            }
            EngineError::TlsClosed => write!(
                f,
                "the peer closed the connection during the TLS handshake (it may not speak TLS, or it refused our settings)"
            ),
            EngineError::TlsTimeout { after } => write!(
                f,
                "the TLS handshake did not finish within {} s (the peer is silent: is it a TLS port?)",
                after.as_secs_f32()
            ),
            EngineError::TlsHandshake { cause } => write!(f, "TLS handshake failed: {cause}"),
            EngineError::WorkerPanic { worker, message } => write!(
                f,
                "internal error: worker {worker:?} panicked: {message} (the app keeps running)"
            ),
        }
    }
}

impl std::error::Error for EngineError {}

/// Maps an OS error from bind/connect/send on `addr` to a typed error; `context` says
/// what we were doing for the errors without a dedicated variant. `timeout` is the
/// connect timeout (for `TimedOut`).
pub(crate) fn map_io(
    err: &io::Error,
    addr: SocketAddr,
    context: &str,
    timeout: Duration,
) -> EngineError {
    match err.kind() {
        io::ErrorKind::ConnectionRefused => EngineError::Refused { addr },
        io::ErrorKind::TimedOut => EngineError::TimedOut {
            addr,
            after: timeout,
        },
        io::ErrorKind::AddrInUse => EngineError::AddrInUse { addr },
        io::ErrorKind::PermissionDenied => EngineError::PermissionDenied { addr },
        io::ErrorKind::AddrNotAvailable => EngineError::AddrNotAvailable { addr },
        _ => io_error(format!("{context} {addr}"), err),
    }
}

/// An `Io` error with context.
pub(crate) fn io_error(context: impl Into<String>, err: &io::Error) -> EngineError {
    EngineError::Io {
        context: context.into(),
        cause: err.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 1)))
    }

    /// OS error kinds map to the typed variants and their sentences.
    #[test]
    fn io_errors_map_to_typed_variants() {
        let a = addr("127.0.0.1:80");
        let t = Duration::from_millis(250);
        let e = map_io(
            &io::Error::from(io::ErrorKind::TimedOut),
            a,
            "connecting to",
            t,
        );
        assert_eq!(e, EngineError::TimedOut { addr: a, after: t });
        assert!(e.to_string().contains("timed out after 250ms"), "{e}");
        let e = map_io(
            &io::Error::from(io::ErrorKind::PermissionDenied),
            a,
            "binding",
            t,
        );
        // The privileged-ports hint only where such ports exist (Linux and other Unix
        // systems; not macOS since 10.14, not Windows).
        assert_eq!(
            e.to_string().contains("ports below 1024"),
            cfg!(all(unix, not(target_os = "macos"))),
            "{e}"
        );
        assert_eq!(
            e.to_string().contains("excludedportrange"),
            cfg!(windows),
            "{e}"
        );
        let high = addr("127.0.0.1:8080");
        let e = map_io(
            &io::Error::from(io::ErrorKind::PermissionDenied),
            high,
            "binding",
            t,
        );
        assert!(!e.to_string().contains("below 1024"), "{e}");
        let e = map_io(
            &io::Error::from(io::ErrorKind::ConnectionRefused),
            a,
            "x",
            t,
        );
        assert!(
            e.to_string().contains("connection refused by 127.0.0.1:80"),
            "{e}"
        );
        let e = map_io(&io::Error::from(io::ErrorKind::AddrInUse), a, "x", t);
        assert!(e.to_string().contains("already in use"), "{e}");
        let e = map_io(&io::Error::from(io::ErrorKind::AddrNotAvailable), a, "x", t);
        assert!(e.to_string().contains("not available"), "{e}");
        let e = map_io(&io::Error::other("boom"), a, "binding", t);
        assert_eq!(e.to_string(), "binding 127.0.0.1:80: boom");
    }
}
