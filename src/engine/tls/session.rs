//! [`TlsSession`]: one TLS connection over a blocking `TcpStream`, driven by the one
//! thread that owns it (see the module doc of `tls` for how `Conn` uses it).

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::{ClientConnection, Connection, ServerConnection};

use super::classify::{Context, classify, classify_io, rustls_error};
use super::config::{TlsClient, TlsServer, Verdict, server_name};
use super::{CertSummary, HandshakeInfo, PeerTrust, TlsVersions};
use crate::engine::EngineError;

/// How long [`TlsSession::read_some`] waits for the peer by default.
pub const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// Most plaintext kept from the peer while [`TlsSession::write_all`] waits for the
/// socket to take more (the peer writes and does not read); above it the peer is left
/// to TCP flow control (so two programs that each write more than this plus the
/// kernel's buffers without ever reading still wait on each other, as over plain TCP).
pub const PENDING_CAP: usize = 4 << 20;

/// How many of the peer's first bytes are kept to show a plaintext peer's words.
const FIRST_BYTES: usize = 16;

/// One TLS connection: the rustls state machine and the socket, for one thread.
pub struct TlsSession {
    conn: Connection,
    stream: TcpStream,
    poll: Duration,
    /// Plaintext read while a write waited (returned by `read_some` first).
    pending: VecDeque<u8>,
    /// The peer closed TCP (read 0).
    eof: bool,
    /// The peer sent close_notify.
    clean: bool,
    /// For error words after the handshake.
    server: Option<String>,
    versions: TlsVersions,
    alpn: Vec<String>,
}

impl std::fmt::Debug for TlsSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSession")
            .field("peer", &self.stream.peer_addr().ok())
            .field("server", &self.server)
            .field("protocol", &self.conn.protocol_version())
            .field("eof", &self.eof)
            .field("clean", &self.clean)
            .finish_non_exhaustive()
    }
}

/// Reads from the socket, keeping the first bytes (for "this peer is not TLS").
struct Recording<'a> {
    stream: &'a TcpStream,
    first: &'a mut Vec<u8>,
}

impl Read for Recording<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = (&*self.stream).read(buf)?;
        if self.first.len() < FIRST_BYTES {
            let take = n.min(FIRST_BYTES - self.first.len());
            self.first.extend_from_slice(&buf[..take]);
        }
        Ok(n)
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

impl TlsSession {
    /// The client handshake on a connected `stream` to `host` (the SNI and the name
    /// checked unless [`super::TlsClientOptions::server_name`] says otherwise), within
    /// `timeout`. Blocks; call it on the connection's worker.
    pub fn client(
        stream: TcpStream,
        client: &TlsClient,
        host: &str,
        timeout: Duration,
    ) -> Result<(TlsSession, HandshakeInfo), EngineError> {
        let name = client.name_for(host);
        let (config, verdict) = client.config()?;
        let conn = ClientConnection::new(config, server_name(&name)?).map_err(|e| {
            EngineError::TlsSetup {
                cause: e.to_string(),
            }
        })?;
        let options = client.options();
        let session = TlsSession::new(
            Connection::Client(conn),
            stream,
            Some(name),
            options.versions,
            options.alpn.clone(),
        );
        session.handshake(timeout, Some(verdict))
    }

    /// The server handshake on an accepted `stream`, within `timeout`. Blocks; call it
    /// on the connection's worker.
    pub fn server(
        stream: TcpStream,
        server: &TlsServer,
        timeout: Duration,
    ) -> Result<(TlsSession, HandshakeInfo), EngineError> {
        let conn = ServerConnection::new(server.config()).map_err(|e| EngineError::TlsSetup {
            cause: e.to_string(),
        })?;
        let session = TlsSession::new(
            Connection::Server(conn),
            stream,
            None,
            server.versions(),
            server.alpn().to_vec(),
        );
        session.handshake(timeout, None)
    }

    fn new(
        conn: Connection,
        stream: TcpStream,
        server: Option<String>,
        versions: TlsVersions,
        alpn: Vec<String>,
    ) -> TlsSession {
        TlsSession {
            conn,
            stream,
            poll: POLL_INTERVAL,
            pending: VecDeque::new(),
            eof: false,
            clean: false,
            server,
            versions,
            alpn,
        }
    }

    fn context<'a>(&'a self, first_bytes: &'a [u8], timeout: Duration) -> Context<'a> {
        Context {
            server: self.server.as_deref(),
            versions: self.versions,
            alpn: &self.alpn,
            first_bytes,
            timeout,
        }
    }

    fn handshake(
        mut self,
        timeout: Duration,
        verdict: Option<Arc<Verdict>>,
    ) -> Result<(TlsSession, HandshakeInfo), EngineError> {
        let deadline = Instant::now() + timeout;
        let mut first = Vec::new();
        let result = self.drive_handshake(deadline, &mut first);
        if let Err(e) = result {
            // Best effort: tell the peer why (rustls queued an alert), then close.
            let _ = self
                .stream
                .set_write_timeout(Some(Duration::from_millis(200)));
            while self.conn.wants_write() {
                if self.conn.write_tls(&mut &self.stream).is_err() {
                    break;
                }
            }
            let _ = self.stream.shutdown(Shutdown::Both);
            return Err(classify_io(&e, &self.context(&first, timeout)));
        }
        let _ = self.stream.set_write_timeout(None);
        let _ = self.stream.set_read_timeout(Some(self.poll));
        let info = self.info(verdict.as_deref(), timeout);
        Ok((self, info))
    }

    /// The handshake's I/O loop, with the socket's timeouts set to what is left.
    fn drive_handshake(&mut self, deadline: Instant, first: &mut Vec<u8>) -> io::Result<()> {
        while self.conn.is_handshaking() || self.conn.wants_write() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::Error::from(io::ErrorKind::TimedOut));
            }
            if self.conn.wants_write() {
                self.stream.set_write_timeout(Some(left))?;
                self.conn.write_tls(&mut &self.stream)?;
                continue;
            }
            if !self.conn.is_handshaking() {
                break;
            }
            self.stream.set_read_timeout(Some(left))?;
            let n = self.conn.read_tls(&mut Recording {
                stream: &self.stream,
                first,
            })?;
            if n == 0 {
                return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
            }
            if let Err(e) = self.conn.process_new_packets() {
                return Err(io::Error::new(io::ErrorKind::InvalidData, e));
            }
        }
        Ok(())
    }

    fn info(&self, verdict: Option<&Verdict>, timeout: Duration) -> HandshakeInfo {
        let common = &*self.conn;
        let protocol = match common.protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_3) => "TLS 1.3".to_string(),
            Some(rustls::ProtocolVersion::TLSv1_2) => "TLS 1.2".to_string(),
            Some(other) => format!("{other:?}"),
            None => "?".to_string(),
        };
        let cipher_suite = common
            .negotiated_cipher_suite()
            .map(|s| format!("{:?}", s.suite()))
            .unwrap_or_default();
        let key_exchange = common
            .negotiated_key_exchange_group()
            .map(|g| format!("{:?}", g.name()));
        let alpn = common
            .alpn_protocol()
            .map(|p| String::from_utf8_lossy(p).into_owned());
        let peer = common
            .peer_certificates()
            .and_then(|c| c.first())
            .and_then(|c| CertSummary::from_der(c));
        let (sni, trust) = match (&self.conn, verdict) {
            (Connection::Server(s), _) => {
                (s.server_name().map(str::to_string), PeerTrust::NotAsked)
            }
            (Connection::Client(_), Some(v)) => (
                self.sent_sni(),
                v.trust(|e| classify(e, &self.context(&[], timeout))),
            ),
            (Connection::Client(_), None) => (self.sent_sni(), PeerTrust::SystemRoots),
        };
        HandshakeInfo {
            protocol,
            cipher_suite,
            key_exchange,
            alpn,
            sni,
            peer,
            trust,
        }
    }

    /// The SNI a client sent: its server name, unless that is an IP address (TLS sends
    /// no SNI for those; the certificate is still checked for the address).
    fn sent_sni(&self) -> Option<String> {
        self.server
            .clone()
            .filter(|n| n.parse::<std::net::IpAddr>().is_err())
    }

    /// How long [`TlsSession::read_some`] waits for data ([`POLL_INTERVAL`] unless set).
    pub fn poll_interval(&self) -> Duration {
        self.poll
    }

    /// Sets how long [`TlsSession::read_some`] waits (the socket's read timeout).
    pub fn set_poll_interval(&mut self, poll: Duration) -> io::Result<()> {
        let poll = poll.max(Duration::from_millis(1));
        self.stream.set_read_timeout(Some(poll))?;
        self.poll = poll;
        Ok(())
    }

    /// The socket (for its addresses and options; reads and writes go through the
    /// session).
    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }

    /// After `read_some` returned 0: true if the peer ended with close_notify, false if
    /// it just closed TCP (the data may have been cut short).
    pub fn closed_cleanly(&self) -> bool {
        self.clean
    }

    /// An error from `read_some`/`write_all` in words: a TLS failure classified like a
    /// handshake's, anything else as `Io` with `context`.
    pub fn error(&self, e: &io::Error, context: &str) -> EngineError {
        match rustls_error(e) {
            Some(tls) => classify(tls, &self.context(&[], Duration::ZERO)),
            None => EngineError::Io {
                context: context.to_string(),
                cause: e.to_string(),
            },
        }
    }

    /// Writes what rustls has queued for the socket without blocking: returns how many
    /// bytes the socket took; `WouldBlock` (after writing what fit) leaves the rest
    /// queued in rustls. Non-blocking rather than a send timeout, because on Windows a
    /// send that times out leaves the socket in an undefined state (part of a TLS record
    /// may or may not have gone out), while a non-blocking send says exactly what it took.
    fn flush_some(&mut self) -> io::Result<usize> {
        if !self.conn.wants_write() {
            return Ok(0);
        }
        self.stream.set_nonblocking(true)?;
        let mut written = 0;
        let result = loop {
            if !self.conn.wants_write() {
                break Ok(());
            }
            match self.conn.write_tls(&mut &self.stream) {
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        let restored = self.stream.set_nonblocking(false);
        result?;
        restored?;
        Ok(written)
    }

    /// Reads once from the socket (up to the read timeout) into rustls and processes it.
    /// Ok(false): the peer closed TCP.
    fn fill(&mut self) -> io::Result<bool> {
        let n = self.conn.read_tls(&mut &self.stream)?;
        if n == 0 {
            self.eof = true;
        }
        let state = self
            .conn
            .process_new_packets()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e));
        // An alert rustls queued for the peer (or a KeyUpdate answer) goes out now if
        // the socket takes it; otherwise with the next write.
        let _ = self.flush_some();
        let state = state?;
        if state.peer_has_closed() {
            self.clean = true;
        }
        Ok(n > 0)
    }

    /// Reads plaintext into `buf`: Ok(n > 0) data; Ok(0) the peer ended (see
    /// [`TlsSession::closed_cleanly`]); `WouldBlock`/`TimedOut` when nothing came within
    /// the poll interval (call again; do the sends first); another error ends the
    /// connection (see [`TlsSession::error`]).
    pub fn read_some(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if !self.pending.is_empty() {
            let n = self.pending.len().min(buf.len());
            for (slot, b) in buf.iter_mut().zip(self.pending.drain(..n)) {
                *slot = b;
            }
            return Ok(n);
        }
        loop {
            match self.conn.reader().read(buf) {
                Ok(0) => {
                    self.clean = true;
                    return Ok(0);
                }
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // TCP closed without close_notify.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                Err(e) => return Err(e),
            }
            if self.eof {
                return Ok(0);
            }
            // Anything rustls still holds for the peer goes out if the socket takes it.
            match self.flush_some() {
                Err(e) if !is_timeout(&e) => return Err(e),
                _ => {}
            }
            self.fill()?;
        }
    }

    /// Encrypts and writes all of `bytes`, blocking until the socket took them (an
    /// empty `bytes` writes what rustls still holds). While the socket will not take
    /// more, what the peer sends is read and kept (up to [`PENDING_CAP`]) for
    /// `read_some`, so two peers that both write without reading do not deadlock on
    /// their full buffers. The wait between tries starts at 1 ms and doubles up to the
    /// poll interval while the socket stays full.
    pub fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.write_all_while(bytes, || true)
    }

    /// [`TlsSession::write_all`] that gives up, with an `Interrupted` error, when
    /// `go_on` says so while the socket is full (a close asked from another thread).
    pub fn write_all_while(
        &mut self,
        mut bytes: &[u8],
        go_on: impl Fn() -> bool,
    ) -> io::Result<()> {
        let mut wait = Duration::from_millis(1);
        loop {
            if !bytes.is_empty() {
                let n = self.conn.writer().write(bytes)?;
                bytes = &bytes[n..];
            }
            match self.flush_some() {
                Ok(_) if bytes.is_empty() && !self.conn.wants_write() => return Ok(()),
                Ok(_) => wait = Duration::from_millis(1),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if !go_on() {
                        return Err(io::Error::new(
                            io::ErrorKind::Interrupted,
                            "the connection is closing",
                        ));
                    }
                    self.keep_incoming(wait)?;
                    wait = (wait * 2).min(self.poll);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// While a write waits (up to `wait`): moves what the peer sent into `pending`
    /// (within the cap).
    fn keep_incoming(&mut self, wait: Duration) -> io::Result<()> {
        if self.pending.len() >= PENDING_CAP || self.eof {
            // Nothing more to take; wait before the write is tried again.
            std::thread::sleep(wait);
            return Ok(());
        }
        self.stream.set_read_timeout(Some(wait))?;
        let filled = self.fill();
        self.stream.set_read_timeout(Some(self.poll))?;
        match filled {
            Ok(_) => {}
            Err(e) if is_timeout(&e) => return Ok(()),
            Err(e) => return Err(e),
        }
        let mut chunk = [0u8; 16 * 1024];
        loop {
            match self.conn.reader().read(&mut chunk) {
                Ok(0) => return Ok(()),
                Ok(n) => self.pending.extend(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    }

    /// Sends close_notify (the TLS goodbye) and writes it (with anything still queued),
    /// trying for at most a second. The TCP close is the caller's.
    pub fn close_notify(&mut self) -> io::Result<()> {
        self.conn.send_close_notify();
        let deadline = Instant::now() + Duration::from_secs(1);
        loop {
            match self.flush_some() {
                Ok(_) if !self.conn.wants_write() => return Ok(()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(2));
                }
                Err(e) => return Err(e),
            }
        }
    }
}
