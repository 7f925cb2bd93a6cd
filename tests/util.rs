//! Shared helpers for the integration tests: bounded waits (a bug fails a test instead
//! of hanging it), engines with a counting waker, and GBK text like the seed tutorials.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sockscope::engine::{
    CloseReason, ConnId, Engine, Event, EventReceiver, GroupSpec, MulticastOptions, SessionConfig,
    SessionId, TcpServerConfig, UdpConfig,
};

/// Default upper bound for a single wait.
pub const WAIT: Duration = Duration::from_secs(10);

/// An engine with a `capacity`-event queue and a waker that counts its calls.
pub fn engine(capacity: usize) -> (Engine, EventReceiver, Arc<AtomicUsize>) {
    let wakes = Arc::new(AtomicUsize::new(0));
    let w = wakes.clone();
    let (engine, rx) = Engine::new(
        capacity,
        Box::new(move || {
            w.fetch_add(1, Ordering::SeqCst);
        }),
    );
    (engine, rx, wakes)
}

/// Receives events until `pred` matches one (returned with the events skipped before
/// it); panics with the skipped events if `timeout` passes first.
pub fn wait_for_all(
    rx: &EventReceiver,
    timeout: Duration,
    mut pred: impl FnMut(&Event) -> bool,
) -> (Event, Vec<Event>) {
    let deadline = Instant::now() + timeout;
    let mut skipped = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left.min(Duration::from_millis(50))) {
            Some(ev) if pred(&ev) => return (ev, skipped),
            Some(ev) => skipped.push(ev),
            None if left.is_zero() => {
                let tail: Vec<_> = skipped.iter().rev().take(10).collect();
                panic!(
                    "timed out after {timeout:?} ({} events skipped, last ones: {tail:#?})",
                    skipped.len()
                )
            }
            None => {}
        }
    }
}

/// Receives events until `pred` matches one; panics if `timeout` passes first.
pub fn wait_for(rx: &EventReceiver, timeout: Duration, pred: impl FnMut(&Event) -> bool) -> Event {
    wait_for_all(rx, timeout, pred).0
}

/// Like [`wait_for`], but events that do not match are kept in `backlog` (and searched
/// first next time) instead of being thrown away: for tests that wait for events of
/// several connections whose order across connections is not fixed.
pub fn wait_for_kept(
    rx: &EventReceiver,
    backlog: &mut std::collections::VecDeque<Event>,
    timeout: Duration,
    mut pred: impl FnMut(&Event) -> bool,
) -> Event {
    if let Some(i) = backlog.iter().position(&mut pred) {
        if let Some(e) = backlog.remove(i) {
            return e;
        }
    }
    let (event, skipped) = wait_for_all(rx, timeout, pred);
    backlog.extend(skipped);
    event
}

/// Waits for the next `Closed` event and returns its connection and reason.
pub fn next_close(rx: &EventReceiver) -> (ConnId, CloseReason) {
    match wait_for(rx, WAIT, |e| matches!(e, Event::Closed { .. })) {
        Event::Closed { conn, reason, .. } => (conn, reason),
        other => panic!("expected Closed, got {other:?}"),
    }
}

/// Collects events up to and including the `Stopped` of `session`, then checks that
/// nothing of that session follows for a short while (Stopped must be last and unique).
pub fn until_stopped(rx: &EventReceiver, session: SessionId, timeout: Duration) -> Vec<Event> {
    let (stopped, mut events) = wait_for_all(
        rx,
        timeout,
        |e| matches!(e, Event::Stopped { session: s, .. } if *s == session),
    );
    events.push(stopped);
    assert_nothing_after(rx, session, Duration::from_millis(100));
    events
}

/// Asserts that no event of `session` arrives within `quiet`.
pub fn assert_nothing_after(rx: &EventReceiver, session: SessionId, quiet: Duration) {
    let deadline = Instant::now() + quiet;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        if let Some(ev) = rx.recv_timeout(left) {
            assert_ne!(ev.session(), session, "event after Stopped: {ev:?}");
        }
    }
}

/// Encodes text as GBK bytes, as the seed tutorials do with `.encode("gbk")`.
pub fn gbk(s: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = encoding_rs::GBK.encode(s);
    assert!(!unmappable, "{s:?} is not representable in GBK");
    bytes.into_owned()
}

/// Decodes GBK bytes, as the seeds do with `.decode("gbk")`.
pub fn from_gbk(b: &[u8]) -> String {
    encoding_rs::GBK.decode(b).0.into_owned()
}

/// A fast deterministic byte generator (xorshift64*), for large payloads.
pub struct Prng(pub u64);

impl Prng {
    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as usize
    }

    /// Fills `buf` with random bytes.
    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

/// A TCP server on `host` and a free port.
pub fn server_on(host: &str) -> SessionConfig {
    SessionConfig::TcpServer(TcpServerConfig {
        host: host.into(),
        port: 0,
        ..Default::default()
    })
}

/// A UDP socket on `host` and a free port that joins `group` as soon as it is bound.
pub fn udp_joining(host: &str, group: GroupSpec) -> SessionConfig {
    SessionConfig::Udp(UdpConfig {
        host: host.into(),
        port: 0,
        multicast: MulticastOptions {
            join: vec![group],
            ..MulticastOptions::default()
        },
        ..Default::default()
    })
}

/// True when this Windows build runs under Wine (ntdll exports `wine_get_version`).
/// Wine routes every socket call through its wineserver process, so bursts of
/// thousands of sockets take several times longer than on Windows or Linux: timing
/// budgets (never correctness checks) are scaled by [`timing_factor`].
pub fn under_wine() -> bool {
    #[cfg(windows)]
    {
        use windows_sys::Win32::System::LibraryLoader::{GetModuleHandleA, GetProcAddress};
        // SAFETY: both names are NUL-terminated static strings; ntdll is always loaded.
        unsafe {
            let ntdll = GetModuleHandleA(c"ntdll.dll".as_ptr().cast());
            !ntdll.is_null() && GetProcAddress(ntdll, c"wine_get_version".as_ptr().cast()).is_some()
        }
    }
    #[cfg(not(windows))]
    {
        false
    }
}

/// How much longer timing budgets may be here: 10 under Wine (1,000 clients join in
/// about 7 s there on 2 busy cores, against 2 s on Linux), otherwise 1.
pub fn timing_factor() -> u32 {
    if under_wine() { 10 } else { 1 }
}

/// A UDP socket that sends to IPv4 multicast groups through the loopback interface
/// (IP_MULTICAST_IF 127.0.0.1), as a device on the same machine would.
pub fn loopback_multicast_sender() -> socket2::Socket {
    let sender = socket2::Socket::new(
        socket2::Domain::IPV4,
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )
    .unwrap();
    sender
        .set_multicast_if_v4(&std::net::Ipv4Addr::LOCALHOST)
        .unwrap();
    sender
}
