//! TLS for TCP clients and servers, with rustls and its `ring` provider (no other
//! toolchain is needed to build it on Linux, Windows or macOS).
//!
//! What is here:
//! - the options a session is started with: [`TlsClientOptions`] (SNI, ALPN, trust:
//!   the system's roots, one pinned SHA-256 fingerprint, or any certificate) and
//!   [`TlsServerOptions`] (a PEM certificate and key, or a self-signed certificate
//!   made on the spot), with the accepted protocol versions ([`TlsVersions`]);
//! - [`TlsClient`] and [`TlsServer`]: those options turned into rustls configurations,
//!   built once per session (the system's roots are read once; a self-signed
//!   certificate is made once, so its fingerprint stays the same for every client);
//! - [`TlsSession`]: one TLS connection over a blocking [`std::net::TcpStream`], driven
//!   by one thread, with [`HandshakeInfo`] (version, cipher suite, ALPN, SNI, the peer's
//!   certificate as a [`CertSummary`]) for the view's info record;
//! - every handshake failure classified into an [`EngineError`] with a sentence:
//!   unknown issuer, a CA certificate used as a server's, expired, not yet valid, name
//!   mismatch, pinned fingerprint mismatch, protocol mismatch, no common ALPN protocol,
//!   an alert from the peer, a peer that does not speak TLS, a peer that closed or went
//!   silent during the handshake.
//!
//! # How `Conn` should use it (not wired yet)
//!
//! A plain connection has a reader thread and an on-demand writer thread sharing one
//! `&TcpStream`. A rustls connection is one state machine, so a TLS connection gets one
//! thread that owns both the [`TlsSession`] and (through it) the socket:
//!
//! 1. After connect/accept, keep a `try_clone()` of the stream in `Conn` for
//!    `shutdown` and `wake_blocked` (forced close from other threads: the owning
//!    thread's next socket call then fails at once), and move the stream into
//!    [`TlsSession::client`] / [`TlsSession::server`] on the connection's thread (the
//!    handshake blocks up to its timeout; do it on the worker, never in `Engine::start`).
//!    On success emit `Connected`/`ClientJoined` and then an info event with the
//!    [`HandshakeInfo`]; on failure emit the [`EngineError`] (its `Display` says what
//!    went wrong) and close the connection.
//! 2. The thread loops: write what the send queue holds ([`TlsSession::write_all`],
//!    counting TX as the plaintext handed over, which is what the view shows), then
//!    [`TlsSession::read_some`], which waits at most [`TlsSession::poll_interval`] and
//!    returns `WouldBlock`/`TimedOut` when nothing came (loop again: that is when new
//!    sends are picked up). `Ok(0)` is the peer's end: [`TlsSession::closed_cleanly`]
//!    says whether it sent close_notify or just dropped TCP (a truncation). Any other
//!    error ends the connection; map it with [`TlsSession::error`] for words.
//! 3. A graceful close (a close marker, a peer half-close) calls
//!    [`TlsSession::close_notify`] before shutting the socket; a forced one may skip it.
//!
//! The poll interval trades send latency against idle wake-ups: 20 ms by default, i.e.
//! 50 wake-ups a second per idle connection. A server with thousands of TLS clients
//! should raise it while a connection is idle (e.g. up to 200 ms) and lower it again
//! after traffic. [`TlsSession::write_all`] never deadlocks against a peer that writes
//! while not reading: when the socket will not take more, it reads (and keeps, up to
//! [`PENDING_CAP`] bytes of plaintext) what the peer sent, which `read_some` returns
//! next. Socket writes are non-blocking (never a send timeout: on Windows a timed-out
//! send leaves it unknown how much of a TLS record went out); only reads use a timeout.
//!
//! Data the engine shows and logs is the plaintext; the recorder's pcapng should mark
//! such packets as decrypted TLS payload on the connection's real ports.

mod cert;
mod classify;
mod config;
mod session;
#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::time::SystemTime;

pub use self::cert::{
    CaSigned, ca_signed_der, fingerprint_hex, load_pem_certs, parse_fingerprint, self_signed_der,
    sha256, utc_text,
};
pub use self::classify::alert_meaning;
pub use self::config::{TlsClient, TlsServer};
pub use self::session::{PENDING_CAP, POLL_INTERVAL, TlsSession};
use super::EngineError;

/// Which TLS versions a side accepts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TlsVersions {
    /// TLS 1.2 and TLS 1.3 (the default).
    #[default]
    All,
    /// TLS 1.2 only (to test an old peer).
    Tls12,
    /// TLS 1.3 only.
    Tls13,
}

impl TlsVersions {
    /// The versions in words, as error messages use them ("TLS 1.2 and TLS 1.3").
    pub fn text(self) -> &'static str {
        match self {
            TlsVersions::All => "TLS 1.2 and TLS 1.3",
            TlsVersions::Tls12 => "TLS 1.2 only",
            TlsVersions::Tls13 => "TLS 1.3 only",
        }
    }
}

/// How a TLS client decides whether to trust the server's certificate.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsClientOptions {
    /// The name sent as SNI and checked against the certificate; `None` uses the host
    /// the client connects to (a DNS name or an IP literal).
    pub server_name: Option<String>,
    /// ALPN protocols offered, most preferred first (e.g. `h2`, `http/1.1`); empty
    /// offers none.
    pub alpn: Vec<String>,
    /// Accept any certificate (for debugging). The handshake signature is still checked,
    /// and what a strict check would have said is kept in [`PeerTrust::AcceptedAny`].
    pub accept_any: bool,
    /// Trust exactly the certificate with this SHA-256 fingerprint (of its DER), and no
    /// other, whatever the system's roots say. Wins over `accept_any`.
    pub pinned_sha256: Option<[u8; 32]>,
    /// The TLS versions offered.
    pub versions: TlsVersions,
    /// Certificates (DER) trusted as roots besides the system's: a private CA (see
    /// [`load_pem_certs`] to read them from a PEM file).
    pub extra_roots: Vec<Vec<u8>>,
}

/// Where a TLS server's certificate comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerIdentity {
    /// A PEM certificate chain (leaf first) and its private key (PKCS#8, SEC1 or
    /// PKCS#1 RSA), read when the session starts.
    Pem {
        /// The certificate file.
        cert_path: PathBuf,
        /// The key file.
        key_path: PathBuf,
    },
    /// A self-signed certificate made when the session starts, valid for these DNS names
    /// and IP addresses (e.g. `localhost`, `127.0.0.1`).
    SelfSigned {
        /// Subject alternative names.
        names: Vec<String>,
    },
}

impl Default for ServerIdentity {
    /// Self-signed for `localhost`, `127.0.0.1` and `::1`.
    fn default() -> Self {
        ServerIdentity::SelfSigned {
            names: vec!["localhost".into(), "127.0.0.1".into(), "::1".into()],
        }
    }
}

/// How a TLS server presents itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsServerOptions {
    /// The certificate.
    pub identity: ServerIdentity,
    /// ALPN protocols accepted, most preferred first; empty accepts a client whatever
    /// it offers (and negotiates none).
    pub alpn: Vec<String>,
    /// The TLS versions accepted.
    pub versions: TlsVersions,
}

/// The facts of one X.509 certificate the view shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertSummary {
    /// Subject distinguished name, RFC 4514 (`CN=localhost, O=Example`).
    pub subject: String,
    /// Issuer distinguished name, RFC 4514; equal to `subject` when self-signed.
    pub issuer: String,
    /// Start of validity.
    pub not_before: SystemTime,
    /// End of validity.
    pub not_after: SystemTime,
    /// SHA-256 of the DER certificate, uppercase hex pairs joined by colons.
    pub sha256: String,
    /// Subject alternative names: DNS names and IP addresses.
    pub names: Vec<String>,
    /// Serial number in hex.
    pub serial: String,
}

/// How the peer's certificate was judged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerTrust {
    /// Verified against the system's trusted roots, for the server name.
    SystemRoots,
    /// Its SHA-256 fingerprint is the pinned one.
    Pinned,
    /// Not verified ("Accept any certificate" is on); `problem` is what a strict check
    /// against the system's roots found (None: it would have passed too, or the system
    /// has no roots to check with).
    AcceptedAny {
        /// The strict check's verdict.
        problem: Option<Box<EngineError>>,
    },
    /// A server does not ask clients for certificates.
    NotAsked,
}

/// What a completed handshake agreed on, for the view's info record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandshakeInfo {
    /// "TLS 1.3" or "TLS 1.2".
    pub protocol: String,
    /// The IANA-style suite name, e.g. `TLS13_AES_256_GCM_SHA384`.
    pub cipher_suite: String,
    /// The key exchange group, e.g. `X25519`.
    pub key_exchange: Option<String>,
    /// The application protocol agreed by ALPN.
    pub alpn: Option<String>,
    /// The server name: the SNI we sent (client) or the one the client sent (server);
    /// None when the client connected by IP address (no SNI is sent then).
    pub sni: Option<String>,
    /// The peer's leaf certificate (a server's; clients send none).
    pub peer: Option<CertSummary>,
    /// How the peer's certificate was judged.
    pub trust: PeerTrust,
}

/// Bytes as the error sentences show them: printable ASCII as is, `\r` `\n` `\t` as
/// escapes, anything else as `\xNN`.
pub fn shown_bytes(bytes: &[u8]) -> String {
    let mut s = String::new();
    for &b in bytes {
        match b {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s
}
