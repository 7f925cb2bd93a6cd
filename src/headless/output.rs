//! What a headless session writes to standard output: one line per record and per
//! connection event (text, or JSON objects with `--json`), and on a terminal one status
//! line kept at the bottom and redrawn in place.

use std::collections::HashMap;
use std::io::{self, BufWriter, IsTerminal, Stdout, Write};
use std::net::SocketAddr;
use std::time::SystemTime;

use serde_json::json;

use crate::cli::PrintMode;
use crate::codec::hex;
use crate::codec::text::{StreamDecoder, TextEncoding, decode_all};
use crate::engine::tls::PeerTrust;
use crate::engine::{ConnId, Counters, Direction, Event, Notice};
use crate::plan::report::escape_controls;
use crate::session::stats::human_bytes;
use crate::session::time::{format_iso, format_time};

/// Most payload characters a record shows on a terminal.
const TERMINAL_PAYLOAD: usize = 160;

/// Standard output of a headless session.
pub(crate) struct Output {
    print: PrintMode,
    quiet: bool,
    json: bool,
    /// Standard output is a terminal: a status line, colours, a flush per record.
    terminal: bool,
    color: bool,
    encoding: TextEncoding,
    /// One streaming decoder per TCP connection and direction, so a character split
    /// across reads prints whole.
    decoders: HashMap<(ConnId, Direction), StreamDecoder>,
    out: BufWriter<Stdout>,
    status_shown: bool,
    /// When the event being printed happened (its lines carry that time).
    when: Option<SystemTime>,
}

/// What the status line shows.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Status {
    pub clients: usize,
    pub counters: Counters,
    pub rx_rate: f64,
    pub tx_rate: f64,
    pub dropped: u64,
}

impl Output {
    pub(crate) fn new(print: PrintMode, quiet: bool, json: bool, encoding: TextEncoding) -> Self {
        // A terminal that does not understand escape sequences (an old Windows console)
        // is treated like a pipe: plain lines, no status line, no colours.
        let terminal = io::stdout().is_terminal() && crate::platform::console::enable_ansi();
        Output {
            print,
            quiet,
            json,
            terminal,
            color: terminal && std::env::var_os("NO_COLOR").is_none() && !json,
            encoding,
            decoders: HashMap::new(),
            out: BufWriter::with_capacity(64 << 10, io::stdout()),
            status_shown: false,
            when: None,
        }
    }

    /// True when the status line is drawn (a terminal, not quiet, not JSON).
    pub(crate) fn shows_status(&self) -> bool {
        self.terminal && !self.quiet && !self.json
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    /// Writes `line` (and a newline), above the status line on a terminal.
    fn line(&mut self, line: &str) {
        if self.status_shown {
            let _ = self.out.write_all(b"\r\x1b[K");
            self.status_shown = false;
        }
        let _ = self.out.write_all(line.as_bytes());
        let _ = self.out.write_all(b"\n");
        if self.terminal {
            let _ = self.out.flush();
        }
    }

    /// Flushes what is buffered (call when the event queue is drained).
    pub(crate) fn flush(&mut self) {
        let _ = self.out.flush();
    }

    /// Prints an event (nothing when quiet; payloads as `--print` says).
    pub(crate) fn event(&mut self, event: &Event) {
        if self.quiet {
            if let Event::Closed { conn, .. } = event {
                self.decoders.retain(|(c, _), _| c != conn);
            }
            return;
        }
        // Every event carries the time it happened (not when it is printed).
        let when = event.at();
        self.when = Some(when);
        match event {
            Event::Data {
                conn,
                peer,
                dir,
                at,
                bytes,
                ..
            } => self.data(*conn, *peer, *dir, *at, bytes),
            Event::Notice { notice, .. } => self.notice(when, notice),
            Event::Connecting { addr, .. } => self.note(
                None,
                Some(*addr),
                "connecting",
                &format!("connecting to {addr}"),
            ),
            Event::Connected {
                conn, local, peer, ..
            } => self.note(
                Some(*conn),
                Some(*peer),
                "connected",
                &format!("connected {local} -> {peer}"),
            ),
            Event::Listening { local, .. } => {
                self.note(None, None, "listening", &format!("listening on {local}"))
            }
            Event::ClientJoined {
                conn,
                peer,
                local,
                at,
                ..
            } => self.note_at(
                *at,
                Some(*conn),
                Some(*peer),
                "joined",
                &format!("client {peer} joined (local {local})"),
            ),
            Event::ClientRefused {
                peer, limit, count, ..
            } => self.note(
                None,
                Some(*peer),
                "refused",
                &format!("client {peer} refused ×{count}: {limit} clients already"),
            ),
            Event::Closed {
                conn,
                peer,
                reason,
                discarded,
                ..
            } => {
                self.decoders.retain(|(c, _), _| c != conn);
                let text = if *discarded > 0 {
                    format!("closed: {reason}; {discarded} queued bytes discarded unsent")
                } else {
                    format!("closed: {reason}")
                };
                self.note(Some(*conn), Some(*peer), "closed", &text)
            }
            // Headless runs never turn shedding on; said as a note should one come.
            Event::Shed {
                conn, peer, len, ..
            } => self.note(
                Some(*conn),
                Some(*peer),
                "shed",
                &format!("{len} bytes read but not shown"),
            ),
            Event::Dropped {
                datagrams,
                bytes,
                kernel,
                ..
            } => self.note(
                None,
                None,
                "dropped",
                &format!(
                    "{datagrams} datagrams ({bytes} bytes) dropped so far; {kernel} by the kernel"
                ),
            ),
            // Errors go to standard error (see `error`); nothing here.
            Event::Error { .. } | Event::Stopped { .. } => {}
        }
    }

    /// A notice as a line; TLS notices name their connection and, with `--json`, carry
    /// their facts as fields (the server's fingerprint gets a line of its own to copy).
    fn notice(&mut self, when: SystemTime, notice: &Notice) {
        let text = notice.to_string();
        match notice {
            Notice::TlsHandshake { conn, peer, info } => {
                let fields = json!({
                    "protocol": info.protocol,
                    "cipher_suite": info.cipher_suite,
                    "key_exchange": info.key_exchange,
                    "alpn": info.alpn,
                    "sni": info.sni,
                    "peer_sha256": info.peer.as_ref().map(|c| c.sha256.clone()),
                    "peer_subject": info.peer.as_ref().map(|c| c.subject.clone()),
                    "trust": trust_name(&info.trust),
                });
                self.note_fields(when, Some(*conn), Some(*peer), "tls", &text, fields);
            }
            Notice::TlsIdentity {
                certificate,
                self_signed,
            } => {
                let fields = json!({
                    "sha256": certificate.sha256,
                    "subject": certificate.subject,
                    "names": certificate.names,
                    "self_signed": self_signed,
                    "not_after": format_iso(certificate.not_after),
                });
                self.note_fields(when, None, None, "tls-identity", &text, fields);
                if !self.json {
                    let line = format!(
                        "SHA-256 fingerprint (a client's --pin): {}",
                        certificate.sha256
                    );
                    self.note_at(when, None, None, "tls-identity", &line);
                }
            }
            Notice::TlsNoCloseNotify { conn, peer } => {
                self.note_at(when, Some(*conn), Some(*peer), "tls", &text)
            }
            _ => self.note_at(when, None, None, "notice", &text),
        }
    }

    /// A connection event as a line.
    fn note(&mut self, conn: Option<ConnId>, peer: Option<SocketAddr>, kind: &str, text: &str) {
        let when = self.when.unwrap_or_else(SystemTime::now);
        self.note_at(when, conn, peer, kind, text);
    }

    /// A connection event that happened at `now` as a line.
    fn note_at(
        &mut self,
        now: SystemTime,
        conn: Option<ConnId>,
        peer: Option<SocketAddr>,
        kind: &str,
        text: &str,
    ) {
        self.note_fields(now, conn, peer, kind, text, serde_json::Value::Null);
    }

    /// A connection event as a line; with `--json`, `fields` (an object) joins it.
    fn note_fields(
        &mut self,
        now: SystemTime,
        conn: Option<ConnId>,
        peer: Option<SocketAddr>,
        kind: &str,
        text: &str,
        fields: serde_json::Value,
    ) {
        let line = if self.json {
            let mut object = json!({
                "time": format_iso(now),
                "event": kind,
                "conn": conn,
                "peer": peer.map(|p| p.to_string()),
                "text": text,
            });
            if let (Some(object), serde_json::Value::Object(fields)) =
                (object.as_object_mut(), fields)
            {
                object.extend(fields);
            }
            object.to_string()
        } else {
            let peer = peer.map_or("-".to_string(), |p| p.to_string());
            let conn = conn.map_or("-".to_string(), |c| format!("c{c}"));
            format!(
                "{} -- {peer} {conn} | {}",
                format_time(now),
                self.paint("33", text)
            )
        };
        self.line(&line);
    }

    fn data(
        &mut self,
        conn: Option<ConnId>,
        peer: SocketAddr,
        dir: Direction,
        at: SystemTime,
        bytes: &[u8],
    ) {
        if self.print == PrintMode::None {
            return;
        }
        let text = if self.print == PrintMode::Text || self.json {
            let mut text = String::with_capacity(bytes.len());
            match conn {
                Some(c) => {
                    let encoding = self.encoding;
                    self.decoders
                        .entry((c, dir))
                        .or_insert_with(|| StreamDecoder::new(encoding))
                        .decode(bytes, false, &mut text);
                }
                None => {
                    decode_all(self.encoding, bytes, &mut text);
                }
            }
            Some(escape_controls(&text))
        } else {
            None
        };
        let dir_name = match dir {
            Direction::Rx => "RX",
            Direction::Tx => "TX",
        };
        let line = if self.json {
            json!({
                "time": format_iso(at),
                "event": "data",
                "dir": dir_name.to_ascii_lowercase(),
                "conn": conn,
                "peer": peer.to_string(),
                "len": bytes.len(),
                "hex": hex::to_spaced(bytes),
                "text": text,
            })
            .to_string()
        } else {
            let conn = conn.map_or("udp".to_string(), |c| format!("c{c}"));
            let mut payload = match text {
                Some(t) => t,
                None => hex::to_spaced(bytes),
            };
            // A terminal gets one screen line or so per record; a pipe gets it all.
            if self.terminal && payload.chars().count() > TERMINAL_PAYLOAD {
                payload = payload.chars().take(TERMINAL_PAYLOAD).collect();
                payload.push_str(" …");
            }
            let dir_shown = match dir {
                Direction::Rx => self.paint("32", dir_name),
                Direction::Tx => self.paint("36", dir_name),
            };
            format!(
                "{} {dir_shown} {peer} {conn} {}B | {payload}",
                format_time(at),
                bytes.len()
            )
        };
        self.line(&line);
    }

    /// Redraws the status line (terminal only).
    pub(crate) fn status(&mut self, status: &Status) {
        if !self.shows_status() {
            return;
        }
        let c = status.counters;
        let mut line = format!(
            "\r\x1b[Kclients {} · RX {} ({}/s) · TX {} ({}/s)",
            status.clients,
            human_bytes(c.rx_bytes as f64),
            human_bytes(status.rx_rate),
            human_bytes(c.tx_bytes as f64),
            human_bytes(status.tx_rate),
        );
        if status.dropped > 0 {
            line.push_str(&format!(
                " · {}",
                self.paint("31", &format!("dropped {}", status.dropped))
            ));
        }
        line.push_str(" · Ctrl+C ends");
        let _ = self.out.write_all(line.as_bytes());
        let _ = self.out.flush();
        self.status_shown = true;
    }

    /// Removes the status line before the program ends.
    pub(crate) fn end_status(&mut self) {
        if self.status_shown {
            let _ = self.out.write_all(b"\r\x1b[K");
            self.status_shown = false;
        }
        let _ = self.out.flush();
    }

    /// Prints an error to standard error (after the buffered lines, so order is kept).
    pub(crate) fn error(&mut self, message: &str) {
        self.end_status();
        eprintln!("sockscope: {message}");
    }

    /// The closing summary: a JSON object on standard output with `--json`, else a line
    /// on standard error; nothing when quiet.
    pub(crate) fn summary(&mut self, summary: serde_json::Value, line: &str) {
        self.end_status();
        if self.quiet {
            return;
        }
        if self.json {
            let _ = writeln!(self.out, "{summary}");
            let _ = self.out.flush();
        } else {
            eprintln!("sockscope: {line}");
        }
    }
}

/// How a TLS peer was trusted, as one word for `--json`.
fn trust_name(trust: &PeerTrust) -> &'static str {
    match trust {
        PeerTrust::SystemRoots => "verified",
        PeerTrust::Pinned => "pinned",
        PeerTrust::AcceptedAny { .. } => "insecure",
        PeerTrust::NotAsked => "not-asked",
    }
}
