//! Automation: the things a debugging assistant does by itself once set up — periodic
//! sends, streaming a file, one-click quick commands, and auto-replies.
//!
//! Why a module of its own, outside the UI: everything here must keep working when the
//! window is slow or minimised, so it runs on worker threads (periodic and file senders)
//! or inside the engine's readers (auto-replies, through [`crate::engine::Responder`]).
//! The UI only starts, stops, polls and edits plain data. No egui here; the engine sees
//! this module only through its `Responder` trait.
//!
//! - [`template`]: [`SendSpec`] (text/hex, encoding, line ending, checksum) compiled into
//!   a [`Template`] with `{counter}`, `{time}`, `{rand:N}`, `{len}` variables.
//! - [`periodic`]: [`PeriodicSender`], a send every N ms on absolute deadlines.
//! - [`file`](mod@file): [`FileSender`], streams a file of any size with bounded memory and
//!   progress counted from bytes actually written.
//! - [`quick`]: [`QuickCommands`], a named, reorderable, persisted list of sends with a
//!   versioned JSON import/export.
//! - [`rules`]: [`AutoResponder`], echo and auto-reply rules (exact, contains, starts
//!   with, regex, hex pattern with `??`), and the seed presets.

pub mod file;
pub mod periodic;
pub mod quick;
pub mod rules;
pub mod template;

use std::fmt;

use crate::engine::EngineError;
use crate::sync::lock;

pub use self::file::{FileProgress, FileSendOptions, FileSender};
pub use self::periodic::{PeriodicConfig, PeriodicSender};
pub use self::quick::{ImportError, QuickCommand, QuickCommands};
pub use self::rules::{
    AutoReplyConfig, AutoResponder, MatchKind, Preset, Rule, RuleAction, RuleError,
};
pub use self::template::{SendSpec, Template, TemplateError};

/// Why starting or running an automation failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AutomationError {
    /// The send template is not valid.
    Template(TemplateError),
    /// The engine refused (not connected, unknown client, queue full, …).
    Engine(EngineError),
    /// A file could not be opened or read.
    Io {
        /// What we were doing, with the path.
        context: String,
        /// The OS error in words.
        cause: String,
    },
    /// A setting is out of range (interval below 1 ms, a count of 0, …).
    Invalid {
        /// What is wrong, in words.
        message: String,
    },
}

impl fmt::Display for AutomationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AutomationError::Template(e) => e.fmt(f),
            AutomationError::Engine(e) => e.fmt(f),
            AutomationError::Io { context, cause } => write!(f, "{context}: {cause}"),
            AutomationError::Invalid { message } => f.write_str(message),
        }
    }
}

impl std::error::Error for AutomationError {}

impl From<TemplateError> for AutomationError {
    fn from(e: TemplateError) -> Self {
        AutomationError::Template(e)
    }
}

impl From<EngineError> for AutomationError {
    fn from(e: EngineError) -> Self {
        AutomationError::Engine(e)
    }
}

/// Why a periodic or file sender ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// It did what was asked (all N sends, the whole file written).
    Finished,
    /// `stop()` / `cancel()` was called (or the sender was dropped).
    Stopped,
    /// The connection (or every target client, or the session) went away.
    ConnectionGone,
    /// A file send made no progress for this long (the peer stopped reading).
    Stalled(std::time::Duration),
    /// Something failed; the sender stopped.
    Failed(AutomationError),
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StopReason::Finished => f.write_str("finished"),
            StopReason::Stopped => f.write_str("stopped"),
            StopReason::ConnectionGone => f.write_str("the connection went away"),
            StopReason::Stalled(d) => write!(
                f,
                "stalled: nothing was written for {} s (the peer stopped reading)",
                d.as_secs()
            ),
            StopReason::Failed(e) => write!(f, "failed: {e}"),
        }
    }
}

/// A stop flag a worker can sleep on and be woken from at once.
#[derive(Default)]
pub(crate) struct StopFlag {
    stop: std::sync::Mutex<bool>,
    wake: std::sync::Condvar,
}

impl StopFlag {
    pub(crate) fn set(&self) {
        *lock(&self.stop) = true;
        self.wake.notify_all();
    }

    pub(crate) fn is_set(&self) -> bool {
        *lock(&self.stop)
    }

    /// Sleeps until `deadline` or until stop is set; true if stop is set.
    pub(crate) fn sleep_until(&self, deadline: std::time::Instant) -> bool {
        let mut stop = lock(&self.stop);
        loop {
            if *stop {
                return true;
            }
            let now = std::time::Instant::now();
            if now >= deadline {
                return false;
            }
            stop = self
                .wake
                .wait_timeout(stop, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}
