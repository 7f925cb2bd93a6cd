//! The auto-reply hook: a [`Responder`] sees every received read or datagram on the
//! worker that read it, and answers with [`Action`]s the engine carries out.
//!
//! Why here and not in the UI: the UI may be slow, minimised or behind on its event
//! queue, while a device expects its answer within milliseconds. The reader calls the
//! responder right after it queued the Rx `Data` event, so the log still shows the
//! request before the reply. Replies go through the normal send path, so they appear as
//! Tx `Data` events and in the counters like any other send.
//!
//! Delayed actions never block a reader: they wait on one timer thread per session,
//! started on first use and gone after two idle seconds. The engine only defines the
//! trait; what to answer (rules, echo, templates) lives in `automation`.
//!
//! # Safety limits the engine enforces on every responder ([`ReplyLimits`])
//!
//! An auto-reply turns the tool into something that answers strangers; these keep it from
//! becoming a reflector, an amplifier or half of an endless loop:
//! - per-peer rate limit on UDP replies (token bucket, default 1,000/s): a UDP source can
//!   be spoofed, TCP replies are paced by flow control and the send queues instead;
//! - no reply to our own address (a UDP socket would answer itself forever);
//! - loop detection: when a peer keeps sending back, byte for byte and right away, the
//!   reply we just sent it, the session's auto-reply pauses (a [`Notice`] says why) until
//!   a responder is installed again;
//! - a UDP reply more than `amplification` times larger than its request is not sent
//!   unless `allow_amplification` is set;
//! - delayed actions are capped in number ([`MAX_TIMER_JOBS`] per session) and delay
//!   ([`MAX_REPLY_DELAY`]), and hold their connection weakly, so a pending reply never
//!   keeps a closed socket open.
//!
//! [`Notice`]: super::Notice

use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant};

use super::{ConnId, EngineError, Notice};
use crate::sync::{lock, spawn_with_stack};

use super::core::{MAIN_STACK, SessionCore, WRITER_IDLE};

/// Decides what to answer to received bytes; implemented outside the engine
/// (`automation::AutoResponder`). Called on the worker thread that read the bytes, so it
/// must be quick and must not block.
pub trait Responder: Send + Sync {
    /// Called once per TCP read or UDP datagram, after its Rx `Data` event was queued.
    /// `conn` is the TCP connection (None for UDP); `peer` the other end. The returned
    /// actions are carried out in order (see [`Action`]).
    fn on_data(&self, conn: Option<ConnId>, peer: SocketAddr, bytes: &[u8]) -> Vec<Action>;

    /// Called once when a TCP connection has ended (after its `Closed` event), so
    /// per-connection state can be dropped. Never called for UDP peers.
    fn on_closed(&self, conn: ConnId) {
        let _ = conn;
    }

    /// The safety limits the engine applies to this responder's replies (read on every
    /// read, so a change takes effect at once).
    fn limits(&self) -> ReplyLimits {
        ReplyLimits::default()
    }
}

/// Most delayed auto-reply actions waiting at once in one session.
pub const MAX_TIMER_JOBS: usize = 10_000;
/// Longest delay of an auto-reply action.
pub const MAX_REPLY_DELAY: Duration = Duration::from_secs(600);

/// Safety limits on auto-replies (see the module docs); part of the automation settings
/// (`automation::AutoReplyConfig::limits`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ReplyLimits {
    /// Most UDP replies per second to one peer (with a burst of as many); 0 = no limit.
    pub per_peer_per_second: u32,
    /// A UDP reply may be at most this many times larger than its request (and at least
    /// 64 bytes are always allowed)...
    pub amplification: u32,
    /// ...unless this is set.
    pub allow_amplification: bool,
    /// Pause auto-reply when a peer echoes our replies back (two echoing instances).
    pub loop_detection: bool,
    /// How many requests in a row must be our own last reply, each arriving within
    /// [`LOOP_GAP`] of it, before the loop is called.
    pub loop_echoes: u32,
}

impl Default for ReplyLimits {
    fn default() -> Self {
        ReplyLimits {
            per_peer_per_second: 1000,
            amplification: 4,
            allow_amplification: false,
            loop_detection: true,
            loop_echoes: 200,
        }
    }
}

/// A request counts as an echo of our reply only if it arrives this soon after it (a
/// loop between two programs turns around in one round trip; a person or a periodic
/// sender repeating the same message is slower).
pub const LOOP_GAP: Duration = Duration::from_millis(20);
/// Replies smaller than this are never blocked as amplification.
const AMPLIFICATION_FLOOR: usize = 64;
/// Most peers whose reply state is kept per session (a sweep of source ports must not
/// grow it); when full it starts over.
const MAX_GUARD_PEERS: usize = 4096;
/// Minimum gap between two notices of one kind in one session.
const NOTICE_EVERY: Duration = Duration::from_secs(1);

/// Whom a reply goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum PeerKey {
    Conn(ConnId),
    Udp(SocketAddr),
}

struct PeerState {
    tokens: f64,
    refilled: Instant,
    /// Hash and time of the last reply sent.
    last_reply: Option<(u64, Instant)>,
    echoes: u32,
}

#[derive(Default)]
struct GuardState {
    peers: HashMap<PeerKey, PeerState>,
    paused: bool,
    skipped: u64,
    skipped_peer: Option<SocketAddr>,
    notice_at: HashMap<u8, Instant>,
}

/// What the guard decided about one request.
pub(crate) enum Verdict {
    /// Ask the responder and pass its actions through [`ReplyGuard::filter`].
    Go,
    /// No reply; maybe a notice to emit.
    Skip(Option<Notice>),
}

fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish()
}

/// True when `peer` is our own socket (same port, same or loopback address).
fn is_own_address(peer: SocketAddr, local: SocketAddr) -> bool {
    peer.port() == local.port()
        && (peer.ip() == local.ip()
            || (local.ip().is_unspecified() && peer.ip().is_loopback())
            || (local.ip().is_loopback() && peer.ip().is_loopback()))
}

/// Per-session enforcement of [`ReplyLimits`].
#[derive(Default)]
pub(crate) struct ReplyGuard {
    state: Mutex<GuardState>,
}

impl ReplyGuard {
    /// Auto-reply works again (a responder was installed).
    pub(crate) fn reset(&self) {
        let mut st = lock(&self.state);
        st.paused = false;
        st.peers.clear();
    }

    pub(crate) fn forget(&self, key: PeerKey) {
        lock(&self.state).peers.remove(&key);
    }

    fn notice(st: &mut GuardState, kind: u8, now: Instant, notice: Notice) -> Option<Notice> {
        match st.notice_at.get(&kind) {
            Some(t) if now.duration_since(*t) < NOTICE_EVERY => None,
            _ => {
                st.notice_at.insert(kind, now);
                Some(notice)
            }
        }
    }

    /// Looks at a request before the responder does: paused, our own address, a loop.
    pub(crate) fn check(
        &self,
        limits: &ReplyLimits,
        key: PeerKey,
        peer: SocketAddr,
        local: SocketAddr,
        bytes: &[u8],
        saturated: bool,
    ) -> Verdict {
        let now = Instant::now();
        let mut st = lock(&self.state);
        if st.paused {
            return Verdict::Skip(None);
        }
        if is_own_address(peer, local) {
            let n = Self::notice(&mut st, 0, now, Notice::SelfReplyBlocked { peer });
            return Verdict::Skip(n);
        }
        if !limits.loop_detection {
            return Verdict::Go;
        }
        let Some(state) = st.peers.get_mut(&key) else {
            return Verdict::Go;
        };
        // A read that filled the buffer is a stream (a flood of identical chunks into an
        // echo server), not one message bouncing between two programs.
        let echo = !saturated
            && state.last_reply.is_some_and(|(hash, at)| {
                now.duration_since(at) <= LOOP_GAP && hash == hash_bytes(bytes)
            });
        state.echoes = if echo { state.echoes + 1 } else { 0 };
        if state.echoes >= limits.loop_echoes.max(1) {
            let echoes = state.echoes;
            st.paused = true;
            return Verdict::Skip(Some(Notice::AutoReplyPaused { peer, echoes }));
        }
        Verdict::Go
    }

    /// Drops the sends the limits forbid and remembers what is sent (for loop
    /// detection); returns the notices to emit.
    pub(crate) fn filter(
        &self,
        limits: &ReplyLimits,
        key: PeerKey,
        peer: SocketAddr,
        request: &[u8],
        actions: &mut Vec<Action>,
    ) -> Vec<Notice> {
        let now = Instant::now();
        let mut notices = Vec::new();
        let mut st = lock(&self.state);
        if st.peers.len() >= MAX_GUARD_PEERS && !st.peers.contains_key(&key) {
            st.peers.clear();
        }
        let rate = f64::from(limits.per_peer_per_second);
        let state = st.peers.entry(key).or_insert(PeerState {
            tokens: rate,
            refilled: now,
            last_reply: None,
            echoes: 0,
        });
        let udp = matches!(key, PeerKey::Udp(_));
        let mut skipped = 0u64;
        let mut blocked = None;
        actions.retain(|action| {
            let Action::Send { bytes, .. } = action else {
                return true;
            };
            if udp
                && !limits.allow_amplification
                && bytes.len() > AMPLIFICATION_FLOOR
                && bytes.len() > request.len().saturating_mul(limits.amplification as usize)
            {
                blocked = Some(bytes.len());
                return false;
            }
            if udp && limits.per_peer_per_second > 0 {
                let elapsed = now.duration_since(state.refilled).as_secs_f64();
                state.tokens = (state.tokens + elapsed * rate).min(rate);
                state.refilled = now;
                if state.tokens < 1.0 {
                    skipped += 1;
                    return false;
                }
                state.tokens -= 1.0;
            }
            state.last_reply = Some((hash_bytes(bytes), now));
            true
        });
        if let Some(reply) = blocked {
            let n = Notice::AmplificationBlocked {
                peer,
                request: request.len(),
                reply,
                factor: limits.amplification,
            };
            notices.extend(Self::notice(&mut st, 1, now, n));
        }
        if skipped > 0 {
            st.skipped += skipped;
            st.skipped_peer = Some(peer);
            let n = Notice::RepliesLimited {
                peer,
                skipped: st.skipped,
                per_second: limits.per_peer_per_second,
            };
            if let Some(n) = Self::notice(&mut st, 2, now, n) {
                st.skipped = 0;
                notices.push(n);
            }
        }
        notices
    }
}

/// What a [`Responder`] asks the engine to do on the connection (or UDP peer) the bytes
/// came from. Each `delay` counts from the moment the bytes were read; actions with the
/// same delay run in the order they were returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send these bytes back to the same connection / UDP peer.
    Send {
        /// The bytes.
        bytes: Vec<u8>,
        /// Wait this long first (zero: queue them at once, from the reader).
        delay: Duration,
    },
    /// Close the TCP connection once everything queued before this action is written
    /// (its `Closed` says `Kicked` on a server, `LocalDisconnect` on a client). Ignored
    /// for UDP, which has no connection.
    Close {
        /// Wait this long first.
        delay: Duration,
    },
}

impl Action {
    /// How long this action waits.
    pub fn delay(&self) -> Duration {
        match self {
            Action::Send { delay, .. } | Action::Close { delay } => *delay,
        }
    }
}

/// A job for the timer thread.
pub(crate) type Job = Box<dyn FnOnce() + Send>;

#[derive(Default)]
struct TimerState {
    /// Jobs by (deadline, sequence): the sequence keeps equal deadlines in order.
    jobs: BTreeMap<(Instant, u64), Job>,
    seq: u64,
    running: bool,
}

/// Delayed actions of one session, run on one thread that exists only while there is
/// something to wait for (plus `WRITER_IDLE`).
#[derive(Default)]
pub(crate) struct Timer {
    state: Mutex<TimerState>,
    ready: Condvar,
}

impl Timer {
    /// Runs `job` `delay` after `from` on the timer thread, starting it if needed. Jobs
    /// still waiting when the session stops are dropped. Refused (an error event, rate
    /// limited) beyond [`MAX_TIMER_JOBS`] waiting jobs or [`MAX_REPLY_DELAY`].
    pub(crate) fn schedule(
        &self,
        core: &Arc<SessionCore>,
        from: Instant,
        delay: Duration,
        job: Job,
    ) {
        if delay > MAX_REPLY_DELAY {
            core.action_error(EngineError::ReplyDelay {
                delay,
                max: MAX_REPLY_DELAY,
            });
            return;
        }
        let at = from + delay;
        let start = {
            let mut st = lock(&self.state);
            if st.jobs.len() >= MAX_TIMER_JOBS {
                drop(st);
                core.action_error(EngineError::TimerFull {
                    limit: MAX_TIMER_JOBS,
                });
                return;
            }
            st.seq += 1;
            let seq = st.seq;
            st.jobs.insert((at, seq), job);
            !std::mem::replace(&mut st.running, true)
        };
        if !start {
            self.ready.notify_one();
            return;
        }
        let weak = Arc::downgrade(core);
        let spawned = spawn_with_stack(
            format!("sockscope-s{}-timer", core.id),
            MAIN_STACK,
            move || run(weak),
        );
        if let Err(e) = spawned {
            let mut st = lock(&self.state);
            st.running = false;
            st.jobs.clear();
            drop(st);
            core.error(super::error::io_error(
                "starting the auto-reply timer thread",
                &e,
            ));
        }
    }
}

/// The timer thread: runs due jobs in deadline order, exits when idle or stopping. It
/// holds the session only weakly, so it never keeps a stopped session's state alive.
fn run(weak: Weak<SessionCore>) {
    loop {
        let Some(core) = weak.upgrade() else {
            return;
        };
        let timer = &core.timer;
        let job = {
            let mut st = lock(&timer.state);
            loop {
                if core.stopping() {
                    st.jobs.clear();
                    st.running = false;
                    return;
                }
                let now = Instant::now();
                let next = st.jobs.keys().next().copied();
                match next {
                    Some(key) if key.0 <= now => break st.jobs.remove(&key),
                    Some(key) => {
                        // Wake at least every WRITER_IDLE to notice stop.
                        let wait = (key.0 - now).min(WRITER_IDLE);
                        st = timer
                            .ready
                            .wait_timeout(st, wait)
                            .unwrap_or_else(|e| e.into_inner())
                            .0;
                    }
                    None => {
                        let (guard, result) = timer
                            .ready
                            .wait_timeout(st, WRITER_IDLE)
                            .unwrap_or_else(|e| e.into_inner());
                        st = guard;
                        if result.timed_out() && st.jobs.is_empty() {
                            st.running = false;
                            return;
                        }
                    }
                }
            }
        };
        if let Some(job) = job {
            // A panicking job (a bug) must not kill the timer with jobs still waiting.
            let _ = catch_unwind(AssertUnwindSafe(job));
        }
    }
}
