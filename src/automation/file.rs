//! Send a file: any size, streamed in chunks on a worker thread, with progress, rate,
//! ETA and cancel.
//!
//! Why memory stays flat: the file is read one chunk at a time and a chunk is queued
//! only while the target connection has less than `max_in_flight` bytes (4 MiB by
//! default) waiting in the engine, far below the engine's 64 MiB queue cap that would
//! make sends fail with `QueueFull`. A 1 GB file therefore costs a few MiB, not 1 GB.
//!
//! Why progress counts written bytes: "done" is what the connection's Tx counter says
//! was written to the socket since the send started (capped at what this sender queued),
//! not what was merely queued, so 100 % means the bytes left this process. With several
//! target clients, progress is that of the slowest one. Over UDP every chunk is one
//! datagram (chunks are cut to at most 65,507 bytes) and progress follows the session's
//! Tx counter.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{AutomationError, StopFlag, StopReason};
use crate::engine::{ConnId, EngineError, MAX_DATAGRAM, SendTarget, SessionHandle, SessionKind};
use crate::sync::lock;

/// How often the worker looks at the counters while it waits for room or for the end.
const POLL: Duration = Duration::from_millis(1);

/// Chunking and pacing of a file send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileSendOptions {
    /// Bytes per send (one engine write; one datagram over UDP). Default 64 KiB.
    pub chunk_size: usize,
    /// Pause after each chunk, for slow devices. Default none.
    pub chunk_delay: Duration,
    /// Most bytes allowed to wait in the engine per target before the next chunk is
    /// queued. Default 4 MiB.
    pub max_in_flight: usize,
    /// Stop when nothing is written for this long (a peer that stopped reading would
    /// otherwise hold the send forever). Default 30 s; zero: never.
    pub stall_timeout: Duration,
}

impl Default for FileSendOptions {
    fn default() -> Self {
        FileSendOptions {
            chunk_size: 64 << 10,
            chunk_delay: Duration::ZERO,
            max_in_flight: 4 << 20,
            stall_timeout: Duration::from_secs(30),
        }
    }
}

/// Where a file send stands (a snapshot).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FileProgress {
    /// Bytes written to the socket (of the slowest target).
    pub done: u64,
    /// Bytes read from the file and queued so far.
    pub queued: u64,
    /// The file's size (corrected to what was read if the file changed meanwhile).
    pub total: u64,
    /// Time since the start (frozen when the send ended).
    pub elapsed: Duration,
    /// Average rate so far, bytes per second.
    pub bytes_per_sec: f64,
    /// Time left at that rate; None before the first byte is written.
    pub eta: Option<Duration>,
}

impl FileProgress {
    /// `done / total` from 0.0 to 1.0 (1.0 for an empty file).
    pub fn fraction(&self) -> f32 {
        if self.total == 0 {
            1.0
        } else {
            (self.done as f64 / self.total as f64).min(1.0) as f32
        }
    }
}

struct Shared {
    done: AtomicU64,
    queued: AtomicU64,
    total: AtomicU64,
    started: Instant,
    ended: Mutex<Option<Instant>>,
    running: AtomicBool,
    stop: StopFlag,
    reason: Mutex<Option<StopReason>>,
}

/// A running (or finished) file send. Dropping it cancels the send.
pub struct FileSender {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for FileSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileSender")
            .field("progress", &self.progress())
            .field("running", &self.is_running())
            .finish()
    }
}

/// One TCP target connection.
struct Conn {
    id: ConnId,
    /// Its Tx counter when the send started.
    base: u64,
    /// Bytes written for us so far (capped at `queued`).
    done: u64,
}

enum Targets {
    Tcp(Vec<Conn>),
    Udp { target: SendTarget, base: u64 },
}

impl FileSender {
    /// Opens `path` (on the calling thread: opening and reading its size are quick; the
    /// contents are only read by the worker), picks the target connections now (a
    /// server's `Default`/`All` = the clients connected at this moment) and starts the
    /// worker. Errors: the file cannot be opened, no such client, not connected, a
    /// chunk size of 0.
    pub fn start(
        handle: SessionHandle,
        target: SendTarget,
        path: impl AsRef<Path>,
        options: FileSendOptions,
    ) -> Result<FileSender, AutomationError> {
        let path = path.as_ref();
        if options.chunk_size == 0 {
            return Err(AutomationError::Invalid {
                message: "the chunk size must be at least 1 byte".into(),
            });
        }
        let io_err = |what: &str, e: io::Error| AutomationError::Io {
            context: format!("{what} {}", path.display()),
            cause: e.to_string(),
        };
        let file = File::open(path).map_err(|e| io_err("opening", e))?;
        let total = file
            .metadata()
            .map_err(|e| io_err("reading the size of", e))?
            .len();
        let mut options = options;
        let targets = if handle.kind() == SessionKind::Udp {
            options.chunk_size = options.chunk_size.min(MAX_DATAGRAM);
            Targets::Udp {
                target,
                base: handle.counters().tx_bytes,
            }
        } else {
            Targets::Tcp(tcp_targets(&handle, &target)?)
        };
        let shared = Arc::new(Shared {
            done: AtomicU64::new(0),
            queued: AtomicU64::new(0),
            total: AtomicU64::new(total),
            started: Instant::now(),
            ended: Mutex::new(None),
            running: AtomicBool::new(true),
            stop: StopFlag::default(),
            reason: Mutex::new(None),
        });
        let worker = shared.clone();
        let spawned = crate::sync::spawn(format!("sockscope-s{}-file", handle.id()), move || {
            let mut job = Job {
                shared: &worker,
                handle: &handle,
                targets,
                options,
                queued: 0,
                wire_queued: 0,
            };
            // Caught here too: the reason must be set while nobody joins the thread.
            let reason = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job.run(file)))
                .unwrap_or_else(|_| {
                    StopReason::Failed(AutomationError::Invalid {
                        message: "internal error: the file sender panicked".into(),
                    })
                });
            *lock(&worker.ended) = Some(Instant::now());
            *lock(&worker.reason) = Some(reason);
            worker.running.store(false, Ordering::SeqCst);
        });
        if let Err(e) = spawned {
            return Err(AutomationError::Io {
                context: "starting the file sender thread".into(),
                cause: e.to_string(),
            });
        }
        Ok(FileSender { shared })
    }

    /// Progress now (cheap: a few atomic loads).
    pub fn progress(&self) -> FileProgress {
        let s = &self.shared;
        let done = s.done.load(Ordering::SeqCst);
        let total = s.total.load(Ordering::SeqCst);
        let elapsed = match *lock(&s.ended) {
            Some(end) => end - s.started,
            None => s.started.elapsed(),
        };
        let secs = elapsed.as_secs_f64();
        let bytes_per_sec = if secs > 0.0 { done as f64 / secs } else { 0.0 };
        let eta = (bytes_per_sec > 0.0)
            .then(|| Duration::from_secs_f64(total.saturating_sub(done) as f64 / bytes_per_sec));
        FileProgress {
            done,
            queued: s.queued.load(Ordering::SeqCst),
            total,
            elapsed,
            bytes_per_sec,
            eta,
        }
    }

    /// Stops queuing more of the file and returns at once. Up to `max_in_flight` bytes
    /// already handed to the engine still go out.
    pub fn cancel(&self) {
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

impl Drop for FileSender {
    fn drop(&mut self) {
        self.cancel();
    }
}

/// The connections a TCP file send goes to, with their Tx counters now.
fn tcp_targets(handle: &SessionHandle, target: &SendTarget) -> Result<Vec<Conn>, AutomationError> {
    let clients = handle.clients();
    let ids: Vec<ConnId> = match target {
        SendTarget::Default | SendTarget::All => clients.iter().map(|c| c.conn).collect(),
        SendTarget::Conn(id) => vec![*id],
        SendTarget::Conns(ids) => ids.clone(),
        SendTarget::Peer(_) | SendTarget::Peers(_) => clients
            .iter()
            .filter(|c| target.names_peer(c.peer))
            .map(|c| c.conn)
            .collect(),
    };
    if ids.is_empty() {
        return Err(EngineError::NotConnected.into());
    }
    ids.into_iter()
        .map(|id| match clients.iter().find(|c| c.conn == id) {
            Some(c) => Ok(Conn {
                id,
                base: c.counters.tx_bytes,
                done: 0,
            }),
            None => Err(EngineError::UnknownConn { conn: id }.into()),
        })
        .collect()
}

struct Job<'a> {
    shared: &'a Shared,
    handle: &'a SessionHandle,
    targets: Targets,
    options: FileSendOptions,
    /// File bytes queued (per target).
    queued: u64,
    /// UDP: bytes queued for the wire (a chunk times the peers it went to).
    wire_queued: u64,
}

impl Job<'_> {
    fn run(&mut self, mut file: File) -> StopReason {
        let mut buf = vec![0u8; self.options.chunk_size];
        let mut progress = Progress::new(self.options.stall_timeout);
        loop {
            if self.shared.stop.is_set() {
                return StopReason::Stopped;
            }
            let n = match read_full(&mut file, &mut buf) {
                Ok(n) => n,
                Err(e) => {
                    return StopReason::Failed(AutomationError::Io {
                        context: "reading the file".into(),
                        cause: e.to_string(),
                    });
                }
            };
            if n == 0 {
                break;
            }
            // Wait until every target has room for one more chunk.
            loop {
                if let Some(reason) = self.refresh() {
                    return reason;
                }
                if self.in_flight() + n <= self.options.max_in_flight.max(n) {
                    break;
                }
                if let Some(reason) = progress.check(self.shared.done.load(Ordering::SeqCst)) {
                    return reason;
                }
                if self.shared.stop.sleep_until(Instant::now() + POLL) {
                    return StopReason::Stopped;
                }
            }
            if let Some(reason) = self.send(&buf[..n]) {
                return reason;
            }
            self.queued += n as u64;
            self.shared.queued.store(self.queued, Ordering::SeqCst);
            if !self.options.chunk_delay.is_zero()
                && self
                    .shared
                    .stop
                    .sleep_until(Instant::now() + self.options.chunk_delay)
            {
                return StopReason::Stopped;
            }
        }
        // The file may have changed size since it was opened: what was read is the total.
        self.shared.total.store(self.queued, Ordering::SeqCst);
        loop {
            if let Some(reason) = self.refresh() {
                return reason;
            }
            let done = self.shared.done.load(Ordering::SeqCst);
            if done >= self.queued {
                return StopReason::Finished;
            }
            if let Some(reason) = progress.check(done) {
                return reason;
            }
            if self.shared.stop.sleep_until(Instant::now() + POLL) {
                return StopReason::Stopped;
            }
        }
    }

    /// Bytes waiting in the engine for the fullest target.
    fn in_flight(&self) -> usize {
        match &self.targets {
            Targets::Udp { .. } => self.handle.queued_bytes(None).unwrap_or(0),
            Targets::Tcp(conns) => conns
                .iter()
                .filter_map(|c| self.handle.queued_bytes(Some(c.id)))
                .max()
                .unwrap_or(0),
        }
    }

    /// Reads the counters into `done`; drops targets that closed. Some(reason) when the
    /// send cannot go on.
    fn refresh(&mut self) -> Option<StopReason> {
        let queued = self.queued;
        let done = match &mut self.targets {
            Targets::Udp { base, .. } => {
                if self.handle.is_stopped() {
                    return Some(StopReason::ConnectionGone);
                }
                // Bytes on the wire over bytes queued for the wire, scaled to the file
                // (one chunk may go to several peers).
                let wire = self.handle.counters().tx_bytes.saturating_sub(*base);
                let wire_queued = self.wire_queued;
                if wire_queued == 0 {
                    0
                } else {
                    let wire = wire.min(wire_queued);
                    ((u128::from(wire) * u128::from(queued)) / u128::from(wire_queued)) as u64
                }
            }
            Targets::Tcp(conns) => {
                conns.retain_mut(|c| match self.handle.conn_counters(c.id) {
                    Some(counters) => {
                        c.done = counters.tx_bytes.saturating_sub(c.base).min(queued);
                        true
                    }
                    None => false,
                });
                match conns.iter().map(|c| c.done).min() {
                    Some(d) => d,
                    None => return Some(StopReason::ConnectionGone),
                }
            }
        };
        self.shared.done.store(done, Ordering::SeqCst);
        None
    }

    /// Queues one chunk for every target. Some(reason) when the send cannot go on.
    fn send(&mut self, chunk: &[u8]) -> Option<StopReason> {
        match &mut self.targets {
            Targets::Udp { target, .. } => match self.handle.send(target.clone(), chunk.to_vec()) {
                Ok(k) => {
                    self.wire_queued += (k * chunk.len()) as u64;
                    None
                }
                Err(EngineError::NotConnected) => Some(StopReason::ConnectionGone),
                Err(e) => Some(StopReason::Failed(e.into())),
            },
            Targets::Tcp(conns) => {
                let mut failed = None;
                conns.retain(
                    |c| match self.handle.send(SendTarget::Conn(c.id), chunk.to_vec()) {
                        Ok(_) => true,
                        Err(EngineError::NotConnected | EngineError::UnknownConn { .. }) => false,
                        Err(e) => {
                            failed.get_or_insert(e);
                            true
                        }
                    },
                );
                if let Some(e) = failed {
                    return Some(StopReason::Failed(e.into()));
                }
                conns.is_empty().then_some(StopReason::ConnectionGone)
            }
        }
    }
}

/// Watches the bytes written while a send waits, to stop one that makes no progress.
struct Progress {
    timeout: Duration,
    done: u64,
    since: Instant,
}

impl Progress {
    fn new(timeout: Duration) -> Self {
        Progress {
            timeout,
            done: 0,
            since: Instant::now(),
        }
    }

    /// `Some(Stalled)` when `done` has not moved for the timeout.
    fn check(&mut self, done: u64) -> Option<StopReason> {
        if done != self.done {
            self.done = done;
            self.since = Instant::now();
            return None;
        }
        (!self.timeout.is_zero() && self.since.elapsed() >= self.timeout)
            .then_some(StopReason::Stalled(self.timeout))
    }
}

/// Reads until `buf` is full or the file ends; the number of bytes read.
fn read_full(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}
