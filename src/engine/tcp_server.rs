//! TCP server: a listener on an accept thread, one reader thread per client, writer
//! threads on demand (see `core`).
//!
//! How stop wakes the accept loop: the listener is non-blocking and the accept thread
//! sleeps `ACCEPT_POLL` whenever `accept` says WouldBlock. `shutdown()` on a listening
//! socket wakes a blocked accept only on Linux, and the alternative (a wake-up connection
//! to our own address) can fail behind a firewall, with a full backlog or when the bound
//! address disappears. Polling is portable and cannot fail; it costs ~40 wake-ups/s and
//! at most `ACCEPT_POLL` of latency for the first client of a burst (a burst itself is
//! accepted at full speed: the loop drains all pending connections before sleeping).

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use socket2::{Domain, Protocol, Socket, Type};

use crate::sync::{lock, spawn_with_stack};

use super::core::{CONN_STACK, Conn, MAIN_STACK, SessionCore, TlsSide, spawn_worker};
use super::error::io_error;
use super::{
    CloseReason, EngineError, Event, Notice, REFUSAL_SUMMARY_EVERY, TcpServerConfig, resolve,
};

/// Sleep between accept polls when no client is waiting.
const ACCEPT_POLL: Duration = Duration::from_millis(25);
/// How long after the last accepted client the listener is polled fast.
const BURST_WINDOW: Duration = Duration::from_millis(250);
/// The fast poll interval during a burst.
const BURST_POLL: Duration = Duration::from_millis(1);
/// Most accepted clients waiting for the admitter thread.
const ADMIT_QUEUE: usize = 256;
/// A client's TLS handshake must finish within this.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Back-off after an accept error (e.g. out of file descriptors) so we never spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Binds and starts the accept thread; bind errors are returned to the caller.
///
/// `localhost` listens on every address it resolves to (127.0.0.1 and ::1 where the
/// system maps both), all on the same port (with port 0, the one the OS gave the first);
/// any other host on the first of its addresses that binds. One accept thread serves
/// every listener; a secondary address that cannot be bound is reported as an error
/// event and the others go on.
pub(crate) fn start(core: &Arc<SessionCore>, cfg: &TcpServerConfig) -> Result<(), EngineError> {
    // The certificate is read (or made) first: a bad PEM file is said before anything
    // listens.
    let tls = match &cfg.tls {
        Some(options) => Some(Arc::new(super::tls::TlsServer::new(options)?)),
        None => None,
    };
    let addrs = resolve(&cfg.host, cfg.port)?;
    let every = cfg.host.trim().eq_ignore_ascii_case("localhost");
    let mut first_err = None;
    let mut listeners: Vec<(TcpListener, SocketAddr)> = Vec::new();
    let mut later_errors = Vec::new();
    for addr in addrs {
        let addr = match listeners.first() {
            Some((_, first)) => SocketAddr::new(addr.ip(), first.port()),
            None => addr,
        };
        if listeners.iter().any(|(_, l)| l.ip() == addr.ip()) {
            continue;
        }
        match bind_listener(addr, cfg.backlog, cfg.ipv6_only) {
            Ok(l) => {
                let local = l
                    .local_addr()
                    .map_err(|e| io_error("reading the bound address", &e))?;
                listeners.push((l, local));
                if !every {
                    break;
                }
            }
            Err(e) if listeners.is_empty() => {
                first_err.get_or_insert(super::bind::bind_error(&e, addr, true));
            }
            Err(e) => later_errors.push(super::bind::bind_error(&e, addr, true)),
        }
    }
    let Some(local) = listeners.first().map(|(_, local)| *local) else {
        return Err(first_err.unwrap_or(EngineError::Resolve {
            host: cfg.host.clone(),
            cause: "no address to bind".into(),
        }));
    };
    *lock(&core.local) = Some(local);
    let Some(guard) = core.enter() else {
        return Err(EngineError::NotConnected);
    };
    let setup = Setup {
        max_clients: cfg.max_clients,
        keepalive: cfg.keepalive,
        tls,
    };
    let name = format!("sockscope-s{}-accept", core.id);
    spawn_worker(
        core,
        name,
        MAIN_STACK,
        guard,
        move |g| accept_loop(g.core(), listeners, later_errors, setup),
        |g| {
            g.core()
                .stop
                .store(true, std::sync::atomic::Ordering::SeqCst);
            g.core().close_all(CloseReason::ServerStopped);
        },
    )
    .map_err(|(e, guard)| {
        core.make_quiet();
        drop(guard);
        io_error("starting the accept thread", &e)
    })
}

/// A listening socket with the same binding rules on every system (see `bind`).
fn bind_listener(addr: SocketAddr, backlog: i32, ipv6_only: bool) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    super::bind::prepare(&socket, addr, ipv6_only)?;
    socket.bind(&addr.into())?;
    socket.listen(backlog.max(1))?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// True for "too many open files" (process or system), the error a flood of clients
/// causes when the fd limit is low.
fn is_fd_limit(e: &io::Error) -> bool {
    #[cfg(unix)]
    {
        matches!(e.raw_os_error(), Some(23) | Some(24))
    }
    #[cfg(windows)]
    {
        matches!(e.raw_os_error(), Some(10024))
    }
    #[cfg(not(any(unix, windows)))]
    {
        let _ = e;
        false
    }
}

/// Clients accepted and waiting for the admitter (at most [`ADMIT_QUEUE`]), and the
/// refusal summary (one `ClientRefused` per [`REFUSAL_SUMMARY_EVERY`]).
/// What every client gets: the limit, keepalive and TLS.
struct Setup {
    max_clients: usize,
    keepalive: Option<super::Keepalive>,
    tls: Option<Arc<super::tls::TlsServer>>,
}

struct Admission {
    max_clients: usize,
    keepalive: Option<super::Keepalive>,
    tls: Option<Arc<super::tls::TlsServer>>,
    /// Handed to the admitter and not yet admitted.
    pending: AtomicUsize,
    refusals: Mutex<Refusals>,
}

#[derive(Default)]
struct Refusals {
    /// Refused since the last report.
    count: u64,
    last: Option<(SocketAddr, SystemTime)>,
    reported_at: Option<Instant>,
}

impl Admission {
    /// True when one more client would pass the limit (open + waiting to be admitted).
    fn full(&self, core: &SessionCore) -> bool {
        // Both read under the connections' lock: a client moves from `pending` to the
        // connections under it (see `PendingSlot`), so it is never counted twice.
        let conns = lock(&core.conns);
        conns.len() + self.pending.load(Ordering::SeqCst) >= self.max_clients
    }

    /// Closes a refused client at once and reports it (summarised).
    fn refuse(&self, core: &SessionCore, stream: TcpStream, peer: SocketAddr) {
        drop(stream);
        {
            let mut r = lock(&self.refusals);
            r.count += 1;
            r.last = Some((peer, SystemTime::now()));
        }
        self.report(core, false);
    }

    /// Emits the pending refusal summary if a second passed since the last one (or
    /// `force`, at stop).
    fn report(&self, core: &SessionCore, force: bool) {
        let summary = {
            let mut r = lock(&self.refusals);
            let due = r
                .reported_at
                .is_none_or(|t| t.elapsed() >= REFUSAL_SUMMARY_EVERY);
            match r.last {
                Some((peer, at)) if r.count > 0 && (due || force) => {
                    let count = std::mem::take(&mut r.count);
                    r.reported_at = Some(Instant::now());
                    Some((peer, at, count))
                }
                _ => None,
            }
        };
        if let Some((peer, at, count)) = summary {
            core.emit(Event::ClientRefused {
                session: core.id,
                at,
                peer,
                limit: self.max_clients,
                count,
            });
        }
    }
}

/// A descriptor kept in reserve for refusing clients when the process runs out.
#[cfg(unix)]
fn reserve_fd() -> Option<std::fs::File> {
    std::fs::File::open("/dev/null").ok()
}

/// Windows has no per-process descriptor limit of this kind.
#[cfg(not(unix))]
fn reserve_fd() -> Option<()> {
    None
}

fn accept_loop(
    core: &Arc<SessionCore>,
    listeners: Vec<(TcpListener, SocketAddr)>,
    later_errors: Vec<EngineError>,
    setup: Setup,
) {
    // The first address last, so the status line ends on it.
    for (_, local) in listeners.iter().rev() {
        core.emit(Event::Listening {
            session: core.id,
            at: SystemTime::now(),
            local: *local,
        });
    }
    if let Some(tls) = &setup.tls
        && let Some(certificate) = tls.certificate()
    {
        core.notice(Notice::TlsIdentity {
            certificate: Box::new(certificate.clone()),
            self_signed: tls.self_signed(),
        });
    }
    for error in later_errors {
        core.error(error);
    }
    let admission = Arc::new(Admission {
        max_clients: setup.max_clients,
        keepalive: setup.keepalive,
        tls: setup.tls,
        pending: AtomicUsize::new(0),
        refusals: Mutex::new(Refusals::default()),
    });
    // Accepting is split from admitting (socket setup, the `ClientJoined` event, starting
    // the reader): this thread only empties the kernel's accept queue, so a burst of
    // thousands of clients never overflows it while readers are being started. The
    // hand-off is bounded: when the admitter is `ADMIT_QUEUE` behind, this thread waits
    // and the kernel's backlog holds the rest.
    let (to_admit, admissions) =
        std::sync::mpsc::sync_channel::<(TcpStream, SocketAddr, SystemTime)>(ADMIT_QUEUE);
    let admitter = {
        let core = core.clone();
        let admission = admission.clone();
        let name = format!("sockscope-s{}-admit", core.id);
        spawn_with_stack(name, MAIN_STACK, move || {
            // Caught here so the session hears of it while the admitter's state is alive.
            let admitted = catch_unwind(AssertUnwindSafe(|| {
                for (stream, peer, at) in admissions {
                    // After stop, queued clients are just closed.
                    // `admit` takes the client off `pending` when it becomes a
                    // connection (or is dropped).
                    let slot = PendingSlot::new(&admission.pending);
                    if !core.stopping() {
                        admit(&core, &admission, stream, peer, at, slot);
                    }
                }
            }));
            if admitted.is_err() {
                core.error(EngineError::WorkerPanic {
                    worker: format!("sockscope-s{}-admit", core.id),
                    message: "panicked while admitting a client".into(),
                });
            }
        })
        .ok()
    };
    // One descriptor held in reserve: when the process runs out, it is given up for a
    // moment to accept the waiting client and close it at once, so clients are refused
    // promptly (they see the connection close) instead of hanging in the backlog.
    let mut spare = reserve_fd();
    // Report an accept error once per streak, not every back-off.
    let mut failing = false;
    let mut last_accept = Instant::now()
        .checked_sub(BURST_WINDOW)
        .unwrap_or_else(Instant::now);
    while !core.stopping() {
        core.check_fault();
        // Every listener in turn; the thread sleeps only when none had a client waiting.
        let mut waiting = 0;
        for (listener, local) in &listeners {
            let local = *local;
            match listener.accept() {
                Ok((stream, peer)) => {
                    let at = SystemTime::now();
                    if failing {
                        failing = false;
                        core.notice(Notice::AcceptRecovered { local });
                    }
                    last_accept = Instant::now();
                    if core.stopping() {
                        break;
                    }
                    // The client limit holds at accept: a refused client costs no thread,
                    // no event of its own and no slot in the hand-off.
                    if admission.full(core) {
                        admission.refuse(core, stream, peer);
                        continue;
                    }
                    match &admitter {
                        Some(_) => {
                            admission.pending.fetch_add(1, Ordering::SeqCst);
                            if let Err(returned) = to_admit.send((stream, peer, at)) {
                                // The admitter is gone (it panicked): admit here instead.
                                admission.pending.fetch_sub(1, Ordering::SeqCst);
                                let (stream, peer, at) = returned.0;
                                admit(core, &admission, stream, peer, at, PendingSlot::none());
                            }
                        }
                        None => admit(core, &admission, stream, peer, at, PendingSlot::none()),
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => waiting += 1,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::Interrupted
                            | io::ErrorKind::ConnectionAborted
                            | io::ErrorKind::ConnectionReset
                    ) => {}
                Err(e) => {
                    let fd_limit = is_fd_limit(&e);
                    if !failing {
                        failing = true;
                        let error = if fd_limit {
                            EngineError::Io {
                                context: format!("accepting clients on {local}"),
                                cause: format!(
                                    "{e}: the open-file limit stops further accepts (raise it, e.g. `ulimit -n`); new clients are refused until descriptors free up, retrying every {} ms",
                                    ACCEPT_BACKOFF.as_millis()
                                ),
                            }
                        } else {
                            io_error(format!("accepting clients on {local}"), &e)
                        };
                        core.error(error);
                    }
                    if fd_limit && spare.take().is_some() {
                        // Refuse the waiting clients with the descriptor we kept.
                        while let Ok((stream, _)) = listener.accept() {
                            drop(stream);
                        }
                        spare = reserve_fd();
                    }
                    std::thread::sleep(ACCEPT_BACKOFF);
                }
            }
        }
        if waiting == listeners.len() {
            admission.report(core, false);
            // Right after a client came, poll fast: more of a burst is on its way and
            // the kernel's accept queue must not fill while this thread sleeps.
            let busy = last_accept.elapsed() < BURST_WINDOW;
            std::thread::sleep(if busy { BURST_POLL } else { ACCEPT_POLL });
        }
    }
    // Release the port before the clients are told, so `Stopped` means "rebindable".
    drop(listeners);
    // Every client handed over is admitted (or dropped) before the rest are closed.
    drop(to_admit);
    if let Some(admitter) = admitter {
        let _ = admitter.join();
    }
    admission.report(core, true);
    core.close_all(CloseReason::ServerStopped);
}

/// A client counted in `Admission::pending` until it is in the session's connections:
/// released under the connections' lock at the insert (so `full`, which reads both under
/// that lock, never counts it twice), or when dropped (the client was not admitted).
struct PendingSlot<'a> {
    pending: Option<&'a AtomicUsize>,
}

impl<'a> PendingSlot<'a> {
    fn new(pending: &'a AtomicUsize) -> Self {
        PendingSlot {
            pending: Some(pending),
        }
    }

    /// A client that was never counted (admitted on the accept thread).
    fn none() -> Self {
        PendingSlot { pending: None }
    }

    fn release(&mut self) {
        if let Some(pending) = self.pending.take() {
            pending.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

impl Drop for PendingSlot<'_> {
    fn drop(&mut self) {
        self.release();
    }
}

fn admit(
    core: &Arc<SessionCore>,
    admission: &Admission,
    stream: TcpStream,
    peer: SocketAddr,
    at: SystemTime,
    mut slot: PendingSlot<'_>,
) {
    if lock(&core.conns).len() >= admission.max_clients {
        admission.refuse(core, stream, peer);
        return;
    }
    // Accepted sockets inherit non-blocking mode on Windows and the BSDs.
    if let Err(e) = stream.set_nonblocking(false) {
        core.error(io_error(format!("setting up client {peer}"), &e));
        return;
    }
    let _ = stream.set_nodelay(true);
    if let Some(keepalive) = &admission.keepalive
        && let Err(e) = super::keepalive::apply(&stream, keepalive)
        && !super::keepalive::connection_gone(&e)
    {
        core.error(io_error(format!("turning keepalive on for {peer}"), &e));
    }
    let (conn, tls) = match &admission.tls {
        None => (Conn::new(core, stream, peer, at), None),
        Some(config) => match Conn::new_tls(core, stream, peer, at) {
            Ok((conn, stream)) => {
                let side = TlsSide::Server {
                    config: config.clone(),
                    timeout: TLS_HANDSHAKE_TIMEOUT,
                };
                (conn, Some((stream, side)))
            }
            Err(e) => {
                core.error(io_error(format!("setting up client {peer}"), &e));
                return;
            }
        },
    };
    let Some(guard) = conn.enter() else {
        return;
    };
    // Sendable and kickable as soon as `ClientJoined` is seen; its writer is held until
    // the event is queued, so no Tx event can precede it.
    {
        let mut conns = lock(&core.conns);
        conns.insert(conn.id, conn.clone());
        slot.release();
    }
    core.emit(Event::ClientJoined {
        session: core.id,
        conn: conn.id,
        peer,
        local: conn.local,
        at,
    });
    conn.announced();
    let name = format!("sockscope-s{}-c{}-rx", core.id, conn.id);
    let reader = conn.clone();
    let on_panic = conn.clone();
    if let Err((e, guard)) = spawn_worker(
        core,
        name,
        CONN_STACK,
        guard,
        move |_| match tls {
            Some((stream, side)) => {
                reader.serve_tls(stream, &side);
            }
            None => reader.read_loop(),
        },
        move |_| on_panic.close(CloseReason::Error("reader panicked".into())),
    ) {
        conn.close(CloseReason::Error(format!(
            "cannot start a thread for this client: {e}"
        )));
        core.error(io_error(
            format!("starting a reader thread for client {peer}"),
            &e,
        ));
        drop(guard);
    }
}
