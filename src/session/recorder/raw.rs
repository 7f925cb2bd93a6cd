//! The raw writer: the exact bytes, received ones to the path given and sent ones to
//! [`super::raw_tx_path`]; events are not written.

use std::io::{self, Write};

use crate::engine::Direction;

use super::entry::Entry;
use super::sink::Out;

/// A raw log: one file per direction.
pub(super) struct RawLog {
    /// Received bytes.
    pub(super) rx: Out,
    /// Sent bytes.
    pub(super) tx: Out,
}

impl RawLog {
    /// Appends a data entry's bytes to its direction's file; other entries write nothing.
    pub(super) fn entry(&mut self, entry: &Entry<'_>) -> io::Result<()> {
        match entry {
            Entry::Data {
                dir: Direction::Rx,
                bytes,
                ..
            } => self.rx.write_all(bytes),
            Entry::Data {
                dir: Direction::Tx,
                bytes,
                ..
            } => self.tx.write_all(bytes),
            _ => Ok(()),
        }
    }

    /// Hands both files' buffered bytes to the OS.
    pub(super) fn flush(&mut self) -> io::Result<()> {
        self.rx.flush()?;
        self.tx.flush()
    }
}
