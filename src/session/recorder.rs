//! The session log: a file that holds every byte of a session, written on its own thread.
//!
//! Why a thread fed by the engine's tap: the view is capped and drawn by the UI thread,
//! which may be paused, minimised or slow; the log must be complete regardless. The
//! engine tees every event into a bounded channel ([`crate::engine::Engine::set_tap`]);
//! TCP workers wait when it is full (TCP flow control slows the peer, nothing is lost),
//! so the recorder keeps up or the network slows to its pace. The same format writers
//! also serve "Save log…" for what the store holds now ([`write_records`]).
//!
//! # Formats (all files UTF-8 where text; times are [`format_iso`], local with offset)
//!
//! Every text-like format starts a record with the same five space-separated fields:
//! `TIME DIR PEER CONN LEN`, where `DIR` is `RX`, `TX` or `--` (a connection event),
//! `PEER` is `ip:port` / `[v6]:port` or `-`, `CONN` is `s<session>/c<conn>` for TCP,
//! `s<session>/udp` for a UDP datagram and `s<session>` for a session event, and `LEN` is
//! the payload length as `<n>B` (`-` for events).
//!
//! - **text** (`.txt`, `.log`): one line per record: the five fields, ` | `, then the
//!   payload decoded in the chosen encoding by a streaming decoder per connection and
//!   direction (a character split across reads is printed whole on the line where it
//!   completes); invalid bytes and control characters are `\xNN`, CR and LF are `\r`
//!   and `\n`, so one record is one line. A backslash in the data is written as is (use
//!   `text-hex` or `raw` for exact bytes). Event lines carry the event text after ` | `
//!   (`connected A -> B`, `client A joined (local B)`, `listening on A`,
//!   `closed: <reason>`, `error: <cause>`, …). When a connection closes with an
//!   incomplete character pending, a line with `0B` carries those bytes as `\xNN`.
//! - **text-hex** (name only): as text, the payload as spaced uppercase hex `48 65 6C`.
//! - **hexdump** (`.hex`): per record the five fields on a line, then `hexdump -C` style
//!   rows (offset within the connection's stream for that direction, 16 bytes, ASCII
//!   column), then an empty line. Events are one line (fields, ` | `, text) and an empty
//!   line.
//! - **raw** (`.bin`, `.raw`): the exact bytes, per direction: received bytes go to the
//!   path given, sent bytes to the same name with `.tx` before the extension
//!   (`capture.bin` + `capture.tx.bin`, see [`raw_tx_path`]); events are not written.
//!   Bytes of all connections are appended in arrival order, so use it for one
//!   connection or UDP peer; pcapng and CSV keep connections apart.
//! - **csv** (`.csv`): RFC 4180 with CRLF line ends and a header row
//!   `time,session,conn,peer,direction,length,hex,event`; `direction` is `RX`, `TX` or
//!   `EVENT`; `hex` is the payload as contiguous uppercase hex; `event` holds the event
//!   text (quoted when it contains a comma, quote or line break); `conn` is empty for UDP.
//! - **pcapng** (`.pcapng`): synthetic Ethernet/IP/TCP-or-UDP packets, see
//!   [`super::pcapng`].

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use crate::codec::hex::{format_spaced, hexdump_at};
use crate::codec::text::{StreamDecoder, TextEncoding, decode_all};
use crate::engine::{CloseReason, ConnId, Direction, Event, SessionId};

use super::pcapng::PcapngLog;
use super::store::{Record, RecordKind};
use super::time::format_iso;

/// Write buffer per file: large, so a flood costs few system calls.
const BUF_SIZE: usize = 1 << 20;
/// How often the recorder thread wakes to look at the stop flag when no event comes.
const POLL: Duration = Duration::from_millis(25);
/// Buffered data older than this is flushed, so a crash loses at most about this much.
const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// A session log format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LogFormat {
    /// One line per record, the payload as text in the chosen encoding.
    Text,
    /// One line per record, the payload as spaced hex.
    TextHex,
    /// A header line per record and `hexdump -C` style rows.
    Hexdump,
    /// The exact bytes: received to the path, sent to [`raw_tx_path`].
    Raw,
    /// One CSV row per record (RFC 4180).
    Csv,
    /// pcapng with synthetic Ethernet/IP/TCP-or-UDP headers, for Wireshark.
    Pcapng,
}

impl LogFormat {
    /// Every format, in the order a picker should list them.
    pub const ALL: [LogFormat; 6] = [
        LogFormat::Text,
        LogFormat::TextHex,
        LogFormat::Hexdump,
        LogFormat::Raw,
        LogFormat::Csv,
        LogFormat::Pcapng,
    ];

    /// The name used on the command line and in settings: `text`, `text-hex`,
    /// `hexdump`, `raw`, `csv`, `pcapng`.
    pub fn name(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::TextHex => "text-hex",
            LogFormat::Hexdump => "hexdump",
            LogFormat::Raw => "raw",
            LogFormat::Csv => "csv",
            LogFormat::Pcapng => "pcapng",
        }
    }

    /// Looks a format up by name or alias, ignoring case: the names of [`Self::name`],
    /// plus `txt`, `log`, `hex`, `bin`, `texthex`, `text_hex`.
    pub fn from_name(name: &str) -> Option<Self> {
        let key = name.trim().to_ascii_lowercase();
        Some(match key.as_str() {
            "text" | "txt" | "log" => LogFormat::Text,
            "text-hex" | "texthex" | "text_hex" => LogFormat::TextHex,
            "hexdump" | "hex" => LogFormat::Hexdump,
            "raw" | "bin" => LogFormat::Raw,
            "csv" => LogFormat::Csv,
            "pcapng" => LogFormat::Pcapng,
            _ => return None,
        })
    }

    /// The format a file name asks for by its extension (case-insensitive): `.txt` and
    /// `.log` → text, `.hex` → hexdump, `.bin` and `.raw` → raw, `.csv`, `.pcapng`.
    pub fn from_path(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        Some(match ext.as_str() {
            "txt" | "log" => LogFormat::Text,
            "hex" => LogFormat::Hexdump,
            "bin" | "raw" => LogFormat::Raw,
            "csv" => LogFormat::Csv,
            "pcapng" => LogFormat::Pcapng,
            _ => return None,
        })
    }

    /// The usual file extension (without the dot), for save dialogs.
    pub fn extension(self) -> &'static str {
        match self {
            LogFormat::Text | LogFormat::TextHex => "txt",
            LogFormat::Hexdump => "hex",
            LogFormat::Raw => "bin",
            LogFormat::Csv => "csv",
            LogFormat::Pcapng => "pcapng",
        }
    }
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where the raw format writes sent bytes: `.tx` inserted before the extension
/// (`capture.bin` → `capture.tx.bin`; `capture` → `capture.tx`).
pub fn raw_tx_path(path: &Path) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_os_string())
        .unwrap_or_default();
    let mut name = stem;
    name.push(".tx");
    if let Some(ext) = path.extension() {
        name.push(".");
        name.push(ext);
    }
    path.with_file_name(name)
}

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

/// How to write a log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogOptions {
    /// The file format.
    pub format: LogFormat,
    /// Encoding of the payload text (text format only).
    pub encoding: TextEncoding,
    /// Local addresses known before the log started, per session (pcapng uses them for
    /// connections whose `Connected`/`Listening` event came before the recording did;
    /// pass `SessionHandle::local_addr()` of the running session).
    pub locals: Vec<(SessionId, SocketAddr)>,
}

impl LogOptions {
    /// Options for `format` in `encoding`, with no known local addresses.
    pub fn new(format: LogFormat, encoding: TextEncoding) -> Self {
        LogOptions {
            format,
            encoding,
            locals: Vec::new(),
        }
    }
}

/// A recording's progress, as the UI shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecorderStatus {
    /// The file (for raw: the received-bytes file; sent bytes go to [`raw_tx_path`]).
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

// ---------------------------------------------------------------------------------------
// Entries: what every format writes, from engine events or from store records.

/// Who sent the SYN of a TCP connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Initiator {
    /// We connected (TCP client).
    Local,
    /// The peer connected to us (TCP server).
    Peer,
}

/// One thing to log, borrowed from an [`Event`] or a [`Record`].
#[derive(Clone, Debug)]
pub(crate) enum Entry<'a> {
    /// A TCP connection opened.
    Open {
        at: SystemTime,
        session: SessionId,
        conn: ConnId,
        local: SocketAddr,
        peer: SocketAddr,
        initiator: Initiator,
    },
    /// A server or UDP socket bound.
    Listening {
        at: SystemTime,
        session: SessionId,
        local: SocketAddr,
    },
    /// Bytes.
    Data {
        at: SystemTime,
        session: SessionId,
        conn: Option<ConnId>,
        peer: SocketAddr,
        dir: Direction,
        bytes: &'a [u8],
    },
    /// A TCP connection ended.
    Close {
        at: SystemTime,
        session: SessionId,
        conn: ConnId,
        peer: SocketAddr,
        reason: &'a CloseReason,
    },
    /// Anything else worth a line.
    Note {
        at: SystemTime,
        session: SessionId,
        conn: Option<ConnId>,
        peer: Option<SocketAddr>,
        text: Cow<'a, str>,
    },
}

/// The line an entry other than data makes, shared by the text and CSV logs.
struct EventLine<'a> {
    at: SystemTime,
    session: SessionId,
    conn: Option<ConnId>,
    peer: Option<SocketAddr>,
    text: Cow<'a, str>,
}

impl Entry<'_> {
    /// The event line of a non-data entry (`None` for data).
    fn event_line(&self) -> Option<EventLine<'_>> {
        let (at, session, conn, peer, text) = match self {
            Entry::Data { .. } => return None,
            Entry::Open {
                at,
                session,
                conn,
                local,
                peer,
                initiator,
            } => {
                let text = match initiator {
                    Initiator::Local => format!("connected {local} -> {peer}"),
                    Initiator::Peer => format!("client {peer} joined (local {local})"),
                };
                (*at, *session, Some(*conn), Some(*peer), Cow::Owned(text))
            }
            Entry::Listening { at, session, local } => (
                *at,
                *session,
                None,
                None,
                Cow::Owned(format!("listening on {local}")),
            ),
            Entry::Close {
                at,
                session,
                conn,
                peer,
                reason,
            } => (
                *at,
                *session,
                Some(*conn),
                Some(*peer),
                Cow::Owned(format!("closed: {reason}")),
            ),
            Entry::Note {
                at,
                session,
                conn,
                peer,
                text,
            } => (*at, *session, *conn, *peer, Cow::Borrowed(text.as_ref())),
        };
        Some(EventLine {
            at,
            session,
            conn,
            peer,
            text,
        })
    }

    fn from_event(event: &Event) -> Entry<'_> {
        let now = SystemTime::now;
        match event {
            Event::Connecting { session, addr } => Entry::Note {
                at: now(),
                session: *session,
                conn: None,
                peer: Some(*addr),
                text: Cow::Owned(format!("connecting to {addr}")),
            },
            Event::Connected {
                session,
                conn,
                local,
                peer,
            } => Entry::Open {
                at: now(),
                session: *session,
                conn: *conn,
                local: *local,
                peer: *peer,
                initiator: Initiator::Local,
            },
            Event::Listening { session, local } => Entry::Listening {
                at: now(),
                session: *session,
                local: *local,
            },
            Event::ClientJoined {
                session,
                conn,
                peer,
                local,
                at,
            } => Entry::Open {
                at: *at,
                session: *session,
                conn: *conn,
                local: *local,
                peer: *peer,
                initiator: Initiator::Peer,
            },
            Event::ClientRefused {
                session,
                peer,
                limit,
            } => Entry::Note {
                at: now(),
                session: *session,
                conn: None,
                peer: Some(*peer),
                text: Cow::Owned(format!(
                    "client {peer} refused: client limit {limit} reached"
                )),
            },
            Event::Data {
                session,
                conn,
                peer,
                dir,
                at,
                bytes,
            } => Entry::Data {
                at: *at,
                session: *session,
                conn: *conn,
                peer: *peer,
                dir: *dir,
                bytes,
            },
            Event::Closed {
                session,
                conn,
                peer,
                reason,
            } => Entry::Close {
                at: now(),
                session: *session,
                conn: *conn,
                peer: *peer,
                reason,
            },
            Event::Dropped {
                session,
                datagrams,
                bytes,
            } => Entry::Note {
                at: now(),
                session: *session,
                conn: None,
                peer: None,
                text: Cow::Owned(format!(
                    "{datagrams} datagrams ({bytes} bytes) dropped so far: the event queue was full"
                )),
            },
            Event::Error { session, error } => Entry::Note {
                at: now(),
                session: *session,
                conn: None,
                peer: None,
                text: Cow::Owned(format!("error: {error}")),
            },
            Event::Stopped { session } => Entry::Note {
                at: now(),
                session: *session,
                conn: None,
                peer: None,
                text: Cow::Borrowed("session stopped"),
            },
        }
    }

    fn from_record(record: &Record) -> Entry<'_> {
        match record.kind {
            RecordKind::Rx | RecordKind::Tx => Entry::Data {
                at: record.at,
                session: record.session,
                conn: record.conn,
                peer: record
                    .peer
                    .unwrap_or(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0))),
                dir: if record.kind == RecordKind::Rx {
                    Direction::Rx
                } else {
                    Direction::Tx
                },
                bytes: &record.bytes,
            },
            RecordKind::Info => Entry::Note {
                at: record.at,
                session: record.session,
                conn: record.conn,
                peer: record.peer,
                text: String::from_utf8_lossy(&record.bytes),
            },
        }
    }

    fn payload_len(&self) -> u64 {
        match self {
            Entry::Data { bytes, .. } => bytes.len() as u64,
            _ => 0,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Files.

/// A file that counts the bytes the OS accepted.
struct CountingFile {
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

type Out = BufWriter<CountingFile>;

fn create(path: &Path, count: &Arc<AtomicU64>) -> Result<Out, RecorderError> {
    create_with(path, count, BUF_SIZE)
}

/// Raw logs get a small buffer: `BufWriter` hands writes at least as large as its buffer
/// straight to the file, so 64 KiB reads skip one copy while small ones are still batched.
const RAW_BUF_SIZE: usize = 16 * 1024;

fn create_with(path: &Path, count: &Arc<AtomicU64>, capacity: usize) -> Result<Out, RecorderError> {
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

// ---------------------------------------------------------------------------------------
// Text, text-hex and hexdump.

#[derive(Clone, Copy, PartialEq, Eq)]
enum TextStyle {
    Text,
    Hex,
    Hexdump,
}

/// A TCP byte stream: one connection, one direction.
type StreamKey = (SessionId, ConnId, Direction);

struct TextLog {
    out: Out,
    style: TextStyle,
    encoding: TextEncoding,
    decoders: HashMap<StreamKey, (StreamDecoder, SocketAddr)>,
    offsets: HashMap<StreamKey, u64>,
    line: String,
    text: String,
}

fn dir_tag(dir: Direction) -> &'static str {
    match dir {
        Direction::Rx => "RX",
        Direction::Tx => "TX",
    }
}

/// Appends `TIME DIR PEER CONN LEN` (no trailing space).
#[allow(clippy::too_many_arguments)]
fn push_fields(
    line: &mut String,
    at: SystemTime,
    tag: &str,
    peer: Option<SocketAddr>,
    session: SessionId,
    conn: Option<ConnId>,
    data: bool,
    len: Option<usize>,
) {
    use std::fmt::Write as _;
    line.push_str(&format_iso(at));
    line.push(' ');
    line.push_str(tag);
    line.push(' ');
    // Writing into a String cannot fail.
    let _ = match peer {
        Some(p) => write!(line, "{p}"),
        None => write!(line, "-"),
    };
    let _ = match (conn, data) {
        (Some(c), _) => write!(line, " s{session}/c{c}"),
        (None, true) => write!(line, " s{session}/udp"),
        (None, false) => write!(line, " s{session}"),
    };
    let _ = match len {
        Some(n) => write!(line, " {n}B"),
        None => write!(line, " -"),
    };
}

/// Appends `text` with CR, LF and other control characters escaped (tab is kept).
fn push_escaped(out: &mut String, text: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let bytes = text.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if (b < 0x20 && b != b'\t') || b == 0x7F {
            // `b` is ASCII, so `i` is a char boundary.
            out.push_str(&text[start..i]);
            match b {
                b'\r' => out.push_str("\\r"),
                b'\n' => out.push_str("\\n"),
                _ => {
                    out.push_str("\\x");
                    out.push(char::from(HEX[usize::from(b >> 4)]));
                    out.push(char::from(HEX[usize::from(b & 0xF)]));
                }
            }
            start = i + 1;
        }
    }
    out.push_str(&text[start..]);
}

impl TextLog {
    fn event_line(
        &mut self,
        at: SystemTime,
        session: SessionId,
        conn: Option<ConnId>,
        peer: Option<SocketAddr>,
        text: &str,
    ) -> io::Result<()> {
        self.line.clear();
        push_fields(&mut self.line, at, "--", peer, session, conn, false, None);
        self.line.push_str(" | ");
        push_escaped(&mut self.line, text);
        self.line.push('\n');
        if self.style == TextStyle::Hexdump {
            self.line.push('\n');
        }
        self.out.write_all(self.line.as_bytes())
    }

    fn entry(&mut self, entry: &Entry<'_>) -> io::Result<()> {
        if let Entry::Data {
            at,
            session,
            conn,
            peer,
            dir,
            bytes,
        } = entry
        {
            return self.data(*at, *session, *conn, *peer, *dir, bytes);
        }
        if let Entry::Close {
            at, session, conn, ..
        } = entry
        {
            // A character cut off by the close is written before the close line.
            for dir in [Direction::Rx, Direction::Tx] {
                self.offsets.remove(&(*session, *conn, dir));
                if let Some((decoder, peer)) = self.decoders.remove(&(*session, *conn, dir)) {
                    self.tail(*at, *session, *conn, peer, dir, decoder)?;
                }
            }
        }
        match entry.event_line() {
            Some(line) => self.event_line(line.at, line.session, line.conn, line.peer, &line.text),
            None => Ok(()),
        }
    }

    /// Writes what a stream's decoder still holds (an incomplete character) as `\xNN`.
    fn tail(
        &mut self,
        at: SystemTime,
        session: SessionId,
        conn: ConnId,
        peer: SocketAddr,
        dir: Direction,
        mut decoder: StreamDecoder,
    ) -> io::Result<()> {
        self.text.clear();
        decoder.decode(&[], true, &mut self.text);
        if self.text.is_empty() {
            return Ok(());
        }
        self.line.clear();
        let tag = dir_tag(dir);
        push_fields(
            &mut self.line,
            at,
            tag,
            Some(peer),
            session,
            Some(conn),
            true,
            Some(0),
        );
        self.line.push_str(" | ");
        push_escaped(&mut self.line, &self.text);
        self.line.push('\n');
        self.out.write_all(self.line.as_bytes())
    }

    fn data(
        &mut self,
        at: SystemTime,
        session: SessionId,
        conn: Option<ConnId>,
        peer: SocketAddr,
        dir: Direction,
        bytes: &[u8],
    ) -> io::Result<()> {
        self.line.clear();
        let tag = dir_tag(dir);
        push_fields(
            &mut self.line,
            at,
            tag,
            Some(peer),
            session,
            conn,
            true,
            Some(bytes.len()),
        );
        match self.style {
            TextStyle::Text => {
                self.line.push_str(" | ");
                self.text.clear();
                match conn {
                    Some(c) => {
                        let encoding = self.encoding;
                        let (decoder, _) = self
                            .decoders
                            .entry((session, c, dir))
                            .or_insert_with(|| (StreamDecoder::new(encoding), peer));
                        decoder.decode(bytes, false, &mut self.text);
                    }
                    None => {
                        decode_all(self.encoding, bytes, &mut self.text);
                    }
                }
                push_escaped(&mut self.line, &self.text);
                self.line.push('\n');
            }
            TextStyle::Hex => {
                self.line.push_str(" | ");
                format_spaced(bytes, &mut self.line);
                self.line.push('\n');
            }
            TextStyle::Hexdump => {
                self.line.push('\n');
                let base = match conn {
                    Some(c) => {
                        let offset = self.offsets.entry((session, c, dir)).or_insert(0);
                        let base = *offset;
                        *offset += bytes.len() as u64;
                        base
                    }
                    None => 0,
                };
                if !bytes.is_empty() {
                    hexdump_at(base as usize, bytes, &mut self.line);
                    self.line.push('\n');
                }
                self.line.push('\n');
            }
        }
        self.out.write_all(self.line.as_bytes())
    }

    fn finish(&mut self) -> io::Result<()> {
        let mut pending: Vec<(StreamKey, (StreamDecoder, SocketAddr))> =
            self.decoders.drain().collect();
        pending.sort_by_key(|(k, _)| (k.0, k.1, k.2 == Direction::Tx));
        let now = SystemTime::now();
        for ((session, conn, dir), (decoder, peer)) in pending {
            self.tail(now, session, conn, peer, dir, decoder)?;
        }
        self.out.flush()
    }
}

// ---------------------------------------------------------------------------------------
// CSV.

const CSV_HEADER: &str = "time,session,conn,peer,direction,length,hex,event\r\n";

/// Uppercase hex pairs for every byte value.
const HEX_PAIRS: [[u8; 2]; 256] = {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut table = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = [DIGITS[i >> 4], DIGITS[i & 0xF]];
        i += 1;
    }
    table
};

/// Appends `bytes` as contiguous uppercase hex.
fn push_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    let start = out.len();
    out.resize(start + bytes.len() * 2, 0);
    for (slot, &b) in out[start..].chunks_exact_mut(2).zip(bytes) {
        slot.copy_from_slice(&HEX_PAIRS[usize::from(b)]);
    }
}

/// Appends one CSV field, quoted (RFC 4180) when it holds a comma, quote or line break.
fn push_csv_field(out: &mut Vec<u8>, field: &str) {
    if field.contains([',', '"', '\r', '\n']) {
        out.push(b'"');
        for part in field.split_inclusive('"') {
            out.extend_from_slice(part.as_bytes());
            if part.ends_with('"') {
                out.push(b'"');
            }
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(field.as_bytes());
    }
}

struct CsvLog {
    out: Out,
    row: Vec<u8>,
}

impl CsvLog {
    #[allow(clippy::too_many_arguments)]
    fn row(
        &mut self,
        at: SystemTime,
        session: SessionId,
        conn: Option<ConnId>,
        peer: Option<SocketAddr>,
        direction: &str,
        bytes: Option<&[u8]>,
        event: &str,
    ) -> io::Result<()> {
        let row = &mut self.row;
        row.clear();
        row.extend_from_slice(format_iso(at).as_bytes());
        row.push(b',');
        row.extend_from_slice(session.to_string().as_bytes());
        row.push(b',');
        if let Some(c) = conn {
            row.extend_from_slice(c.to_string().as_bytes());
        }
        row.push(b',');
        if let Some(p) = peer {
            row.extend_from_slice(p.to_string().as_bytes());
        }
        row.push(b',');
        row.extend_from_slice(direction.as_bytes());
        row.push(b',');
        if let Some(b) = bytes {
            row.extend_from_slice(b.len().to_string().as_bytes());
            row.push(b',');
            push_hex(row, b);
        } else {
            row.push(b',');
        }
        row.push(b',');
        push_csv_field(row, event);
        row.extend_from_slice(b"\r\n");
        self.out.write_all(row)
    }

    fn entry(&mut self, entry: &Entry<'_>) -> io::Result<()> {
        if let Entry::Data {
            at,
            session,
            conn,
            peer,
            dir,
            bytes,
        } = entry
        {
            return self.row(
                *at,
                *session,
                *conn,
                Some(*peer),
                dir_tag(*dir),
                Some(bytes),
                "",
            );
        }
        match entry.event_line() {
            Some(line) => self.row(
                line.at,
                line.session,
                line.conn,
                line.peer,
                "EVENT",
                None,
                &line.text,
            ),
            None => Ok(()),
        }
    }
}

// ---------------------------------------------------------------------------------------
// The format writers behind one interface.

enum Sink {
    Text(TextLog),
    Csv(CsvLog),
    Raw { rx: Out, tx: Out },
    Pcapng(PcapngLog<Out>),
}

impl Sink {
    fn open(
        path: &Path,
        options: &LogOptions,
        count: &Arc<AtomicU64>,
    ) -> Result<Sink, RecorderError> {
        let text = |style| -> Result<Sink, RecorderError> {
            Ok(Sink::Text(TextLog {
                out: create(path, count)?,
                style,
                encoding: options.encoding,
                decoders: HashMap::new(),
                offsets: HashMap::new(),
                line: String::new(),
                text: String::new(),
            }))
        };
        let write_error = |e: io::Error| RecorderError::Write {
            path: path.to_path_buf(),
            cause: e.to_string(),
        };
        match options.format {
            LogFormat::Text => text(TextStyle::Text),
            LogFormat::TextHex => text(TextStyle::Hex),
            LogFormat::Hexdump => text(TextStyle::Hexdump),
            LogFormat::Raw => Ok(Sink::Raw {
                rx: create_with(path, count, RAW_BUF_SIZE)?,
                tx: create_with(&raw_tx_path(path), count, RAW_BUF_SIZE)?,
            }),
            LogFormat::Csv => {
                let mut out = create(path, count)?;
                out.write_all(CSV_HEADER.as_bytes()).map_err(write_error)?;
                Ok(Sink::Csv(CsvLog {
                    out,
                    row: Vec::new(),
                }))
            }
            LogFormat::Pcapng => {
                let out = create(path, count)?;
                let log = PcapngLog::new(out, &options.locals).map_err(write_error)?;
                Ok(Sink::Pcapng(log))
            }
        }
    }

    fn entry(&mut self, entry: &Entry<'_>) -> io::Result<()> {
        match self {
            Sink::Text(log) => log.entry(entry),
            Sink::Csv(log) => log.entry(entry),
            Sink::Raw { rx, tx } => match entry {
                Entry::Data {
                    dir: Direction::Rx,
                    bytes,
                    ..
                } => rx.write_all(bytes),
                Entry::Data {
                    dir: Direction::Tx,
                    bytes,
                    ..
                } => tx.write_all(bytes),
                _ => Ok(()),
            },
            Sink::Pcapng(log) => log.entry(entry),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Text(log) => log.out.flush(),
            Sink::Csv(log) => log.out.flush(),
            Sink::Raw { rx, tx } => {
                rx.flush()?;
                tx.flush()
            }
            Sink::Pcapng(log) => log.get_mut().flush(),
        }
    }

    /// Writes what formats hold back (pending partial characters) and flushes.
    fn finish(&mut self) -> io::Result<()> {
        match self {
            Sink::Text(log) => log.finish(),
            _ => self.flush(),
        }
    }

    /// After a write error: drops the buffered bytes instead of retrying them on close,
    /// so a failing disk is not hit again and the file keeps what the OS accepted.
    fn abandon(self) {
        fn discard(out: Out) {
            let _ = out.into_parts();
        }
        match self {
            Sink::Text(log) => discard(log.out),
            Sink::Csv(log) => discard(log.out),
            Sink::Raw { rx, tx } => {
                discard(rx);
                discard(tx);
            }
            Sink::Pcapng(log) => discard(log.into_inner()),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Saving the store.

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

// ---------------------------------------------------------------------------------------
// The recorder thread.

struct Shared {
    status: Mutex<RecorderStatus>,
    done: Condvar,
    stop: AtomicBool,
    bytes_written: Arc<AtomicU64>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running recording: owns the recorder thread, which writes every event it receives
/// on the tap channel to the log file.
///
/// Stop it with [`Recorder::stop`] (returns at once) and, where waiting is fine (on exit,
/// in tests), [`Recorder::finish`]. Dropping it only signals the stop.
pub struct Recorder {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
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
        let thread = std::thread::Builder::new()
            .name("sockscope-recorder".into())
            .spawn(move || run(rx, sink, &thread_shared, &path_owned, drain_limit))
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

/// Panic payload as text.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

/// The recorder thread's body: write events until stopped or the channel closes.
fn run(rx: Receiver<Event>, sink: Sink, shared: &Shared, path: &Path, drain_limit: usize) {
    let mut sink = Some(sink);
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Extensions and names map to formats, case-insensitively; unknown ones do not.
    #[test]
    fn format_lookup() {
        assert_eq!(
            LogFormat::from_path(Path::new("a/b.PCAPNG")),
            Some(LogFormat::Pcapng)
        );
        assert_eq!(
            LogFormat::from_path(Path::new("x.txt")),
            Some(LogFormat::Text)
        );
        assert_eq!(
            LogFormat::from_path(Path::new("x.hex")),
            Some(LogFormat::Hexdump)
        );
        assert_eq!(
            LogFormat::from_path(Path::new("x.bin")),
            Some(LogFormat::Raw)
        );
        assert_eq!(
            LogFormat::from_path(Path::new("x.csv")),
            Some(LogFormat::Csv)
        );
        assert_eq!(LogFormat::from_path(Path::new("x.doc")), None);
        assert_eq!(LogFormat::from_path(Path::new("x")), None);
        for f in LogFormat::ALL {
            assert_eq!(LogFormat::from_name(f.name()), Some(f));
        }
        assert_eq!(LogFormat::from_name("HEX"), Some(LogFormat::Hexdump));
        assert_eq!(LogFormat::from_name("nope"), None);
    }

    /// The raw format's sent-bytes file sits next to the received-bytes file.
    #[test]
    fn tx_path() {
        assert_eq!(
            raw_tx_path(Path::new("/tmp/cap.bin")),
            PathBuf::from("/tmp/cap.tx.bin")
        );
        assert_eq!(raw_tx_path(Path::new("cap")), PathBuf::from("cap.tx"));
    }

    /// Control characters are escaped so a record stays on one line; text is kept.
    #[test]
    fn escapes() {
        let mut s = String::new();
        push_escaped(&mut s, "a\r\nb\tc\u{0}你\x7F");
        assert_eq!(s, "a\\r\\nb\tc\\x00你\\x7F");
    }

    /// CSV fields are quoted only when needed, with quotes doubled.
    #[test]
    fn csv_quoting() {
        let mut v = Vec::new();
        push_csv_field(&mut v, "plain");
        push_csv_field(&mut v, "a,\"b\"");
        assert_eq!(String::from_utf8(v).unwrap(), "plain\"a,\"\"b\"\"\"");
        let mut h = Vec::new();
        push_hex(&mut h, &[0x00, 0xAB, 0xFF]);
        assert_eq!(h, b"00ABFF");
    }
}
