//! TCP client: resolve and connect on a dialer thread, then one reader loop on the
//! session worker and writer threads on demand (see `core`).
//!
//! Why a separate dialer: name resolution and `connect_timeout` cannot be interrupted
//! portably, but stop must be prompt. The session worker waits for the dialer's messages
//! in 20 ms slices and leaves as soon as stop is asked; an abandoned dialer finishes its
//! attempt on its own (bounded by the connect timeout) and drops the socket.

use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::time::{Duration, SystemTime};

use socket2::{Domain, Protocol, Socket, Type};

use crate::sync::{lock, spawn_with_stack};

use super::core::{Conn, MAIN_STACK, SessionCore, spawn_worker};
use super::error::{io_error, map_io};
use super::{CloseReason, EngineError, Event, TcpClientConfig, resolve};

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
    let Some(guard) = core.enter() else {
        return Err(EngineError::NotConnected);
    };
    let name = format!("sockscope-s{}-client", core.id);
    spawn_worker(
        core,
        name,
        MAIN_STACK,
        guard,
        move |g| run(g.core(), &cfg),
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

/// Resolves and tries each address in turn; reports progress to the session worker and
/// stops early if the worker is gone (stop was asked).
fn dial(host: String, port: u16, timeout: Duration, tx: Sender<Dial>) {
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
        let attempt = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
            .and_then(|s| s.connect_timeout(&addr.into(), timeout).map(|()| s));
        match attempt {
            Ok(s) => {
                let _ = tx.send(Dial::Done(Ok((s.into(), addr))));
                return;
            }
            Err(e) => last = Some(map_io(&e, addr, "connecting to", timeout)),
        }
    }
    let _ = tx.send(Dial::Done(Err(last.unwrap_or(EngineError::Resolve {
        host,
        cause: "the name has no addresses".into(),
    }))));
}

fn run(core: &Arc<SessionCore>, cfg: &TcpClientConfig) {
    let (tx, rx) = mpsc::channel();
    let (host, port, timeout) = (cfg.host.clone(), cfg.port, cfg.connect_timeout);
    // A panicking dialer drops `tx`, which the loop below reports as an early end.
    let dialer = spawn_with_stack(
        format!("sockscope-s{}-dial", core.id),
        MAIN_STACK,
        move || dial(host, port, timeout, tx),
    );
    if let Err(e) = dialer {
        core.error(io_error("starting the connect thread", &e));
        return;
    }
    let (stream, dialled) = loop {
        if core.stopping() {
            return;
        }
        match rx.recv_timeout(Duration::from_millis(20)) {
            Ok(Dial::Connecting(addr, at)) => core.emit(Event::Connecting {
                session: core.id,
                at,
                addr,
            }),
            Ok(Dial::Done(Ok(done))) => break done,
            Ok(Dial::Done(Err(e))) => {
                core.error(e);
                return;
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                core.error(EngineError::Io {
                    context: "connecting".into(),
                    cause: "the connect thread ended unexpectedly".into(),
                });
                return;
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
    let conn = Conn::new(core, stream, peer, SystemTime::now());
    *lock(&core.local) = Some(conn.local);
    let Some(guard) = conn.enter() else {
        return;
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
    conn.read_loop();
    // One connection per client session: when it ends, the session ends.
    core.stop.store(true, std::sync::atomic::Ordering::SeqCst);
    drop(guard);
}
