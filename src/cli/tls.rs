//! TLS on the command line: `--tls` and the options that shape it, for a TCP client
//! (`--insecure`, `--sni`, `--pin`, `--ca`) or server (`--cert`, `--key`), and for both
//! (`--alpn`, `--tls-version`). Every one of them turns TLS on for its session, so
//! `client example.com:443 --pin …` needs no `--tls`.
//!
//! Files are looked at while parsing, so a typo fails before any socket opens (exit
//! status 2): `--ca` files are read (their certificates are kept), `--cert` and `--key`
//! must be readable (the engine reads and checks them when the session starts).

use std::path::{Path, PathBuf};

use crate::engine::tls::{
    ServerIdentity, TlsClientOptions, TlsServerOptions, TlsVersions, load_pem_certs,
    parse_fingerprint,
};

use super::StartSession;

/// The TLS options of one TCP session, as the command line gave them.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct TlsArgs {
    /// Client: the name sent as SNI and checked against the certificate (`--sni`;
    /// otherwise the host connected to).
    pub sni: Option<String>,
    /// ALPN protocols, most preferred first (`--alpn h2,http/1.1`, repeatable).
    pub alpn: Vec<String>,
    /// Client: accept any certificate (`--insecure`).
    pub insecure: bool,
    /// Client: trust exactly the certificate with this SHA-256 fingerprint (`--pin`).
    pub pin: Option<[u8; 32]>,
    /// Client: PEM files of extra trusted roots (`--ca`, repeatable).
    pub ca: Vec<PathBuf>,
    /// Client: the certificates (DER) read from the `--ca` files.
    pub ca_roots: Vec<Vec<u8>>,
    /// The accepted versions (`--tls-version 1.2|1.3`; default both).
    pub versions: TlsVersions,
    /// Server: the certificate chain, PEM (`--cert`; without it a self-signed
    /// certificate is made).
    pub cert: Option<PathBuf>,
    /// Server: the private key of `cert`, PEM (`--key`).
    pub key: Option<PathBuf>,
}

impl TlsArgs {
    /// The engine's options for a TLS client session.
    pub fn client_options(&self) -> TlsClientOptions {
        TlsClientOptions {
            server_name: self.sni.clone(),
            alpn: self.alpn.clone(),
            accept_any: self.insecure,
            pinned_sha256: self.pin,
            versions: self.versions,
            extra_roots: self.ca_roots.clone(),
        }
    }

    /// The engine's options for a TLS server session.
    pub fn server_options(&self) -> TlsServerOptions {
        let identity = match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => ServerIdentity::Pem {
                cert_path: cert.clone(),
                key_path: key.clone(),
            },
            _ => ServerIdentity::default(),
        };
        TlsServerOptions {
            identity,
            alpn: self.alpn.clone(),
            versions: self.versions,
        }
    }

    /// Options of `self`, and of `other` where `self` has none (lists are joined).
    pub(super) fn or(self, other: TlsArgs) -> TlsArgs {
        fn join<T>(mut a: Vec<T>, b: Vec<T>) -> Vec<T> {
            a.extend(b);
            a
        }
        TlsArgs {
            sni: self.sni.or(other.sni),
            alpn: if self.alpn.is_empty() {
                other.alpn
            } else {
                self.alpn
            },
            insecure: self.insecure || other.insecure,
            pin: self.pin.or(other.pin),
            ca: join(self.ca, other.ca),
            ca_roots: join(self.ca_roots, other.ca_roots),
            versions: if self.versions == TlsVersions::All {
                other.versions
            } else {
                self.versions
            },
            cert: self.cert.or(other.cert),
            key: self.key.or(other.key),
        }
    }

    /// What cannot be decided option by option: `--cert` and `--key` come together,
    /// `--pin` and `--insecure` do not.
    pub(super) fn check(&self) -> Result<(), String> {
        match (&self.cert, &self.key) {
            (Some(_), None) => {
                return Err("--cert needs --key FILE (the certificate's private key, PEM)".into());
            }
            (None, Some(_)) => {
                return Err("--key needs --cert FILE (the certificate chain, PEM)".into());
            }
            _ => {}
        }
        if self.insecure && self.pin.is_some() {
            return Err(
                "--insecure and --pin contradict each other: --pin trusts exactly one certificate, --insecure any; keep one"
                    .into(),
            );
        }
        Ok(())
    }
}

/// Which sessions a TLS option belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Role {
    /// TCP client and server.
    Both,
    /// TCP client only.
    Client,
    /// TCP server only.
    Server,
}

/// The TLS option `flag` (of `role`) on `session`: fine, or why not in words.
pub(super) fn fits(flag: &str, role: Role, session: &StartSession) -> Result<(), String> {
    match (session, role) {
        (StartSession::Udp { .. }, _) => Err(format!(
            "{flag} belongs to a TCP client or server session (UDP has no TLS)"
        )),
        (StartSession::Server { .. }, Role::Client) => Err(format!(
            "{flag} belongs to a TLS client session (a server presents --cert/--key, or a self-signed certificate)"
        )),
        (StartSession::Client { .. }, Role::Server) => {
            Err(format!("{flag} belongs to a TLS server session"))
        }
        _ => Ok(()),
    }
}

/// The role of a TLS option, or None when `flag` is not one.
pub(super) fn role(flag: &str) -> Option<Role> {
    Some(match flag {
        "tls" | "alpn" | "tls-version" => Role::Both,
        "insecure" | "sni" | "pin" | "ca" => Role::Client,
        "cert" | "key" => Role::Server,
        _ => return None,
    })
}

/// Applies `--flag [value]` to `args` (`value` is None for `--tls` and `--insecure`).
pub(super) fn apply(flag: &str, value: Option<&str>, args: &mut TlsArgs) -> Result<(), String> {
    let value = value.unwrap_or_default();
    match flag {
        "tls" => {}
        "insecure" => args.insecure = true,
        "sni" => {
            let name = value.trim();
            if name.is_empty() {
                return Err("--sni: the server name is empty".into());
            }
            args.sni = Some(name.to_string());
        }
        "alpn" => args.alpn.extend(parse_alpn(value)?),
        "pin" => args.pin = Some(parse_pin(value)?),
        "ca" => {
            let path = PathBuf::from(value);
            let certs = load_pem_certs(&path).map_err(|e| format!("--ca: {e}"))?;
            args.ca_roots.extend(certs);
            args.ca.push(path);
        }
        "tls-version" => args.versions = parse_version(value)?,
        "cert" => args.cert = Some(readable("--cert", value)?),
        "key" => args.key = Some(readable("--key", value)?),
        _ => return Err(format!("--{flag} is not a TLS option")),
    }
    Ok(())
}

/// `h2,http/1.1` → `["h2", "http/1.1"]` (each 1 to 255 bytes, as ALPN allows).
fn parse_alpn(value: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for (i, name) in value.split(',').enumerate() {
        let name = name.trim();
        if name.is_empty() {
            return Err(format!(
                "--alpn: protocol {} of {value:?} is empty (e.g. --alpn h2,http/1.1)",
                i + 1
            ));
        }
        if name.len() > 255 {
            return Err(format!(
                "--alpn: {name:?} is longer than 255 bytes, the most ALPN carries"
            ));
        }
        out.push(name.to_string());
    }
    Ok(out)
}

/// `1.2`, `1.3` (also `tls1.2`, `TLSv1.3`), or `all`.
fn parse_version(value: &str) -> Result<TlsVersions, String> {
    let v = value.trim().to_ascii_lowercase();
    let v = v
        .strip_prefix("tlsv")
        .or_else(|| v.strip_prefix("tls"))
        .unwrap_or(&v);
    match v.trim() {
        "1.2" | "12" => Ok(TlsVersions::Tls12),
        "1.3" | "13" => Ok(TlsVersions::Tls13),
        "all" | "any" => Ok(TlsVersions::All),
        _ => Err(format!(
            "--tls-version: expected 1.2 or 1.3 (default: both), got {value:?}"
        )),
    }
}

/// A file the session will read: it must open now.
fn readable(flag: &str, value: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(value);
    match std::fs::File::open(&path) {
        Ok(_) if path.is_dir() => Err(format!(
            "{flag}: {} is a folder, not a PEM file",
            show(&path)
        )),
        Ok(_) => Ok(path),
        Err(e) => Err(format!("{flag}: cannot read {}: {e}", show(&path))),
    }
}

fn show(path: &Path) -> String {
    format!("{:?}", path.display().to_string())
}

/// A SHA-256 fingerprint as [`parse_fingerprint`] takes it; when it does not, the
/// message says where the first wrong character is, or how many digits were given.
pub(super) fn parse_pin(value: &str) -> Result<[u8; 32], String> {
    if let Ok(pin) = parse_fingerprint(value) {
        return Ok(pin);
    }
    let example = "64 hex digits, colons allowed, as the server's `SHA-256 AB:CD:…` line shows";
    // The digits start after `…=` (openssl's output) or `sha256:`, as the engine reads.
    let start = match value.find('=') {
        Some(i) => i + 1,
        None if value
            .get(..7)
            .is_some_and(|p| p.eq_ignore_ascii_case("sha256:")) =>
        {
            7
        }
        None => 0,
    };
    let mut digits = 0;
    for (offset, c) in value[start..].char_indices() {
        if matches!(c, ':' | ' ' | '-' | '\t') {
            continue;
        }
        if !c.is_ascii_hexdigit() {
            let position = value[..start + offset].chars().count() + 1;
            return Err(format!(
                "--pin: {c:?} at character {position} of {value:?} is not a hex digit ({example})"
            ));
        }
        digits += 1;
    }
    Err(format!(
        "--pin: {value:?} has {digits} hex digits, a SHA-256 fingerprint has 64 ({example})"
    ))
}
