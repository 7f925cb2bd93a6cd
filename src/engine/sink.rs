//! The event queue between workers and the UI, plus the recorder tee.
//!
//! The queue is a bounded `sync_channel`: a TCP worker that finds it full waits (TCP flow
//! control then slows the peer, nothing is lost), a UDP worker uses `try_emit` and counts
//! what it could not queue. The waker is coalesced through an `AtomicBool`: it is called
//! only when the flag flips false → true, and the receiver clears the flag when it finds
//! the queue empty, so a flood of events costs one repaint request per drained frame.
//!
//! The queue is bounded twice: by events (the channel's capacity) and by payload bytes
//! ([`QUEUE_BYTES`]). The byte bound is what keeps memory flat under a flood of 64 KiB
//! reads: without it, 4,096 queued reads could hold 256 MiB between two frames.
//!
//! Rule for callers: never emit while holding a lock the UI thread may take
//! (`emit` can block until the UI drains).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use super::Event;
use crate::sync::lock;

/// The callback the engine calls when new events are waiting (the app passes one that
/// requests a repaint).
pub type Waker = Box<dyn Fn() + Send + Sync>;

/// Most payload bytes queued for the consumer at once (TCP workers wait above it, UDP
/// workers count the datagram as dropped).
pub(crate) const QUEUE_BYTES: usize = 4 * 1024 * 1024;

/// Payload bytes in the queue, and a way for producers to wait for room.
struct ByteBudget {
    queued: AtomicUsize,
    /// False once the receiver is gone: nobody will make room any more.
    open: AtomicBool,
    lock: Mutex<()>,
    room: Condvar,
}

impl ByteBudget {
    /// Waits until the queue holds no more than [`QUEUE_BYTES`] (or the receiver is gone).
    fn wait_for_room(&self) {
        while self.queued.load(Ordering::Acquire) > QUEUE_BYTES && self.open.load(Ordering::Acquire)
        {
            let guard = lock(&self.lock);
            // The timeout covers a release that happened between the check and the wait.
            let _ = self.room.wait_timeout(guard, Duration::from_millis(5));
        }
    }

    fn release(&self, bytes: usize) {
        if bytes == 0 {
            return;
        }
        let before = self.queued.fetch_sub(bytes, Ordering::AcqRel);
        if before > QUEUE_BYTES && before - bytes <= QUEUE_BYTES {
            let _guard = lock(&self.lock);
            self.room.notify_all();
        }
    }
}

/// Payload bytes an event carries.
fn payload_len(event: &Event) -> usize {
    match event {
        Event::Data { bytes, .. } => bytes.len(),
        _ => 0,
    }
}

/// Producer side, shared by every worker of one engine.
pub(crate) struct Sink {
    tx: SyncSender<Event>,
    budget: Arc<ByteBudget>,
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
        let budget = Arc::new(ByteBudget {
            queued: AtomicUsize::new(0),
            open: AtomicBool::new(true),
            lock: Mutex::new(()),
            room: Condvar::new(),
        });
        let sink = Sink {
            tx,
            budget: budget.clone(),
            tap: Mutex::new((0, None)),
            pending: pending.clone(),
            waker,
        };
        (
            sink,
            EventReceiver {
                rx,
                pending,
                budget,
            },
        )
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
        let len = payload_len(&event);
        if len > 0 {
            self.budget.wait_for_room();
            self.budget.queued.fetch_add(len, Ordering::AcqRel);
        }
        if self.tx.send(event).is_ok() {
            self.wake();
        } else {
            self.budget.release(len);
        }
    }

    /// Queues `event` only if there is room; returns false when the queue was full (the
    /// event is dropped). The tap gets a clone with `try_send` whatever the queue did.
    pub(crate) fn try_emit(&self, event: Event) -> bool {
        self.tee(&event, false);
        let len = payload_len(&event);
        if len > 0 && self.budget.queued.load(Ordering::Acquire) > QUEUE_BYTES {
            return !self.budget.open.load(Ordering::Acquire);
        }
        self.budget.queued.fetch_add(len, Ordering::AcqRel);
        match self.tx.try_send(event) {
            Ok(()) => {
                self.wake();
                true
            }
            Err(TrySendError::Full(_)) => {
                self.budget.release(len);
                false
            }
            // Nobody listens: pretend it was delivered so nothing is counted as dropped.
            Err(TrySendError::Disconnected(_)) => {
                self.budget.release(len);
                true
            }
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
    budget: Arc<ByteBudget>,
}

impl Drop for EventReceiver {
    fn drop(&mut self) {
        // Producers waiting for room must not wait for a consumer that is gone.
        self.budget.open.store(false, Ordering::Release);
        let _guard = lock(&self.budget.lock);
        self.budget.room.notify_all();
    }
}

impl EventReceiver {
    /// Next event if one is waiting. When the queue is empty it clears the waker's
    /// pending flag (so the next event wakes the UI again) and looks once more, which
    /// closes the race with an event pushed just before the flag was cleared.
    ///
    /// A UI that stops draining on a per-frame budget with events still queued should
    /// request its own repaint: no new wake comes for events already queued.
    pub fn try_recv(&self) -> Option<Event> {
        let event = match self.rx.try_recv() {
            Ok(ev) => Some(ev),
            Err(TryRecvError::Empty) | Err(TryRecvError::Disconnected) => {
                self.pending.store(false, Ordering::Release);
                self.rx.try_recv().ok()
            }
        };
        self.received(event)
    }

    /// Gives the event's payload bytes back to the budget.
    fn received(&self, event: Option<Event>) -> Option<Event> {
        if let Some(event) = &event {
            self.budget.release(payload_len(event));
        }
        event
    }

    /// Waits up to `timeout` for the next event (for tests and headless use).
    pub fn recv_timeout(&self, timeout: Duration) -> Option<Event> {
        if let Some(ev) = self.try_recv() {
            return Some(ev);
        }
        let event = self.rx.recv_timeout(timeout).ok();
        self.received(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Direction;
    use std::sync::atomic::AtomicU64;
    use std::time::{Instant, SystemTime};

    fn data(len: usize) -> Event {
        Event::Data {
            session: 1,
            conn: Some(1),
            peer: "127.0.0.1:1".parse().unwrap(),
            dir: Direction::Rx,
            at: SystemTime::now(),
            bytes: Arc::from(vec![0u8; len]),
        }
    }

    /// A producer of 1 MiB reads stops at the byte budget though the channel has room for
    /// many more events, goes on when the consumer takes one, and UDP-style `try_emit`
    /// reports "full" while the budget is used up.
    #[test]
    fn byte_budget_bounds_queued_payload() {
        let (sink, rx) = Sink::new(1000, Box::new(|| {}));
        let sink = Arc::new(sink);
        let emitted = Arc::new(AtomicU64::new(0));
        let producer = {
            let (sink, emitted) = (sink.clone(), emitted.clone());
            std::thread::spawn(move || {
                for _ in 0..20 {
                    sink.emit(data(1 << 20));
                    emitted.fetch_add(1, Ordering::SeqCst);
                }
            })
        };
        let settle = |expected: u64| {
            let deadline = Instant::now() + Duration::from_secs(5);
            while emitted.load(Ordering::SeqCst) < expected && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            std::thread::sleep(Duration::from_millis(100));
            emitted.load(Ordering::SeqCst)
        };
        let limit = (QUEUE_BYTES >> 20) as u64 + 1;
        assert_eq!(
            settle(limit),
            limit,
            "the producer waits once the budget is full"
        );
        assert!(!sink.try_emit(data(64)), "a datagram does not fit either");
        assert!(rx.try_recv().is_some());
        assert_eq!(settle(limit + 1), limit + 1, "one taken, one more let in");
        while emitted.load(Ordering::SeqCst) < 20 || rx.try_recv().is_some() {
            let _ = rx.recv_timeout(Duration::from_millis(50));
        }
        producer.join().unwrap();
    }

    /// With the consumer gone, producers never wait for room.
    #[test]
    fn dropped_receiver_never_blocks() {
        let (sink, rx) = Sink::new(1000, Box::new(|| {}));
        drop(rx);
        for _ in 0..32 {
            sink.emit(data(1 << 20));
        }
        assert!(sink.try_emit(data(64)));
    }
}
