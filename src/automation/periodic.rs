//! Periodic send: the same template every N ms, on a worker thread.
//!
//! Why absolute deadlines: send k is due at `start + k × interval`, so 100 sends at
//! 10 ms take ~1 s however long each send and wake-up takes, instead of drifting by the
//! overhead on every tick. A late tick is sent at once (the schedule catches up); after
//! more than a second behind (a suspended laptop) the schedule restarts from now rather
//! than bursting.
//!
//! Counting: a tick counts as sent when the engine queued it for at least one
//! connection or peer. A server with no clients yet sends nothing and counts nothing,
//! but keeps ticking (clients may join). `{counter}` is the number of this send, from 1.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::template::{SendSpec, Template};
use super::{AutomationError, StopFlag, StopReason};
use crate::engine::{EngineError, SendTarget, SessionHandle};
use crate::sync::lock;

/// The shortest interval.
pub const MIN_INTERVAL: Duration = Duration::from_millis(1);
/// How far behind schedule the sender may fall before it restarts the schedule.
const MAX_LAG: Duration = Duration::from_secs(1);

/// What to send, where, how often and how many times.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeriodicConfig {
    /// The payload template (`{counter}` = number of this send, from 1).
    pub send: SendSpec,
    /// Where (see [`SendTarget`]; `Default` = the connection / every client / UDP peer).
    pub target: SendTarget,
    /// Time between sends; at least [`MIN_INTERVAL`].
    pub interval: Duration,
    /// Stop after this many sends; `None` = until stopped.
    pub count: Option<u64>,
}

/// Most sends kept for [`PeriodicSender::take_sends`] between two calls.
const SENDS_KEPT: usize = 4096;

struct Shared {
    sent: AtomicU64,
    /// Byte counts of sends about to be handed to the engine, not taken yet (for
    /// round-trip times: told before the send, so the window expects an answer before it
    /// sees the send's Tx event).
    sends: Mutex<std::collections::VecDeque<usize>>,
    running: AtomicBool,
    stop: StopFlag,
    reason: Mutex<Option<StopReason>>,
}

/// A running (or finished) periodic sender. Dropping it stops the worker.
pub struct PeriodicSender {
    shared: Arc<Shared>,
    target: SendTarget,
}

impl std::fmt::Debug for PeriodicSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeriodicSender")
            .field("sent", &self.sent())
            .field("running", &self.is_running())
            .finish()
    }
}

impl PeriodicSender {
    /// Checks the config, compiles the template and starts the worker; the first send
    /// goes out at once. Returns without blocking.
    pub fn start(
        handle: SessionHandle,
        config: PeriodicConfig,
    ) -> Result<PeriodicSender, AutomationError> {
        if config.interval < MIN_INTERVAL {
            return Err(AutomationError::Invalid {
                message: format!(
                    "the interval must be at least 1 ms (got {:?})",
                    config.interval
                ),
            });
        }
        if config.count == Some(0) {
            return Err(AutomationError::Invalid {
                message: "the number of sends must be at least 1 (or unlimited)".into(),
            });
        }
        let template = config.send.compile()?;
        let shared = Arc::new(Shared {
            sent: AtomicU64::new(0),
            sends: Mutex::new(std::collections::VecDeque::new()),
            running: AtomicBool::new(true),
            stop: StopFlag::default(),
            reason: Mutex::new(None),
        });
        let worker = shared.clone();
        let target = config.target.clone();
        let spawned =
            crate::sync::spawn(format!("sockscope-s{}-periodic", handle.id()), move || {
                // Caught here too: the reason must be set while nobody joins the thread.
                let reason = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    run(&worker, &handle, &config, &template)
                }))
                .unwrap_or_else(|_| {
                    StopReason::Failed(AutomationError::Invalid {
                        message: "internal error: the periodic sender panicked".into(),
                    })
                });
                *lock(&worker.reason) = Some(reason);
                worker.running.store(false, Ordering::SeqCst);
            });
        if let Err(e) = spawned {
            return Err(AutomationError::Io {
                context: "starting the periodic sender thread".into(),
                cause: e.to_string(),
            });
        }
        Ok(PeriodicSender { shared, target })
    }

    /// Where it sends.
    pub fn target(&self) -> &SendTarget {
        &self.target
    }

    /// The byte counts of the sends made (or being made) since the last call, oldest
    /// first; at most the last 4096.
    pub fn take_sends(&self) -> Vec<usize> {
        lock(&self.shared.sends).drain(..).collect()
    }

    /// How many sends went out so far.
    pub fn sent(&self) -> u64 {
        self.shared.sent.load(Ordering::SeqCst)
    }

    /// Asks the worker to stop and returns at once; the worker ends within a moment
    /// (at most a send already under way still goes out).
    pub fn stop(&self) {
        self.shared.stop.set();
    }

    /// True until the worker has ended.
    pub fn is_running(&self) -> bool {
        self.shared.running.load(Ordering::SeqCst)
    }

    /// Why it ended; None while running.
    pub fn stop_reason(&self) -> Option<StopReason> {
        lock(&self.shared.reason).clone()
    }
}

impl Drop for PeriodicSender {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(
    shared: &Shared,
    handle: &SessionHandle,
    config: &PeriodicConfig,
    template: &Template,
) -> StopReason {
    let mut start = Instant::now();
    let mut ticks: u32 = 0;
    loop {
        if shared.stop.is_set() {
            return StopReason::Stopped;
        }
        if handle.is_stopped() {
            return StopReason::ConnectionGone;
        }
        let sent = shared.sent.load(Ordering::SeqCst);
        let bytes = template.render(sent + 1);
        {
            let mut sends = lock(&shared.sends);
            if sends.len() >= SENDS_KEPT {
                sends.pop_front();
            }
            sends.push_back(bytes.len());
        }
        match handle.send(config.target.clone(), bytes) {
            Ok(0) => {
                // Queued nowhere: nothing to wait for (unless already taken).
                lock(&shared.sends).pop_back();
            }
            Ok(_) => {
                let sent = shared.sent.fetch_add(1, Ordering::SeqCst) + 1;
                if config.count.is_some_and(|n| sent >= n) {
                    return StopReason::Finished;
                }
            }
            Err(EngineError::NotConnected | EngineError::UnknownConn { .. }) => {
                return StopReason::ConnectionGone;
            }
            Err(e) => return StopReason::Failed(e.into()),
        }
        ticks = ticks.saturating_add(1);
        let mut due = start + config.interval.saturating_mul(ticks);
        let now = Instant::now();
        if now > due + MAX_LAG {
            start = now;
            ticks = 0;
            due = now;
        }
        if shared.stop.sleep_until(due) {
            return StopReason::Stopped;
        }
    }
}
