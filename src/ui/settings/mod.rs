//! Settings that persist across restarts (eframe persistence): typed, grouped by the
//! panel that owns them, versioned. The window-wide part ([`AppSettings`]) holds the
//! language, the theme, the shared view budget and one [`TabSettings`] per tab.
//!
//! Connection fields stay as the user typed them (strings), so a half-typed port survives
//! a restart and the panel can flag exactly which field is wrong before anything is tried.
//! Everything else is an enum or a number. Settings written by the previous release (one
//! flat struct, see [`legacy`]) load into the first tab.

pub mod frames;
pub mod legacy;
pub mod tls;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::automation::{AutoReplyConfig, QuickCommands, SendSpec};
use crate::codec::checksum::Checksum;
use crate::codec::text::TextEncoding;
use crate::engine::{
    GroupSpec, MulticastOptions, SessionConfig, TcpClientConfig, TcpServerConfig, UdpConfig,
    parse_host_port,
};
pub use crate::lang::{Lang, Theme};
use crate::session::recorder::LogFormat;
use crate::session::{Framing, ViewMode};

use super::i18n::Texts;

/// The version [`AppSettings`] is written with.
pub const SETTINGS_VERSION: u32 = 2;
/// Most tabs a window holds.
pub const MAX_TABS: usize = 16;
/// Most entries kept in a compose history.
pub const HISTORY: usize = 50;

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

impl Mode {
    /// Every mode, in menu order.
    pub const ALL: [Mode; 3] = [Mode::TcpClient, Mode::TcpServer, Mode::Udp];

    /// The mode's name in the UI language.
    pub fn label(self, t: &Texts) -> &'static str {
        match self {
            Mode::TcpClient => t.mode_client,
            Mode::TcpServer => t.mode_server,
            Mode::Udp => t.mode_udp,
        }
    }
}

impl Theme {
    /// egui's preference for this choice.
    pub fn preference(self) -> egui::ThemePreference {
        match self {
            Theme::System => egui::ThemePreference::System,
            Theme::Light => egui::ThemePreference::Light,
            Theme::Dark => egui::ThemePreference::Dark,
        }
    }

    /// The choice's name in the UI language.
    pub fn label(self, t: &Texts) -> &'static str {
        match self {
            Theme::System => t.theme_system,
            Theme::Light => t.theme_light,
            Theme::Dark => t.theme_dark,
        }
    }
}

/// Everything that persists: window-wide choices and the tabs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AppSettings {
    /// Always [`SETTINGS_VERSION`] when written by this release.
    pub version: u32,
    /// UI language.
    #[serde(default)]
    pub lang: Lang,
    /// Light or dark.
    #[serde(default)]
    pub theme: Theme,
    /// Memory all tabs' views may use together, in MiB.
    #[serde(default = "default_view_cap")]
    pub view_cap_mib: usize,
    /// The tab in front.
    #[serde(default)]
    pub active: usize,
    /// One entry per tab, in order.
    pub tabs: Vec<TabSettings>,
}

fn default_view_cap() -> usize {
    64
}

impl Default for AppSettings {
    fn default() -> Self {
        AppSettings {
            version: SETTINGS_VERSION,
            lang: Lang::En,
            theme: Theme::System,
            view_cap_mib: default_view_cap(),
            active: 0,
            tabs: vec![TabSettings::default()],
        }
    }
}

impl AppSettings {
    /// Settings with a single tab in `mode` (the rest default).
    pub fn single(lang: Lang, mode: Mode) -> Self {
        let mut tab = TabSettings::default();
        tab.connection.mode = mode;
        AppSettings {
            lang,
            tabs: vec![tab],
            ..AppSettings::default()
        }
    }

    /// Reads stored settings: this release's, or the previous release's flat struct
    /// (into the first tab). `None` when neither reads, or when a later release wrote
    /// them.
    pub fn from_stored(text: &str) -> Option<AppSettings> {
        match ron::from_str::<AppSettings>(text) {
            Ok(settings) if settings.version == SETTINGS_VERSION => Some(settings),
            // A later release's settings: left alone rather than misread.
            Ok(_) => None,
            Err(_) => ron::from_str::<legacy::Settings>(text)
                .ok()
                .map(legacy::Settings::migrate),
        }
    }
}

/// One tab's settings, grouped by the panel that owns them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct TabSettings {
    /// The name the user gave the tab (empty: named after its mode and address).
    pub name: String,
    /// Mode, addresses, engine options.
    pub connection: ConnectionSettings,
    /// Encoding, view mode, framing.
    pub view: ViewSettings,
    /// The compose box and its automation.
    pub compose: ComposeSettings,
    /// The recording.
    pub log: LogSettings,
    /// Quick commands and auto-reply rules.
    pub automation: AutomationSettings,
    /// The frame definition and round-trip timeout (issue 16).
    pub frames: frames::FrameSettings,
}

/// The connection panel's fields.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConnectionSettings {
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
    /// UDP: the fixed peer `host:port` (may be empty).
    pub udp_peer: String,
    /// UDP: where the compose box sends when no peer is ticked.
    pub udp_target: UdpTarget,
    /// Listen backlog.
    pub backlog: String,
    /// Most clients a server accepts at once.
    pub max_clients: String,
    /// TCP connect timeout in milliseconds.
    pub connect_timeout_ms: String,
    /// UDP receive buffer in KiB.
    pub udp_buffer_kib: String,
    /// Server and UDP: a `::` bind takes IPv6 only (otherwise IPv4 too, on every system).
    pub ipv6_only: bool,
    /// TCP keepalive: idle seconds before the first probe (0: off).
    pub keepalive_s: String,
    /// TCP keepalive: seconds between unanswered probes.
    pub keepalive_interval_s: String,
    /// TCP keepalive: unanswered probes before the connection is dropped (not settable
    /// on Windows).
    pub keepalive_count: String,
    /// TCP client: the local address to connect from (empty: the system's choice).
    pub client_local_host: String,
    /// TCP client: the source port (empty or 0: the system's choice).
    pub client_local_port: String,
    /// TCP client: connect again after a loss.
    pub reconnect: bool,
    /// TCP client: the first reconnect wait, in seconds.
    pub reconnect_delay_s: String,
    /// TCP client: the longest reconnect wait (backoff cap), in seconds.
    pub reconnect_max_s: String,
    /// UDP: multicast groups, each `GROUP[+SOURCE][@INTERFACE]`, joined at start.
    pub udp_groups: Vec<String>,
    /// UDP: the group being typed in the Advanced panel.
    pub group_input: String,
    /// UDP: the interface the typed group is joined on (name or address; empty: any).
    pub group_interface: String,
    /// UDP: multicast TTL / hop limit (empty: the system's default, 1).
    pub multicast_ttl: String,
    /// UDP: our own group datagrams come back to this host.
    pub multicast_loop: bool,
    /// UDP: the interface group datagrams are sent by (empty: the system's choice).
    pub multicast_if: String,
    /// TCP client and server: TLS switches and options.
    pub tls: tls::TlsSettings,
}

impl Default for ConnectionSettings {
    fn default() -> Self {
        ConnectionSettings {
            mode: Mode::TcpServer,
            client_host: "127.0.0.1".into(),
            client_port: "8989".into(),
            // Only this machine until the user opens it to the network (0.0.0.0 or an
            // address of one card): the status line says how.
            server_host: "127.0.0.1".into(),
            server_port: "8989".into(),
            udp_host: "127.0.0.1".into(),
            udp_port: "9000".into(),
            udp_peer: String::new(),
            udp_target: UdpTarget::LastSender,
            backlog: "4096".into(),
            max_clients: "10000".into(),
            connect_timeout_ms: "5000".into(),
            udp_buffer_kib: "4096".into(),
            ipv6_only: false,
            keepalive_s: "60".into(),
            keepalive_interval_s: "10".into(),
            keepalive_count: "5".into(),
            client_local_host: String::new(),
            client_local_port: String::new(),
            reconnect: false,
            reconnect_delay_s: "1".into(),
            reconnect_max_s: "30".into(),
            udp_groups: Vec::new(),
            group_input: String::new(),
            group_interface: String::new(),
            multicast_ttl: String::new(),
            multicast_loop: true,
            multicast_if: String::new(),
            tls: tls::TlsSettings::default(),
        }
    }
}

/// Where a UDP send goes when no peer is ticked in the list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum UdpTarget {
    /// Whoever sent to us last (a reply).
    #[default]
    LastSender,
    /// The address typed in the fixed-peer field.
    FixedPeer,
}

/// The receive view's choices. Changed only through `UiAction`s, which update the store
/// at the same time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct ViewSettings {
    /// Encoding the view decodes with.
    #[serde(with = "crate::automation::template::names::encoding")]
    pub encoding: TextEncoding,
    /// Text, hex or both.
    pub view: ViewMode,
    /// How TCP streams are cut into records.
    pub framing: Framing,
    /// Checksum each received frame ends with (None: not checked).
    #[serde(with = "crate::automation::template::names::checksum")]
    pub frame_check: Checksum,
}

impl ViewSettings {
    /// The checksum received frames are checked against, if any.
    pub fn frame_check(&self) -> Option<Checksum> {
        (self.frame_check != Checksum::None).then_some(self.frame_check)
    }
}

/// The compose box: the same [`SendSpec`] a quick command holds, plus its automation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ComposeSettings {
    /// What the box holds and how it is turned into bytes.
    pub spec: SendSpec,
    /// Expand `{counter}`, `{time}`, … in sends.
    pub variables: bool,
    /// Previous sends, newest last, each with its mode, encoding and checksum.
    pub history: Vec<SendSpec>,
    /// Repeat interval in ms.
    pub periodic_ms: String,
    /// How many repeats (empty or 0 = until stopped).
    pub periodic_count: String,
    /// The file to send.
    pub file_path: String,
    /// File chunk size in bytes.
    pub file_chunk: String,
    /// Delay between file chunks in ms.
    pub file_delay_ms: String,
    /// The send encoding follows the view's encoding.
    pub link_encoding: bool,
}

impl Default for ComposeSettings {
    fn default() -> Self {
        ComposeSettings {
            spec: SendSpec::default(),
            variables: true,
            history: Vec::new(),
            periodic_ms: "1000".into(),
            periodic_count: String::new(),
            file_path: String::new(),
            file_chunk: "65536".into(),
            file_delay_ms: "0".into(),
            link_encoding: true,
        }
    }
}

impl ComposeSettings {
    /// The compose box as a send template. With variables off, braces in text are literal.
    pub fn send_spec(&self) -> SendSpec {
        let mut spec = self.spec.clone();
        if !spec.hex && !self.variables {
            spec.text = spec.text.replace('{', "{{").replace('}', "}}");
        }
        spec
    }

    /// Puts `spec` at the end of the history (once), dropping the oldest past the bound.
    pub fn remember(&mut self, spec: SendSpec) {
        if spec.text.is_empty() {
            return;
        }
        self.history.retain(|h| h != &spec);
        self.history.push(spec);
        if self.history.len() > HISTORY {
            let excess = self.history.len() - HISTORY;
            self.history.drain(..excess);
        }
    }
}

/// The log row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LogSettings {
    /// The recording's file.
    pub path: String,
    /// The recording's format.
    #[serde(with = "log_format_name")]
    pub format: LogFormat,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            path: String::new(),
            format: LogFormat::Text,
        }
    }
}

/// Quick commands and auto-reply rules.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct AutomationSettings {
    /// The JSON file for import/export.
    pub commands_path: String,
    /// The quick commands.
    pub quick_commands: QuickCommands,
    /// The auto-reply rules (auto-reply itself starts off at every start).
    pub auto_reply: AutoReplyConfig,
}

/// `LogFormat` stored by its name.
mod log_format_name {
    use serde::de::Error;
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::session::recorder::LogFormat;

    pub fn serialize<S: Serializer>(v: &LogFormat, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(v.name())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<LogFormat, D::Error> {
        let name = String::deserialize(d)?;
        LogFormat::from_name(&name)
            .ok_or_else(|| D::Error::custom(format!("unknown log format {name:?}")))
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
    /// TCP keepalive idle time.
    Keepalive,
    /// TCP keepalive probe interval.
    KeepaliveInterval,
    /// TCP keepalive probe count.
    KeepaliveCount,
    /// TCP client: local address.
    LocalHost,
    /// TCP client: source port.
    LocalPort,
    /// TCP client: first reconnect wait.
    ReconnectDelay,
    /// TCP client: longest reconnect wait.
    ReconnectMax,
    /// UDP: multicast TTL.
    Ttl,
    /// TLS: the server name (SNI).
    TlsSni,
    /// TLS: the ALPN list.
    TlsAlpn,
    /// TLS client: the pinned fingerprint.
    TlsPin,
    /// TLS client: the extra CA file.
    TlsCaFile,
    /// TLS server: the self-signed certificate's names.
    TlsNames,
    /// TLS server: the PEM certificate file.
    TlsCertFile,
    /// TLS server: the PEM key file.
    TlsKeyFile,
}

impl ConnectionSettings {
    /// The host and port fields of the current mode.
    pub fn endpoint_fields(&mut self) -> (&mut String, &mut String) {
        match self.mode {
            Mode::TcpClient => (&mut self.client_host, &mut self.client_port),
            Mode::TcpServer => (&mut self.server_host, &mut self.server_port),
            Mode::Udp => (&mut self.udp_host, &mut self.udp_port),
        }
    }

    /// The host and port of the current mode, as typed.
    pub fn endpoint(&self) -> (&str, &str) {
        match self.mode {
            Mode::TcpClient => (&self.client_host, &self.client_port),
            Mode::TcpServer => (&self.server_host, &self.server_port),
            Mode::Udp => (&self.udp_host, &self.udp_port),
        }
    }

    /// Problems with the current mode's fields, each with the field it belongs to,
    /// in the language of `t`. Empty when the session can start.
    pub fn field_errors(&self, t: &Texts) -> Vec<(Field, &'static str)> {
        let mut errors = Vec::new();
        let (host, port) = self.endpoint();
        if host.trim().is_empty() {
            errors.push((Field::Host, t.empty_host));
        } else if self.mode != Mode::TcpClient && !is_bind_host(host) {
            // Binding resolves the name on the UI thread: only names that need no DNS.
            errors.push((Field::Host, t.bind_ip));
        }
        match parse_u16(port) {
            Some(0) | None if self.mode == Mode::TcpClient => {
                errors.push((Field::Port, t.invalid_remote_port))
            }
            Some(_) => {}
            None => errors.push((Field::Port, t.invalid_port)),
        }
        match self.mode {
            Mode::TcpClient => {
                if parse_number(&self.connect_timeout_ms).is_none_or(|v| v == 0) {
                    errors.push((Field::Timeout, t.invalid_number));
                }
            }
            Mode::TcpServer | Mode::Udp => {}
        }
        if self.mode != Mode::Udp
            && parse_number(&self.keepalive_s).is_none_or(|v| v > 7 * 24 * 3600)
        {
            errors.push((Field::Keepalive, t.invalid_number));
        }
        if self.mode != Mode::Udp && parse_number(&self.keepalive_s).is_some_and(|v| v > 0) {
            if parse_number(&self.keepalive_interval_s).is_none_or(|v| v == 0 || v > 24 * 3600) {
                errors.push((Field::KeepaliveInterval, t.invalid_number));
            }
            if parse_number(&self.keepalive_count).is_none_or(|v| v == 0 || v > 127) {
                errors.push((Field::KeepaliveCount, t.invalid_number));
            }
        }
        match self.mode {
            Mode::TcpClient => {
                if parse_local_ip(&self.client_local_host).is_none() {
                    errors.push((Field::LocalHost, t.local_ip_only));
                }
                if !self.client_local_port.trim().is_empty()
                    && parse_u16(&self.client_local_port).is_none()
                {
                    errors.push((Field::LocalPort, t.invalid_port));
                }
                if self.reconnect {
                    let delay = parse_number(&self.reconnect_delay_s);
                    if delay.is_none_or(|v| v == 0 || v > 3600) {
                        errors.push((Field::ReconnectDelay, t.invalid_number));
                    }
                    if parse_number(&self.reconnect_max_s)
                        .is_none_or(|v| v == 0 || v > 24 * 3600 || delay.is_some_and(|d| v < d))
                    {
                        errors.push((Field::ReconnectMax, t.invalid_number));
                    }
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
                if parse_number(&self.udp_buffer_kib).is_none_or(|v| v == 0) {
                    errors.push((Field::Buffer, t.invalid_number));
                }
                if !self.multicast_ttl.trim().is_empty()
                    && parse_number(&self.multicast_ttl).is_none_or(|v| v > 255)
                {
                    errors.push((Field::Ttl, t.invalid_ttl));
                }
            }
        }
        self.tls_field_errors(t, &mut errors);
        errors
    }

    /// The engine configuration for the current fields, or the first problem in words.
    pub fn session_config(&self, t: &Texts) -> Result<SessionConfig, String> {
        if let Some((_, message)) = self.field_errors(t).first() {
            return Err((*message).to_string());
        }
        let number = |s: &str| parse_number(s).unwrap_or(0);
        let keepalive = match number(&self.keepalive_s) {
            0 => None,
            idle => Some(crate::engine::Keepalive {
                idle: Duration::from_secs(idle),
                interval: Duration::from_secs(number(&self.keepalive_interval_s).max(1)),
                retries: u32::try_from(number(&self.keepalive_count)).unwrap_or(5),
            }),
        };
        Ok(match self.mode {
            Mode::TcpClient => SessionConfig::TcpClient(TcpClientConfig {
                host: self.client_host.trim().to_string(),
                port: parse_u16(&self.client_port).unwrap_or(0),
                connect_timeout: Duration::from_millis(number(&self.connect_timeout_ms)),
                keepalive,
                local: self.client_local(),
                reconnect: self.reconnect.then(|| crate::engine::Reconnect {
                    delay: Duration::from_secs(number(&self.reconnect_delay_s)),
                    max: Duration::from_secs(number(&self.reconnect_max_s)),
                }),
                tls: self.tls.client.then(|| self.tls.client_options()),
                ..TcpClientConfig::default()
            }),
            Mode::TcpServer => SessionConfig::TcpServer(TcpServerConfig {
                host: self.server_host.trim().to_string(),
                port: parse_u16(&self.server_port).unwrap_or(0),
                backlog: i32::try_from(number(&self.backlog)).unwrap_or(i32::MAX),
                max_clients: usize::try_from(number(&self.max_clients)).unwrap_or(usize::MAX),
                keepalive,
                ipv6_only: self.ipv6_only,
                tls: self.tls.server.then(|| self.tls.server_options()),
            }),
            Mode::Udp => SessionConfig::Udp(UdpConfig {
                host: self.udp_host.trim().to_string(),
                port: parse_u16(&self.udp_port).unwrap_or(0),
                peer: Some(self.udp_peer.trim().to_string()).filter(|p| {
                    self.udp_target == UdpTarget::FixedPeer && parse_host_port(p).is_ok()
                }),
                recv_buffer: usize::try_from(number(&self.udp_buffer_kib))
                    .unwrap_or(4096)
                    .saturating_mul(1024),
                ipv6_only: self.ipv6_only,
                multicast: self.multicast_options(),
            }),
        })
    }
}

impl ConnectionSettings {
    /// TCP client: where to connect from, when a local address or source port is set.
    pub fn client_local(&self) -> Option<SocketAddr> {
        let ip = parse_local_ip(&self.client_local_host).flatten();
        let port = parse_u16(&self.client_local_port).unwrap_or(0);
        match ip {
            Some(ip) => Some(SocketAddr::new(ip, port)),
            None if port != 0 => Some(SocketAddr::new(
                IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
                port,
            )),
            None => None,
        }
    }

    /// UDP: the sending options of the fields, every one explicit (for a change while
    /// the socket runs: an empty TTL is the default 1, loopback on or off).
    pub fn multicast_sending(&self) -> MulticastOptions {
        MulticastOptions {
            ttl: Some(
                parse_number(&self.multicast_ttl)
                    .and_then(|v| u32::try_from(v).ok())
                    .unwrap_or(1),
            ),
            loopback: Some(self.multicast_loop),
            interface: self.multicast_if.trim().to_string(),
            join: Vec::new(),
        }
    }

    /// UDP: the multicast options of the fields (groups that do not parse are left out;
    /// the panel flags them).
    pub fn multicast_options(&self) -> MulticastOptions {
        MulticastOptions {
            ttl: parse_number(&self.multicast_ttl).and_then(|v| u32::try_from(v).ok()),
            loopback: (!self.multicast_loop).then_some(false),
            interface: self.multicast_if.trim().to_string(),
            join: self
                .udp_groups
                .iter()
                .filter_map(|g| GroupSpec::parse(g).ok())
                .collect(),
        }
    }
}

/// A local IP to connect from: `Some(None)` when empty, `Some(Some(ip))` for an IP
/// literal (brackets allowed), `None` for anything else (names would need DNS).
pub fn parse_local_ip(input: &str) -> Option<Option<IpAddr>> {
    let host = input.trim();
    if host.is_empty() {
        return Some(None);
    }
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    bare.parse::<IpAddr>().ok().map(Some)
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
    parse_number(input).and_then(|n| u16::try_from(n).ok())
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
mod tests;
