//! Options turned into rustls configurations: [`TlsClient`] (system roots, a pinned
//! fingerprint or any certificate) and [`TlsServer`] (PEM or self-signed), always with
//! the ring provider given explicitly.

use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{WebPkiServerVerifier, verify_server_name};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig,
    SignatureScheme,
};

use super::cert::{fingerprint_hex, load_pem, self_signed, sha256};
use super::{
    CertSummary, PeerTrust, ServerIdentity, TlsClientOptions, TlsServerOptions, TlsVersions,
};
use crate::engine::EngineError;

/// The ring provider every configuration is built with. Explicit, so that a crate in
/// the tree enabling aws-lc-rs one day cannot make `builder()` pick another (or panic).
pub(super) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn versions(v: TlsVersions) -> &'static [&'static rustls::SupportedProtocolVersion] {
    static ALL: [&rustls::SupportedProtocolVersion; 2] =
        [&rustls::version::TLS13, &rustls::version::TLS12];
    static V12: [&rustls::SupportedProtocolVersion; 1] = [&rustls::version::TLS12];
    static V13: [&rustls::SupportedProtocolVersion; 1] = [&rustls::version::TLS13];
    match v {
        TlsVersions::All => &ALL,
        TlsVersions::Tls12 => &V12,
        TlsVersions::Tls13 => &V13,
    }
}

fn setup_error(what: &str, e: impl std::fmt::Display) -> EngineError {
    EngineError::TlsSetup {
        cause: format!("{what}: {e}"),
    }
}

/// A TLS client's settings, ready for handshakes: the options and the system's roots
/// (read once, in [`TlsClient::new`]). Each handshake builds its own small
/// `ClientConfig` around them, so what its verifier saw belongs to that connection.
#[derive(Clone, Debug)]
pub struct TlsClient {
    options: TlsClientOptions,
    roots: Arc<RootCertStore>,
    /// Certificates of the system store that did not load, in words.
    root_errors: Vec<String>,
}

impl TlsClient {
    /// Reads the system's trusted roots (unless a fingerprint is pinned) and checks the
    /// server name, if one is given.
    pub fn new(options: &TlsClientOptions) -> Result<TlsClient, EngineError> {
        if let Some(name) = &options.server_name {
            server_name(name)?;
        }
        let mut roots = RootCertStore::empty();
        let mut root_errors = Vec::new();
        if options.pinned_sha256.is_none() {
            let found = rustls_native_certs::load_native_certs();
            root_errors = found.errors.iter().map(|e| e.to_string()).collect();
            roots.add_parsable_certificates(found.certs);
            for der in &options.extra_roots {
                roots
                    .add(CertificateDer::from(der.clone()))
                    .map_err(|e| setup_error("adding a trusted certificate", e))?;
            }
        }
        Ok(TlsClient {
            options: options.clone(),
            roots: Arc::new(roots),
            root_errors,
        })
    }

    /// The options this client was made with.
    pub fn options(&self) -> &TlsClientOptions {
        &self.options
    }

    /// How many trusted roots there are: the system's and the extra ones (0 when a
    /// fingerprint is pinned).
    pub fn root_count(&self) -> usize {
        self.roots.len()
    }

    /// Problems met while reading the system's roots (files that did not load).
    pub fn root_errors(&self) -> &[String] {
        &self.root_errors
    }

    /// The name to send as SNI and verify: the option, else `host`.
    pub(super) fn name_for(&self, host: &str) -> String {
        let name = self.options.server_name.as_deref().unwrap_or(host).trim();
        name.trim_start_matches('[')
            .trim_end_matches(']')
            .to_string()
    }

    /// A fresh rustls config for one connection, and the verifier's verdict slot.
    pub(super) fn config(&self) -> Result<(Arc<ClientConfig>, Arc<Verdict>), EngineError> {
        let provider = provider();
        let verdict = Arc::new(Verdict::default());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(versions(self.options.versions))
            .map_err(|e| setup_error("choosing the TLS versions", e))?;
        let strict = if self.roots.is_empty() {
            None
        } else {
            Some(
                WebPkiServerVerifier::builder_with_provider(self.roots.clone(), provider.clone())
                    .build()
                    .map_err(|e| setup_error("loading the system's roots", e))?,
            )
        };
        let mode = match (self.options.pinned_sha256, self.options.accept_any, strict) {
            (Some(pin), _, _) => Some(Mode::Pinned(pin)),
            (None, true, strict) => Some(Mode::AcceptAny(strict)),
            (None, false, Some(strict)) => Some(Mode::Strict(strict)),
            // No roots at all: every certificate is of an unknown issuer.
            (None, false, None) => None,
        };
        let mut config = match mode {
            Some(mode) => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Verifier {
                    mode,
                    algorithms: provider.signature_verification_algorithms,
                    verdict: verdict.clone(),
                }))
                .with_no_client_auth(),
            None => builder
                .with_root_certificates(RootCertStore::empty())
                .with_no_client_auth(),
        };
        config.alpn_protocols = alpn(&self.options.alpn);
        Ok((Arc::new(config), verdict))
    }
}

/// ALPN names as rustls wants them (empty names dropped).
fn alpn(list: &[String]) -> Vec<Vec<u8>> {
    list.iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .map(|p| p.as_bytes().to_vec())
        .collect()
}

/// `name` as a server name (a DNS name or an IP address).
pub(super) fn server_name(name: &str) -> Result<ServerName<'static>, EngineError> {
    ServerName::try_from(name.to_string()).map_err(|_| EngineError::TlsServerName {
        name: name.to_string(),
    })
}

/// What the client's verifier decided, for [`super::HandshakeInfo::trust`].
#[derive(Debug, Default)]
pub(super) struct Verdict {
    trust: Mutex<Option<Trust>>,
}

/// The verifier's finding, before it becomes a [`PeerTrust`] (the strict check's error
/// is classified later, with the connection's context).
#[derive(Debug, Clone)]
pub(super) enum Trust {
    Strict,
    Pinned,
    Any(Option<rustls::Error>),
}

impl Verdict {
    fn set(&self, trust: Trust) {
        if let Ok(mut t) = self.trust.lock() {
            *t = Some(trust);
        }
    }

    /// The finding, with a strict-check error turned into words by `classify`.
    pub(super) fn trust(&self, classify: impl Fn(&rustls::Error) -> EngineError) -> PeerTrust {
        let t = self.trust.lock().ok().and_then(|t| t.clone());
        match t {
            Some(Trust::Strict) | None => PeerTrust::SystemRoots,
            Some(Trust::Pinned) => PeerTrust::Pinned,
            Some(Trust::Any(problem)) => PeerTrust::AcceptedAny {
                problem: problem.map(|e| Box::new(classify(&e))),
            },
        }
    }
}

#[derive(Debug)]
enum Mode {
    /// The system's roots (webpki).
    Strict(Arc<WebPkiServerVerifier>),
    /// Exactly this SHA-256 fingerprint.
    Pinned([u8; 32]),
    /// Anything; the strict verdict (if the system has roots) is only noted.
    AcceptAny(Option<Arc<WebPkiServerVerifier>>),
}

/// The client's certificate verifier: the system's roots, a pinned fingerprint, or
/// anything. The handshake's signature is checked in every mode (so the peer must hold
/// the certificate's key).
#[derive(Debug)]
struct Verifier {
    mode: Mode,
    algorithms: WebPkiSupportedAlgorithms,
    verdict: Arc<Verdict>,
}

/// The pinned fingerprint did not match: carried through rustls as
/// `CertificateError::Other` and turned into [`EngineError::TlsPinMismatch`].
#[derive(Debug)]
pub(super) struct PinMismatch {
    pub(super) expected: [u8; 32],
    pub(super) presented: [u8; 32],
}

impl std::fmt::Display for PinMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "certificate fingerprint {} is not the pinned {}",
            fingerprint_hex(&self.presented),
            fingerprint_hex(&self.expected)
        )
    }
}

impl std::error::Error for PinMismatch {}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match &self.mode {
            Mode::Strict(v) => {
                v.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)?;
                self.verdict.set(Trust::Strict);
            }
            Mode::Pinned(pin) => {
                let presented = sha256(end_entity);
                if presented != *pin {
                    return Err(rustls::Error::InvalidCertificate(CertificateError::Other(
                        rustls::OtherError(Arc::new(PinMismatch {
                            expected: *pin,
                            presented,
                        })),
                    )));
                }
                self.verdict.set(Trust::Pinned);
            }
            Mode::AcceptAny(strict) => {
                let problem = match strict {
                    Some(v) => v
                        .verify_server_cert(
                            end_entity,
                            intermediates,
                            server_name,
                            ocsp_response,
                            now,
                        )
                        .err(),
                    // No roots: at least say whether the name would have matched.
                    None => verify_name_only(end_entity, server_name).err(),
                };
                self.verdict.set(Trust::Any(problem));
            }
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

fn verify_name_only(
    end_entity: &CertificateDer<'_>,
    server_name: &ServerName<'_>,
) -> Result<(), rustls::Error> {
    let parsed = rustls::server::ParsedCertificate::try_from(end_entity)?;
    verify_server_name(&parsed, server_name)
}

/// A TLS server's settings, ready for handshakes: its rustls config and the facts of
/// its own certificate (the fingerprint a client can pin).
#[derive(Clone, Debug)]
pub struct TlsServer {
    config: Arc<ServerConfig>,
    certificate: Option<CertSummary>,
    fingerprint: [u8; 32],
    versions: TlsVersions,
    alpn: Vec<String>,
    self_signed: bool,
}

impl TlsServer {
    /// Reads the PEM files or makes the self-signed certificate.
    pub fn new(options: &TlsServerOptions) -> Result<TlsServer, EngineError> {
        let (chain, key) = match &options.identity {
            ServerIdentity::Pem {
                cert_path,
                key_path,
            } => load_pem(cert_path, key_path)?,
            ServerIdentity::SelfSigned { names } => {
                let (cert, key) = self_signed(names, None)?;
                (vec![cert], key)
            }
        };
        let mut server = Self::build(chain, key, options)?;
        server.self_signed = matches!(options.identity, ServerIdentity::SelfSigned { .. });
        Ok(server)
    }

    /// A server with a certificate chain (DER, leaf first) and PKCS#8 key given as
    /// bytes; `options.identity` is not used. For tests and tools that make their own
    /// certificates (an expired one, say).
    pub fn with_certificate(
        chain: Vec<Vec<u8>>,
        pkcs8_key: Vec<u8>,
        options: &TlsServerOptions,
    ) -> Result<TlsServer, EngineError> {
        let chain = chain.into_iter().map(CertificateDer::from).collect();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pkcs8_key));
        Self::build(chain, key, options)
    }

    fn build(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
        options: &TlsServerOptions,
    ) -> Result<TlsServer, EngineError> {
        let leaf = chain
            .first()
            .ok_or_else(|| setup_error("the certificate", "no certificate given"))?;
        let fingerprint = sha256(leaf);
        let certificate = CertSummary::from_der(leaf);
        let mut config = ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(versions(options.versions))
            .map_err(|e| setup_error("choosing the TLS versions", e))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| match e {
                rustls::Error::InconsistentKeys(_) => {
                    setup_error("the certificate", "the private key does not belong to it")
                }
                e => setup_error("the certificate and key", e),
            })?;
        config.alpn_protocols = alpn(&options.alpn);
        Ok(TlsServer {
            config: Arc::new(config),
            certificate,
            fingerprint,
            versions: options.versions,
            alpn: options.alpn.clone(),
            self_signed: false,
        })
    }

    /// True when the certificate was made when the session started.
    pub fn self_signed(&self) -> bool {
        self.self_signed
    }

    /// The SHA-256 fingerprint of the server's certificate (`AB:CD:…`), shown so a
    /// client can pin it.
    pub fn fingerprint(&self) -> String {
        fingerprint_hex(&self.fingerprint)
    }

    /// The fingerprint as bytes (for [`TlsClientOptions::pinned_sha256`]).
    pub fn fingerprint_bytes(&self) -> [u8; 32] {
        self.fingerprint
    }

    /// The facts of the server's own certificate (None if it does not parse as X.509).
    pub fn certificate(&self) -> Option<&CertSummary> {
        self.certificate.as_ref()
    }

    pub(super) fn config(&self) -> Arc<ServerConfig> {
        self.config.clone()
    }

    pub(super) fn versions(&self) -> TlsVersions {
        self.versions
    }

    pub(super) fn alpn(&self) -> &[String] {
        &self.alpn
    }
}
