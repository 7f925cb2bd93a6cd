//! The recorder thread: writes every event of the engine's tap to the log file.

use std::fmt;
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::codec::text::TextEncoding;
use crate::engine::Event;
use crate::sync::{lock, panic_message, spawn};

use super::entry::Entry;
use super::error::RecorderError;
use super::format::{LogFormat, LogOptions};
use super::sink::Sink;

/// How often the recorder thread wakes to look at the stop flag when no event comes.
const POLL: Duration = Duration::from_millis(25);
/// Buffered data older than this is flushed, so a crash loses at most about this much.
const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// A recording's progress, as the UI shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecorderStatus {
    /// The file (for raw: the received-bytes file; sent bytes go to
    /// [`raw_tx_path`](super::raw_tx_path)).
    pub path: PathBuf,
    /// The format.
    pub format: LogFormat,
    /// Events written (data and connection events).
    pub records: u64,
    /// Payload bytes written (both directions).
    pub data_bytes: u64,
    /// Bytes handed to the OS so far (all files of the log).
    pub bytes_written: u64,
    /// Why the recording ended early, in words; `None` while fine.
    pub error: Option<String>,
    /// True once the thread has ended and the file is closed.
    pub finished: bool,
}

struct Shared {
    status: Mutex<RecorderStatus>,
    done: Condvar,
    stop: AtomicBool,
    bytes_written: Arc<AtomicU64>,
}

/// A running recording: owns the recorder thread, which writes every event it receives
/// on the tap channel to the log file.
///
/// Stop it with [`Recorder::stop`] (returns at once) and, where waiting is fine (on exit,
/// in tests), [`Recorder::finish`]. Dropping it only signals the stop.
pub struct Recorder {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<Result<(), String>>>,
}

impl fmt::Debug for Recorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recorder")
            .field("status", &self.status())
            .finish()
    }
}

impl Recorder {
    /// Creates the log file and starts the recorder thread. Returns the recorder and the
    /// tap to give to [`crate::engine::Engine::set_tap`]; `capacity` is the tap channel's
    /// size in events (a few thousand is plenty).
    ///
    /// Fails at once, naming the path and the cause, if the file cannot be created.
    pub fn start(
        path: &Path,
        format: LogFormat,
        encoding: TextEncoding,
        capacity: usize,
    ) -> Result<(Recorder, SyncSender<Event>), RecorderError> {
        Recorder::start_with(path, &LogOptions::new(format, encoding), capacity)
    }

    /// [`Recorder::start`] with all options.
    pub fn start_with(
        path: &Path,
        options: &LogOptions,
        capacity: usize,
    ) -> Result<(Recorder, SyncSender<Event>), RecorderError> {
        let capacity = capacity.max(1);
        let (tx, rx) = std::sync::mpsc::sync_channel(capacity);
        let recorder = Recorder::start_receiver(path, options, rx, capacity)?;
        Ok((recorder, tx))
    }

    /// Starts recording the events that arrive on `rx` (for callers that own the
    /// channel, such as benchmarks); `drain_limit` bounds how many queued events are
    /// still written after [`Recorder::stop`].
    pub fn start_receiver(
        path: &Path,
        options: &LogOptions,
        rx: Receiver<Event>,
        drain_limit: usize,
    ) -> Result<Recorder, RecorderError> {
        let count = Arc::new(AtomicU64::new(0));
        let sink = Sink::open(path, options, &count)?;
        let shared = Arc::new(Shared {
            status: Mutex::new(RecorderStatus {
                path: path.to_path_buf(),
                format: options.format,
                records: 0,
                data_bytes: 0,
                bytes_written: 0,
                error: None,
                finished: false,
            }),
            done: Condvar::new(),
            stop: AtomicBool::new(false),
            bytes_written: count,
        });
        let thread_shared = shared.clone();
        let path_owned = path.to_path_buf();
        let thread = spawn("sockscope-recorder", move || {
            run(rx, sink, &thread_shared, &path_owned, drain_limit)
        })
        .map_err(|e| RecorderError::Spawn {
            cause: e.to_string(),
        })?;
        Ok(Recorder {
            shared,
            thread: Some(thread),
        })
    }

    /// The recording's progress now (cheap; call it every frame if you like).
    pub fn status(&self) -> RecorderStatus {
        let mut status = lock(&self.shared.status).clone();
        status.bytes_written = self.shared.bytes_written.load(Ordering::Relaxed);
        status
    }

    /// Asks the thread to write what is queued now, close the file and end. Returns at
    /// once. Events the engine sends after this are not written; the engine drops the
    /// tap once the thread has ended (or call `engine.set_tap(None)` first).
    pub fn stop(&self) {
        self.shared.stop.store(true, Ordering::Release);
    }

    /// True once the thread has ended and the file is closed.
    pub fn is_finished(&self) -> bool {
        lock(&self.shared.status).finished
    }

    /// Stops and waits up to `timeout` for the file to be closed, then returns the
    /// final status (`finished` is false if the time ran out). For `on_exit` and tests.
    pub fn finish(&mut self, timeout: Duration) -> RecorderStatus {
        self.stop();
        let deadline = Instant::now() + timeout;
        {
            let mut status = lock(&self.shared.status);
            while !status.finished {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                status = self
                    .shared
                    .done
                    .wait_timeout(status, left)
                    .map(|(g, _)| g)
                    .unwrap_or_else(|e| e.into_inner().0);
            }
        }
        if self.is_finished()
            && let Some(thread) = self.thread.take()
        {
            // The thread has published `finished`; it ends right after.
            let _ = thread.join();
        }
        self.status()
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The recorder thread's body: write events until stopped or the channel closes.
fn run(rx: Receiver<Event>, sink: Sink, shared: &Shared, path: &Path, drain_limit: usize) {
    let mut sink = Some(sink);
    // Caught here, not only by `spawn`: the status must say why, and `finished` must be
    // set, while nobody joins the thread.
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        record_loop(&rx, &mut sink, shared, drain_limit)
    }));
    let error = match outcome {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(
            RecorderError::Write {
                path: path.to_path_buf(),
                cause: e.to_string(),
            }
            .to_string(),
        ),
        Err(payload) => Some(
            RecorderError::Panic {
                message: panic_message(payload.as_ref()),
            }
            .to_string(),
        ),
    };
    if error.is_some()
        && let Some(sink) = sink.take()
    {
        sink.abandon();
    }
    drop(sink);
    // Close the channel before saying "finished", so the engine sees the tap gone.
    drop(rx);
    let mut status = lock(&shared.status);
    if error.is_some() {
        status.error = error;
    }
    status.finished = true;
    drop(status);
    shared.done.notify_all();
}

fn record_loop(
    rx: &Receiver<Event>,
    sink: &mut Option<Sink>,
    shared: &Shared,
    drain_limit: usize,
) -> io::Result<()> {
    let Some(sink) = sink.as_mut() else {
        return Ok(());
    };
    let mut last_flush = Instant::now();
    let mut dirty = false;
    let write = |sink: &mut Sink, event: &Event| -> io::Result<()> {
        let entry = Entry::from_event(event);
        sink.entry(&entry)?;
        let mut status = lock(&shared.status);
        status.records += 1;
        status.data_bytes += entry.payload_len();
        Ok(())
    };
    loop {
        if shared.stop.load(Ordering::Acquire) {
            // Write what is queued now; a flood must not keep us from finishing.
            for _ in 0..drain_limit {
                match rx.try_recv() {
                    Ok(event) => write(sink, &event)?,
                    Err(_) => break,
                }
            }
            break;
        }
        match rx.recv_timeout(POLL) {
            Ok(event) => {
                write(sink, &event)?;
                dirty = true;
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if dirty && last_flush.elapsed() >= FLUSH_EVERY {
            sink.flush()?;
            dirty = false;
            last_flush = Instant::now();
        }
    }
    sink.finish()
}
