//! Certificates: SHA-256 fingerprints, the facts of a certificate ([`CertSummary`]),
//! PEM files, and self-signed certificates made with rcgen.

use std::path::Path;
use std::time::{Duration, SystemTime};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use x509_cert::der::Decode;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;

use super::CertSummary;
use crate::engine::EngineError;

/// SHA-256 of `der` (a certificate's DER bytes).
pub fn sha256(der: &[u8]) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// A fingerprint as uppercase hex pairs joined by colons (`AB:CD:…`), as openssl
/// prints it.
pub fn fingerprint_hex(fingerprint: &[u8; 32]) -> String {
    let mut s = String::with_capacity(32 * 3);
    for (i, b) in fingerprint.iter().enumerate() {
        if i > 0 {
            s.push(':');
        }
        s.push_str(&format!("{b:02X}"));
    }
    s
}

/// Reads a SHA-256 fingerprint typed or pasted by the user: 64 hex digits, any case,
/// with or without `:`, spaces or `-` between them, optionally after `sha256:` or
/// `SHA256 Fingerprint=` (openssl's `x509 -fingerprint` output).
pub fn parse_fingerprint(input: &str) -> Result<[u8; 32], EngineError> {
    let bad = || EngineError::TlsFingerprint {
        input: input.to_string(),
    };
    let mut text = input.trim();
    if let Some(i) = text.find('=') {
        text = &text[i + 1..];
    } else if let Some(rest) = text
        .get(..7)
        .filter(|p| p.eq_ignore_ascii_case("sha256:"))
        .and_then(|_| text.get(7..))
    {
        text = rest;
    }
    let digits: Vec<u8> = text
        .bytes()
        .filter(|b| !matches!(b, b':' | b' ' | b'-' | b'\t'))
        .collect();
    if digits.len() != 64 {
        return Err(bad());
    }
    let mut out = [0u8; 32];
    for (i, pair) in digits.chunks(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16).ok_or_else(bad)?;
        let lo = (pair[1] as char).to_digit(16).ok_or_else(bad)?;
        out[i] = (hi * 16 + lo) as u8;
    }
    Ok(out)
}

/// A time in UTC as `2026-11-30 08:39:10 UTC` (the engine's error sentences; the view
/// may show local time instead).
pub fn utc_text(time: SystemTime) -> String {
    let unix = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    match x509_cert::der::DateTime::from_unix_duration(Duration::from_secs(unix.as_secs())) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minutes(),
            t.seconds()
        ),
        Err(_) => format!("{} s after 1970 UTC", unix.as_secs()),
    }
}

impl CertSummary {
    /// The facts of a DER certificate; None when it does not parse as X.509.
    pub fn from_der(der: &[u8]) -> Option<CertSummary> {
        let cert = x509_cert::Certificate::from_der(der).ok()?;
        let tbs = cert.tbs_certificate();
        let validity = tbs.validity();
        let mut names = Vec::new();
        if let Ok(Some(san)) = tbs.get_extension::<SubjectAltName>() {
            for name in san.1.0 {
                match name {
                    GeneralName::DnsName(n) => names.push(n.to_string()),
                    GeneralName::IpAddress(ip) => {
                        let b = ip.as_bytes();
                        if let Ok(v4) = <[u8; 4]>::try_from(b) {
                            names.push(std::net::Ipv4Addr::from(v4).to_string());
                        } else if let Ok(v6) = <[u8; 16]>::try_from(b) {
                            names.push(std::net::Ipv6Addr::from(v6).to_string());
                        }
                    }
                    _ => {}
                }
            }
        }
        Some(CertSummary {
            subject: tbs.subject().to_string(),
            issuer: tbs.issuer().to_string(),
            not_before: validity.not_before.to_system_time(),
            not_after: validity.not_after.to_system_time(),
            sha256: fingerprint_hex(&sha256(der)),
            names,
            serial: tbs.serial_number().to_string(),
        })
    }

    /// True when the issuer is the subject (a self-signed certificate, or a root).
    pub fn self_issued(&self) -> bool {
        self.subject == self.issuer
    }
}

/// A certificate chain and key read from PEM files.
pub(super) fn load_pem(
    cert_path: &Path,
    key_path: &Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), EngineError> {
    let cert_error = |cause: String| EngineError::TlsPem {
        path: cert_path.to_path_buf(),
        key: false,
        cause,
    };
    let chain = CertificateDer::pem_file_iter(cert_path)
        .map_err(|e| cert_error(pem_cause(&e)))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| cert_error(pem_cause(&e)))?;
    if chain.is_empty() {
        return Err(cert_error("no CERTIFICATE section in the file".into()));
    }
    let key = PrivateKeyDer::from_pem_file(key_path).map_err(|e| EngineError::TlsPem {
        path: key_path.to_path_buf(),
        key: true,
        cause: pem_cause(&e),
    })?;
    Ok((chain, key))
}

/// A PEM error in words.
fn pem_cause(e: &rustls::pki_types::pem::Error) -> String {
    use rustls::pki_types::pem::Error;
    match e {
        Error::NoItemsFound => "no PEM section of that kind in the file (a PRIVATE KEY, \
             EC PRIVATE KEY or RSA PRIVATE KEY section is needed for a key, CERTIFICATE for a certificate)"
            .into(),
        Error::Io(io) => io.to_string(),
        other => format!("not valid PEM ({other:?})"),
    }
}

/// A self-signed certificate for `names` (DNS names or IP addresses), valid from
/// `not_before` to `not_after` (None: from yesterday for ten years), with a new ECDSA
/// P-256 key. The subject is `CN=<first name>, O=Sockscope`.
pub(super) fn self_signed(
    names: &[String],
    validity: Option<(SystemTime, SystemTime)>,
) -> Result<(CertificateDer<'static>, PrivateKeyDer<'static>), EngineError> {
    let setup = |what: &str, e: rcgen::Error| EngineError::TlsSetup {
        cause: format!("{what}: {e}"),
    };
    let names: Vec<String> = if names.is_empty() {
        vec!["localhost".into()]
    } else {
        names.iter().map(|n| n.trim().to_string()).collect()
    };
    let mut params = rcgen::CertificateParams::new(names.clone())
        .map_err(|e| setup("making a self-signed certificate", e))?;
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::CommonName, names[0].clone());
    dn.push(rcgen::DnType::OrganizationName, "Sockscope");
    params.distinguished_name = dn;
    let (from, until) = match validity {
        Some(v) => v,
        None => {
            let now = SystemTime::now();
            (
                now - Duration::from_secs(24 * 3600),
                now + Duration::from_secs(10 * 365 * 24 * 3600),
            )
        }
    };
    params.not_before = from.into();
    params.not_after = until.into();
    let key = rcgen::KeyPair::generate().map_err(|e| setup("making a key", e))?;
    let cert = params
        .self_signed(&key)
        .map_err(|e| setup("signing the certificate", e))?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    Ok((cert.der().clone(), key))
}

/// For tests and tools: a self-signed certificate and key as DER, with explicit dates
/// (an expired certificate for a test, say).
#[doc(hidden)]
pub fn self_signed_der(
    names: &[String],
    not_before: SystemTime,
    not_after: SystemTime,
) -> Result<(Vec<u8>, Vec<u8>), EngineError> {
    let (cert, key) = self_signed(names, Some((not_before, not_after)))?;
    Ok((cert.to_vec(), key.secret_der().to_vec()))
}

/// The certificates (DER) of a PEM file, e.g. a private CA to trust
/// ([`super::TlsClientOptions::extra_roots`]).
pub fn load_pem_certs(path: &Path) -> Result<Vec<Vec<u8>>, EngineError> {
    let error = |cause: String| EngineError::TlsPem {
        path: path.to_path_buf(),
        key: false,
        cause,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| error(pem_cause(&e)))?
        .map(|c| c.map(|c| c.to_vec()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| error(pem_cause(&e)))?;
    if certs.is_empty() {
        return Err(error("no CERTIFICATE section in the file".into()));
    }
    Ok(certs)
}

/// A CA certificate and a leaf it signed, all DER ([`ca_signed_der`]).
#[doc(hidden)]
#[derive(Clone, Debug)]
pub struct CaSigned {
    /// The CA's certificate.
    pub ca: Vec<u8>,
    /// The leaf certificate.
    pub leaf: Vec<u8>,
    /// The leaf's PKCS#8 private key.
    pub key: Vec<u8>,
}

/// For tests and tools: a CA (valid from yesterday for ten years) and a leaf it signed
/// for `names`, valid from `not_before` to `not_after`.
#[doc(hidden)]
pub fn ca_signed_der(
    names: &[String],
    not_before: SystemTime,
    not_after: SystemTime,
) -> Result<CaSigned, EngineError> {
    let setup = |what: &str, e: rcgen::Error| EngineError::TlsSetup {
        cause: format!("{what}: {e}"),
    };
    let now = SystemTime::now();
    let mut ca =
        rcgen::CertificateParams::new(Vec::<String>::new()).map_err(|e| setup("making a CA", e))?;
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::CommonName, "Sockscope Test CA");
    ca.distinguished_name = dn;
    ca.not_before = (now - Duration::from_secs(24 * 3600)).into();
    ca.not_after = (now + Duration::from_secs(10 * 365 * 24 * 3600)).into();
    let ca_key = rcgen::KeyPair::generate().map_err(|e| setup("making a key", e))?;
    let issuer =
        rcgen::CertifiedIssuer::self_signed(ca, ca_key).map_err(|e| setup("signing the CA", e))?;
    let mut leaf =
        rcgen::CertificateParams::new(names.to_vec()).map_err(|e| setup("making a leaf", e))?;
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(
        rcgen::DnType::CommonName,
        names.first().cloned().unwrap_or_default(),
    );
    leaf.distinguished_name = dn;
    leaf.not_before = not_before.into();
    leaf.not_after = not_after.into();
    let leaf_key = rcgen::KeyPair::generate().map_err(|e| setup("making a key", e))?;
    let cert = leaf
        .signed_by(&leaf_key, &issuer)
        .map_err(|e| setup("signing the leaf", e))?;
    Ok(CaSigned {
        ca: issuer.der().to_vec(),
        leaf: cert.der().to_vec(),
        key: leaf_key.serialize_der(),
    })
}
