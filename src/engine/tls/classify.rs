//! Handshake failures in words: a rustls error (or the `io::Error` rustls wraps it in,
//! or a plain socket error during the handshake) becomes one [`EngineError`].

use std::io;
use std::time::{Duration, SystemTime};

use rustls::pki_types::ServerName;
use rustls::{AlertDescription, CertificateError, InvalidMessage, PeerIncompatible};

use super::TlsVersions;
use super::config::PinMismatch;
use crate::engine::EngineError;

/// What the classification needs to know about the connection.
pub(super) struct Context<'a> {
    /// Client: the server name asked for; server: None.
    pub(super) server: Option<&'a str>,
    /// The versions this side accepts.
    pub(super) versions: TlsVersions,
    /// The ALPN protocols this side offers or accepts.
    pub(super) alpn: &'a [String],
    /// The first bytes the peer sent (up to 16), to show a plaintext peer's words.
    pub(super) first_bytes: &'a [u8],
    /// The handshake timeout.
    pub(super) timeout: Duration,
}

impl Context<'_> {
    fn server(&self) -> String {
        self.server.unwrap_or("the peer").to_string()
    }
}

/// The TLS error inside an `io::Error` from rustls (`complete_io`, `read_tls`, the
/// reader), if there is one.
pub(super) fn rustls_error(e: &io::Error) -> Option<&rustls::Error> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
}

/// Classifies an I/O error met during a handshake.
pub(super) fn classify_io(e: &io::Error, ctx: &Context<'_>) -> EngineError {
    if let Some(tls) = rustls_error(e) {
        return classify(tls, ctx);
    }
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
            if ctx.first_bytes.is_empty() {
                EngineError::TlsTimeout { after: ctx.timeout }
            } else {
                // It answered, but not with what completes a handshake.
                EngineError::TlsNotTls {
                    first_bytes: ctx.first_bytes.to_vec(),
                }
            }
        }
        io::ErrorKind::UnexpectedEof
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => {
            if ctx.first_bytes.is_empty() || looks_like_tls(ctx.first_bytes) {
                EngineError::TlsClosed
            } else {
                EngineError::TlsNotTls {
                    first_bytes: ctx.first_bytes.to_vec(),
                }
            }
        }
        _ => EngineError::Io {
            context: "TLS handshake".into(),
            cause: e.to_string(),
        },
    }
}

/// A TLS record starts with a content type 20..=24 and major version 3.
fn looks_like_tls(first: &[u8]) -> bool {
    matches!(first.first(), Some(20..=24)) && first.get(1).is_none_or(|v| *v == 3)
}

/// Classifies a rustls error (from this side's handshake).
pub(super) fn classify(e: &rustls::Error, ctx: &Context<'_>) -> EngineError {
    use rustls::Error as E;
    match e {
        E::InvalidCertificate(c) => certificate(c, ctx),
        E::AlertReceived(AlertDescription::ProtocolVersion) => EngineError::TlsProtocolMismatch {
            ours: ctx.versions.text().into(),
        },
        E::AlertReceived(AlertDescription::NoApplicationProtocol) => EngineError::TlsNoAlpn {
            ours: ctx.alpn.to_vec(),
        },
        E::AlertReceived(alert) => EngineError::TlsAlert {
            alert: format!("{alert:?}"),
        },
        E::NoApplicationProtocol => EngineError::TlsNoAlpn {
            ours: ctx.alpn.to_vec(),
        },
        E::PeerIncompatible(p) => match p {
            PeerIncompatible::Tls12NotOffered
            | PeerIncompatible::Tls12NotOfferedOrEnabled
            | PeerIncompatible::ServerDoesNotSupportTls12Or13
            | PeerIncompatible::ServerTlsVersionIsDisabledByOurConfig
            | PeerIncompatible::SupportedVersionsExtensionRequired
            // Old clients (TLS 1.0/1.1) send no signature_algorithms extension.
            | PeerIncompatible::SignatureAlgorithmsExtensionRequired => {
                EngineError::TlsProtocolMismatch {
                    ours: ctx.versions.text().into(),
                }
            }
            other => EngineError::TlsHandshake {
                cause: format!("the peer's settings do not fit ours ({other:?})"),
            },
        },
        E::InvalidMessage(
            InvalidMessage::InvalidContentType
            | InvalidMessage::UnknownProtocolVersion
            | InvalidMessage::MessageTooLarge,
        )
        | E::PeerSentOversizedRecord
        | E::InappropriateMessage { .. } => {
            if looks_like_tls(ctx.first_bytes) {
                EngineError::TlsHandshake {
                    cause: e.to_string(),
                }
            } else {
                EngineError::TlsNotTls {
                    first_bytes: ctx.first_bytes.to_vec(),
                }
            }
        }
        other => EngineError::TlsHandshake {
            cause: other.to_string(),
        },
    }
}

fn time(t: rustls::pki_types::UnixTime) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(t.as_secs())
}

fn certificate(c: &CertificateError, ctx: &Context<'_>) -> EngineError {
    let server = ctx.server();
    match c {
        CertificateError::UnknownIssuer => EngineError::TlsUnknownIssuer { server },
        CertificateError::Expired => EngineError::TlsExpired {
            server,
            not_after: None,
            now: None,
        },
        CertificateError::ExpiredContext {
            time: now,
            not_after,
        } => EngineError::TlsExpired {
            server,
            not_after: Some(time(*not_after)),
            now: Some(time(*now)),
        },
        CertificateError::NotValidYet => EngineError::TlsNotYetValid {
            server,
            not_before: None,
            now: None,
        },
        CertificateError::NotValidYetContext {
            time: now,
            not_before,
        } => EngineError::TlsNotYetValid {
            server,
            not_before: Some(time(*not_before)),
            now: Some(time(*now)),
        },
        CertificateError::NotValidForName => EngineError::TlsNameMismatch {
            asked: server,
            presented: Vec::new(),
        },
        CertificateError::NotValidForNameContext {
            expected,
            presented,
        } => EngineError::TlsNameMismatch {
            asked: name_text(expected),
            presented: presented.iter().map(|p| presented_text(p)).collect(),
        },
        CertificateError::Other(other) => {
            if let Some(pin) = other.0.downcast_ref::<PinMismatch>() {
                EngineError::TlsPinMismatch {
                    expected: super::fingerprint_hex(&pin.expected),
                    presented: super::fingerprint_hex(&pin.presented),
                }
            } else if let Some(webpki::Error::CaUsedAsEndEntity) =
                other.0.downcast_ref::<webpki::Error>()
            {
                EngineError::TlsCaAsServer { server }
            } else {
                EngineError::TlsBadCertificate {
                    server,
                    cause: other.to_string(),
                }
            }
        }
        other => EngineError::TlsBadCertificate {
            server,
            cause: format!("{other:?}"),
        },
    }
}

fn name_text(name: &ServerName<'_>) -> String {
    match name {
        ServerName::DnsName(d) => d.as_ref().to_string(),
        ServerName::IpAddress(ip) => std::net::IpAddr::from(*ip).to_string(),
        other => format!("{other:?}"),
    }
}

/// rustls gives presented names as `DnsName("localhost")` / `IpAddress(127.0.0.1)`;
/// keep the name only.
fn presented_text(p: &str) -> String {
    let inner = p
        .split_once('(')
        .map(|(_, rest)| rest.trim_end_matches(')'))
        .unwrap_or(p);
    inner.trim_matches('"').to_string()
}

/// What an alert from the peer means, in English (None for the rare ones).
pub fn alert_meaning(alert: &str) -> Option<&'static str> {
    Some(match alert {
        "UnknownCA" => "it does not trust our certificate's issuer",
        "BadCertificate" => "it rejected our certificate (wrong name, or it does not trust it)",
        "CertificateExpired" => "it says our certificate has expired",
        "CertificateUnknown" | "UnsupportedCertificate" => "it rejected our certificate",
        "HandshakeFailure" => "no cipher suite or key exchange in common",
        "ProtocolVersion" => "no TLS version in common",
        "NoApplicationProtocol" => "no ALPN protocol in common",
        "DecryptError" | "BadRecordMac" => "a cryptographic check failed",
        "UnrecognisedName" => "it does not serve the server name (SNI) we asked for",
        "CertificateRequired" => "it wants a client certificate",
        "InternalError" => "it failed internally",
        "AccessDenied" => "it refused access",
        "IllegalParameter" | "DecodeError" => "it could not understand our handshake",
        _ => return None,
    })
}
