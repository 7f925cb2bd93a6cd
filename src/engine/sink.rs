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
//! A window that drains once a frame can let the queue shed ([`Sink::set_shedding`]):
//! received TCP reads then wait in a parking lot beside the channel (the channel carries
//! a ticket), and a reader that finds the queue full drops the oldest parked reads that
//! the view would evict on taking them anyway, instead of waiting for the next frame. The
//! consumer gets those as [`Event::Shed`]. The recorder's tee and the rules saw them
//! before; only the view's copy of their bytes goes.
//!
//! Rule for callers: never emit while holding a lock the UI thread may take
//! (`emit` can block until the UI drains).
//!
//! The recorder tee gets UDP data with `try_send` (a UDP worker never waits for the
//! disk). What does not fit is counted per session ([`Sink::unrecorded`]) and, as soon as
//! the tap takes that session's next event, a [`Notice::NotRecorded`] goes to the tap
//! first: the log says "N datagrams not recorded" at the point they were lost.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, SystemTime};

use super::{ConnId, Direction, Event, Notice, SessionId};
use crate::codec::lazy::TextScan;
use crate::sync::lock;

/// The callback the engine calls when new events are waiting (the app passes one that
/// requests a repaint).
pub type Waker = Box<dyn Fn() + Send + Sync>;

/// Most payload bytes queued for the consumer at once, unless set otherwise with
/// [`Sink::set_queue_bytes`] (TCP workers wait above it, UDP workers count the datagram
/// as dropped): a consumer that drains as events come needs little. A window, which
/// drains once a frame, moves its bound with the traffic
/// ([`crate::session::store::QueueSizer`]).
pub(crate) const QUEUE_BYTES: usize = 16 * 1024 * 1024;

/// Payload bytes in the queue, and a way for producers to wait for room.
struct ByteBudget {
    queued: AtomicUsize,
    /// The bound on `queued` ([`QUEUE_BYTES`] unless set).
    limit: AtomicUsize,
    /// False once the receiver is gone: nobody will make room any more.
    open: AtomicBool,
    /// Producers waiting in [`ByteBudget::wait_for_room`]: a release wakes them.
    waiters: AtomicUsize,
    lock: Mutex<()>,
    room: Condvar,
}

impl ByteBudget {
    /// True while `len` more bytes would take the queue over its limit. An empty queue
    /// always has room (a read larger than the limit still goes, alone).
    fn full(&self, len: usize) -> bool {
        self.over(self.queued.load(Ordering::SeqCst), len)
    }

    /// Whether `len` more bytes on top of `queued` would pass the limit ([`Self::full`]
    /// for a count the caller already holds).
    fn over(&self, queued: usize, len: usize) -> bool {
        queued > 0 && queued + len > self.limit.load(Ordering::Relaxed)
    }

    /// Waits until the queue has room for `len` more bytes (or the receiver is gone), so
    /// the queue never holds more than its limit.
    fn wait_for_room(&self, len: usize) {
        if !self.full(len) {
            return;
        }
        let mut guard = lock(&self.lock);
        // Counted under the lock before the check: a release either sees the waiter (and
        // wakes it) or happened before the check (which then sees the room it made).
        self.waiters.fetch_add(1, Ordering::SeqCst);
        while self.full(len) && self.open.load(Ordering::Acquire) {
            // The timeout is only a backstop (a limit raised without a release).
            guard = match self.room.wait_timeout(guard, Duration::from_millis(5)) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        self.waiters.fetch_sub(1, Ordering::SeqCst);
    }

    fn release(&self, bytes: usize) {
        if bytes == 0 {
            return;
        }
        self.queued.fetch_sub(bytes, Ordering::SeqCst);
        if self.waiters.load(Ordering::SeqCst) > 0 {
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

/// What the channel carries: an event, or the ticket of a received TCP read whose bytes
/// wait in the [`Parking`] (and may be shed there).
enum Queued {
    Event(Event),
    Parked(Ticket),
}

/// A parked read's event without its bytes.
struct Ticket {
    id: u64,
    session: SessionId,
    conn: ConnId,
    peer: SocketAddr,
    at: SystemTime,
    scan: TextScan,
    len: usize,
}

/// Received TCP reads waiting for the consumer, oldest first, by ticket id.
#[derive(Default)]
struct Parking {
    next_id: u64,
    reads: VecDeque<(u64, Arc<[u8]>)>,
}

impl Parking {
    /// The parked bytes of ticket `id`, taken; None if they were shed.
    fn take(&mut self, id: u64) -> Option<Arc<[u8]>> {
        let at = self.reads.binary_search_by_key(&id, |(id, _)| *id).ok()?;
        self.reads.remove(at).map(|(_, bytes)| bytes)
    }
}

/// Producer side, shared by every worker of one engine.
pub(crate) struct Sink {
    tx: SyncSender<Queued>,
    budget: Arc<ByteBudget>,
    parking: Arc<Mutex<Parking>>,
    /// The consumer's view size while shedding is on ([`Sink::set_shedding`]); 0: off.
    shed_view: AtomicUsize,
    /// The recorder tee and a generation number (so a dead tap is removed only if it
    /// was not replaced meanwhile).
    tap: Mutex<(u64, Option<SyncSender<Event>>)>,
    pending: Arc<AtomicBool>,
    waker: Waker,
    /// Datagrams the tap could not take, per session; `any_unrecorded` spares the hot
    /// path the lock while there are none waiting to be reported.
    unrecorded: Mutex<HashMap<SessionId, Unrecorded>>,
    any_unrecorded: AtomicBool,
}

/// What the tap missed of one session.
#[derive(Clone, Copy, Debug, Default)]
struct Unrecorded {
    /// Since the session started: (datagrams, bytes).
    total: (u64, u64),
    /// Not yet reported to the tap: (datagrams, bytes).
    pending: (u64, u64),
}

impl Sink {
    pub(crate) fn new(capacity: usize, waker: Waker) -> (Sink, EventReceiver) {
        let (tx, rx) = std::sync::mpsc::sync_channel(capacity.max(1));
        let pending = Arc::new(AtomicBool::new(false));
        let budget = Arc::new(ByteBudget {
            queued: AtomicUsize::new(0),
            limit: AtomicUsize::new(QUEUE_BYTES),
            open: AtomicBool::new(true),
            waiters: AtomicUsize::new(0),
            lock: Mutex::new(()),
            room: Condvar::new(),
        });
        let parking = Arc::new(Mutex::new(Parking::default()));
        let sink = Sink {
            tx,
            budget: budget.clone(),
            parking: parking.clone(),
            shed_view: AtomicUsize::new(0),
            tap: Mutex::new((0, None)),
            pending: pending.clone(),
            waker,
            unrecorded: Mutex::new(HashMap::new()),
            any_unrecorded: AtomicBool::new(false),
        };
        (
            sink,
            EventReceiver {
                rx,
                pending,
                budget,
                parking,
            },
        )
    }

    /// Bounds the payload bytes queued for the consumer (at least 64 KiB).
    pub(crate) fn set_queue_bytes(&self, bytes: usize) {
        self.budget
            .limit
            .store(bytes.max(64 << 10), Ordering::Relaxed);
        let _guard = lock(&self.budget.lock);
        self.budget.room.notify_all();
    }

    /// Lets the queue shed received TCP reads for a view of `view_bytes` (0: never); see
    /// [`crate::engine::Engine::set_shedding`]. Cheap when nothing changes (a window
    /// says it at every drain): only a change wakes the waiting readers.
    pub(crate) fn set_shedding(&self, view_bytes: usize) {
        if self.shed_view.swap(view_bytes, Ordering::Relaxed) != view_bytes {
            let _guard = lock(&self.budget.lock);
            self.budget.room.notify_all();
        }
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
        let view = self.shed_view.load(Ordering::Relaxed);
        let event = match event {
            Event::Data {
                session,
                conn: Some(conn),
                peer,
                dir: Direction::Rx,
                at,
                bytes,
                scan,
                ..
            } if view > 0 && !bytes.is_empty() => {
                let len = bytes.len();
                let id = self.park(bytes, view);
                Queued::Parked(Ticket {
                    id,
                    session,
                    conn,
                    peer,
                    at,
                    scan,
                    len,
                })
            }
            event => {
                let len = payload_len(&event);
                if len > 0 {
                    self.budget.wait_for_room(len);
                    self.budget.queued.fetch_add(len, Ordering::AcqRel);
                }
                Queued::Event(event)
            }
        };
        match self.tx.send(event) {
            Ok(()) => self.wake(),
            Err(std::sync::mpsc::SendError(Queued::Event(event))) => {
                self.budget.release(payload_len(&event));
            }
            Err(std::sync::mpsc::SendError(Queued::Parked(ticket))) => {
                if lock(&self.parking).take(ticket.id).is_some() {
                    self.budget.release(ticket.len);
                }
            }
        }
    }

    /// Parks a received read for a view of `view` bytes and returns its ticket id. While
    /// the queue is full it sheds the oldest parked reads, as long as what stays queued
    /// (this read included) still fills the store's share of the view (`view` minus the
    /// queue's bound): a drain would evict every older byte at once. When shedding cannot
    /// make room, it waits as [`Sink::emit`] does.
    fn park(&self, bytes: Arc<[u8]>, view: usize) -> u64 {
        let len = bytes.len();
        loop {
            let mut parking = lock(&self.parking);
            let limit = self.budget.limit.load(Ordering::Relaxed);
            let keep = view.saturating_sub(limit);
            let mut queued = self.budget.queued.load(Ordering::Acquire);
            while self.budget.over(queued, len) {
                let Some((_, oldest)) = parking.reads.front() else {
                    break;
                };
                let shed = oldest.len();
                if queued - shed + len < keep {
                    break;
                }
                parking.reads.pop_front();
                self.budget.release(shed);
                queued = self.budget.queued.load(Ordering::Acquire);
            }
            if !self.budget.over(queued, len) || !self.budget.open.load(Ordering::Acquire) {
                let id = parking.next_id;
                parking.next_id += 1;
                parking.reads.push_back((id, bytes));
                self.budget.queued.fetch_add(len, Ordering::AcqRel);
                return id;
            }
            drop(parking);
            self.budget.wait_for_room(len);
        }
    }

    /// Queues `event` only if there is room; returns false when the queue was full (the
    /// event is dropped). The tap gets a clone with `try_send` whatever the queue did.
    pub(crate) fn try_emit(&self, session: SessionId, event: Event) -> bool {
        if !self.tee(&event, false) {
            let mut map = lock(&self.unrecorded);
            let u = map.entry(session).or_default();
            let len = payload_len(&event) as u64;
            u.total.0 += 1;
            u.total.1 += len;
            u.pending.0 += 1;
            u.pending.1 += len;
            self.any_unrecorded.store(true, Ordering::Release);
        }
        let len = payload_len(&event);
        if len > 0 && self.budget.full(len) {
            return !self.budget.open.load(Ordering::Acquire);
        }
        self.budget.queued.fetch_add(len, Ordering::AcqRel);
        match self.tx.try_send(Queued::Event(event)) {
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

    /// Datagrams of `session` the recorder's tap could not take: (datagrams, bytes).
    pub(crate) fn unrecorded(&self, session: SessionId) -> (u64, u64) {
        lock(&self.unrecorded)
            .get(&session)
            .map(|u| u.total)
            .unwrap_or_default()
    }

    /// The `NotRecorded` notice owed to the tap for `session`, taken (None if none).
    fn take_unrecorded(&self, session: SessionId) -> Option<(u64, u64)> {
        if !self.any_unrecorded.load(Ordering::Acquire) {
            return None;
        }
        let mut map = lock(&self.unrecorded);
        let u = map.get_mut(&session)?;
        let pending = std::mem::take(&mut u.pending);
        if !map.values().any(|u| u.pending.0 > 0) {
            self.any_unrecorded.store(false, Ordering::Release);
        }
        (pending.0 > 0).then_some(pending)
    }

    /// Gives a taken `NotRecorded` back (the tap was still full).
    fn restore_unrecorded(&self, session: SessionId, pending: (u64, u64)) {
        let mut map = lock(&self.unrecorded);
        let u = map.entry(session).or_default();
        u.pending.0 += pending.0;
        u.pending.1 += pending.1;
        self.any_unrecorded.store(true, Ordering::Release);
    }

    /// Sends a clone to the tap, outside the lock (so `set_tap` never waits for a slow
    /// recorder). Each worker sends in its own order, which is all the recorder needs.
    /// Returns false only when a non-blocking send found the tap full (the event is not
    /// recorded); an owed `NotRecorded` notice goes first.
    fn tee(&self, event: &Event, blocking: bool) -> bool {
        let (generation, tap) = {
            let slot = lock(&self.tap);
            match slot.1.as_ref() {
                None => return true,
                Some(t) => (slot.0, t.clone()),
            }
        };
        let session = event.session();
        let send = |ev: Event| -> Result<(), bool> {
            if blocking {
                tap.send(ev).map_err(|_| true)
            } else {
                match tap.try_send(ev) {
                    Ok(()) => Ok(()),
                    Err(TrySendError::Full(_)) => Err(false),
                    Err(TrySendError::Disconnected(_)) => Err(true),
                }
            }
        };
        let mut result = Ok(());
        if let Some((datagrams, bytes)) = self.take_unrecorded(session) {
            result = send(Event::Notice {
                session,
                at: SystemTime::now(),
                notice: Notice::NotRecorded { datagrams, bytes },
            });
            if result.is_err() {
                self.restore_unrecorded(session, (datagrams, bytes));
            }
        }
        if result.is_ok() {
            result = send(event.clone());
        }
        match result {
            Ok(()) => true,
            Err(false) => false,
            Err(true) => {
                let mut slot = lock(&self.tap);
                if slot.0 == generation {
                    slot.1 = None;
                }
                true
            }
        }
    }
}

/// Consumer side of the event queue (the UI thread or a test).
pub struct EventReceiver {
    rx: Receiver<Queued>,
    pending: Arc<AtomicBool>,
    budget: Arc<ByteBudget>,
    parking: Arc<Mutex<Parking>>,
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
    /// Payload bytes queued now (received, not yet taken).
    pub fn queued_bytes(&self) -> usize {
        self.budget.queued.load(Ordering::Acquire)
    }

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

    /// The event (a parked read's bytes taken from the parking lot, or its
    /// [`Event::Shed`]), its payload bytes given back to the budget.
    fn received(&self, queued: Option<Queued>) -> Option<Event> {
        match queued? {
            Queued::Event(event) => {
                self.budget.release(payload_len(&event));
                Some(event)
            }
            Queued::Parked(t) => {
                let bytes = lock(&self.parking).take(t.id);
                Some(match bytes {
                    Some(bytes) => {
                        self.budget.release(bytes.len());
                        Event::Data {
                            session: t.session,
                            conn: Some(t.conn),
                            peer: t.peer,
                            dir: Direction::Rx,
                            at: t.at,
                            bytes,
                            group: None,
                            scan: t.scan,
                        }
                    }
                    // Its bytes went back to the budget when they were shed.
                    None => Event::Shed {
                        session: t.session,
                        conn: t.conn,
                        peer: t.peer,
                        at: t.at,
                        len: t.len as u64,
                    },
                })
            }
        }
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
        read_of(vec![0u8; len])
    }

    /// A read of connection 1 with these bytes.
    fn read_of(bytes: Vec<u8>) -> Event {
        Event::Data {
            session: 1,
            conn: Some(1),
            peer: "127.0.0.1:1".parse().unwrap(),
            dir: Direction::Rx,
            at: SystemTime::now(),
            bytes: Arc::from(bytes),
            group: None,
            scan: crate::codec::lazy::TextScan::Unknown,
        }
    }

    /// A producer of 1 MiB reads stops at the byte budget though the channel has room for
    /// many more events, goes on when the consumer takes one, and UDP-style `try_emit`
    /// reports "full" while the budget is used up.
    #[test]
    fn byte_budget_bounds_queued_payload() {
        let reads = (QUEUE_BYTES >> 20) as u64 + 8;
        let (sink, rx) = Sink::new(1000, Box::new(|| {}));
        let sink = Arc::new(sink);
        let emitted = Arc::new(AtomicU64::new(0));
        let producer = {
            let (sink, emitted) = (sink.clone(), emitted.clone());
            std::thread::spawn(move || {
                for _ in 0..reads {
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
        // The queue never holds more than its bound: the read that would pass it waits.
        let limit = (QUEUE_BYTES >> 20) as u64;
        assert_eq!(
            settle(limit),
            limit,
            "the producer waits once the budget is full"
        );
        assert_eq!(rx.queued_bytes(), QUEUE_BYTES);
        assert!(
            !sink.try_emit(1, data(64)),
            "a datagram does not fit either"
        );
        assert!(rx.try_recv().is_some());
        assert_eq!(settle(limit + 1), limit + 1, "one taken, one more let in");
        while emitted.load(Ordering::SeqCst) < reads || rx.try_recv().is_some() {
            let _ = rx.recv_timeout(Duration::from_millis(50));
        }
        producer.join().unwrap();
    }

    /// With the consumer gone, producers never wait for room.
    #[test]
    fn dropped_receiver_never_blocks() {
        let (sink, rx) = Sink::new(1000, Box::new(|| {}));
        drop(rx);
        for _ in 0..(QUEUE_BYTES >> 20) + 8 {
            sink.emit(data(1 << 20));
        }
        assert!(sink.try_emit(1, data(64)));
    }

    /// A thread emitting `count` reads of 1 MiB, the n-th filled with n.
    fn emit_reads(sink: &Arc<Sink>, count: u8) -> std::thread::JoinHandle<()> {
        let sink = sink.clone();
        std::thread::spawn(move || {
            for fill in 0..count {
                sink.emit(read_of(vec![fill; 1 << 20]));
            }
        })
    }

    /// With shedding on, a reader that finds the queue full never waits while the oldest
    /// queued reads are ones the view would evict on taking them: they come out as
    /// `Shed` (same length, in order), the newest as `Data` with their bytes, and what
    /// stays queued still fills the store's share of the view. With the view too large for
    /// that, it waits as before.
    #[test]
    fn a_full_queue_sheds_the_reads_the_view_would_evict() {
        let (sink, rx) = Sink::new(1000, Box::new(|| {}));
        sink.set_queue_bytes(4 << 20);
        sink.set_shedding(6 << 20);
        let sink = Arc::new(sink);
        let producer = emit_reads(&sink, 20);
        let deadline = Instant::now() + Duration::from_secs(5);
        while !producer.is_finished() {
            assert!(Instant::now() < deadline, "the reader waited for room");
            std::thread::sleep(Duration::from_millis(5));
        }
        producer.join().unwrap();
        assert!(rx.queued_bytes() <= 4 << 20, "{} queued", rx.queued_bytes());
        let mut shed = Vec::new();
        let mut kept = Vec::new();
        while let Some(event) = rx.try_recv() {
            match event {
                Event::Shed { len, conn, .. } => {
                    assert!(kept.is_empty(), "a shed read after a kept one");
                    assert_eq!((len, conn), (1 << 20, 1));
                    shed.push(len);
                }
                Event::Data { bytes, .. } => {
                    assert!(bytes.iter().all(|&b| b == bytes[0]));
                    kept.push(bytes[0]);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(rx.queued_bytes(), 0);
        let first_kept = 20 - kept.len() as u8;
        assert_eq!(
            kept,
            (first_kept..20).collect::<Vec<_>>(),
            "the newest kept, in order"
        );
        assert_eq!(shed.len() + kept.len(), 20);
        assert!(kept.len() >= 2, "the store's share (2 MiB) stays: {kept:?}");

        // A view whose store share is more than the queue holds: nothing may be shed.
        let (sink, rx) = Sink::new(1000, Box::new(|| {}));
        sink.set_queue_bytes(4 << 20);
        sink.set_shedding(64 << 20);
        let sink = Arc::new(sink);
        let producer = emit_reads(&sink, 8);
        std::thread::sleep(Duration::from_millis(200));
        assert!(!producer.is_finished(), "the reader waits for room");
        let mut got = Vec::new();
        while got.len() < 8 {
            match rx.recv_timeout(Duration::from_secs(5)) {
                Some(Event::Data { bytes, .. }) => got.push(bytes[0]),
                other => panic!("expected every read, got {other:?}"),
            }
        }
        assert_eq!(got, (0..8).collect::<Vec<_>>());
        producer.join().unwrap();
    }
}
