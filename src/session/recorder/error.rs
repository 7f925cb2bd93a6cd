//! Why a log could not be written.

use std::fmt;
use std::path::PathBuf;

/// Why a log could not be written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecorderError {
    /// The file could not be created (missing folder, no permission, a file in the way).
    Create {
        /// The file.
        path: PathBuf,
        /// The OS error in words.
        cause: String,
    },
    /// Writing failed (disk full, device error); what was written before is kept.
    Write {
        /// The file.
        path: PathBuf,
        /// The OS error in words.
        cause: String,
    },
    /// The recorder thread could not be started.
    Spawn {
        /// The OS error in words.
        cause: String,
    },
    /// The recorder thread panicked (a bug); the file holds what was written before.
    Panic {
        /// The panic message.
        message: String,
    },
}

impl fmt::Display for RecorderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecorderError::Create { path, cause } => {
                write!(f, "cannot create log file {path:?}: {cause}")
            }
            RecorderError::Write { path, cause } => {
                write!(f, "writing log file {path:?} failed: {cause}")
            }
            RecorderError::Spawn { cause } => {
                write!(f, "cannot start the recorder thread: {cause}")
            }
            RecorderError::Panic { message } => {
                write!(f, "the recorder stopped on an internal error: {message}")
            }
        }
    }
}

impl std::error::Error for RecorderError {}
