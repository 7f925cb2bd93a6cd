//! A TLS connection's one thread: the handshake, then sends and reads in turn on one
//! [`TlsSession`] (a rustls connection is one state machine, so the plain connection's
//! separate reader and writer threads cannot share it).
//!
//! - The handshake runs after `Connected`/`ClientJoined`; sends made meanwhile wait in
//!   the queue (it stays held). Success is reported as [`Notice::TlsHandshake`]; a
//!   failure as the classified error, then a close with [`CloseReason::Tls`].
//! - Then the thread loops: everything queued is encrypted and written (TX counts the
//!   plaintext, which is what the view shows and the log keeps), then one read waits at
//!   most the poll interval (so a send waits at most that long before it goes out).
//! - A close of ours (stop, kick, disconnect, a rule's Close, the peer's half-close) says
//!   goodbye with close_notify before TCP closes; a reset or an error does not. During
//!   the handshake a close shuts the socket at once, so a stop never waits for it.
//! - `Conn::stream` is a clone of the socket (same connection, a second handle): it
//!   serves shutdown, keepalive read-back and addresses from other threads; every read
//!   and write goes through the session on this thread.

use std::io;
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use super::{Conn, close_reason};
use crate::engine::core::SessionCore;
use crate::engine::tls::{HandshakeInfo, TlsClient, TlsServer, TlsSession};
use crate::engine::{CloseReason, EngineError, Notice};

/// Plaintext read buffer of a TLS connection: a TLS record carries at most 16 KiB, so
/// more would only sit idle (and every TLS connection has one from its start).
const TLS_READ_BUF: usize = 64 << 10;

/// Which end of the handshake this connection is, with the session's TLS setup.
#[derive(Clone)]
pub(crate) enum TlsSide {
    /// We connected: verify the server named `host` (unless the options name another).
    Client {
        /// The session's client setup (roots read once).
        config: Arc<TlsClient>,
        /// The host the user typed (a name or an IP literal).
        host: String,
        /// The handshake must finish within this.
        timeout: Duration,
    },
    /// A client connected to our server.
    Server {
        /// The session's server setup (its certificate).
        config: Arc<TlsServer>,
        /// The handshake must finish within this.
        timeout: Duration,
    },
}

impl TlsSide {
    fn handshake(&self, stream: TcpStream) -> Result<(TlsSession, HandshakeInfo), EngineError> {
        match self {
            TlsSide::Client {
                config,
                host,
                timeout,
            } => TlsSession::client(stream, config, host, *timeout),
            TlsSide::Server { config, timeout } => TlsSession::server(stream, config, *timeout),
        }
    }
}

impl Conn {
    /// A TLS connection on `stream`: the connection keeps a clone of the socket, and the
    /// stream returned goes to [`Conn::serve_tls`] on the connection's thread.
    pub(crate) fn new_tls(
        core: &Arc<SessionCore>,
        stream: TcpStream,
        peer: std::net::SocketAddr,
        since: SystemTime,
    ) -> io::Result<(Arc<Conn>, TcpStream)> {
        let clone = stream.try_clone()?;
        Ok((Conn::build(core, clone, peer, since, true), stream))
    }

    /// The connection's one thread: the handshake, then sends and reads until it ends.
    /// False when the handshake failed (a reconnecting client then backs off as after
    /// a refused attempt).
    pub(crate) fn serve_tls(self: &Arc<Self>, stream: TcpStream, side: &TlsSide) -> bool {
        let (mut tls, info) = match side.handshake(stream) {
            Ok(done) => done,
            Err(e) => {
                // A close of ours (stop, kick) during the handshake is no TLS failure.
                if !self.closing() {
                    self.core.error(e);
                    self.close(CloseReason::Tls);
                }
                return false;
            }
        };
        self.tls_ready.store(true, Ordering::SeqCst);
        self.core.notice(Notice::TlsHandshake {
            conn: self.id,
            peer: self.peer,
            info: Box::new(info),
        });
        let graceful = self.tls_loop(&mut tls);
        if graceful {
            // Best effort: the peer may be gone or not reading (bounded to a second).
            let _ = tls.close_notify();
        }
        let _ = tls.stream().shutdown(Shutdown::Both);
        true
    }

    /// Sends and reads until the connection ends; true when it should end with a
    /// close_notify (our close, the peer's goodbye), false after a reset or an error.
    fn tls_loop(self: &Arc<Self>, tls: &mut TlsSession) -> bool {
        let mut buf = vec![0u8; TLS_READ_BUF];
        let mut reading = true;
        loop {
            while let Some((marker, bytes)) = self.queue.try_next() {
                if let Some(reason) = marker {
                    self.close(reason);
                    return true;
                }
                let result = tls.write_all_while(&bytes, || !self.closing());
                self.queue.done(bytes.len());
                match result {
                    Ok(()) => self.sent(bytes),
                    Err(e) => {
                        // How much of it reached the peer is unknown: none is counted.
                        self.discarded
                            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
                        if self.closing() {
                            return self.graceful_reason();
                        }
                        let reason = if self.peer_eof.load(Ordering::SeqCst) {
                            CloseReason::PeerClosed
                        } else {
                            self.tls_failure(tls, &e, "sending")
                        };
                        self.close(reason);
                        return false;
                    }
                }
            }
            if self.closing() {
                return self.graceful_reason();
            }
            if !reading {
                // The peer half-closed: what is queued (up to the close marker that
                // follows it) goes out, then the connection closes.
                std::thread::sleep(tls.poll_interval());
                continue;
            }
            match tls.read_some(&mut buf) {
                Ok(0) => {
                    reading = false;
                    self.peer_eof.store(true, Ordering::SeqCst);
                    if self.closing() {
                        continue;
                    }
                    if !tls.closed_cleanly() {
                        self.core.notice(Notice::TlsNoCloseNotify {
                            conn: self.id,
                            peer: self.peer,
                        });
                    }
                    self.close_after_flush(CloseReason::PeerClosed);
                }
                Ok(n) => {
                    let saturated = n == buf.len();
                    let bytes = self.received(Arc::from(&buf[..n]));
                    self.respond(&bytes, saturated);
                    self.core.check_fault();
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) => {}
                Err(e) => {
                    if self.closing() {
                        return self.graceful_reason();
                    }
                    let reason = self.tls_failure(tls, &e, "receiving");
                    self.close(reason);
                    return false;
                }
            }
        }
    }

    /// After a close was asked: say goodbye unless the connection broke.
    fn graceful_reason(&self) -> bool {
        !matches!(
            *crate::sync::lock(&self.reason),
            Some(CloseReason::Reset | CloseReason::Error(_) | CloseReason::Tls)
        )
    }

    /// Why a failed TLS read or write ends the connection: a TLS error (an alert, a bad
    /// record) is reported in words and closes with [`CloseReason::Tls`]; a socket error
    /// closes as over plain TCP.
    fn tls_failure(&self, tls: &TlsSession, e: &io::Error, context: &str) -> CloseReason {
        match tls.error(e, context) {
            EngineError::Io { .. } => close_reason(e),
            error => {
                self.core.error(error);
                CloseReason::Tls
            }
        }
    }
}
