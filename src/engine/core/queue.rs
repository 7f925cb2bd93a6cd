//! Send queues: the engine-wide [`SendBudget`] and the per-connection (or per-socket)
//! [`SendQueue`] its writer thread drains, with the markers that keep a close or a
//! flush in order with the data queued before it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::engine::{ConnId, EngineError};
use crate::sync::lock;

use super::SEND_QUEUE_CAP;

/// Bytes queued for sending in the whole engine: one budget for every queue, so 10,000
/// clients cannot each queue `SEND_QUEUE_CAP` (640 GiB in theory).
#[derive(Debug)]
pub(crate) struct SendBudget {
    limit: AtomicUsize,
    used: AtomicUsize,
}

impl SendBudget {
    pub(crate) fn new(limit: usize) -> SendBudget {
        SendBudget {
            limit: AtomicUsize::new(limit),
            used: AtomicUsize::new(0),
        }
    }

    /// The limit in bytes.
    pub(crate) fn limit(&self) -> usize {
        self.limit.load(Ordering::Relaxed)
    }

    pub(crate) fn set_limit(&self, limit: usize) {
        self.limit.store(limit, Ordering::Relaxed);
    }

    /// Bytes queued now, engine-wide.
    pub(crate) fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// Reserves `len` bytes; false (nothing reserved) when that would pass the limit.
    fn reserve(&self, len: usize) -> bool {
        let limit = self.limit();
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                let next = used.checked_add(len)?;
                (next <= limit).then_some(next)
            })
            .is_ok()
    }

    fn release(&self, len: usize) {
        let _ = self
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                Some(used.saturating_sub(len))
            });
    }
}

/// Why a push onto a send queue failed.
pub(crate) enum PushError {
    Closed,
    /// This queue is over `SEND_QUEUE_CAP`.
    Full,
    /// The engine-wide [`SendBudget`] is used up.
    Budget,
}

impl PushError {
    /// The error a sender sees (`conn`: the connection, None for UDP).
    pub(crate) fn to_engine(&self, conn: Option<ConnId>, budget: &SendBudget) -> EngineError {
        match self {
            PushError::Closed => EngineError::NotConnected,
            PushError::Full => EngineError::QueueFull { conn },
            PushError::Budget => EngineError::SendBudget {
                limit: budget.limit(),
                queued: budget.used(),
            },
        }
    }
}

/// What `push_marker` did.
pub(crate) enum Marker {
    /// Nothing is queued and no writer runs: the caller acts at once.
    Idle,
    /// Queued behind the other items; the running writer will meet it.
    Queued,
    /// Queued; no writer runs and the caller must start one.
    StartWriter,
    /// The queue is closed.
    Closed,
}

struct QueueState<T> {
    items: VecDeque<(T, Arc<[u8]>)>,
    bytes: usize,
    writer: bool,
    closed: bool,
}

/// Bytes waiting to be written, served by one writer thread that is started by the first
/// push and exits after `WRITER_IDLE` without work: idle connections cost no thread.
/// Every queued byte is also reserved in the engine-wide [`SendBudget`].
pub(crate) struct SendQueue<T> {
    state: Mutex<QueueState<T>>,
    ready: Condvar,
    budget: Arc<SendBudget>,
}

impl<T> SendQueue<T> {
    pub(crate) fn new(budget: Arc<SendBudget>) -> Self {
        SendQueue {
            state: Mutex::new(QueueState {
                items: VecDeque::new(),
                bytes: 0,
                writer: false,
                closed: false,
            }),
            ready: Condvar::new(),
            budget,
        }
    }

    /// A queue that accepts bytes but starts no writer until `release` (used until the
    /// connection has been announced, so no Tx event can precede `Connected`/`ClientJoined`).
    pub(crate) fn new_held(budget: Arc<SendBudget>) -> Self {
        let q = Self::new(budget);
        lock(&q.state).writer = true;
        q
    }

    /// Ends the hold of `new_held`; true if bytes are waiting (start a writer).
    pub(crate) fn release(&self) -> bool {
        let mut st = lock(&self.state);
        if st.items.is_empty() || st.closed {
            st.writer = false;
            false
        } else {
            true
        }
    }

    /// Queues `bytes`; Ok(true) means no writer is running and the caller must start one.
    pub(crate) fn push(&self, target: T, bytes: Arc<[u8]>) -> Result<bool, PushError> {
        let mut st = lock(&self.state);
        if st.closed {
            return Err(PushError::Closed);
        }
        if st.bytes.saturating_add(bytes.len()) > SEND_QUEUE_CAP {
            return Err(PushError::Full);
        }
        if !self.budget.reserve(bytes.len()) {
            return Err(PushError::Budget);
        }
        st.bytes += bytes.len();
        st.items.push_back((target, bytes));
        if st.writer {
            drop(st);
            self.ready.notify_one();
            Ok(false)
        } else {
            st.writer = true;
            Ok(true)
        }
    }

    /// Queues a marker (no bytes, never refused for size) behind everything queued, or
    /// says the queue is idle so the caller can act at once.
    pub(crate) fn push_marker(&self, target: T) -> Marker {
        let mut st = lock(&self.state);
        if st.closed {
            return Marker::Closed;
        }
        if st.items.is_empty() && !st.writer {
            return Marker::Idle;
        }
        st.items.push_back((target, Arc::from(Vec::new())));
        if st.writer {
            drop(st);
            self.ready.notify_one();
            Marker::Queued
        } else {
            st.writer = true;
            Marker::StartWriter
        }
    }

    /// Undoes the last push when its writer could not be started.
    pub(crate) fn unpush(&self) {
        let mut st = lock(&self.state);
        if let Some((_, b)) = st.items.pop_back() {
            st.bytes = st.bytes.saturating_sub(b.len());
            self.budget.release(b.len());
        }
        st.writer = false;
    }

    /// The writer's next job; None when closed or idle for `idle` (the writer then exits).
    pub(crate) fn next(&self, idle: Duration) -> Option<(T, Arc<[u8]>)> {
        let deadline = Instant::now() + idle;
        let mut st = lock(&self.state);
        loop {
            if st.closed {
                st.writer = false;
                return None;
            }
            if let Some(item) = st.items.pop_front() {
                return Some(item);
            }
            let now = Instant::now();
            if now >= deadline {
                st.writer = false;
                return None;
            }
            st = self
                .ready
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// The next job without waiting, for a connection whose one thread both reads and
    /// writes (TLS): None when nothing is queued or the queue is closed. Such a queue
    /// stays held (`new_held`, never released), so pushes never ask for a writer.
    pub(crate) fn try_next(&self) -> Option<(T, Arc<[u8]>)> {
        let mut st = lock(&self.state);
        if st.closed {
            return None;
        }
        st.items.pop_front()
    }

    /// Bytes queued and not yet written (including the write in progress).
    pub(crate) fn queued(&self) -> usize {
        lock(&self.state).bytes
    }

    /// The writer finished with `len` bytes (written or failed).
    pub(crate) fn done(&self, len: usize) {
        let mut st = lock(&self.state);
        st.bytes = st.bytes.saturating_sub(len);
        self.budget.release(len);
    }

    /// No more pushes; queued bytes are discarded and the writer wakes up to exit.
    /// Returns how many queued bytes were thrown away (not counting a write in progress,
    /// which its writer accounts for).
    pub(crate) fn close(&self) -> u64 {
        let discarded = {
            let mut st = lock(&self.state);
            st.closed = true;
            let discarded: usize = st.items.iter().map(|(_, b)| b.len()).sum();
            st.items.clear();
            st.bytes = st.bytes.saturating_sub(discarded);
            self.budget.release(discarded);
            discarded
        };
        self.ready.notify_all();
        discarded as u64
    }
}
