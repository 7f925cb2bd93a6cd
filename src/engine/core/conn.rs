//! One TCP connection ([`Conn`]): its lifetime guard (the last one out emits `Closed`),
//! the reader loop, the on-demand writer thread, auto-replies and the close paths.

use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant, SystemTime};

use crate::codec::lazy::TextScan;
use crate::engine::counters::CounterCell;
use crate::engine::keepalive::{self, Keepalive};
use crate::engine::readbuf::ReadBuf;
use crate::engine::responder::Action;
use crate::engine::{CloseReason, ConnId, Direction, EngineError, Event, SessionKind};
use crate::sync::lock;

mod tls;

pub(crate) use self::tls::TlsSide;

use super::queue::{Marker, SendQueue};
use super::{
    CONN_STACK, FIRST_READ_BUF, READ_BUF, SessionCore, SessionGuard, WRITER_IDLE, spawn_worker,
};

#[derive(Default)]
struct ConnLife {
    threads: usize,
    finished: bool,
}

/// One TCP connection, shared by its reader thread, its writer thread (when running),
/// the session map and the handle. `&TcpStream` is both `Read` and `Write`, so reader and
/// writer share one socket without `try_clone` (which would double the fds per client).
///
/// Two ways to end:
/// - forced ([`Conn::close`]: kick, disconnect, stop, an error): the queue is discarded
///   and the bytes it held are reported in `Closed::discarded`;
/// - graceful ([`Conn::close_after_flush`]: the peer half-closed, or a rule's Close): a
///   marker goes behind what is queued, the writer writes everything before it, then
///   closes. A peer that half-closes (`shutdown(SHUT_WR)`) and waits for our answers
///   gets every queued reply.
pub(crate) struct Conn {
    pub(crate) id: ConnId,
    pub(crate) peer: SocketAddr,
    pub(crate) local: SocketAddr,
    pub(crate) since: SystemTime,
    stream: TcpStream,
    pub(crate) counters: CounterCell,
    reason: Mutex<Option<CloseReason>>,
    /// Items with `Some(reason)` are close markers (see `close_after_flush`).
    queue: SendQueue<Option<CloseReason>>,
    /// Queued bytes a forced close threw away (reported in `Closed`).
    discarded: AtomicU64,
    /// The peer half-closed (a 0-byte read): a failed write after it means the peer
    /// went away before reading everything, still "peer closed".
    peer_eof: AtomicBool,
    /// A TLS connection: one thread reads and writes (see `tls.rs`); `stream` is then a
    /// clone kept for shutdown, wake-ups and socket options.
    tls: bool,
    /// The TLS handshake is done: from now on a close of ours is carried out by the
    /// connection's thread (close_notify, then shutdown), which notices it within its
    /// poll interval.
    tls_ready: AtomicBool,
    life: Mutex<ConnLife>,
    core: Arc<SessionCore>,
}

/// Keeps a connection open; the last one dropped emits `Closed`.
pub(crate) struct ConnGuard {
    conn: Arc<Conn>,
    _session: SessionGuard,
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        let last = {
            let mut life = lock(&self.conn.life);
            life.threads = life.threads.saturating_sub(1);
            if life.threads == 0 && !life.finished {
                life.finished = true;
                true
            } else {
                false
            }
        };
        if last {
            let c = &self.conn;
            let late = c.queue.close();
            c.discarded.fetch_add(late, Ordering::Relaxed);
            let _ = c.stream.shutdown(Shutdown::Both);
            lock(&c.core.conns).remove(&c.id);
            let reason = lock(&c.reason).clone().unwrap_or(CloseReason::PeerClosed);
            c.core.emit(Event::Closed {
                session: c.core.id,
                at: SystemTime::now(),
                conn: c.id,
                peer: c.peer,
                reason,
                discarded: c.discarded.load(Ordering::Relaxed),
            });
            c.core.forget_conn(c.id);
            if let Some(responder) = c.core.responder() {
                let _ = catch_unwind(AssertUnwindSafe(|| responder.on_closed(c.id)));
            }
        }
        // `_session` drops after this, so `Stopped` (if last) follows `Closed`.
    }
}

impl Conn {
    /// The keepalive options the socket holds now, read back from the OS (Linux and
    /// macOS can report idle, interval and count; elsewhere only on/off is known).
    pub(crate) fn keepalive(&self) -> std::io::Result<Option<Keepalive>> {
        keepalive::read(&self.stream)
    }

    /// A connection established at `since` (connect or accept time).
    pub(crate) fn new(
        core: &Arc<SessionCore>,
        stream: TcpStream,
        peer: SocketAddr,
        since: SystemTime,
    ) -> Arc<Conn> {
        Conn::build(core, stream, peer, since, false)
    }

    fn build(
        core: &Arc<SessionCore>,
        stream: TcpStream,
        peer: SocketAddr,
        since: SystemTime,
        tls: bool,
    ) -> Arc<Conn> {
        let local = stream
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        Arc::new(Conn {
            id: core.next_conn_id(),
            peer,
            local,
            since,
            stream,
            counters: CounterCell::default(),
            reason: Mutex::new(None),
            queue: SendQueue::new_held(core.send_budget.clone()),
            discarded: AtomicU64::new(0),
            peer_eof: AtomicBool::new(false),
            tls,
            tls_ready: AtomicBool::new(false),
            life: Mutex::new(ConnLife::default()),
            core: core.clone(),
        })
    }

    /// A guard for one more thread on this connection; None once it has closed.
    pub(crate) fn enter(self: &Arc<Self>) -> Option<ConnGuard> {
        // Lock order: connection life, then session life (never the reverse).
        let mut life = lock(&self.life);
        if life.finished {
            return None;
        }
        let session = self.core.enter()?;
        life.threads += 1;
        drop(life);
        Some(ConnGuard {
            conn: self.clone(),
            _session: session,
        })
    }

    /// True once a close was asked (locally or after an error).
    fn closing(&self) -> bool {
        lock(&self.reason).is_some()
    }

    /// Ends the connection now (forced): the first reason given wins; queued bytes are
    /// discarded (and counted for `Closed::discarded`); the socket is shut down both
    /// ways and its reader and writer are woken (see [`wake_blocked`]).
    pub(crate) fn close(&self, reason: CloseReason) {
        {
            let mut r = lock(&self.reason);
            if r.is_none() {
                *r = Some(reason);
            }
        }
        let discarded = self.queue.close();
        self.discarded.fetch_add(discarded, Ordering::Relaxed);
        if self.tls && self.tls_ready.load(Ordering::SeqCst) {
            // Its thread says goodbye (close_notify) and shuts the socket.
            return;
        }
        let _ = self.stream.shutdown(Shutdown::Both);
        wake_blocked(&self.stream);
    }

    /// Call after the connection's `Connected`/`ClientJoined` event: from now on sends
    /// start the writer (bytes sent in between are written now).
    pub(crate) fn announced(self: &Arc<Self>) {
        // A TLS connection's queue stays held: its one thread takes the sends itself
        // once the handshake is done.
        if !self.tls
            && self.queue.release()
            && let Err(e) = self.start_writer()
        {
            self.core.error(e);
        }
    }

    /// Queues bytes for the writer thread, starting it if needed.
    pub(crate) fn send(self: &Arc<Self>, bytes: Arc<[u8]>) -> Result<(), EngineError> {
        match self.queue.push(None, bytes) {
            Err(e) => Err(e.to_engine(Some(self.id), &self.core.send_budget)),
            Ok(false) => Ok(()),
            Ok(true) => self.start_writer(),
        }
    }

    /// Bytes queued on this connection and not yet written.
    pub(crate) fn queued_bytes(&self) -> usize {
        self.queue.queued()
    }

    /// Closes the connection with `reason` after everything queued so far is written
    /// (the writer meets a close marker); at once when nothing is queued.
    pub(crate) fn close_after_flush(self: &Arc<Self>, reason: CloseReason) {
        match self.queue.push_marker(Some(reason.clone())) {
            Marker::Idle => self.close(reason),
            Marker::Queued | Marker::Closed => {}
            Marker::StartWriter => {
                if self.start_writer().is_err() {
                    self.close(reason);
                }
            }
        }
    }

    fn local_close_reason(&self) -> CloseReason {
        if self.core.kind == SessionKind::TcpServer {
            CloseReason::Kicked
        } else {
            CloseReason::LocalDisconnect
        }
    }

    /// Carries out one auto-reply action on this connection.
    pub(crate) fn apply(self: &Arc<Self>, action: Action) {
        match action {
            Action::Send { bytes, .. } => {
                if let Err(e) = self.send(Arc::from(bytes)) {
                    self.core.action_error(e);
                }
            }
            Action::Close { .. } => self.close_after_flush(self.local_close_reason()),
        }
    }

    /// Runs the responder on one read: immediate actions now, delayed ones on the timer.
    /// A delayed action holds the connection weakly: a closed connection is freed (and
    /// its socket closed) at once, whatever is still scheduled for it.
    fn respond(self: &Arc<Self>, bytes: &[u8], saturated: bool) {
        let Some(actions) =
            self.core
                .ask_responder(Some(self.id), self.peer, self.local, bytes, saturated)
        else {
            return;
        };
        let now = Instant::now();
        for action in actions {
            let delay = action.delay();
            if delay.is_zero() {
                self.apply(action);
            } else {
                let conn: Weak<Conn> = Arc::downgrade(self);
                self.core.timer.schedule(
                    &self.core,
                    now,
                    delay,
                    Box::new(move || {
                        if let Some(conn) = conn.upgrade() {
                            conn.apply(action);
                        }
                    }),
                );
            }
        }
    }

    fn start_writer(self: &Arc<Self>) -> Result<(), EngineError> {
        let Some(guard) = self.enter() else {
            self.queue.unpush();
            return Err(EngineError::NotConnected);
        };
        let name = format!("sockscope-s{}-c{}-tx", self.core.id, self.id);
        let conn = self.clone();
        let on_panic = self.clone();
        match spawn_worker(
            &self.core,
            name,
            CONN_STACK,
            guard,
            move |_| conn.write_loop(),
            move |_| on_panic.close(CloseReason::Error("writer panicked".into())),
        ) {
            Ok(()) => Ok(()),
            Err((e, guard)) => {
                self.queue.unpush();
                // Not the last guard (the reader holds one) unless the connection
                // is closing anyway; dropping it here is then a short emit.
                drop(guard);
                Err(EngineError::Io {
                    context: format!("starting a writer thread for connection #{}", self.id),
                    cause: e.to_string(),
                })
            }
        }
    }

    /// Reports `bytes` as written: counters and a Tx `Data` event.
    fn sent(&self, bytes: Arc<[u8]>) {
        self.counters.add_tx(bytes.len());
        self.core.counters.add_tx(bytes.len());
        self.core.emit(Event::Data {
            session: self.core.id,
            conn: Some(self.id),
            peer: self.peer,
            dir: Direction::Tx,
            at: SystemTime::now(),
            scan: TextScan::of(&bytes),
            bytes,
            group: None,
        });
    }

    fn write_loop(&self) {
        while let Some((marker, bytes)) = self.queue.next(WRITER_IDLE) {
            if let Some(reason) = marker {
                self.close(reason);
                break;
            }
            // Written piece by piece so that what the kernel accepted before a failure
            // is counted and reported (TX is what the kernel took, never what was queued).
            let mut written = 0;
            let result = loop {
                if written == bytes.len() {
                    break Ok(());
                }
                match (&self.stream).write(&bytes[written..]) {
                    Ok(0) => break Err(io::Error::from(io::ErrorKind::WriteZero)),
                    Ok(n) => written += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => break Err(e),
                }
            };
            self.queue.done(bytes.len());
            match result {
                Ok(()) => self.sent(bytes),
                Err(e) => {
                    if written > 0 {
                        self.sent(Arc::from(&bytes[..written]));
                    }
                    self.discarded
                        .fetch_add((bytes.len() - written) as u64, Ordering::Relaxed);
                    let reason = if self.peer_eof.load(Ordering::SeqCst) {
                        CloseReason::PeerClosed
                    } else {
                        close_reason(&e)
                    };
                    self.close(reason);
                    break;
                }
            }
        }
    }

    /// Reports one read: counters, an Rx `Data` event; returns the shared bytes.
    fn received(&self, bytes: Arc<[u8]>) -> Arc<[u8]> {
        self.counters.add_rx(bytes.len());
        self.core.counters.add_rx(bytes.len());
        self.core.emit(Event::Data {
            session: self.core.id,
            conn: Some(self.id),
            peer: self.peer,
            dir: Direction::Rx,
            at: SystemTime::now(),
            scan: TextScan::of(&bytes),
            bytes: bytes.clone(),
            group: None,
        });
        bytes
    }

    /// The reader: one `Data` event per read until EOF, error or close.
    pub(crate) fn read_loop(self: &Arc<Self>) {
        let mut buf = ReadBuf::new(FIRST_READ_BUF);
        loop {
            match buf.read(&self.stream) {
                Ok(0) => {
                    self.peer_eof.store(true, Ordering::SeqCst);
                    if !self.closing() {
                        // The peer half-closed: it sends no more but may still read.
                        // Stop reading only; our queued sends and replies go out first,
                        // then the connection closes.
                        let _ = self.stream.shutdown(Shutdown::Read);
                        self.close_after_flush(CloseReason::PeerClosed);
                    }
                    return;
                }
                Ok(n) if self.closing() => {
                    // Data after we closed (stop, kick): the peer is still sending. This
                    // read is reported (it was received); then the connection is reset on
                    // close (linger 0): a graceful FIN here can leave the peer blocked on
                    // a zero window for minutes.
                    self.received(buf.take(n, FIRST_READ_BUF));
                    let _ = socket2::SockRef::from(&self.stream).set_linger(Some(Duration::ZERO));
                    return;
                }
                Ok(n) => {
                    // A read that fills the buffer hands it over (no copy); the next one
                    // is full size.
                    let full = n == buf.len();
                    let next = if full { READ_BUF } else { buf.len() };
                    let bytes = self.received(buf.take(n, next));
                    self.respond(&bytes, full);
                    self.core.check_fault();
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.close(close_reason(&e));
                    return;
                }
            }
        }
    }
}

/// Wakes threads blocked in `recv`/`send` on `stream` after it was shut down.
///
/// On Linux and macOS `shutdown` itself does it: a blocked `recv` returns 0 and a blocked
/// `send` fails. Windows does not: `shutdown` only refuses *later* calls
/// (<https://learn.microsoft.com/en-us/windows/win32/api/winsock/nf-winsock-shutdown>:
/// "subsequent calls to the recv function on the socket will be disallowed"), so a reader
/// waiting on a silent peer, or a writer waiting on a peer that does not read, would
/// wait forever and the session would never stop. Sockets made by std are overlapped
/// handles whose blocking calls are pending I/O requests, and `CancelIoEx` with no
/// OVERLAPPED cancels every request pending on the handle, from any thread: the blocked
/// call returns WSA_OPERATION_ABORTED / WSAEINTR, and any call made after the shutdown
/// fails at once, so there is no window for a call to slip in between.
#[cfg(windows)]
fn wake_blocked(stream: &TcpStream) {
    use std::os::windows::io::AsRawSocket;
    use windows_sys::Win32::System::IO::CancelIoEx;
    // SAFETY: the socket handle stays valid while `stream` is borrowed; a null
    // OVERLAPPED pointer means "all requests on this handle". Failure (nothing pending:
    // ERROR_NOT_FOUND) is fine.
    unsafe {
        CancelIoEx(stream.as_raw_socket() as _, std::ptr::null());
    }
}

/// Elsewhere `shutdown` wakes blocked calls by itself.
#[cfg(not(windows))]
fn wake_blocked(_stream: &TcpStream) {}

/// Why a read or write error ended a connection.
fn close_reason(e: &io::Error) -> CloseReason {
    match e.kind() {
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => CloseReason::Reset,
        _ => CloseReason::Error(e.to_string()),
    }
}
