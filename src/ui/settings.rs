//! Settings that persist across restarts (eframe persistence), and the validation of the
//! connection panel's fields into an engine configuration.
//!
//! Fields are kept as the user typed them (strings), so a half-typed port survives a
//! restart and the panel can flag exactly which field is wrong before anything is tried.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::automation::{AutoReplyConfig, QuickCommands};
use crate::codec::checksum::Checksum;
use crate::codec::escape::LineEnding;
use crate::codec::framing::FrameMode;
use crate::engine::{SessionConfig, TcpClientConfig, TcpServerConfig, UdpConfig, parse_host_port};

use super::i18n::{Lang, Texts};

/// The three kinds of session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Mode {
    /// Connect to a server.
    TcpClient,
    /// Listen for clients.
    #[default]
    TcpServer,
    /// Bind a UDP socket.
    Udp,
}

/// How payloads are shown in the receive view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum ViewMode {
    /// Decoded text in the chosen encoding.
    #[default]
    Text,
    /// Hex bytes.
    Hex,
    /// Hex and text side by side.
    Both,
}

/// How received TCP streams are cut into records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Framing {
    /// One record per read.
    #[default]
    AsRead,
    /// Split after `\n`.
    Line,
    /// Split after `\r\n`.
    CrLf,
    /// A record ends after 20 ms of silence.
    Idle20,
}

impl Framing {
    /// Every choice, in menu order.
    pub const ALL: [Framing; 4] = [
        Framing::AsRead,
        Framing::Line,
        Framing::CrLf,
        Framing::Idle20,
    ];

    /// The codec's framing mode for this choice.
    pub fn mode(self) -> FrameMode {
        match self {
            Framing::AsRead => FrameMode::AsRead,
            Framing::Line => FrameMode::Delimiter(b"\n".to_vec()),
            Framing::CrLf => FrameMode::Delimiter(b"\r\n".to_vec()),
            Framing::Idle20 => FrameMode::IdleGap(Duration::from_millis(20)),
        }
    }

    /// The menu label.
    pub fn label(self, t: &Texts) -> &'static str {
        match self {
            Framing::AsRead => t.frame_as_read,
            Framing::Line => t.frame_line,
            Framing::CrLf => t.frame_crlf,
            Framing::Idle20 => t.frame_idle,
        }
    }
}

/// Everything that persists.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// UI language.
    pub lang: Lang,
    /// Session kind.
    pub mode: Mode,
    /// TCP client: server host.
    pub client_host: String,
    /// TCP client: server port.
    pub client_port: String,
    /// TCP server: bind address.
    pub server_host: String,
    /// TCP server: port (0 = any free port).
    pub server_port: String,
    /// UDP: bind address.
    pub udp_host: String,
    /// UDP: bind port.
    pub udp_port: String,
    /// UDP: default destination `host:port` (may be empty).
    pub udp_peer: String,
    /// Listen backlog.
    pub backlog: String,
    /// Most clients a server accepts at once.
    pub max_clients: String,
    /// TCP connect timeout in milliseconds.
    pub connect_timeout_ms: String,
    /// UDP receive buffer in KiB.
    pub udp_buffer_kib: String,
    /// Receive view: encoding name.
    pub encoding: String,
    /// Receive view: text, hex or both.
    pub view: ViewMode,
    /// Receive view: framing of TCP streams.
    pub framing: Framing,
    /// Receive view: memory cap of the view in MiB.
    pub view_cap_mib: usize,
    /// Send panel: hex input instead of text.
    pub send_hex: bool,
    /// Send panel: encoding name for text input.
    pub send_encoding: String,
    /// Send panel: honour `\r \n \t \\ \0 \xNN`.
    pub escapes: bool,
    /// Send panel: line ending appended to text sends (name).
    pub line_ending: String,
    /// Send panel: checksum appended last (name).
    pub checksum: String,
    /// Send panel: previous sends, newest last.
    pub history: Vec<String>,
    /// Log row: the recording's file.
    pub log_path: String,
    /// Log row: the log format's name.
    pub log_format: String,
    /// Compose: expand `{counter}`, `{time}`, … in sends.
    pub variables: bool,
    /// Compose: repeat interval in ms.
    pub periodic_ms: String,
    /// Compose: how many repeats (empty or 0 = until stopped).
    pub periodic_count: String,
    /// Compose: the file to send.
    pub file_path: String,
    /// Compose: file chunk size in bytes.
    pub file_chunk: String,
    /// Compose: delay between file chunks in ms.
    pub file_delay_ms: String,
    /// Quick commands: the JSON file for import/export.
    pub commands_path: String,
    /// The quick commands.
    pub quick_commands: QuickCommands,
    /// The auto-reply rules (auto-reply itself starts off at every start).
    pub auto_reply: AutoReplyConfig,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            lang: Lang::En,
            mode: Mode::TcpServer,
            client_host: "127.0.0.1".into(),
            client_port: "8989".into(),
            server_host: "0.0.0.0".into(),
            server_port: "8989".into(),
            udp_host: "0.0.0.0".into(),
            udp_port: "9000".into(),
            udp_peer: String::new(),
            backlog: "4096".into(),
            max_clients: "10000".into(),
            connect_timeout_ms: "5000".into(),
            udp_buffer_kib: "4096".into(),
            encoding: "UTF-8".into(),
            view: ViewMode::Text,
            framing: Framing::AsRead,
            view_cap_mib: 64,
            send_hex: false,
            send_encoding: "UTF-8".into(),
            escapes: true,
            line_ending: LineEnding::None.name().into(),
            checksum: Checksum::None.name().into(),
            history: Vec::new(),
            log_path: String::new(),
            log_format: "text".into(),
            variables: true,
            periodic_ms: "1000".into(),
            periodic_count: String::new(),
            file_path: String::new(),
            file_chunk: "65536".into(),
            file_delay_ms: "0".into(),
            commands_path: String::new(),
            quick_commands: QuickCommands::default(),
            auto_reply: AutoReplyConfig::default(),
        }
    }
}

/// Which field of the connection panel a problem belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// The host / bind address field.
    Host,
    /// The port field.
    Port,
    /// The UDP default peer.
    Peer,
    /// Listen backlog.
    Backlog,
    /// Client limit.
    MaxClients,
    /// Connect timeout.
    Timeout,
    /// UDP receive buffer.
    Buffer,
}

impl Settings {
    /// The host and port fields of the current mode.
    pub fn endpoint_fields(&mut self) -> (&mut String, &mut String) {
        match self.mode {
            Mode::TcpClient => (&mut self.client_host, &mut self.client_port),
            Mode::TcpServer => (&mut self.server_host, &mut self.server_port),
            Mode::Udp => (&mut self.udp_host, &mut self.udp_port),
        }
    }

    /// Problems with the current mode's fields, each with the field it belongs to,
    /// in the current language. Empty when the session can start.
    pub fn field_errors(&self) -> Vec<(Field, &'static str)> {
        let t = self.lang.texts();
        let mut errors = Vec::new();
        let (host, port) = match self.mode {
            Mode::TcpClient => (&self.client_host, &self.client_port),
            Mode::TcpServer => (&self.server_host, &self.server_port),
            Mode::Udp => (&self.udp_host, &self.udp_port),
        };
        if host.trim().is_empty() {
            errors.push((Field::Host, t.empty_host));
        } else if self.mode != Mode::TcpClient && !is_bind_host(host) {
            // Binding resolves the name on the UI thread: only names that need no DNS.
            errors.push((Field::Host, t.bind_ip));
        }
        match parse_u16(port) {
            Some(0) if self.mode == Mode::TcpClient => {
                errors.push((Field::Port, t.invalid_remote_port))
            }
            Some(_) => {}
            None if self.mode == Mode::TcpClient => {
                errors.push((Field::Port, t.invalid_remote_port))
            }
            None => errors.push((Field::Port, t.invalid_port)),
        }
        match self.mode {
            Mode::TcpClient => {
                if parse_number(&self.connect_timeout_ms).is_none_or(|v| v == 0) {
                    errors.push((Field::Timeout, t.invalid_number));
                }
            }
            Mode::TcpServer => {
                if parse_number(&self.backlog).is_none_or(|v| v == 0 || v > i32::MAX as u64) {
                    errors.push((Field::Backlog, t.invalid_number));
                }
                if parse_number(&self.max_clients).is_none_or(|v| v == 0) {
                    errors.push((Field::MaxClients, t.invalid_number));
                }
            }
            Mode::Udp => {
                let peer = self.udp_peer.trim();
                if !peer.is_empty() && parse_host_port(peer).is_err() {
                    errors.push((Field::Peer, t.invalid_peer));
                }
                if parse_number(&self.udp_buffer_kib).is_none_or(|v| v == 0) {
                    errors.push((Field::Buffer, t.invalid_number));
                }
            }
        }
        errors
    }

    /// The engine configuration for the current fields, or the first problem in words.
    pub fn session_config(&self) -> Result<SessionConfig, String> {
        if let Some((_, message)) = self.field_errors().first() {
            return Err((*message).to_string());
        }
        let number = |s: &str| parse_number(s).unwrap_or(0);
        Ok(match self.mode {
            Mode::TcpClient => SessionConfig::TcpClient(TcpClientConfig {
                host: self.client_host.trim().to_string(),
                port: parse_u16(&self.client_port).unwrap_or(0),
                connect_timeout: Duration::from_millis(number(&self.connect_timeout_ms)),
                ..TcpClientConfig::default()
            }),
            Mode::TcpServer => SessionConfig::TcpServer(TcpServerConfig {
                host: self.server_host.trim().to_string(),
                port: parse_u16(&self.server_port).unwrap_or(0),
                backlog: i32::try_from(number(&self.backlog)).unwrap_or(i32::MAX),
                max_clients: usize::try_from(number(&self.max_clients)).unwrap_or(usize::MAX),
                ..TcpServerConfig::default()
            }),
            Mode::Udp => SessionConfig::Udp(UdpConfig {
                host: self.udp_host.trim().to_string(),
                port: parse_u16(&self.udp_port).unwrap_or(0),
                peer: Some(self.udp_peer.trim().to_string()).filter(|p| !p.is_empty()),
                recv_buffer: usize::try_from(number(&self.udp_buffer_kib))
                    .unwrap_or(4096)
                    .saturating_mul(1024),
                ..UdpConfig::default()
            }),
        })
    }

    /// Line ending chosen for text sends.
    pub fn line_ending(&self) -> LineEnding {
        LineEnding::ALL
            .into_iter()
            .find(|l| l.name() == self.line_ending)
            .unwrap_or_default()
    }

    /// Checksum appended to sends.
    pub fn checksum(&self) -> Checksum {
        Checksum::ALL
            .into_iter()
            .find(|c| c.name() == self.checksum)
            .unwrap_or_default()
    }
}

/// An address to bind: an IP literal (IPv6 with or without brackets) or `localhost`.
pub fn is_bind_host(host: &str) -> bool {
    let host = host.trim();
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    host.eq_ignore_ascii_case("localhost") || bare.parse::<std::net::IpAddr>().is_ok()
}

/// A port: digits only, 0..=65535.
pub fn parse_u16(input: &str) -> Option<u16> {
    let input = input.trim();
    if input.is_empty() || !input.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    input.parse().ok()
}

/// A non-negative whole number.
pub fn parse_number(input: &str) -> Option<u64> {
    let input = input.trim();
    if input.is_empty() || !input.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    input.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A port out of range or with letters is flagged at the port field, in the UI language.
    #[test]
    fn bad_port_is_flagged() {
        let mut s = Settings {
            mode: Mode::TcpClient,
            client_port: "70000".into(),
            ..Settings::default()
        };
        assert_eq!(
            s.field_errors(),
            vec![(Field::Port, super::super::i18n::EN.invalid_remote_port)]
        );
        s.client_port = "80a".into();
        assert!(s.session_config().is_err());
        s.client_port = "8080".into();
        assert!(s.session_config().is_ok());
        s.lang = Lang::Zh;
        s.client_host = " ".into();
        assert_eq!(s.field_errors()[0].1, super::super::i18n::ZH.empty_host);
    }

    /// Bind addresses must need no DNS lookup (the UI thread binds): IPs and localhost.
    #[test]
    fn bind_hosts() {
        for ok in [
            "0.0.0.0",
            "::",
            "[::1]",
            "127.0.0.1",
            "localhost",
            " LOCALHOST ",
        ] {
            assert!(is_bind_host(ok), "{ok}");
        }
        for bad in ["foo.example", "192.168.1", "::1]", ""] {
            assert!(!is_bind_host(bad), "{bad}");
        }
        let s = Settings {
            mode: Mode::Udp,
            udp_host: "nosuch.invalid".into(),
            ..Settings::default()
        };
        assert_eq!(s.field_errors()[0].0, Field::Host);
    }

    /// A server may bind port 0; a client may not connect to it.
    #[test]
    fn port_zero() {
        let server = Settings {
            mode: Mode::TcpServer,
            server_port: "0".into(),
            ..Settings::default()
        };
        assert!(server.field_errors().is_empty());
        let client = Settings {
            mode: Mode::TcpClient,
            client_port: "0".into(),
            ..Settings::default()
        };
        assert_eq!(client.field_errors()[0].0, Field::Port);
    }
}
