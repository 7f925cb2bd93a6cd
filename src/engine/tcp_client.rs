//! TCP client: resolve and connect on a dialer thread, then one reader loop on the
//! session worker and writer threads on demand (see `core`).
//!
//! Why a separate dialer: name resolution and `connect_timeout` cannot be interrupted
//! portably, but stop must be prompt. The session worker waits for the dialer's messages
//! in 20 ms slices and leaves as soon as stop is asked; an abandoned dialer finishes its
//! attempt on its own (bounded by the connect timeout) and drops the socket.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::time::{Duration, Instant, SystemTime};

use socket2::{Domain, Protocol, Socket, Type};

use crate::sync::{lock, spawn_with_stack};

use super::core::{Conn, MAIN_STACK, SessionCore, TlsSide, spawn_worker};
use super::error::{io_error, map_io};
use super::{CloseReason, EngineError, Event, Notice, TcpClientConfig, resolve};

enum Dial {
    Connecting(SocketAddr, SystemTime),
    /// The connected stream and the address it was dialled at.
    Done(Result<(TcpStream, SocketAddr), EngineError>),
}

/// Starts the client worker; everything after validation is reported by events.
pub(crate) fn start(core: &Arc<SessionCore>, cfg: TcpClientConfig) -> Result<(), EngineError> {
    if cfg.host.trim().is_empty() {
        return Err(EngineError::InvalidAddress {
            input: format!(":{}", cfg.port),
        });
    }
    // The system's roots are read once per session (every reconnect reuses them).
    let tls = match &cfg.tls {
        Some(options) => Some(Arc::new(super::tls::TlsClient::new(options)?)),
        None => None,
    };
    let Some(guard) = core.enter() else {
        return Err(EngineError::NotConnected);
    };
    let name = format!("sockscope-s{}-client", core.id);
    spawn_worker(
        core,
        name,
        MAIN_STACK,
        guard,
        move |g| run(g.core(), &cfg, tls.as_ref()),
        |g| {
            g.core()
                .stop
                .store(true, std::sync::atomic::Ordering::SeqCst);
            g.core()
                .close_all(CloseReason::Error("client worker panicked".into()));
        },
    )
    .map_err(|(e, guard)| {
        core.make_quiet();
        drop(guard);
        io_error("starting the client thread", &e)
    })
}

/// Where to dial from: the configured local address and port, in the family of `target`
/// (an unspecified local IP takes the target's family, so `0.0.0.0:5000` works for an
/// IPv6 server too). `Err` when a specific local IP is of the other family.
fn local_for(local: SocketAddr, target: SocketAddr) -> Result<SocketAddr, EngineError> {
    if local.ip().is_unspecified() {
        let ip: IpAddr = if target.is_ipv4() {
            Ipv4Addr::UNSPECIFIED.into()
        } else {
            Ipv6Addr::UNSPECIFIED.into()
        };
        return Ok(SocketAddr::new(ip, local.port()));
    }
    if local.is_ipv4() != target.is_ipv4() {
        return Err(EngineError::Io {
            context: format!("connecting from {local} to {target}"),
            cause: "the local address and the server are of different IP versions".into(),
        });
    }
    Ok(local)
}

/// One connect attempt to `addr`, bound first to `local` when given.
fn connect_from(
    addr: SocketAddr,
    local: Option<SocketAddr>,
    timeout: Duration,
) -> Result<Socket, EngineError> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
        .map_err(|e| io_error("creating a socket", &e))?;
    if let Some(local) = local {
        let from = local_for(local, addr)?;
        // A fixed source port must be usable again right after a reconnect, while the
        // previous connection from it sits in TIME_WAIT (Linux and macOS need
        // SO_REUSEADDR for that; Windows allows it as it is).
        #[cfg(not(windows))]
        if from.port() != 0 {
            let _ = socket.set_reuse_address(true);
        }
        socket
            .bind(&from.into())
            .map_err(|e| super::bind::bind_error(&e, from, false))?;
    }
    socket
        .connect_timeout(&addr.into(), timeout)
        .map_err(|e| map_io(&e, addr, "connecting to", timeout))?;
    Ok(socket)
}

/// Resolves and tries each address in turn; reports progress to the session worker and
/// stops early if the worker is gone (stop was asked).
fn dial(host: String, port: u16, timeout: Duration, local: Option<SocketAddr>, tx: Sender<Dial>) {
    let addrs = match resolve(&host, port) {
        Ok(a) => a,
        Err(e) => {
            let _ = tx.send(Dial::Done(Err(e)));
            return;
        }
    };
    let mut last = None;
    for addr in addrs {
        if tx.send(Dial::Connecting(addr, SystemTime::now())).is_err() {
            return;
        }
        match connect_from(addr, local, timeout) {
            Ok(s) => {
                let _ = tx.send(Dial::Done(Ok((s.into(), addr))));
                return;
            }
            Err(e) => last = Some(e),
        }
    }
    let _ = tx.send(Dial::Done(Err(last.unwrap_or(EngineError::Resolve {
        host,
        cause: "the name has no addresses".into(),
    }))));
}

/// How one connection attempt ended.
enum Outcome {
    /// Stop was asked.
    Stopped,
    /// The attempt failed (reported already).
    Failed,
    /// The connection was up and has ended.
    Ended,
}

/// Connects, and with reconnect on connects again after each loss or failure, waiting
/// the growing delay between attempts. One session throughout: the handle, the compose
/// box, automation and the recording carry on; each connection gets its own id.
fn run(core: &Arc<SessionCore>, cfg: &TcpClientConfig, tls: Option<&Arc<super::tls::TlsClient>>) {
    let mut attempt = 0u32;
    loop {
        match connect_once(core, cfg, tls) {
            Outcome::Stopped => return,
            Outcome::Failed => {}
            Outcome::Ended => attempt = 0,
        }
        let Some(reconnect) = &cfg.reconnect else {
            return;
        };
        if core.stopping() {
            return;
        }
        attempt = attempt.saturating_add(1);
        // Never a tight loop of attempts, whatever the configured delay.
        let delay = reconnect.delay_for(attempt).max(MIN_RECONNECT_DELAY);
        core.notice(Notice::Reconnecting { attempt, delay });
        let until = Instant::now() + delay;
        while Instant::now() < until {
            if core.stopping() {
                return;
            }
            std::thread::sleep(until.saturating_duration_since(Instant::now()).min(SLICE));
        }
    }
}

/// The shortest wait between two reconnect attempts.
const MIN_RECONNECT_DELAY: Duration = Duration::from_millis(10);

/// How often a waiting client looks for stop.
const SLICE: Duration = Duration::from_millis(20);

fn connect_once(
    core: &Arc<SessionCore>,
    cfg: &TcpClientConfig,
    tls: Option<&Arc<super::tls::TlsClient>>,
) -> Outcome {
    let (tx, rx) = mpsc::channel();
    let (host, port, timeout, local) = (cfg.host.clone(), cfg.port, cfg.connect_timeout, cfg.local);
    // A panicking dialer drops `tx`, which the loop below reports as an early end.
    let dialer = spawn_with_stack(
        format!("sockscope-s{}-dial", core.id),
        MAIN_STACK,
        move || dial(host, port, timeout, local, tx),
    );
    if let Err(e) = dialer {
        core.error(io_error("starting the connect thread", &e));
        return Outcome::Failed;
    }
    let (stream, dialled) = loop {
        if core.stopping() {
            return Outcome::Stopped;
        }
        match rx.recv_timeout(SLICE) {
            Ok(Dial::Connecting(addr, at)) => core.emit(Event::Connecting {
                session: core.id,
                at,
                addr,
            }),
            Ok(Dial::Done(Ok(done))) => break done,
            Ok(Dial::Done(Err(e))) => {
                core.error(e);
                return Outcome::Failed;
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                core.error(EngineError::Io {
                    context: "connecting".into(),
                    cause: "the connect thread ended unexpectedly".into(),
                });
                return Outcome::Failed;
            }
        }
    };
    let _ = stream.set_nodelay(cfg.nodelay);
    if let Some(keepalive) = &cfg.keepalive
        && let Err(e) = super::keepalive::apply(&stream, keepalive)
        && !super::keepalive::connection_gone(&e)
    {
        core.error(io_error("turning keepalive on", &e));
    }
    // A server that resets at once leaves no peer address to read back: the address we
    // dialled is the peer, and the reader reports the reset as the close reason.
    let peer = stream.peer_addr().unwrap_or(dialled);
    let (conn, tls) = match tls {
        None => (Conn::new(core, stream, peer, SystemTime::now()), None),
        Some(config) => match Conn::new_tls(core, stream, peer, SystemTime::now()) {
            Ok((conn, stream)) => {
                let side = TlsSide::Client {
                    config: config.clone(),
                    host: cfg.host.clone(),
                    timeout: cfg.connect_timeout,
                };
                (conn, Some((stream, side)))
            }
            Err(e) => {
                core.error(io_error("setting up the connection", &e));
                return Outcome::Failed;
            }
        },
    };
    *lock(&core.local) = Some(conn.local);
    let Some(guard) = conn.enter() else {
        return Outcome::Stopped;
    };
    // Sendable as soon as `Connected` is seen; its writer is held until then.
    lock(&core.conns).insert(conn.id, conn.clone());
    core.emit(Event::Connected {
        session: core.id,
        at: conn.since,
        conn: conn.id,
        local: conn.local,
        peer,
    });
    conn.announced();
    // A stop that raced with the insert above found no connection to close.
    if core.stopping() {
        conn.close(CloseReason::LocalDisconnect);
    }
    let was_up = match tls {
        Some((stream, side)) => conn.serve_tls(stream, &side),
        None => {
            conn.read_loop();
            true
        }
    };
    if cfg.reconnect.is_none() || core.stopping() {
        // One connection per client session: when it ends, the session ends.
        core.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        drop(guard);
        return Outcome::Stopped;
    }
    drop(guard);
    // The writer may still be flushing replies after the peer's half-close: the next
    // connection starts once this one has closed (its `Closed` comes first in the log).
    while lock(&core.conns).contains_key(&conn.id) {
        if core.stopping() {
            return Outcome::Stopped;
        }
        std::thread::sleep(SLICE);
    }
    if was_up {
        Outcome::Ended
    } else {
        // A failed TLS handshake counts as a failed attempt: the waits keep growing.
        Outcome::Failed
    }
}
