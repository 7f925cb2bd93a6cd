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
//!   `closed: <reason>` with `; N queued bytes discarded unsent` after a forced close that
//!   threw bytes away, `error: <cause>`, `N datagrams not recorded (B bytes): …` where UDP
//!   datagrams did not fit the recorder's queue, …). When a connection closes with an
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
//!
//! # Layout
//!
//! - `format`: the format choice ([`LogFormat`], [`LogOptions`], [`raw_tx_path`]).
//! - `entry`: the entry model every writer takes, built from an engine event or a
//!   store record.
//! - `text`, `csv`, `raw`: one writer each (text, text-hex and hexdump share `text`);
//!   pcapng's lives in [`super::pcapng`].
//! - `sink`: the files (counted, buffered) and the writers behind one interface.
//! - `save`: writing what the store holds now ([`write_records`]).
//! - `thread`: the recorder thread ([`Recorder`]).
//!
//! [`format_iso`]: crate::session::time::format_iso

mod csv;
mod csv_frames;
mod entry;
mod error;
mod format;
mod raw;
mod save;
mod sink;
mod text;
mod thread;

pub(crate) use entry::{Entry, Initiator, close_text};
pub use error::RecorderError;
pub use format::{LogFormat, LogOptions, numbered_free_path, raw_tx_path};
pub use save::{WriteSummary, write_records, write_records_with};
pub use thread::{Recorder, RecorderStatus};
