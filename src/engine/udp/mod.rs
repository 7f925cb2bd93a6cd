//! UDP: one bound socket, a receive worker, and a writer thread on demand.
//!
//! Received datagrams are queued with `try_emit`: a UDP flood must never stall the
//! socket (the kernel would drop instead, invisibly). What does not fit the event queue
//! is counted and reported as a cumulative `Dropped` event once the queue has room
//! again, at most every `DROP_REPORT_EVERY`, and once more at stop. The socket has a read
//! timeout so the worker notices stop on every OS without closing the socket under it.
//!
//! What the kernel drops is counted too where the system says so: on Linux the socket
//! has SO_RXQ_OVFL on and every `recvmsg` carries the cumulative count of datagrams the
//! kernel dropped because the receive buffer was full (`Dropped::kernel`). The receive
//! buffer actually granted is read back and reported (`Notice::RecvBuffer`): the OS
//! clamps what is asked (Linux: `net.core.rmem_max`).
//!
//! Per-peer counters are kept for the first [`MAX_UDP_PEERS`] addresses; the rest are
//! summed in one "others" entry ([`UdpState::others`]), so a sweep of source ports
//! cannot grow memory without end.

mod recv;
mod sys;

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use socket2::{Domain, Protocol, SockRef, Socket, Type};

use crate::codec::lazy::TextScan;
use crate::sync::lock;

use self::sys::{kernel_drops, pktinfo};
use super::core::{CONN_STACK, MAIN_STACK, SendQueue, SessionCore, WRITER_IDLE, spawn_worker};
use super::counters::Counters;
use super::error::{MAX_DATAGRAM, io_error, map_io};
use super::interfaces::InterfaceAddr;
use super::multicast::{self, GroupSpec, GroupState, GroupStatus, MulticastOptions};
use super::responder::Action;
use super::{
    Direction, EngineError, Event, Notice, SendTarget, UdpConfig, parse_host_port, resolve,
};

/// How often the worker wakes up to check for stop when no datagram arrives.
const READ_TIMEOUT: Duration = Duration::from_millis(100);
/// Minimum gap between two `Dropped` events.
const DROP_REPORT_EVERY: Duration = Duration::from_millis(200);
/// Receive buffer: the largest possible datagram.
const RECV_BUF: usize = 65_536;
/// Most UDP peers with counters of their own; the rest share the "others" entry.
pub const MAX_UDP_PEERS: usize = 4096;

#[derive(Default)]
struct Peers {
    order: Vec<SocketAddr>,
    counters: HashMap<SocketAddr, Counters>,
    /// Everything to and from peers beyond `MAX_UDP_PEERS`.
    others: Counters,
    /// Datagrams counted in `others` (each one may be a different peer).
    others_seen: bool,
}

impl Peers {
    fn entry(&mut self, addr: SocketAddr) -> &mut Counters {
        if !self.counters.contains_key(&addr) {
            if self.order.len() >= MAX_UDP_PEERS {
                self.others_seen = true;
                return &mut self.others;
            }
            self.order.push(addr);
        }
        self.counters.entry(addr).or_default()
    }
}

/// A UDP session's shared state (the handle sends through it).
pub(crate) struct UdpState {
    core: Arc<SessionCore>,
    socket: UdpSocket,
    /// `localhost`: the sockets on its other addresses (same port), each with its own
    /// receive worker; sends go out by the socket of the destination's family.
    extra: Vec<(UdpSocket, SocketAddr)>,
    /// Secondary addresses that could not be bound (reported once the session is up).
    extra_errors: Mutex<Vec<EngineError>>,
    default_peer: Option<SocketAddr>,
    last_peer: Mutex<Option<SocketAddr>>,
    peers: Mutex<Peers>,
    queue: SendQueue<SocketAddr>,
    dropped_datagrams: AtomicU64,
    dropped_bytes: AtomicU64,
    /// Datagrams the kernel dropped (Linux SO_RXQ_OVFL, cumulative).
    kernel_dropped: AtomicU64,
    /// SO_RCVBUF asked for and granted.
    recv_buffer: (usize, usize),
    /// Sending options for groups, applied by the worker when it starts.
    multicast: MulticastOptions,
    /// The session's groups and where they stand (the window reads it).
    groups: Mutex<Vec<GroupState>>,
    /// Joins (true) and leaves (false) the worker has yet to carry out.
    group_changes: Mutex<Vec<(GroupSpec, bool)>>,
    /// New sending options for groups, asked while the socket runs.
    send_options: Mutex<Option<MulticastOptions>>,
    /// True while `group_changes` or `send_options` hold something (checked once per
    /// loop, lock-free).
    changes_pending: AtomicBool,
}

fn bind_udp(addr: SocketAddr, recv_buffer: usize, ipv6_only: bool) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    super::bind::prepare(&socket, addr, ipv6_only)?;
    // Best effort: the OS may clamp or refuse a big buffer; the socket still works.
    if recv_buffer > 0 {
        let _ = socket.set_recv_buffer_size(recv_buffer);
    }
    // A debugging tool should be able to send to a broadcast address (a dual-stack
    // socket sends IPv4 broadcasts too). Without SO_BROADCAST the send fails with
    // "permission denied".
    let _ = socket.set_broadcast(true);
    socket.bind(&addr.into())?;
    socket.set_read_timeout(Some(READ_TIMEOUT))?;
    kernel_drops::enable(&socket);
    Ok(socket)
}

/// Binds, resolves the configured peer and starts the receive worker.
pub(crate) fn start(
    core: &Arc<SessionCore>,
    cfg: &UdpConfig,
) -> Result<Arc<UdpState>, EngineError> {
    let addrs = resolve(&cfg.host, cfg.port)?;
    // `localhost` binds every address it resolves to, on one port (see `tcp_server`).
    let every = cfg.host.trim().eq_ignore_ascii_case("localhost");
    let mut first_err = None;
    let mut bound: Option<(Socket, SocketAddr)> = None;
    let mut extra: Vec<(UdpSocket, SocketAddr)> = Vec::new();
    let mut extra_errors = Vec::new();
    for addr in addrs {
        let addr = match &bound {
            Some((_, first)) => SocketAddr::new(addr.ip(), first.port()),
            None => addr,
        };
        let taken = bound.as_ref().is_some_and(|(_, a)| a.ip() == addr.ip())
            || extra.iter().any(|(_, a)| a.ip() == addr.ip());
        if taken {
            continue;
        }
        match bind_udp(addr, cfg.recv_buffer, cfg.ipv6_only) {
            Ok(s) => {
                let local = s
                    .local_addr()
                    .ok()
                    .and_then(|a| a.as_socket())
                    .unwrap_or(addr);
                if bound.is_none() {
                    bound = Some((s, local));
                    if !every {
                        break;
                    }
                } else {
                    extra.push((UdpSocket::from(s), local));
                }
            }
            Err(e) if bound.is_none() => {
                first_err.get_or_insert(super::bind::bind_error(&e, addr, false));
            }
            Err(e) => extra_errors.push(super::bind::bind_error(&e, addr, false)),
        }
    }
    let socket: Socket = match bound {
        Some((s, _)) => s,
        None => {
            return Err(first_err.unwrap_or(EngineError::Resolve {
                host: cfg.host.clone(),
                cause: "no address to bind".into(),
            }));
        }
    };
    let granted = socket.recv_buffer_size().unwrap_or(0);
    let socket: UdpSocket = socket.into();
    let local = socket
        .local_addr()
        .map_err(|e| io_error("reading the bound address", &e))?;
    let default_peer = match cfg.peer.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => {
            let (host, port) = parse_host_port(text)?;
            let addrs = resolve(&host, port)?;
            // Prefer an address the socket's family can reach.
            let same = addrs
                .iter()
                .find(|a| a.is_ipv4() == local.is_ipv4())
                .copied();
            same.or(addrs.first().copied())
        }
    };
    *lock(&core.local) = Some(local);
    let state = Arc::new(UdpState {
        core: core.clone(),
        socket,
        extra,
        extra_errors: Mutex::new(extra_errors),
        default_peer,
        last_peer: Mutex::new(None),
        peers: Mutex::new(Peers::default()),
        queue: SendQueue::new(core.send_budget.clone()),
        dropped_datagrams: AtomicU64::new(0),
        dropped_bytes: AtomicU64::new(0),
        kernel_dropped: AtomicU64::new(0),
        recv_buffer: (cfg.recv_buffer, granted),
        multicast: cfg.multicast.clone(),
        groups: Mutex::new(Vec::new()),
        group_changes: Mutex::new(Vec::new()),
        send_options: Mutex::new(None),
        changes_pending: AtomicBool::new(false),
    });
    for spec in &cfg.multicast.join {
        state.queue_group(spec.clone(), true);
    }
    let Some(guard) = core.enter() else {
        return Err(EngineError::NotConnected);
    };
    let worker = state.clone();
    let on_panic = state.clone();
    spawn_worker(
        core,
        format!("sockscope-s{}-udp", core.id),
        MAIN_STACK,
        guard,
        move |_| worker.recv_loop(local),
        move |_| {
            on_panic.core.stop.store(true, Ordering::SeqCst);
            on_panic.queue.close();
        },
    )
    .map_err(|(e, guard)| {
        core.make_quiet();
        drop(guard);
        io_error("starting the UDP thread", &e)
    })?;
    for index in 0..state.extra.len() {
        let Some(guard) = core.enter() else {
            break;
        };
        let worker = state.clone();
        let spawned = spawn_worker(
            core,
            format!("sockscope-s{}-udp{}", core.id, index + 1),
            CONN_STACK,
            guard,
            move |_| worker.recv_extra(index),
            |_| {},
        );
        if let Err((e, _guard)) = spawned {
            core.error(io_error("starting a UDP thread", &e));
        }
    }
    Ok(state)
}

impl UdpState {
    pub(crate) fn peers(&self) -> Vec<(SocketAddr, Counters)> {
        let p = lock(&self.peers);
        p.order
            .iter()
            .map(|a| (*a, p.counters.get(a).copied().unwrap_or_default()))
            .collect()
    }

    /// Counters of the peers beyond `MAX_UDP_PEERS`, if there were any.
    pub(crate) fn others(&self) -> Option<Counters> {
        let p = lock(&self.peers);
        p.others_seen.then_some(p.others)
    }

    pub(crate) fn dropped(&self) -> (u64, u64) {
        (
            self.dropped_datagrams.load(Ordering::Relaxed),
            self.dropped_bytes.load(Ordering::Relaxed),
        )
    }

    /// Datagrams the kernel dropped so far (Linux; 0 elsewhere).
    pub(crate) fn kernel_dropped(&self) -> u64 {
        self.kernel_dropped.load(Ordering::Relaxed)
    }

    /// SO_RCVBUF (asked for, granted).
    pub(crate) fn recv_buffer(&self) -> (usize, usize) {
        self.recv_buffer
    }

    /// Emits the cumulative drop totals (blocking when `blocking`).
    fn report_drops(&self, blocking: bool) -> bool {
        let (datagrams, bytes) = self.dropped();
        let event = Event::Dropped {
            session: self.core.id,
            at: SystemTime::now(),
            datagrams,
            bytes,
            kernel: self.kernel_dropped(),
        };
        if blocking {
            self.core.emit(event);
            true
        } else {
            self.core.sink.try_emit(self.core.id, event)
        }
    }

    /// Queues a join (`join`) or leave of `spec` for the worker and marks the group.
    /// A join of a group already joined, or a leave of one not joined, changes nothing
    /// (the OS would refuse the first with "address in use").
    pub(crate) fn queue_group(&self, spec: GroupSpec, join: bool) {
        {
            let mut groups = lock(&self.groups);
            match groups.iter_mut().find(|g| g.spec == spec) {
                Some(g) if join && g.status == GroupStatus::Joined => return,
                Some(g) if join => g.status = GroupStatus::Joining,
                Some(g) if g.status != GroupStatus::Joined => {
                    g.status = GroupStatus::Left;
                    return;
                }
                Some(_) => {}
                None if join => groups.push(GroupState {
                    spec: spec.clone(),
                    status: GroupStatus::Joining,
                    received: 0,
                }),
                None => return,
            }
        }
        lock(&self.group_changes).push((spec, join));
        self.changes_pending.store(true, Ordering::Release);
    }

    /// Queues new sending options (TTL, loopback, interface) for the worker.
    pub(crate) fn queue_send_options(&self, options: MulticastOptions) {
        *lock(&self.send_options) = Some(options);
        self.changes_pending.store(true, Ordering::Release);
    }

    /// The multicast TTL / hop limit and loopback the socket holds now (read back from
    /// the OS).
    pub(crate) fn multicast_readback(&self) -> io::Result<(u32, bool)> {
        let socket = SockRef::from(&self.socket);
        if self.socket.local_addr()?.is_ipv4() {
            Ok((socket.multicast_ttl_v4()?, socket.multicast_loop_v4()?))
        } else {
            Ok((socket.multicast_hops_v6()?, socket.multicast_loop_v6()?))
        }
    }

    /// The session's groups and where they stand.
    pub(crate) fn groups(&self) -> Vec<GroupState> {
        lock(&self.groups).clone()
    }

    /// Carries out the queued joins and leaves (on the worker), one event each.
    fn change_groups(&self, local: SocketAddr, interfaces: &mut Option<Vec<InterfaceAddr>>) {
        if !self.changes_pending.swap(false, Ordering::Acquire) {
            return;
        }
        let options = lock(&self.send_options).take();
        if let Some(options) = options {
            let all = self.interfaces(interfaces);
            let socket = SockRef::from(&self.socket);
            match multicast::apply_send_options(socket, local, &options, all, true) {
                Ok(()) => self.core.notice(Notice::MulticastSending {
                    ttl: options.ttl,
                    loopback: options.loopback,
                    interface: options.interface,
                }),
                Err(e) => self.core.error(e),
            }
        }
        let changes = std::mem::take(&mut *lock(&self.group_changes));
        for (spec, join) in changes {
            let all = self.interfaces(interfaces);
            let result = multicast::change(SockRef::from(&self.socket), local, &spec, join, all);
            if result.is_ok() && join {
                pktinfo::enable(&self.socket, local);
            }
            {
                let mut groups = lock(&self.groups);
                if let Some(g) = groups.iter_mut().find(|g| g.spec == spec) {
                    g.status = match (&result, join) {
                        (Ok(()), true) => GroupStatus::Joined,
                        (Ok(()), false) => GroupStatus::Left,
                        (Err(e), true) => GroupStatus::Failed(e.clone()),
                        // A failed leave leaves the membership as it was.
                        (Err(_), false) => g.status.clone(),
                    };
                }
            }
            match result {
                Ok(()) if join => self.core.notice(Notice::GroupJoined { group: spec }),
                Ok(()) => self.core.notice(Notice::GroupLeft { group: spec }),
                Err(e) => self.core.error(e),
            }
        }
    }

    /// The interface list, read once per batch of changes that needs it.
    fn interfaces<'a>(&self, cache: &'a mut Option<Vec<InterfaceAddr>>) -> &'a [InterfaceAddr] {
        cache.get_or_insert_with(|| super::interfaces::list().unwrap_or_default())
    }

    /// Counts a datagram addressed to a group (the destination the OS reported).
    fn count_group(&self, destination: IpAddr) {
        let mut groups = lock(&self.groups);
        if let Some(g) = groups
            .iter_mut()
            .find(|g| g.spec.group == destination && g.status == GroupStatus::Joined)
        {
            g.received += 1;
        }
    }

    /// Bytes queued for sending and not yet sent.
    pub(crate) fn queued_bytes(&self) -> usize {
        self.queue.queued()
    }

    /// Carries out one auto-reply action towards `peer` (`Close` means nothing here).
    fn apply(self: &Arc<Self>, peer: SocketAddr, action: Action) {
        if let Action::Send { bytes, .. } = action
            && let Err(e) = self.send(SendTarget::Peer(peer), bytes)
        {
            self.core.action_error(e);
        }
    }

    /// Runs the responder on one datagram: immediate actions now, delayed ones on the
    /// session's timer.
    fn respond(self: &Arc<Self>, peer: SocketAddr, local: SocketAddr, bytes: &[u8]) {
        let Some(actions) = self.core.ask_responder(None, peer, local, bytes, false) else {
            return;
        };
        let now = Instant::now();
        for action in actions {
            let delay = action.delay();
            if delay.is_zero() {
                self.apply(peer, action);
            } else {
                let state = Arc::downgrade(self);
                self.core.timer.schedule(
                    &self.core,
                    now,
                    delay,
                    Box::new(move || {
                        if let Some(state) = state.upgrade() {
                            state.apply(peer, action);
                        }
                    }),
                );
            }
        }
    }

    /// The socket to send to `peer` by: the main one, unless only a `localhost` socket
    /// of the other family can reach it.
    fn socket_for(&self, peer: SocketAddr) -> &UdpSocket {
        if self.extra.is_empty() {
            return &self.socket;
        }
        let main_v4 = self.socket.local_addr().is_ok_and(|a| a.is_ipv4());
        if main_v4 == peer.is_ipv4() {
            return &self.socket;
        }
        self.extra
            .iter()
            .find(|(_, local)| local.is_ipv4() == peer.is_ipv4())
            .map_or(&self.socket, |(s, _)| s)
    }

    /// Queues a datagram for each target; never blocks.
    pub(crate) fn send(
        self: &Arc<Self>,
        target: SendTarget,
        bytes: Vec<u8>,
    ) -> Result<usize, EngineError> {
        if bytes.len() > MAX_DATAGRAM {
            return Err(EngineError::Io {
                context: format!("sending a {}-byte datagram", bytes.len()),
                cause: format!(
                    "a UDP datagram holds at most {MAX_DATAGRAM} bytes; split the data or use TCP"
                ),
            });
        }
        let targets: Vec<SocketAddr> = match target {
            SendTarget::Peer(a) => vec![a],
            SendTarget::Peers(v) if v.is_empty() => return Err(EngineError::NoPeer),
            SendTarget::Peers(v) => v,
            SendTarget::Default => {
                let last = *lock(&self.last_peer);
                vec![self.default_peer.or(last).ok_or(EngineError::NoPeer)?]
            }
            SendTarget::All => {
                let v = lock(&self.peers).order.clone();
                if v.is_empty() {
                    return Err(EngineError::NoPeer);
                }
                v
            }
            SendTarget::Conn(conn) => return Err(EngineError::UnknownConn { conn }),
            SendTarget::Conns(ids) => match ids.first() {
                Some(&conn) => return Err(EngineError::UnknownConn { conn }),
                None => return Ok(0),
            },
        };
        if self.core.stopping() {
            return Err(EngineError::NotConnected);
        }
        let bytes: Arc<[u8]> = Arc::from(bytes);
        let mut queued = 0;
        for addr in targets {
            match self.queue.push(addr, bytes.clone()) {
                Err(e) => return Err(e.to_engine(None, &self.core.send_budget)),
                Ok(false) => {}
                Ok(true) => self.spawn_writer()?,
            }
            queued += 1;
        }
        Ok(queued)
    }

    fn spawn_writer(self: &Arc<Self>) -> Result<(), EngineError> {
        let Some(guard) = self.core.enter() else {
            self.queue.unpush();
            return Err(EngineError::NotConnected);
        };
        let writer = self.clone();
        spawn_worker(
            &self.core,
            format!("sockscope-s{}-udp-tx", self.core.id),
            CONN_STACK,
            guard,
            move |_| writer.write_loop(),
            |_| {},
        )
        .map_err(|(e, guard)| {
            self.queue.unpush();
            drop(guard);
            io_error("starting the UDP writer thread", &e)
        })
    }

    fn write_loop(&self) {
        let core = &self.core;
        while let Some((peer, bytes)) = self.queue.next(WRITER_IDLE) {
            let result = self.socket_for(peer).send_to(&bytes, peer);
            self.queue.done(bytes.len());
            match result {
                Ok(n) => {
                    core.counters.add_tx(n);
                    {
                        let mut peers = lock(&self.peers);
                        let c = peers.entry(peer);
                        c.tx_bytes += n as u64;
                        c.tx_msgs += 1;
                    }
                    core.emit(Event::Data {
                        session: core.id,
                        conn: None,
                        peer,
                        dir: Direction::Tx,
                        at: SystemTime::now(),
                        scan: TextScan::of(&bytes),
                        bytes,
                        group: None,
                    });
                }
                Err(e) => core.error(map_io(&e, peer, "sending to", Duration::ZERO)),
            }
        }
    }
}
