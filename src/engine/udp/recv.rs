//! The receive workers of a UDP session: the main loop on the bound socket (kernel
//! drops, group counts, drop reports, multicast changes) and one loop per extra
//! `localhost` socket, each handing datagrams to [`UdpState::received`].

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Instant, SystemTime};

use socket2::SockRef;

use crate::codec::lazy::TextScan;
use crate::engine::error::io_error;
use crate::engine::multicast::{self, GroupStatus};
use crate::engine::{Direction, Event, Notice};
use crate::sync::lock;

use super::sys::kernel_drops;
use super::{DROP_REPORT_EVERY, READ_TIMEOUT, RECV_BUF, UdpState};

impl UdpState {
    /// One received datagram (addressed to `group`, when the OS said so): counted,
    /// queued for the view, answered by the responder. False when the view's queue was
    /// full (the datagram is counted as dropped).
    pub(super) fn received(
        self: &Arc<Self>,
        n: usize,
        peer: SocketAddr,
        local: SocketAddr,
        buf: &[u8],
        group: Option<IpAddr>,
    ) -> bool {
        let core = &self.core;
        core.counters.add_rx(n);
        {
            let mut peers = lock(&self.peers);
            let c = peers.entry(peer);
            c.rx_bytes += n as u64;
            c.rx_msgs += 1;
        }
        *lock(&self.last_peer) = Some(peer);
        let queued = core.sink.try_emit(
            core.id,
            Event::Data {
                session: core.id,
                conn: None,
                peer,
                dir: Direction::Rx,
                at: SystemTime::now(),
                bytes: Arc::from(&buf[..n]),
                group,
                scan: TextScan::of(&buf[..n]),
            },
        );
        // The device expects its answer even if the view could not keep up.
        self.respond(peer, local, &buf[..n]);
        if !queued {
            self.dropped_datagrams.fetch_add(1, Ordering::Relaxed);
            self.dropped_bytes.fetch_add(n as u64, Ordering::Relaxed);
        }
        queued
    }

    /// The receive loop of a secondary `localhost` socket (the main loop reports drops).
    pub(super) fn recv_extra(self: &Arc<Self>, index: usize) {
        let Some((socket, local)) = self.extra.get(index) else {
            return;
        };
        let mut buf = vec![0u8; RECV_BUF];
        while !self.core.stopping() {
            match socket.recv_from(&mut buf) {
                Ok((n, peer)) => {
                    self.received(n, peer, *local, &buf, None);
                }
                Err(e) if nothing_to_report(&e) => {}
                Err(e) => {
                    self.core
                        .error(io_error(format!("receiving on {local}"), &e));
                    std::thread::sleep(READ_TIMEOUT);
                }
            }
        }
    }

    /// The main receive worker: reads the bound socket until the session stops.
    pub(super) fn recv_loop(self: &Arc<Self>, local: SocketAddr) {
        let core = &self.core;
        // Secondary addresses first, so the status line ends on the main one.
        for (_, extra) in self.extra.iter().rev() {
            core.emit(Event::Listening {
                session: core.id,
                at: SystemTime::now(),
                local: *extra,
            });
        }
        core.emit(Event::Listening {
            session: core.id,
            at: SystemTime::now(),
            local,
        });
        for error in std::mem::take(&mut *lock(&self.extra_errors)) {
            core.error(error);
        }
        let (requested, granted) = self.recv_buffer;
        if requested > 0 {
            core.notice(Notice::RecvBuffer { requested, granted });
        }
        let mut interfaces = None;
        let options = &self.multicast;
        if options.ttl.is_some() || options.loopback.is_some() || !options.interface.is_empty() {
            let all = self.interfaces(&mut interfaces);
            if let Err(e) = multicast::apply_send_options(
                SockRef::from(&self.socket),
                local,
                options,
                all,
                false,
            ) {
                core.error(e);
            }
        }
        let mut buf = vec![0u8; RECV_BUF];
        let mut reported = (0u64, 0u64);
        let mut last_report: Option<Instant> = None;
        while !core.stopping() {
            core.check_fault();
            self.change_groups(local, &mut interfaces);
            match kernel_drops::recv_from(&self.socket, &mut buf) {
                Ok((n, peer, kernel, destination)) => {
                    if let Some(k) = kernel {
                        self.kernel_dropped.store(u64::from(k), Ordering::Relaxed);
                    }
                    let group = destination.filter(IpAddr::is_multicast);
                    if let Some(ip) = group {
                        self.count_group(ip);
                    }
                    if !self.received(n, peer, local, &buf, group) {
                        continue;
                    }
                }
                Err(e) if nothing_to_report(&e) => {}
                Err(e) => {
                    core.error(io_error(format!("receiving on {local}"), &e));
                    std::thread::sleep(READ_TIMEOUT);
                }
            }
            // The queue had room (or we timed out): report drops, rate-limited.
            let now = (self.dropped().0, self.kernel_dropped());
            if now != reported
                && last_report.is_none_or(|t| t.elapsed() >= DROP_REPORT_EVERY)
                && self.report_drops(false)
            {
                reported = now;
                last_report = Some(Instant::now());
            }
        }
        for g in lock(&self.groups).iter_mut() {
            g.status = GroupStatus::Left;
        }
        // The totals at stop, whatever the rate limit held back.
        if (self.dropped().0, self.kernel_dropped()) != reported {
            self.report_drops(true);
        }
        let discarded = self.queue.close();
        if discarded > 0 {
            core.notice(Notice::UnsentDiscarded { bytes: discarded });
        }
    }
}

/// A receive error that says nothing about the socket: the read timed out or was
/// interrupted, or (Windows) an ICMP "port unreachable" for an earlier send came back as
/// a reset on this receive.
fn nothing_to_report(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock
            | io::ErrorKind::TimedOut
            | io::ErrorKind::Interrupted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
    )
}
