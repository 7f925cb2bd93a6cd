//! The event queue between workers and the UI, plus the recorder tee.
//!
//! The queue is a bounded `sync_channel`: a TCP worker that finds it full waits (TCP flow
//! control then slows the peer, nothing is lost), a UDP worker uses `try_emit` and counts
//! what it could not queue. The waker is coalesced through an `AtomicBool`: it is called
//! only when the flag flips false → true, and the receiver clears the flag when it finds
//! the queue empty, so a flood of events costs one repaint request per drained frame.
//!
//! Rule for callers: never emit while holding a lock the UI thread may take
//! (`emit` can block until the UI drains).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::Event;
use super::core::lock;

/// The callback the engine calls when new events are waiting (the app passes one that
/// requests a repaint).
pub type Waker = Box<dyn Fn() + Send + Sync>;

/// Producer side, shared by every worker of one engine.
pub(crate) struct Sink {
    tx: SyncSender<Event>,
    /// The recorder tee and a generation number (so a dead tap is removed only if it
    /// was not replaced meanwhile).
    tap: Mutex<(u64, Option<SyncSender<Event>>)>,
    pending: Arc<AtomicBool>,
    waker: Waker,
}

impl Sink {
    pub(crate) fn new(capacity: usize, waker: Waker) -> (Sink, EventReceiver) {
        let (tx, rx) = std::sync::mpsc::sync_channel(capacity.max(1));
        let pending = Arc::new(AtomicBool::new(false));
        let sink = Sink {
            tx,
            tap: Mutex::new((0, None)),
            pending: pending.clone(),
            waker,
        };
        (sink, EventReceiver { rx, pending })
    }

    pub(crate) fn set_tap(&self, tap: Option<SyncSender<Event>>) {
        let mut slot = lock(&self.tap);
        slot.0 += 1;
        slot.1 = tap;
    }

    fn wake(&self) {
        if !self.pending.swap(true, Ordering::AcqRel) {
            (self.waker)();
        }
    }

    /// Queues `event`, waiting while the queue is full; the tap gets a clone (blocking).
    /// A dropped receiver is not an error: the events just go nowhere.
    pub(crate) fn emit(&self, event: Event) {
        self.tee(&event, true);
        if self.tx.send(event).is_ok() {
            self.wake();
        }
    }

    /// Queues `event` only if there is room; returns false when the queue was full (the
    /// event is dropped). The tap gets a clone with `try_send` whatever the queue did.
    pub(crate) fn try_emit(&self, event: Event) -> bool {
        self.tee(&event, false);
        match self.tx.try_send(event) {
            Ok(()) => {
                self.wake();
                true
            }
            Err(TrySendError::Full(_)) => false,
            // Nobody listens: pretend it was delivered so nothing is counted as dropped.
            Err(TrySendError::Disconnected(_)) => true,
        }
    }

    /// Sends a clone to the tap, outside the lock (so `set_tap` never waits for a slow
    /// recorder). Each worker sends in its own order, which is all the recorder needs.
    fn tee(&self, event: &Event, blocking: bool) {
        let (generation, tap) = {
            let slot = lock(&self.tap);
            match slot.1.as_ref() {
                None => return,
                Some(t) => (slot.0, t.clone()),
            }
        };
        let gone = if blocking {
            tap.send(event.clone()).is_err()
        } else {
            matches!(
                tap.try_send(event.clone()),
                Err(TrySendError::Disconnected(_))
            )
        };
        if gone {
            let mut slot = lock(&self.tap);
            if slot.0 == generation {
                slot.1 = None;
            }
        }
    }
}

/// Consumer side of the event queue (the UI thread or a test).
pub struct EventReceiver {
    rx: Receiver<Event>,
    pending: Arc<AtomicBool>,
}

impl EventReceiver {
    /// Next event if one is waiting. When the queue is empty it clears the waker's
    /// pending flag (so the next event wakes the UI again) and looks once more, which
    /// closes the race with an event pushed just before the flag was cleared.
    ///
    /// A UI that stops draining on a per-frame budget with events still queued should
    /// request its own repaint: no new wake comes for events already queued.
    pub fn try_recv(&self) -> Option<Event> {
        match self.rx.try_recv() {
            Ok(ev) => Some(ev),
            Err(TryRecvError::Empty) | Err(TryRecvError::Disconnected) => {
                self.pending.store(false, Ordering::Release);
                self.rx.try_recv().ok()
            }
        }
    }

    /// Waits up to `timeout` for the next event (for tests and headless use).
    pub fn recv_timeout(&self, timeout: Duration) -> Option<Event> {
        if let Some(ev) = self.try_recv() {
            return Some(ev);
        }
        self.rx.recv_timeout(timeout).ok()
    }
}
