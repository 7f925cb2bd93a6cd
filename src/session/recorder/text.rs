//! The text, text-hex and hexdump writers: the five fields, then the payload as text,
//! as spaced hex or as `hexdump -C` rows.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr};
use std::time::SystemTime;

use crate::codec::hex::{format_spaced, hexdump_at, push_byte_escape};
use crate::codec::text::{StreamDecoder, TextEncoding, decode_all};
use crate::engine::{ConnId, Direction, SessionId};
use crate::session::time::format_iso;

use super::entry::{Entry, dir_tag};
use super::sink::Out;

/// How a text-like log writes payloads.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum TextStyle {
    /// Decoded text (`text`).
    Text,
    /// Spaced hex (`text-hex`).
    Hex,
    /// `hexdump -C` rows (`hexdump`).
    Hexdump,
}

/// A TCP byte stream: one connection, one direction.
type StreamKey = (SessionId, ConnId, Direction);

/// A text, text-hex or hexdump log.
pub(super) struct TextLog {
    pub(super) out: Out,
    style: TextStyle,
    encoding: TextEncoding,
    decoders: HashMap<StreamKey, (StreamDecoder, SocketAddr)>,
    offsets: HashMap<StreamKey, u64>,
    line: String,
    text: String,
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
    let bytes = text.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if (b < 0x20 && b != b'\t') || b == 0x7F {
            // `b` is ASCII, so `i` is a char boundary.
            out.push_str(&text[start..i]);
            match b {
                b'\r' => out.push_str("\\r"),
                b'\n' => out.push_str("\\n"),
                _ => push_byte_escape(out, b),
            }
            start = i + 1;
        }
    }
    out.push_str(&text[start..]);
}

impl TextLog {
    /// A log writing to `out` in `style`, decoding text in `encoding`.
    pub(super) fn new(out: Out, style: TextStyle, encoding: TextEncoding) -> Self {
        TextLog {
            out,
            style,
            encoding,
            decoders: HashMap::new(),
            offsets: HashMap::new(),
            line: String::new(),
            text: String::new(),
        }
    }

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

    /// Writes one entry.
    pub(super) fn entry(&mut self, entry: &Entry<'_>) -> io::Result<()> {
        if let Entry::Data {
            at,
            session,
            conn,
            peer,
            dir,
            bytes,
            group,
        } = entry
        {
            return self.data(*at, *session, *conn, *peer, *dir, bytes, *group);
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

    #[allow(clippy::too_many_arguments)]
    fn data(
        &mut self,
        at: SystemTime,
        session: SessionId,
        conn: Option<ConnId>,
        peer: SocketAddr,
        dir: Direction,
        bytes: &[u8],
        group: Option<IpAddr>,
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
        if let Some(group) = group {
            // The payload still follows the first " | ".
            let _ = write!(self.line, " to group {group}");
        }
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

    /// Writes what the decoders still hold (incomplete characters) and flushes.
    pub(super) fn finish(&mut self) -> io::Result<()> {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Control characters are escaped so a record stays on one line; text is kept.
    #[test]
    fn escapes() {
        let mut s = String::new();
        push_escaped(&mut s, "a\r\nb\tc\u{0}你\x7F");
        assert_eq!(s, "a\\r\\nb\tc\\x00你\\x7F");
    }
}
