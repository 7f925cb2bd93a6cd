//! Saving the store: what the view holds now, written in any format.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::codec::text::TextEncoding;
use crate::session::store::Record;

use super::entry::Entry;
use super::error::RecorderError;
use super::format::{LogFormat, LogOptions};
use super::sink::Sink;

/// What [`write_records`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteSummary {
    /// The file.
    pub path: PathBuf,
    /// The format.
    pub format: LogFormat,
    /// Records written.
    pub records: u64,
    /// Payload bytes written.
    pub data_bytes: u64,
    /// Size of the file(s) written.
    pub bytes_written: u64,
}

/// Writes `records` (e.g. what the store holds now) to `path` in `format`, decoding text
/// in `encoding`. Blocking: call it from a worker thread, not the UI thread.
pub fn write_records<'a>(
    path: &Path,
    format: LogFormat,
    encoding: TextEncoding,
    records: impl IntoIterator<Item = &'a Record>,
) -> Result<WriteSummary, RecorderError> {
    write_records_with(path, &LogOptions::new(format, encoding), records)
}

/// [`write_records`] with all options (pcapng: the sessions' local addresses, which
/// store records do not carry; without them the local end is `0.0.0.0:0` / `[::]:0`).
pub fn write_records_with<'a>(
    path: &Path,
    options: &LogOptions,
    records: impl IntoIterator<Item = &'a Record>,
) -> Result<WriteSummary, RecorderError> {
    let count = Arc::new(AtomicU64::new(0));
    let mut sink = Sink::open(path, options, &count)?;
    let mut written = 0u64;
    let mut data_bytes = 0u64;
    let result = (|| -> io::Result<()> {
        for record in records {
            let entry = Entry::from_record(record);
            sink.entry(&entry)?;
            written += 1;
            data_bytes += entry.payload_len();
        }
        sink.finish()
    })();
    match result {
        Ok(()) => Ok(WriteSummary {
            path: path.to_path_buf(),
            format: options.format,
            records: written,
            data_bytes,
            bytes_written: count.load(Ordering::Relaxed),
        }),
        Err(e) => {
            sink.abandon();
            Err(RecorderError::Write {
                path: path.to_path_buf(),
                cause: e.to_string(),
            })
        }
    }
}
