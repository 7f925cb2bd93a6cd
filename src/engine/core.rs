//! Shared machinery of all sessions: the session lifetime (exactly one `Stopped`, last),
//! panic-catching worker threads, the per-connection send queue with its on-demand
//! writer thread, and the TCP connection (reader loop, writer loop, close).
//!
//! Lifetime by reference counting: every worker thread holds a `SessionGuard`; when the
//! last guard drops, the session emits `Stopped`. A connection works the same way one
//! level down (`ConnGuard`, last one out emits `Closed` and removes the connection from
//! the session). Since a worker's guard drops only after its last event, `Closed` always
//! follows a connection's data and `Stopped` always ends the session, whatever the
//! thread interleaving, without any thread joining another.

use std::collections::{HashMap, VecDeque};
use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant, SystemTime};

use crate::sync::{lock, panic_message, spawn_with_stack};

use super::counters::CounterCell;
use super::readbuf::ReadBuf;
use super::responder::{Action, PeerKey, ReplyGuard, Responder, Timer, Verdict};
use super::sink::Sink;
use super::{CloseReason, ConnId, Direction, EngineError, Event, Notice, SessionId, SessionKind};

/// Cap on bytes queued for writing per connection (or per UDP session).
pub(crate) const SEND_QUEUE_CAP: usize = 64 << 20;
/// Default cap on bytes queued for writing in the whole engine (all sessions and
/// connections together), see [`SendBudget`].
pub(crate) const SEND_BUDGET: usize = 256 << 20;
/// Stack of per-connection reader/writer threads: they only read into a heap buffer and
/// push events, so a small stack lets thousands of clients fit.
pub(crate) const CONN_STACK: usize = 128 << 10;
/// Stack of the per-session main workers (accept loop, UDP loop, dialer).
pub(crate) const MAIN_STACK: usize = 512 << 10;
/// A writer thread exits after this long without anything to write.
pub(crate) const WRITER_IDLE: Duration = Duration::from_secs(2);
/// Initial read buffer; grows to `READ_BUF` the first time a read fills it, so 10,000 idle
/// clients do not pin 640 MiB of buffers.
const FIRST_READ_BUF: usize = 8 << 10;
/// Minimum gap between two reported auto-reply errors of one session.
const ACTION_ERROR_EVERY: Duration = Duration::from_secs(1);
/// Largest read: one `Data` event per read of at most this many bytes.
pub(crate) const READ_BUF: usize = 64 << 10;

/// Bytes queued for sending in the whole engine: one budget for every queue, so 10,000
/// clients cannot each queue `SEND_QUEUE_CAP` (640 GiB in theory).
#[derive(Debug)]
pub(crate) struct SendBudget {
    limit: AtomicUsize,
    used: AtomicUsize,
}

impl SendBudget {
    pub(crate) fn new(limit: usize) -> SendBudget {
        SendBudget {
            limit: AtomicUsize::new(limit),
            used: AtomicUsize::new(0),
        }
    }

    /// The limit in bytes.
    pub(crate) fn limit(&self) -> usize {
        self.limit.load(Ordering::Relaxed)
    }

    pub(crate) fn set_limit(&self, limit: usize) {
        self.limit.store(limit, Ordering::Relaxed);
    }

    /// Bytes queued now, engine-wide.
    pub(crate) fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// Reserves `len` bytes; false (nothing reserved) when that would pass the limit.
    fn reserve(&self, len: usize) -> bool {
        let limit = self.limit();
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                let next = used.checked_add(len)?;
                (next <= limit).then_some(next)
            })
            .is_ok()
    }

    fn release(&self, len: usize) {
        let _ = self
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                Some(used.saturating_sub(len))
            });
    }
}

#[derive(Default)]
struct Life {
    workers: usize,
    done: bool,
    /// Set when `start` fails after creating the session: no events at all.
    quiet: bool,
}

/// State shared by a session's handle and all its workers.
pub(crate) struct SessionCore {
    pub(crate) id: SessionId,
    pub(crate) kind: SessionKind,
    pub(crate) sink: Arc<Sink>,
    pub(crate) next_conn: Arc<AtomicU64>,
    /// The engine-wide budget of bytes queued for sending.
    pub(crate) send_budget: Arc<SendBudget>,
    pub(crate) stop: AtomicBool,
    pub(crate) counters: CounterCell,
    life: Mutex<Life>,
    pub(crate) local: Mutex<Option<SocketAddr>>,
    /// TCP connections (server: all clients; client: its one connection).
    pub(crate) conns: Mutex<HashMap<ConnId, Arc<Conn>>>,
    /// Test hook: the next worker to look panics.
    fault: AtomicBool,
    /// The auto-reply hook (see `responder`); `has_responder` lets readers skip the lock.
    responder: Mutex<Option<Arc<dyn Responder>>>,
    has_responder: AtomicBool,
    /// Delayed auto-reply actions.
    pub(crate) timer: Timer,
    /// Auto-reply safety limits (rate, own address, loops, amplification).
    guard: ReplyGuard,
    /// When an auto-reply error was last reported (they are rate-limited).
    action_error_at: Mutex<Option<Instant>>,
}

impl SessionCore {
    pub(crate) fn new(
        id: SessionId,
        kind: SessionKind,
        sink: Arc<Sink>,
        next_conn: Arc<AtomicU64>,
        send_budget: Arc<SendBudget>,
    ) -> Arc<SessionCore> {
        Arc::new(SessionCore {
            id,
            kind,
            sink,
            next_conn,
            send_budget,
            stop: AtomicBool::new(false),
            counters: CounterCell::default(),
            life: Mutex::new(Life::default()),
            local: Mutex::new(None),
            conns: Mutex::new(HashMap::new()),
            fault: AtomicBool::new(false),
            responder: Mutex::new(None),
            has_responder: AtomicBool::new(false),
            timer: Timer::default(),
            guard: ReplyGuard::default(),
            action_error_at: Mutex::new(None),
        })
    }

    /// Installs or removes the auto-reply hook; takes effect from the next read.
    pub(crate) fn set_responder(&self, responder: Option<Arc<dyn Responder>>) {
        let mut slot = lock(&self.responder);
        self.has_responder
            .store(responder.is_some(), Ordering::SeqCst);
        *slot = responder;
        drop(slot);
        self.guard.reset();
    }

    /// Forgets the auto-reply state of a closed connection.
    pub(crate) fn forget_conn(&self, conn: ConnId) {
        self.guard.forget(PeerKey::Conn(conn));
    }

    /// Emits a status line.
    pub(crate) fn notice(&self, notice: Notice) {
        self.emit(Event::Notice {
            session: self.id,
            at: SystemTime::now(),
            notice,
        });
    }

    /// The auto-reply hook, if any (one atomic load when there is none).
    pub(crate) fn responder(&self) -> Option<Arc<dyn Responder>> {
        if !self.has_responder.load(Ordering::Relaxed) {
            return None;
        }
        lock(&self.responder).clone()
    }

    /// Asks the responder about received bytes, catching a panic in it (reported as
    /// `WorkerPanic`, the read goes on), and applies the safety limits (see
    /// `responder`). None when no responder is installed or no reply may be sent.
    /// `conn` is the TCP connection (None: UDP), `local` our address, `saturated` true
    /// when the read filled the read buffer (more data was waiting: a stream).
    pub(crate) fn ask_responder(
        &self,
        conn: Option<ConnId>,
        peer: SocketAddr,
        local: SocketAddr,
        bytes: &[u8],
        saturated: bool,
    ) -> Option<Vec<Action>> {
        let responder = self.responder()?;
        let limits: super::ReplyLimits =
            catch_unwind(AssertUnwindSafe(|| responder.limits())).unwrap_or_default();
        let key = match conn {
            Some(c) => PeerKey::Conn(c),
            None => PeerKey::Udp(peer),
        };
        if let Verdict::Skip(notice) = self
            .guard
            .check(&limits, key, peer, local, bytes, saturated)
        {
            if let Some(n) = notice {
                self.notice(n);
            }
            return None;
        }
        match catch_unwind(AssertUnwindSafe(|| responder.on_data(conn, peer, bytes))) {
            Ok(mut actions) => {
                for n in self.guard.filter(&limits, key, peer, bytes, &mut actions) {
                    self.notice(n);
                }
                Some(actions)
            }
            Err(payload) => {
                self.error(EngineError::WorkerPanic {
                    worker: format!("auto-reply of session {}", self.id),
                    message: panic_message(payload.as_ref()),
                });
                None
            }
        }
    }

    /// Reports an error from an auto-reply action, at most once per
    /// `ACTION_ERROR_EVERY` (echo towards a peer that does not read would otherwise
    /// report `QueueFull` on every read), and never once the session ended (a delayed
    /// reply may fire after stop; `Stopped` must stay the last event). A reply to a
    /// connection that closed meanwhile is not an error.
    pub(crate) fn action_error(&self, error: EngineError) {
        if matches!(error, EngineError::NotConnected) || self.is_done() {
            return;
        }
        {
            let mut last = lock(&self.action_error_at);
            let now = Instant::now();
            if last.is_some_and(|t| now.duration_since(t) < ACTION_ERROR_EVERY) {
                return;
            }
            *last = Some(now);
        }
        self.error(error);
    }

    /// A guard for one more worker, or None if the session already ended.
    pub(crate) fn enter(self: &Arc<Self>) -> Option<SessionGuard> {
        let mut life = lock(&self.life);
        if life.done {
            return None;
        }
        life.workers += 1;
        Some(SessionGuard(self.clone()))
    }

    /// Used when `start` fails after creating guards: they end the session silently.
    pub(crate) fn make_quiet(&self) {
        lock(&self.life).quiet = true;
        self.stop.store(true, Ordering::SeqCst);
    }

    pub(crate) fn is_done(&self) -> bool {
        lock(&self.life).done
    }

    pub(crate) fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    pub(crate) fn emit(&self, event: Event) {
        self.sink.emit(event);
    }

    pub(crate) fn error(&self, error: EngineError) {
        self.emit(Event::Error {
            session: self.id,
            at: SystemTime::now(),
            error,
        });
    }

    pub(crate) fn next_conn_id(&self) -> ConnId {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn inject_fault(&self) {
        self.fault.store(true, Ordering::SeqCst);
    }

    /// Panics if a fault was injected (test hook, checked in worker loops).
    pub(crate) fn check_fault(&self) {
        if self.fault.swap(false, Ordering::SeqCst) {
            panic!("injected fault in session {}", self.id);
        }
    }

    /// Asks the session to stop: sets the flag its workers poll and, for a TCP client,
    /// closes its connection at once (a server's accept thread closes its clients within
    /// one poll interval; a UDP worker notices within its read timeout). Never blocks.
    pub(crate) fn request_stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        if self.kind == SessionKind::TcpClient {
            self.close_all(CloseReason::LocalDisconnect);
        }
    }

    /// Closes every connection with `reason` (they emit `Closed` from their own threads).
    pub(crate) fn close_all(&self, reason: CloseReason) {
        let conns: Vec<Arc<Conn>> = lock(&self.conns).values().cloned().collect();
        for c in conns {
            c.close(reason.clone());
        }
    }
}

/// Keeps a session alive; the last one dropped emits `Stopped`.
pub(crate) struct SessionGuard(Arc<SessionCore>);

impl SessionGuard {
    pub(crate) fn core(&self) -> &Arc<SessionCore> {
        &self.0
    }
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        // Stamped before the session is marked done, so a `Stopped` never carries a
        // time later than the moment `is_stopped()` turned true.
        let at = SystemTime::now();
        let (last, quiet) = {
            let mut life = lock(&self.0.life);
            life.workers = life.workers.saturating_sub(1);
            if life.workers == 0 && !life.done {
                life.done = true;
                (true, life.quiet)
            } else {
                (false, true)
            }
        };
        if last {
            self.0.stop.store(true, Ordering::SeqCst);
            if !quiet {
                self.0.emit(Event::Stopped {
                    session: self.0.id,
                    at,
                });
            }
        }
    }
}

/// Spawns a named worker thread running `body(&guards)` inside `catch_unwind`. A panic
/// becomes `Event::Error(WorkerPanic)`, then `on_panic(&guards)` cleans up; the guards
/// are dropped last, so `Closed`/`Stopped` come after the error. If the thread cannot be
/// spawned, the guards are handed back so the caller decides where they drop.
pub(crate) fn spawn_worker<G, B, P>(
    core: &Arc<SessionCore>,
    name: String,
    stack: usize,
    guards: G,
    body: B,
    on_panic: P,
) -> Result<(), (io::Error, G)>
where
    G: Send + 'static,
    B: FnOnce(&G) + Send + 'static,
    P: FnOnce(&G) + Send + 'static,
{
    let slot = Arc::new(Mutex::new(Some(guards)));
    let thread_slot = slot.clone();
    let core = core.clone();
    let thread_name = name.clone();
    let spawned = spawn_with_stack(name, stack, move || {
        let Some(guards) = lock(&thread_slot).take() else {
            return;
        };
        drop(thread_slot);
        // Caught here, not only by `spawn_with_stack`: the error must go out while the
        // guards are still alive.
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| body(&guards))) {
            core.error(EngineError::WorkerPanic {
                worker: thread_name,
                message: panic_message(payload.as_ref()),
            });
            // A panicking cleanup must not escape either.
            let _ = catch_unwind(AssertUnwindSafe(|| on_panic(&guards)));
        }
        drop(guards);
    });
    match spawned {
        Ok(_) => Ok(()),
        Err(e) => match lock(&slot).take() {
            Some(g) => Err((e, g)),
            // The thread started after all (cannot happen when spawn fails).
            None => Ok(()),
        },
    }
}

/// Why a push onto a send queue failed.
pub(crate) enum PushError {
    Closed,
    /// This queue is over `SEND_QUEUE_CAP`.
    Full,
    /// The engine-wide [`SendBudget`] is used up.
    Budget,
}

impl PushError {
    /// The error a sender sees (`conn`: the connection, None for UDP).
    pub(crate) fn to_engine(&self, conn: Option<ConnId>, budget: &SendBudget) -> EngineError {
        match self {
            PushError::Closed => EngineError::NotConnected,
            PushError::Full => EngineError::QueueFull { conn },
            PushError::Budget => EngineError::SendBudget {
                limit: budget.limit(),
                queued: budget.used(),
            },
        }
    }
}

/// What `push_marker` did.
pub(crate) enum Marker {
    /// Nothing is queued and no writer runs: the caller acts at once.
    Idle,
    /// Queued behind the other items; the running writer will meet it.
    Queued,
    /// Queued; no writer runs and the caller must start one.
    StartWriter,
    /// The queue is closed.
    Closed,
}

struct QueueState<T> {
    items: VecDeque<(T, Arc<[u8]>)>,
    bytes: usize,
    writer: bool,
    closed: bool,
}

/// Bytes waiting to be written, served by one writer thread that is started by the first
/// push and exits after `WRITER_IDLE` without work: idle connections cost no thread.
/// Every queued byte is also reserved in the engine-wide [`SendBudget`].
pub(crate) struct SendQueue<T> {
    state: Mutex<QueueState<T>>,
    ready: Condvar,
    budget: Arc<SendBudget>,
}

impl<T> SendQueue<T> {
    pub(crate) fn new(budget: Arc<SendBudget>) -> Self {
        SendQueue {
            state: Mutex::new(QueueState {
                items: VecDeque::new(),
                bytes: 0,
                writer: false,
                closed: false,
            }),
            ready: Condvar::new(),
            budget,
        }
    }

    /// A queue that accepts bytes but starts no writer until `release` (used until the
    /// connection has been announced, so no Tx event can precede `Connected`/`ClientJoined`).
    pub(crate) fn new_held(budget: Arc<SendBudget>) -> Self {
        let q = Self::new(budget);
        lock(&q.state).writer = true;
        q
    }

    /// Ends the hold of `new_held`; true if bytes are waiting (start a writer).
    pub(crate) fn release(&self) -> bool {
        let mut st = lock(&self.state);
        if st.items.is_empty() || st.closed {
            st.writer = false;
            false
        } else {
            true
        }
    }

    /// Queues `bytes`; Ok(true) means no writer is running and the caller must start one.
    pub(crate) fn push(&self, target: T, bytes: Arc<[u8]>) -> Result<bool, PushError> {
        let mut st = lock(&self.state);
        if st.closed {
            return Err(PushError::Closed);
        }
        if st.bytes.saturating_add(bytes.len()) > SEND_QUEUE_CAP {
            return Err(PushError::Full);
        }
        if !self.budget.reserve(bytes.len()) {
            return Err(PushError::Budget);
        }
        st.bytes += bytes.len();
        st.items.push_back((target, bytes));
        if st.writer {
            drop(st);
            self.ready.notify_one();
            Ok(false)
        } else {
            st.writer = true;
            Ok(true)
        }
    }

    /// Queues a marker (no bytes, never refused for size) behind everything queued, or
    /// says the queue is idle so the caller can act at once.
    pub(crate) fn push_marker(&self, target: T) -> Marker {
        let mut st = lock(&self.state);
        if st.closed {
            return Marker::Closed;
        }
        if st.items.is_empty() && !st.writer {
            return Marker::Idle;
        }
        st.items.push_back((target, Arc::from(Vec::new())));
        if st.writer {
            drop(st);
            self.ready.notify_one();
            Marker::Queued
        } else {
            st.writer = true;
            Marker::StartWriter
        }
    }

    /// Undoes the last push when its writer could not be started.
    pub(crate) fn unpush(&self) {
        let mut st = lock(&self.state);
        if let Some((_, b)) = st.items.pop_back() {
            st.bytes = st.bytes.saturating_sub(b.len());
            self.budget.release(b.len());
        }
        st.writer = false;
    }

    /// The writer's next job; None when closed or idle for `idle` (the writer then exits).
    pub(crate) fn next(&self, idle: Duration) -> Option<(T, Arc<[u8]>)> {
        let deadline = Instant::now() + idle;
        let mut st = lock(&self.state);
        loop {
            if st.closed {
                st.writer = false;
                return None;
            }
            if let Some(item) = st.items.pop_front() {
                return Some(item);
            }
            let now = Instant::now();
            if now >= deadline {
                st.writer = false;
                return None;
            }
            st = self
                .ready
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Bytes queued and not yet written (including the write in progress).
    pub(crate) fn queued(&self) -> usize {
        lock(&self.state).bytes
    }

    /// The writer finished with `len` bytes (written or failed).
    pub(crate) fn done(&self, len: usize) {
        let mut st = lock(&self.state);
        st.bytes = st.bytes.saturating_sub(len);
        self.budget.release(len);
    }

    /// No more pushes; queued bytes are discarded and the writer wakes up to exit.
    /// Returns how many queued bytes were thrown away (not counting a write in progress,
    /// which its writer accounts for).
    pub(crate) fn close(&self) -> u64 {
        let discarded = {
            let mut st = lock(&self.state);
            st.closed = true;
            let discarded: usize = st.items.iter().map(|(_, b)| b.len()).sum();
            st.items.clear();
            st.bytes = st.bytes.saturating_sub(discarded);
            self.budget.release(discarded);
            discarded
        };
        self.ready.notify_all();
        discarded as u64
    }
}

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
    pub(crate) fn keepalive(&self) -> std::io::Result<Option<super::Keepalive>> {
        super::keepalive::read(&self.stream)
    }

    /// A connection established at `since` (connect or accept time).
    pub(crate) fn new(
        core: &Arc<SessionCore>,
        stream: TcpStream,
        peer: SocketAddr,
        since: SystemTime,
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
        let _ = self.stream.shutdown(Shutdown::Both);
        wake_blocked(&self.stream);
    }

    /// Call after the connection's `Connected`/`ClientJoined` event: from now on sends
    /// start the writer (bytes sent in between are written now).
    pub(crate) fn announced(self: &Arc<Self>) {
        if self.queue.release()
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
            bytes,
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
            bytes: bytes.clone(),
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
