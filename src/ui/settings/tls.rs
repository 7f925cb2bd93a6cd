//! The TLS fields of the connection panel: one TLS switch per TCP mode, the client's
//! trust (system roots, a pinned fingerprint, an extra CA, or any certificate), SNI,
//! ALPN and versions, and the server's certificate (self-signed or PEM files). Stored
//! as typed, checked field by field like the rest of the panel, and turned into the
//! engine's [`TlsClientOptions`] / [`TlsServerOptions`] at start.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::engine::tls::{
    ServerIdentity, TlsClientOptions, TlsServerOptions, TlsVersions, parse_fingerprint,
};

use super::{ConnectionSettings, Field, Mode};
use crate::ui::i18n::Texts;

/// Which TLS versions a side offers or accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum TlsVersionChoice {
    /// TLS 1.2 and TLS 1.3.
    #[default]
    All,
    /// TLS 1.2 only (to test an old peer).
    Tls12,
    /// TLS 1.3 only.
    Tls13,
}

impl TlsVersionChoice {
    /// Every choice, in menu order.
    pub const ALL: [TlsVersionChoice; 3] = [
        TlsVersionChoice::All,
        TlsVersionChoice::Tls12,
        TlsVersionChoice::Tls13,
    ];

    /// The choice in the UI language.
    pub fn label(self, t: &Texts) -> &'static str {
        match self {
            TlsVersionChoice::All => t.tls_versions_all,
            TlsVersionChoice::Tls12 => t.tls_versions_12,
            TlsVersionChoice::Tls13 => t.tls_versions_13,
        }
    }

    /// The engine's value.
    pub fn versions(self) -> TlsVersions {
        match self {
            TlsVersionChoice::All => TlsVersions::All,
            TlsVersionChoice::Tls12 => TlsVersions::Tls12,
            TlsVersionChoice::Tls13 => TlsVersions::Tls13,
        }
    }
}

/// Where a TLS server's certificate comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum ServerCertChoice {
    /// Made at each start for the names typed.
    #[default]
    SelfSigned,
    /// A PEM certificate chain and its key, from files.
    Pem,
}

/// The TLS fields of both TCP modes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TlsSettings {
    /// TCP client: speak TLS after connecting.
    pub client: bool,
    /// TCP server: speak TLS with every client.
    pub server: bool,
    /// Client: the server name sent as SNI and checked (empty: the host).
    pub sni: String,
    /// Client: ALPN protocols offered, comma-separated.
    pub client_alpn: String,
    /// Client: versions offered.
    pub client_versions: TlsVersionChoice,
    /// Client: accept any certificate (debugging).
    pub accept_any: bool,
    /// Client: trust only the certificate with this SHA-256 fingerprint (empty: off).
    pub pin: String,
    /// Client: a PEM file of CA certificates trusted besides the system's (empty: none).
    pub ca_file: String,
    /// Server: self-signed or PEM files.
    pub server_cert: ServerCertChoice,
    /// Server: names of the self-signed certificate, comma-separated.
    pub names: String,
    /// Server: the PEM certificate chain.
    pub cert_file: String,
    /// Server: the PEM private key.
    pub key_file: String,
    /// Server: ALPN protocols accepted, comma-separated.
    pub server_alpn: String,
    /// Server: versions accepted.
    pub server_versions: TlsVersionChoice,
}

impl Default for TlsSettings {
    fn default() -> Self {
        TlsSettings {
            client: false,
            server: false,
            sni: String::new(),
            client_alpn: String::new(),
            client_versions: TlsVersionChoice::All,
            accept_any: false,
            pin: String::new(),
            ca_file: String::new(),
            server_cert: ServerCertChoice::SelfSigned,
            names: "localhost, 127.0.0.1, ::1".into(),
            cert_file: String::new(),
            key_file: String::new(),
            server_alpn: String::new(),
            server_versions: TlsVersionChoice::All,
        }
    }
}

/// The entries of a comma-separated list, trimmed; `None` when one is empty or longer
/// than ALPN allows (255 bytes). An empty or blank list is `Some(vec![])`.
pub fn parse_alpn(input: &str) -> Option<Vec<String>> {
    if input.trim().is_empty() {
        return Some(Vec::new());
    }
    input
        .split(',')
        .map(str::trim)
        .map(|p| (!p.is_empty() && p.len() <= 255).then(|| p.to_string()))
        .collect()
}

/// The names of a comma-separated list, trimmed, empty ones left out.
fn names_of(input: &str) -> Vec<String> {
    input
        .split([',', ' '])
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .collect()
}

fn typed_path(input: &str) -> Option<PathBuf> {
    Some(PathBuf::from(input.trim())).filter(|p| !p.as_os_str().is_empty())
}

impl TlsSettings {
    /// True when the session of `mode` speaks TLS.
    pub fn on(&self, mode: Mode) -> bool {
        match mode {
            Mode::TcpClient => self.client,
            Mode::TcpServer => self.server,
            Mode::Udp => false,
        }
    }

    /// The TLS switch of `mode` (UDP has none).
    pub fn switch(&mut self, mode: Mode) -> Option<&mut bool> {
        match mode {
            Mode::TcpClient => Some(&mut self.client),
            Mode::TcpServer => Some(&mut self.server),
            Mode::Udp => None,
        }
    }

    /// The client's options, without the extra CA's certificates (read at start, see
    /// [`TlsSettings::extra_ca`]).
    pub fn client_options(&self) -> TlsClientOptions {
        TlsClientOptions {
            server_name: Some(self.sni.trim().to_string()).filter(|s| !s.is_empty()),
            alpn: parse_alpn(&self.client_alpn).unwrap_or_default(),
            accept_any: self.accept_any,
            pinned_sha256: Some(self.pin.trim())
                .filter(|p| !p.is_empty())
                .and_then(|p| parse_fingerprint(p).ok()),
            versions: self.client_versions.versions(),
            extra_roots: Vec::new(),
        }
    }

    /// The extra CA file, when one is given.
    pub fn extra_ca(&self) -> Option<PathBuf> {
        typed_path(&self.ca_file)
    }

    /// The server's options.
    pub fn server_options(&self) -> TlsServerOptions {
        let identity = match self.server_cert {
            ServerCertChoice::SelfSigned => ServerIdentity::SelfSigned {
                names: names_of(&self.names),
            },
            ServerCertChoice::Pem => ServerIdentity::Pem {
                cert_path: typed_path(&self.cert_file).unwrap_or_default(),
                key_path: typed_path(&self.key_file).unwrap_or_default(),
            },
        };
        TlsServerOptions {
            identity,
            alpn: parse_alpn(&self.server_alpn).unwrap_or_default(),
            versions: self.server_versions.versions(),
        }
    }
}

/// An SNI field: empty (the host), an IP address, or a DNS name (letters, digits, `-`
/// and `_` in dot-separated labels).
fn sni_ok(input: &str) -> bool {
    let name = input.trim();
    if name.is_empty() || name.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    name.len() <= 253
        && name.trim_end_matches('.').split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// A file field: empty, or naming something that is not a file.
fn file_problem(input: &str, t: &Texts) -> Option<&'static str> {
    match typed_path(input) {
        None => Some(t.tls_need_file),
        // One `stat` a frame for a field that is on screen; the file is read at start.
        Some(path) if !Path::is_file(&path) => Some(t.tls_no_such_file),
        Some(_) => None,
    }
}

impl ConnectionSettings {
    /// Problems with the TLS fields of the current mode (none when TLS is off).
    pub(super) fn tls_field_errors(&self, t: &Texts, errors: &mut Vec<(Field, &'static str)>) {
        let tls = &self.tls;
        match self.mode {
            Mode::TcpClient if tls.client => {
                if !sni_ok(&tls.sni) {
                    errors.push((Field::TlsSni, t.tls_bad_sni));
                }
                if parse_alpn(&tls.client_alpn).is_none() {
                    errors.push((Field::TlsAlpn, t.tls_alpn_bad));
                }
                if !tls.pin.trim().is_empty() && parse_fingerprint(&tls.pin).is_err() {
                    errors.push((Field::TlsPin, t.tls_bad_fingerprint));
                }
                if !tls.ca_file.trim().is_empty()
                    && let Some(problem) = file_problem(&tls.ca_file, t)
                {
                    errors.push((Field::TlsCaFile, problem));
                }
            }
            Mode::TcpServer if tls.server => {
                if parse_alpn(&tls.server_alpn).is_none() {
                    errors.push((Field::TlsAlpn, t.tls_alpn_bad));
                }
                match tls.server_cert {
                    ServerCertChoice::SelfSigned => {
                        if names_of(&tls.names).is_empty() {
                            errors.push((Field::TlsNames, t.tls_names_empty));
                        }
                    }
                    ServerCertChoice::Pem => {
                        if let Some(problem) = file_problem(&tls.cert_file, t) {
                            errors.push((Field::TlsCertFile, problem));
                        }
                        if let Some(problem) = file_problem(&tls.key_file, t) {
                            errors.push((Field::TlsKeyFile, problem));
                        }
                    }
                }
            }
            _ => {}
        }
    }
}
