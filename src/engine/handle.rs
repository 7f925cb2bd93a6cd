//! [`SessionHandle`], the control of one running session (send, kick, stop, counters,
//! multicast groups, auto-reply), and the types its methods take and return
//! ([`SendTarget`], [`ClientInfo`]).

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use super::core::SessionCore;
use super::{
    CloseReason, ConnId, Counters, EngineError, GroupSpec, GroupState, Keepalive, MulticastOptions,
    Responder, SessionId, SessionKind, udp,
};
use crate::sync::lock;

/// Where [`SessionHandle::send`] sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SendTarget {
    /// Client: its connection; server: all clients; UDP: the configured peer, else the
    /// last peer heard from.
    Default,
    /// One TCP connection.
    Conn(ConnId),
    /// Several TCP connections.
    Conns(Vec<ConnId>),
    /// Server: every client; UDP: every peer in the peer list.
    All,
    /// UDP: this address; TCP: the connection(s) whose peer is this address.
    Peer(SocketAddr),
    /// UDP: one datagram to each address; TCP: the connections whose peer is one of them.
    Peers(Vec<SocketAddr>),
}

impl SendTarget {
    /// True when the target names this peer address (`Peer` or `Peers`).
    pub fn names_peer(&self, peer: SocketAddr) -> bool {
        match self {
            SendTarget::Peer(addr) => *addr == peer,
            SendTarget::Peers(addrs) => addrs.contains(&peer),
            _ => false,
        }
    }
}

/// One connection as seen by [`SessionHandle::clients`].
#[derive(Clone, Debug)]
pub struct ClientInfo {
    /// Its id.
    pub conn: ConnId,
    /// The other end.
    pub peer: SocketAddr,
    /// When it connected.
    pub since: SystemTime,
    /// Its counters now.
    pub counters: Counters,
}

/// Controls one session; cheap to clone, every method returns at once.
#[derive(Clone)]
pub struct SessionHandle {
    pub(super) core: Arc<SessionCore>,
    pub(super) udp: Option<Arc<udp::UdpState>>,
}

impl fmt::Debug for SessionHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionHandle")
            .field("id", &self.core.id)
            .field("kind", &self.core.kind)
            .finish()
    }
}

impl SessionHandle {
    /// The session's id.
    pub fn id(&self) -> SessionId {
        self.core.id
    }

    /// The session's kind.
    pub fn kind(&self) -> SessionKind {
        self.core.kind
    }

    /// Bound address (server/UDP, known as soon as `start` returns), or the local address
    /// once connected (client).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        *lock(&self.core.local)
    }

    /// Queues `bytes` for sending and returns at once with how many connections/peers it
    /// was queued for; a `Data` Tx event follows each completed write.
    pub fn send(&self, target: SendTarget, bytes: Vec<u8>) -> Result<usize, EngineError> {
        if let Some(udp) = &self.udp {
            return udp.send(target, bytes);
        }
        let conns = lock(&self.core.conns);
        let server = self.core.kind == SessionKind::TcpServer;
        let (picked, all) = match &target {
            SendTarget::Default | SendTarget::All => {
                if !server && conns.is_empty() {
                    return Err(EngineError::NotConnected);
                }
                (conns.values().cloned().collect::<Vec<_>>(), true)
            }
            SendTarget::Conn(id) => (
                vec![
                    conns
                        .get(id)
                        .cloned()
                        .ok_or(EngineError::UnknownConn { conn: *id })?,
                ],
                false,
            ),
            SendTarget::Conns(ids) => {
                let mut v = Vec::with_capacity(ids.len());
                for id in ids {
                    v.push(
                        conns
                            .get(id)
                            .cloned()
                            .ok_or(EngineError::UnknownConn { conn: *id })?,
                    );
                }
                (v, false)
            }
            SendTarget::Peer(_) | SendTarget::Peers(_) => {
                let v: Vec<_> = conns
                    .values()
                    .filter(|c| target.names_peer(c.peer))
                    .cloned()
                    .collect();
                if v.is_empty() {
                    return Err(EngineError::NotConnected);
                }
                (v, false)
            }
        };
        drop(conns);
        let bytes: Arc<[u8]> = Arc::from(bytes);
        let mut sent = 0;
        let mut first_err = None;
        for c in picked {
            match c.send(bytes.clone()) {
                Ok(()) => sent += 1,
                Err(e) if all => {
                    first_err.get_or_insert(e);
                }
                Err(e) => return Err(e),
            }
        }
        match first_err {
            Some(e) if sent == 0 => Err(e),
            _ => Ok(sent),
        }
    }

    /// Server: closes one client now (its `Closed` says `Kicked` and how many queued
    /// bytes were discarded unsent).
    pub fn kick(&self, conn: ConnId) -> Result<(), EngineError> {
        let c = lock(&self.core.conns).get(&conn).cloned();
        match c {
            Some(c) => {
                c.close(CloseReason::Kicked);
                Ok(())
            }
            None => Err(EngineError::UnknownConn { conn }),
        }
    }

    /// Asks the session to stop and returns at once; `Closed` (ServerStopped /
    /// LocalDisconnect) for each connection, then `Stopped`, follow promptly.
    pub fn stop(&self) {
        self.core.request_stop();
    }

    /// True once the session has ended (its `Stopped` event was queued).
    pub fn is_stopped(&self) -> bool {
        self.core.is_done()
    }

    /// Counters of the whole session.
    pub fn counters(&self) -> Counters {
        self.core.counters.snapshot()
    }

    /// Counters of one open connection.
    pub fn conn_counters(&self, conn: ConnId) -> Option<Counters> {
        lock(&self.core.conns)
            .get(&conn)
            .map(|c| c.counters.snapshot())
    }

    /// Server: the connected clients (sorted by id); client: its one connection.
    pub fn clients(&self) -> Vec<ClientInfo> {
        let mut v: Vec<ClientInfo> = lock(&self.core.conns)
            .values()
            .map(|c| ClientInfo {
                conn: c.id,
                peer: c.peer,
                since: c.since,
                counters: c.counters.snapshot(),
            })
            .collect();
        v.sort_by_key(|c| c.conn);
        v
    }

    /// UDP: peers heard from or sent to, in order of first contact, with their counters
    /// (the first [`MAX_UDP_PEERS`]; see [`SessionHandle::udp_others`] for the rest).
    ///
    /// [`MAX_UDP_PEERS`]: super::MAX_UDP_PEERS
    pub fn udp_peers(&self) -> Vec<(SocketAddr, Counters)> {
        self.udp.as_ref().map(|u| u.peers()).unwrap_or_default()
    }

    /// UDP: cumulative (datagrams, bytes) dropped because the event queue was full.
    pub fn udp_dropped(&self) -> (u64, u64) {
        self.udp.as_ref().map(|u| u.dropped()).unwrap_or_default()
    }

    /// UDP: datagrams the kernel dropped because the receive buffer was full
    /// (cumulative; Linux only, 0 elsewhere).
    pub fn udp_kernel_dropped(&self) -> u64 {
        self.udp
            .as_ref()
            .map(|u| u.kernel_dropped())
            .unwrap_or_default()
    }

    /// UDP: the receive buffer (asked for, granted by the OS) in bytes.
    pub fn udp_recv_buffer(&self) -> Option<(usize, usize)> {
        self.udp.as_ref().map(|u| u.recv_buffer())
    }

    /// UDP: the summed counters of the peers beyond [`MAX_UDP_PEERS`] (the "others"
    /// entry next to [`SessionHandle::udp_peers`]); None while every peer has its own.
    ///
    /// [`MAX_UDP_PEERS`]: super::MAX_UDP_PEERS
    pub fn udp_others(&self) -> Option<Counters> {
        self.udp.as_ref().and_then(|u| u.others())
    }

    /// UDP: asks the worker to join a multicast group (it does so within ~100 ms); the
    /// result comes as [`Notice::GroupJoined`] or an `Error` event (not a multicast
    /// address, interface without that family, refused by the OS with its reason), and
    /// [`SessionHandle::multicast_groups`] shows it. Not UDP or stopped: `NotConnected`.
    ///
    /// [`Notice::GroupJoined`]: super::Notice::GroupJoined
    pub fn join_group(&self, group: GroupSpec) -> Result<(), EngineError> {
        self.running_udp()?.queue_group(group, true);
        Ok(())
    }

    /// UDP: asks the worker to leave a group joined with [`SessionHandle::join_group`]
    /// (the same spec); [`Notice::GroupLeft`] or an `Error` follows.
    ///
    /// [`Notice::GroupLeft`]: super::Notice::GroupLeft
    pub fn leave_group(&self, group: GroupSpec) -> Result<(), EngineError> {
        self.running_udp()?.queue_group(group, false);
        Ok(())
    }

    /// UDP: changes the sending options for groups (TTL / hop limit, loopback, the
    /// outgoing interface; `join` is ignored) while the socket runs. The worker applies
    /// them within ~100 ms and answers with [`Notice::MulticastSending`] or an `Error`.
    ///
    /// [`Notice::MulticastSending`]: super::Notice::MulticastSending
    pub fn set_multicast_sending(&self, options: MulticastOptions) -> Result<(), EngineError> {
        self.running_udp()?.queue_send_options(options);
        Ok(())
    }

    /// The UDP worker of a session that still runs; `NotConnected` otherwise.
    fn running_udp(&self) -> Result<&udp::UdpState, EngineError> {
        match &self.udp {
            Some(udp) if !self.core.stopping() => Ok(udp),
            _ => Err(EngineError::NotConnected),
        }
    }

    /// UDP: the multicast TTL / hop limit and loopback the socket holds, read back from
    /// the OS (None: not UDP). A socket call: for diagnostics and tests, not for every
    /// frame of the window.
    pub fn multicast_sending_now(&self) -> Option<std::io::Result<(u32, bool)>> {
        self.udp.as_ref().map(|u| u.multicast_readback())
    }

    /// UDP: the session's multicast groups and where each stands (empty otherwise).
    pub fn multicast_groups(&self) -> Vec<GroupState> {
        self.udp.as_ref().map(|u| u.groups()).unwrap_or_default()
    }

    /// Datagrams of this session the recorder's tap could not take (datagrams, bytes),
    /// since the session started; the log says where with "N datagrams not recorded".
    pub fn unrecorded(&self) -> (u64, u64) {
        self.core.sink.unrecorded(self.core.id)
    }

    /// Installs (or with `None` removes) the auto-reply hook of this session. From the
    /// next read on, every TCP read / UDP datagram is passed to it on the worker that
    /// read it, after its Rx `Data` event; see [`Responder`] and [`Action`].
    ///
    /// [`Action`]: super::Action
    pub fn set_responder(&self, responder: Option<Arc<dyn Responder>>) {
        self.core.set_responder(responder);
    }

    /// Bytes queued for writing and not yet written: of connection `conn` (None if it is
    /// not open), or with `conn` None the whole session (UDP: its one queue; TCP: the sum
    /// over connections). Senders of big data use it to keep a bounded amount in flight
    /// below the queue cap that makes `send` fail with `QueueFull`.
    pub fn queued_bytes(&self, conn: Option<ConnId>) -> Option<usize> {
        if let Some(udp) = &self.udp {
            return match conn {
                None => Some(udp.queued_bytes()),
                Some(_) => None,
            };
        }
        let conns = lock(&self.core.conns);
        match conn {
            Some(id) => conns.get(&id).map(|c| c.queued_bytes()),
            None => Some(conns.values().map(|c| c.queued_bytes()).sum()),
        }
    }

    /// The keepalive options connection `conn`'s socket holds, read back from the OS
    /// (None: no such connection; `Ok(None)`: keepalive off). Linux and macOS report
    /// idle, interval and count; elsewhere on/off only (the rest shows the defaults).
    /// A socket call: for diagnostics and tests, not for every frame of the window.
    pub fn conn_keepalive(&self, conn: ConnId) -> Option<std::io::Result<Option<Keepalive>>> {
        let c = lock(&self.core.conns).get(&conn).cloned();
        c.map(|c| c.keepalive())
    }

    /// Test hook: makes the next worker loop of this session panic, to prove panics are
    /// caught. Not for application use.
    #[doc(hidden)]
    pub fn inject_panic(&self) {
        self.core.inject_fault();
    }
}
