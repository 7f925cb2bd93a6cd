//! Unit tests: configurations, certificate facts, fingerprints, classification.

use std::time::{Duration, SystemTime};

use rustls::pki_types::{ServerName, UnixTime};
use rustls::{AlertDescription, CertificateError, InvalidMessage, PeerIncompatible};

use super::classify::{Context, classify, classify_io};
use super::*;

fn days(n: u64) -> Duration {
    Duration::from_secs(n * 24 * 3600)
}

fn ctx<'a>(first: &'a [u8], alpn: &'a [String]) -> Context<'a> {
    Context {
        server: Some("example.test"),
        versions: TlsVersions::Tls13,
        alpn,
        first_bytes: first,
        timeout: Duration::from_secs(5),
    }
}

/// A self-signed certificate's summary names its subject, issuer, names, dates and
/// the fingerprint of its DER.
#[test]
fn self_signed_summary() {
    let from = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let until = from + days(30);
    let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    let (der, _key) = self_signed_der(&names, from, until).unwrap();
    let s = CertSummary::from_der(&der).unwrap();
    assert!(s.subject.contains("CN=localhost"), "{}", s.subject);
    assert!(s.subject.contains("O=Sockscope"), "{}", s.subject);
    assert!(s.self_issued());
    assert_eq!(s.names, names);
    assert_eq!(s.not_before, from);
    assert_eq!(s.not_after, until);
    assert_eq!(s.sha256, fingerprint_hex(&sha256(&der)));
    assert_eq!(s.sha256.len(), 32 * 3 - 1);
    assert!(!s.serial.is_empty());
    assert!(CertSummary::from_der(b"not a certificate").is_none());
}

/// Fingerprints print as openssl does and parse back from the usual spellings.
#[test]
fn fingerprint_round_trip() {
    let mut fp = [0u8; 32];
    for (i, b) in fp.iter_mut().enumerate() {
        *b = (i * 7 + 3) as u8;
    }
    let text = fingerprint_hex(&fp);
    assert!(text.starts_with("03:0A:11:"), "{text}");
    assert_eq!(parse_fingerprint(&text), Ok(fp));
    assert_eq!(
        parse_fingerprint(&text.to_lowercase().replace(':', "")),
        Ok(fp)
    );
    assert_eq!(
        parse_fingerprint(&format!("sha256 Fingerprint={text}")),
        Ok(fp)
    );
    assert_eq!(
        parse_fingerprint(&format!("SHA256:{}", text.replace(':', " "))),
        Ok(fp)
    );
    let e = parse_fingerprint("AB:CD").unwrap_err();
    assert_eq!(
        e.to_string(),
        "\"AB:CD\" is not a SHA-256 fingerprint (64 hex digits, colons allowed)"
    );
    assert!(parse_fingerprint(&"zz".repeat(32)).is_err());
}

/// Times read as UTC dates; bytes as printable text with escapes.
#[test]
fn words_for_times_and_bytes() {
    let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_577_836_800 + 3_723);
    assert_eq!(utc_text(t), "2020-01-01 01:02:03 UTC");
    assert_eq!(
        shown_bytes(b"HTTP/1.1 400\r\n\x00\xff"),
        "HTTP/1.1 400\\r\\n\\x00\\xff"
    );
}

/// A client config builds for each trust mode; a bad SNI is refused up front.
#[test]
fn client_configs_build() {
    let strict = TlsClient::new(&TlsClientOptions::default()).unwrap();
    assert!(strict.config().is_ok());
    let pinned = TlsClient::new(&TlsClientOptions {
        pinned_sha256: Some([1; 32]),
        alpn: vec!["h2".into(), " ".into(), "http/1.1".into()],
        ..Default::default()
    })
    .unwrap();
    assert_eq!(pinned.root_count(), 0);
    let (config, _) = pinned.config().unwrap();
    assert_eq!(
        config.alpn_protocols,
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    );
    let any = TlsClient::new(&TlsClientOptions {
        accept_any: true,
        versions: TlsVersions::Tls12,
        ..Default::default()
    })
    .unwrap();
    assert!(any.config().is_ok());
    assert_eq!(any.name_for("[::1]"), "::1");
    let named = TlsClient::new(&TlsClientOptions {
        server_name: Some("example.com".into()),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(named.name_for("127.0.0.1"), "example.com");
    let e = TlsClient::new(&TlsClientOptions {
        server_name: Some("bad name!".into()),
        ..Default::default()
    })
    .unwrap_err();
    assert!(matches!(e, EngineError::TlsServerName { .. }), "{e}");
}

/// A self-signed server has a fingerprint and the facts of its certificate; missing
/// PEM files are named in the error.
#[test]
fn server_configs_build() {
    let server = TlsServer::new(&TlsServerOptions::default()).unwrap();
    let cert = server.certificate().unwrap();
    assert_eq!(cert.sha256, server.fingerprint());
    assert_eq!(
        parse_fingerprint(&server.fingerprint()),
        Ok(server.fingerprint_bytes())
    );
    assert_eq!(cert.names, vec!["localhost", "127.0.0.1", "::1"]);
    assert!(cert.not_before < SystemTime::now() && SystemTime::now() < cert.not_after);
    let e = TlsServer::new(&TlsServerOptions {
        identity: ServerIdentity::Pem {
            cert_path: "/nonexistent/cert.pem".into(),
            key_path: "/nonexistent/key.pem".into(),
        },
        ..Default::default()
    })
    .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("cannot use the TLS certificate file /nonexistent/cert.pem:"),
        "{e}"
    );
    // A key that is not the certificate's.
    let now = SystemTime::now();
    let (cert_a, _) = self_signed_der(&["a".into()], now, now + days(1)).unwrap();
    let (_, key_b) = self_signed_der(&["b".into()], now, now + days(1)).unwrap();
    let e =
        TlsServer::with_certificate(vec![cert_a], key_b, &TlsServerOptions::default()).unwrap_err();
    assert!(e.to_string().contains("does not belong"), "{e}");
}

/// rustls errors become the typed variants with their sentences.
#[test]
fn failures_are_classified() {
    let alpn = vec!["h2".to_string()];
    let c = ctx(&[22, 3, 3], &alpn);
    let e = classify(
        &rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
        &c,
    );
    assert_eq!(
        e,
        EngineError::TlsUnknownIssuer {
            server: "example.test".into()
        }
    );
    assert!(
        e.to_string()
            .contains("not among this system's trusted roots")
    );
    let e = classify(
        &rustls::Error::InvalidCertificate(CertificateError::ExpiredContext {
            time: UnixTime::since_unix_epoch(Duration::from_secs(1_600_000_000)),
            not_after: UnixTime::since_unix_epoch(Duration::from_secs(1_577_836_800)),
        }),
        &c,
    );
    assert_eq!(
        e.to_string(),
        "the certificate of example.test has expired: valid until 2020-01-01 00:00:00 UTC, checked at 2020-09-13 12:26:40 UTC"
    );
    let e = classify(
        &rustls::Error::InvalidCertificate(CertificateError::NotValidForNameContext {
            expected: ServerName::try_from("wrong.example").unwrap(),
            presented: vec![
                "DnsName(\"localhost\")".into(),
                "IpAddress(127.0.0.1)".into(),
            ],
        }),
        &c,
    );
    assert_eq!(
        e,
        EngineError::TlsNameMismatch {
            asked: "wrong.example".into(),
            presented: vec!["localhost".into(), "127.0.0.1".into()]
        }
    );
    let e = classify(
        &rustls::Error::AlertReceived(AlertDescription::ProtocolVersion),
        &c,
    );
    assert_eq!(
        e.to_string(),
        "TLS version mismatch: the peer accepts none of the versions we offer (TLS 1.3 only)"
    );
    let e = classify(
        &rustls::Error::PeerIncompatible(PeerIncompatible::Tls12NotOfferedOrEnabled),
        &c,
    );
    assert!(matches!(e, EngineError::TlsProtocolMismatch { .. }), "{e}");
    let e = classify(&rustls::Error::NoApplicationProtocol, &c);
    assert_eq!(
        e.to_string(),
        "no common application protocol (ALPN): the peer accepts none of h2"
    );
    let e = classify(
        &rustls::Error::AlertReceived(AlertDescription::UnknownCA),
        &c,
    );
    assert_eq!(
        e.to_string(),
        "the peer ended the TLS handshake with alert UnknownCA: it does not trust our certificate's issuer"
    );
    let plain = ctx(b"HTTP/1.1 400 Bad", &alpn);
    let e = classify(
        &rustls::Error::InvalidMessage(InvalidMessage::InvalidContentType),
        &plain,
    );
    assert_eq!(
        e.to_string(),
        "the peer does not speak TLS: it sent \"HTTP/1.1 400 Bad\" (plaintext?)"
    );
    // Through the io::Error rustls wraps it in.
    let io = std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
    );
    assert!(matches!(
        classify_io(&io, &c),
        EngineError::TlsUnknownIssuer { .. }
    ));
    let silent = ctx(&[], &alpn);
    let e = classify_io(&std::io::Error::from(std::io::ErrorKind::TimedOut), &silent);
    assert_eq!(
        e,
        EngineError::TlsTimeout {
            after: Duration::from_secs(5)
        }
    );
    let e = classify_io(
        &std::io::Error::from(std::io::ErrorKind::UnexpectedEof),
        &silent,
    );
    assert_eq!(e, EngineError::TlsClosed);
}
