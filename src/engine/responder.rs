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

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant};

use super::ConnId;
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
    /// Runs `job` at `at` on the timer thread, starting it if needed. Jobs still waiting
    /// when the session stops are dropped.
    pub(crate) fn schedule(&self, core: &Arc<SessionCore>, at: Instant, job: Job) {
        let start = {
            let mut st = lock(&self.state);
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
