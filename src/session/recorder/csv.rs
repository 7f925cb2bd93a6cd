//! The CSV writer (RFC 4180, CRLF line ends, a header row).

use std::io::{self, Write};
use std::net::SocketAddr;
use std::time::SystemTime;

use crate::codec::hex::extend_hex;
use crate::engine::{ConnId, SessionId};
use crate::session::time::format_iso;

use super::csv_frames::{CsvFrames, FrameColumns};
use super::entry::{Entry, dir_tag};
use super::sink::Out;

/// The header row.
pub(super) const CSV_HEADER: &str = "time,session,conn,peer,direction,length,hex,event\r\n";

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

/// A CSV log.
pub(super) struct CsvLog {
    pub(super) out: Out,
    row: Vec<u8>,
    /// With a frame definition: rows are frames, with more columns.
    frames: Option<Box<CsvFrames>>,
}

impl CsvLog {
    /// A log writing rows to `out`, cutting received bytes by `def` if given; writes
    /// the header row.
    pub(super) fn new(mut out: Out, def: Option<crate::protocol::FrameDef>) -> io::Result<Self> {
        let frames = def.map(|d| Box::new(CsvFrames::new(d)));
        let mut header = CSV_HEADER.trim_end().as_bytes().to_vec();
        if let Some(f) = &frames {
            header.extend(f.header_tail(push_csv_field));
        }
        header.extend_from_slice(b"\r\n");
        out.write_all(&header)?;
        Ok(CsvLog {
            out,
            row: Vec::new(),
            frames,
        })
    }

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
        extra: Option<&FrameColumns>,
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
            extend_hex(row, b);
        } else {
            row.push(b',');
        }
        row.push(b',');
        push_csv_field(row, event);
        if let Some(frames) = &self.frames {
            row.push(b',');
            if let Some(extra) = extra {
                push_csv_field(row, &extra.verdict);
                row.push(b',');
                if let Some(ms) = extra.rtt_ms {
                    row.extend_from_slice(format!("{ms:.3}").as_bytes());
                }
                for value in &extra.fields {
                    row.push(b',');
                    if let Some(v) = value {
                        row.extend_from_slice(v.to_string().as_bytes());
                    }
                }
            } else {
                row.push(b',');
                for _ in 0..frames.field_count() {
                    row.push(b',');
                }
            }
        }
        row.extend_from_slice(b"\r\n");
        self.out.write_all(row)
    }

    /// Writes one entry as a row.
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
            // The event column names the group a datagram was addressed to.
            let to = group.map(|g| format!("to group {g}"));
            if let Some(frames) = self.frames.as_mut() {
                if *dir == crate::engine::Direction::Tx {
                    frames.sent(*conn, *peer, bytes.len(), *at);
                } else {
                    for (cut, extra) in frames.received(*session, *conn, *peer, bytes, *at) {
                        self.row(
                            *at,
                            *session,
                            *conn,
                            Some(*peer),
                            dir_tag(*dir),
                            Some(&cut.bytes),
                            to.as_deref().unwrap_or(""),
                            Some(&extra),
                        )?;
                    }
                    return Ok(());
                }
            }
            return self.row(
                *at,
                *session,
                *conn,
                Some(*peer),
                dir_tag(*dir),
                Some(bytes),
                to.as_deref().unwrap_or(""),
                None,
            );
        }
        // A closing connection's unfinished frame is written before its close.
        if let (
            Entry::Close {
                at,
                session,
                conn,
                peer,
                ..
            },
            Some(frames),
        ) = (entry, self.frames.as_mut())
        {
            for (cut, extra) in frames.closed(*session, *conn, *at) {
                self.row(
                    *at,
                    *session,
                    Some(*conn),
                    Some(*peer),
                    "RX",
                    Some(&cut.bytes),
                    "",
                    Some(&extra),
                )?;
            }
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
                None,
            ),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CSV fields are quoted only when needed, with quotes doubled.
    #[test]
    fn csv_quoting() {
        let mut v = Vec::new();
        push_csv_field(&mut v, "plain");
        push_csv_field(&mut v, "a,\"b\"");
        assert_eq!(String::from_utf8(v).unwrap(), "plain\"a,\"\"b\"\"\"");
        let mut h = Vec::new();
        extend_hex(&mut h, &[0x00, 0xAB, 0xFF]);
        assert_eq!(h, b"00ABFF");
    }
}
