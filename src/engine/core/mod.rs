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
//!
//! The session side is here; the send queues are in `queue`, the TCP connection in
//! `conn`.

mod conn;
mod queue;

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use crate::sync::{lock, panic_message, spawn_with_stack};

pub(crate) use self::conn::{Conn, TlsSide};
pub(crate) use self::queue::{SendBudget, SendQueue};
use super::counters::CounterCell;
use super::responder::{Action, PeerKey, ReplyGuard, Responder, Timer, Verdict};
use super::sink::Sink;
use super::{CloseReason, ConnId, EngineError, Event, Notice, SessionId, SessionKind};

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
/// Largest read: one `Data` event per read of at most this many bytes. A flood through
/// 256 KiB reads took 15–25% less CPU per GiB than through 64 KiB reads (fewer
/// syscalls, events and records); only a connection whose reads fill its buffer gets one.
pub(crate) const READ_BUF: usize = 256 << 10;

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
