//! The previous release's settings: one flat struct with enums stored as strings. Read
//! only, to carry a user's setup into the first tab of this release.

use serde::Deserialize;

use crate::automation::{AutoReplyConfig, QuickCommands, SendSpec};
use crate::codec::checksum::Checksum;
use crate::codec::escape::LineEnding;
use crate::codec::text::TextEncoding;
use crate::lang::Lang;
use crate::session::recorder::LogFormat;
use crate::session::{Framing, ViewMode};

use super::{
    AppSettings, AutomationSettings, ComposeSettings, ConnectionSettings, LogSettings, Mode,
    TabSettings, UdpTarget, ViewSettings,
};

/// The previous release's framing choices.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Default)]
pub enum LegacyFraming {
    /// One record per read.
    #[default]
    AsRead,
    /// Split after `\n`.
    Line,
    /// Split after `\r\n`.
    CrLf,
    /// 20 ms of silence.
    Idle20,
}

/// The previous release's settings, as it wrote them.
#[derive(Clone, Debug, PartialEq, Deserialize, Default)]
#[serde(default)]
#[allow(missing_docs)]
pub struct Settings {
    pub lang: Lang,
    pub mode: Mode,
    pub client_host: String,
    pub client_port: String,
    pub server_host: String,
    pub server_port: String,
    pub udp_host: String,
    pub udp_port: String,
    pub udp_peer: String,
    pub backlog: String,
    pub max_clients: String,
    pub connect_timeout_ms: String,
    pub udp_buffer_kib: String,
    pub encoding: String,
    pub view: ViewMode,
    pub framing: LegacyFraming,
    pub view_cap_mib: usize,
    pub send_hex: bool,
    pub send_encoding: String,
    pub escapes: bool,
    pub line_ending: String,
    pub checksum: String,
    pub history: Vec<String>,
    pub log_path: String,
    pub log_format: String,
    pub variables: bool,
    pub periodic_ms: String,
    pub periodic_count: String,
    pub file_path: String,
    pub file_chunk: String,
    pub file_delay_ms: String,
    pub commands_path: String,
    pub quick_commands: QuickCommands,
    pub auto_reply: AutoReplyConfig,
}

/// A string field, or the default when the old release left it empty.
fn or(value: String, default: String) -> String {
    if value.trim().is_empty() {
        default
    } else {
        value
    }
}

impl Settings {
    /// This release's settings with these in the first (only) tab. Names that no longer
    /// mean anything fall back to the defaults.
    pub fn migrate(self) -> AppSettings {
        let c = ConnectionSettings::default();
        let udp_target = if self.udp_peer.trim().is_empty() {
            UdpTarget::LastSender
        } else {
            UdpTarget::FixedPeer
        };
        let connection = ConnectionSettings {
            mode: self.mode,
            udp_target,
            client_host: or(self.client_host, c.client_host),
            client_port: or(self.client_port, c.client_port),
            server_host: or(self.server_host, c.server_host),
            server_port: or(self.server_port, c.server_port),
            udp_host: or(self.udp_host, c.udp_host),
            udp_port: or(self.udp_port, c.udp_port),
            udp_peer: self.udp_peer,
            backlog: or(self.backlog, c.backlog),
            max_clients: or(self.max_clients, c.max_clients),
            connect_timeout_ms: or(self.connect_timeout_ms, c.connect_timeout_ms),
            udp_buffer_kib: or(self.udp_buffer_kib, c.udp_buffer_kib),
            ipv6_only: false,
            keepalive_s: c.keepalive_s.clone(),
            ..ConnectionSettings::default()
        };
        let view = ViewSettings {
            encoding: TextEncoding::from_name(&self.encoding).unwrap_or_default(),
            view: self.view,
            framing: match self.framing {
                LegacyFraming::AsRead => Framing::AsRead,
                LegacyFraming::Line => Framing::Line,
                LegacyFraming::CrLf => Framing::CrLf,
                LegacyFraming::Idle20 => Framing::Idle { ms: 20 },
            },
            frame_check: Checksum::None,
        };
        let spec = SendSpec {
            text: String::new(),
            hex: self.send_hex,
            encoding: TextEncoding::from_name(&self.send_encoding).unwrap_or_default(),
            escapes: self.escapes,
            line_ending: LineEnding::ALL
                .into_iter()
                .find(|l| l.name() == self.line_ending)
                .unwrap_or_default(),
            checksum: Checksum::ALL
                .into_iter()
                .find(|c| c.name() == self.checksum)
                .unwrap_or_default(),
        };
        // Old history entries were bare strings sent with the box's options of the day.
        let history = self
            .history
            .into_iter()
            .map(|text| SendSpec {
                text,
                ..spec.clone()
            })
            .collect();
        let d = ComposeSettings::default();
        let compose = ComposeSettings {
            spec,
            variables: self.variables,
            history,
            periodic_ms: or(self.periodic_ms, d.periodic_ms),
            periodic_count: self.periodic_count,
            file_path: self.file_path,
            file_chunk: or(self.file_chunk, d.file_chunk),
            file_delay_ms: or(self.file_delay_ms, d.file_delay_ms),
            // The previous release kept the send encoding apart: keep it so.
            link_encoding: false,
        };
        let tab = TabSettings {
            name: String::new(),
            connection,
            view,
            compose,
            log: LogSettings {
                path: self.log_path,
                format: LogFormat::from_name(&self.log_format).unwrap_or(LogFormat::Text),
            },
            automation: AutomationSettings {
                commands_path: self.commands_path,
                quick_commands: self.quick_commands,
                auto_reply: self.auto_reply,
            },
            frames: super::frames::FrameSettings::default(),
        };
        AppSettings {
            lang: self.lang,
            view_cap_mib: if self.view_cap_mib == 0 {
                AppSettings::default().view_cap_mib
            } else {
                self.view_cap_mib
            },
            tabs: vec![tab],
            ..AppSettings::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file the previous release wrote loads into the first tab, typed.
    #[test]
    fn previous_release_loads_into_first_tab() {
        let old = r#"(lang: Zh, mode: Udp, udp_port: "9100", udp_peer: "127.0.0.1:9001",
            encoding: "GBK", view: Both, framing: Idle20, view_cap_mib: 32, send_hex: true,
            checksum: "CRC-16/MODBUS", history: ["01 03"], log_path: "/tmp/x.csv",
            log_format: "csv", variables: false)"#;
        let settings = AppSettings::from_stored(old).unwrap();
        assert_eq!(settings.lang, Lang::Zh);
        assert_eq!(settings.view_cap_mib, 32);
        let tab = &settings.tabs[0];
        assert_eq!(tab.connection.mode, Mode::Udp);
        assert_eq!(tab.connection.udp_port, "9100");
        assert_eq!(tab.connection.server_port, "8989");
        assert_eq!(tab.view.encoding, TextEncoding::Gbk);
        assert_eq!(tab.view.view, ViewMode::Both);
        assert_eq!(tab.view.framing, Framing::Idle { ms: 20 });
        assert!(tab.compose.spec.hex);
        assert_eq!(tab.compose.spec.checksum, Checksum::Crc16Modbus);
        assert_eq!(tab.compose.history[0].text, "01 03");
        assert!(tab.compose.history[0].hex);
        assert!(!tab.compose.variables);
        assert_eq!(tab.log.format, LogFormat::Csv);
    }
}
