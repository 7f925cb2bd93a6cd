//! The files a log writes (buffered, counting what the OS accepted) and the format
//! writers behind one interface.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::session::pcapng::PcapngLog;

use super::csv::CsvLog;
use super::entry::Entry;
use super::error::RecorderError;
use super::format::{LogFormat, LogOptions, raw_tx_path};
use super::raw::RawLog;
use super::text::{TextLog, TextStyle};

/// Write buffer per file: large, so a flood costs few system calls.
const BUF_SIZE: usize = 1 << 20;

/// A file that counts the bytes the OS accepted.
pub(super) struct CountingFile {
    file: File,
    count: Arc<AtomicU64>,
}

impl Write for CountingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// A log file: buffered, counting the bytes the OS accepted.
pub(super) type Out = BufWriter<CountingFile>;

/// Creates a log file with the large buffer.
pub(super) fn create(path: &Path, count: &Arc<AtomicU64>) -> Result<Out, RecorderError> {
    create_with(path, count, BUF_SIZE)
}

/// Raw logs get a small buffer: `BufWriter` hands writes at least as large as its buffer
/// straight to the file, so 64 KiB reads skip one copy while small ones are still batched.
const RAW_BUF_SIZE: usize = 16 * 1024;

/// Creates a log file with a buffer of `capacity` bytes.
pub(super) fn create_with(
    path: &Path,
    count: &Arc<AtomicU64>,
    capacity: usize,
) -> Result<Out, RecorderError> {
    let file = File::create(path).map_err(|e| RecorderError::Create {
        path: path.to_path_buf(),
        cause: e.to_string(),
    })?;
    Ok(BufWriter::with_capacity(
        capacity,
        CountingFile {
            file,
            count: count.clone(),
        },
    ))
}

/// The format writers behind one interface.
pub(super) enum Sink {
    /// Text, text-hex or hexdump.
    Text(TextLog),
    /// CSV.
    Csv(CsvLog),
    /// The exact bytes, per direction.
    Raw(RawLog),
    /// pcapng.
    Pcapng(PcapngLog<Out>),
}

impl Sink {
    /// Creates the file(s) of `options.format` at `path`, counting bytes into `count`.
    pub(super) fn open(
        path: &Path,
        options: &LogOptions,
        count: &Arc<AtomicU64>,
    ) -> Result<Sink, RecorderError> {
        let text = |style| -> Result<Sink, RecorderError> {
            Ok(Sink::Text(TextLog::new(
                create(path, count)?,
                style,
                options.encoding,
            )))
        };
        let write_error = |e: io::Error| RecorderError::Write {
            path: path.to_path_buf(),
            cause: e.to_string(),
        };
        match options.format {
            LogFormat::Text => text(TextStyle::Text),
            LogFormat::TextHex => text(TextStyle::Hex),
            LogFormat::Hexdump => text(TextStyle::Hexdump),
            LogFormat::Raw => Ok(Sink::Raw(RawLog {
                rx: create_with(path, count, RAW_BUF_SIZE)?,
                tx: create_with(&raw_tx_path(path), count, RAW_BUF_SIZE)?,
            })),
            LogFormat::Csv => {
                let out = create(path, count)?;
                let log = CsvLog::new(out, options.frame_def.clone()).map_err(write_error)?;
                Ok(Sink::Csv(log))
            }
            LogFormat::Pcapng => {
                let out = create(path, count)?;
                let log = PcapngLog::new(out, &options.locals).map_err(write_error)?;
                Ok(Sink::Pcapng(log))
            }
        }
    }

    /// Writes one entry.
    pub(super) fn entry(&mut self, entry: &Entry<'_>) -> io::Result<()> {
        match self {
            Sink::Text(log) => log.entry(entry),
            Sink::Csv(log) => log.entry(entry),
            Sink::Raw(log) => log.entry(entry),
            Sink::Pcapng(log) => log.entry(entry),
        }
    }

    /// Hands buffered bytes to the OS.
    pub(super) fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Text(log) => log.out.flush(),
            Sink::Csv(log) => log.out.flush(),
            Sink::Raw(log) => log.flush(),
            Sink::Pcapng(log) => log.get_mut().flush(),
        }
    }

    /// Writes what formats hold back (pending partial characters) and flushes.
    pub(super) fn finish(&mut self) -> io::Result<()> {
        match self {
            Sink::Text(log) => log.finish(),
            _ => self.flush(),
        }
    }

    /// After a write error: drops the buffered bytes instead of retrying them on close,
    /// so a failing disk is not hit again and the file keeps what the OS accepted.
    pub(super) fn abandon(self) {
        fn discard(out: Out) {
            let _ = out.into_parts();
        }
        match self {
            Sink::Text(log) => discard(log.out),
            Sink::Csv(log) => discard(log.out),
            Sink::Raw(log) => {
                discard(log.rx);
                discard(log.tx);
            }
            Sink::Pcapng(log) => discard(log.into_inner()),
        }
    }
}
