//! TLS (engine::tls) over real loopback sockets: our client against our server, each
//! failure in words, and both sides against Debian's `openssl s_server` / `s_client`.
//! Every wait is bounded: handshakes have a timeout, sockets a read timeout, openssl
//! processes are killed after a deadline.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime};

use sockscope::engine::EngineError;
use sockscope::engine::tls::{
    HandshakeInfo, PeerTrust, ServerIdentity, TlsClient, TlsClientOptions, TlsServer,
    TlsServerOptions, TlsSession, TlsVersions, ca_signed_der, fingerprint_hex, load_pem_certs,
    self_signed_der, sha256,
};

use crate::util::{Prng, timing_factor};

fn handshake_timeout() -> Duration {
    Duration::from_secs(5 * timing_factor() as u64)
}

fn days(n: u64) -> Duration {
    Duration::from_secs(n * 24 * 3600)
}

fn names() -> Vec<String> {
    vec!["localhost".into(), "127.0.0.1".into()]
}

type Handshake = Result<(TlsSession, HandshakeInfo), EngineError>;

/// A listener on 127.0.0.1 and a free port.
fn listener() -> (TcpListener, SocketAddr) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let a = l.local_addr().unwrap();
    (l, a)
}

/// Accepts one client on `l`, runs our server handshake and hands the result to `then`.
fn serve<R: Send + 'static>(
    l: TcpListener,
    server: TlsServer,
    then: impl FnOnce(Handshake) -> R + Send + 'static,
) -> JoinHandle<R> {
    thread::spawn(move || {
        let (stream, _) = l.accept().unwrap();
        then(TlsSession::server(stream, &server, handshake_timeout()))
    })
}

/// Connects to `addr` and runs our client handshake for `host`.
fn connect(addr: SocketAddr, options: &TlsClientOptions, host: &str) -> Handshake {
    let client = TlsClient::new(options)?;
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    TlsSession::client(stream, &client, host, handshake_timeout())
}

fn pinned(server: &TlsServer, versions: TlsVersions) -> TlsClientOptions {
    TlsClientOptions {
        pinned_sha256: Some(server.fingerprint_bytes()),
        versions,
        ..Default::default()
    }
}

/// Reads until the peer ends (or `limit` bytes), waiting at most `within`.
fn read_to_end(s: &mut TlsSession, limit: usize, within: Duration) -> Vec<u8> {
    let deadline = Instant::now() + within;
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    while out.len() < limit {
        assert!(
            Instant::now() < deadline,
            "read timed out after {} bytes",
            out.len()
        );
        match s.read_some(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) => panic!("read failed: {e} ({})", s.error(&e, "reading")),
        }
    }
    out
}

/// 32 KiB socket buffers each way, so megabytes do not fit in the kernel.
fn small_buffers(s: &TcpStream) {
    let s = socket2::SockRef::from(s);
    s.set_send_buffer_size(32 << 10).unwrap();
    s.set_recv_buffer_size(32 << 10).unwrap();
}

/// Self-signed server, client pinning its fingerprint, TLS 1.3 and TLS 1.2: the
/// handshake facts on both sides and a short exchange.
#[test]
fn pinned_self_signed_tls13_and_tls12() {
    for (versions, protocol, suite) in [
        (TlsVersions::Tls13, "TLS 1.3", "TLS13_"),
        (TlsVersions::Tls12, "TLS 1.2", "TLS_ECDHE_"),
    ] {
        let server = TlsServer::new(&TlsServerOptions {
            identity: ServerIdentity::SelfSigned { names: names() },
            ..Default::default()
        })
        .unwrap();
        let fingerprint = server.fingerprint();
        let (l, addr) = listener();
        let srv = serve(l, server.clone(), |hs| {
            let (mut s, info) = hs.unwrap();
            let got = read_to_end(&mut s, 5, Duration::from_secs(5));
            s.write_all(b"world").unwrap();
            s.close_notify().unwrap();
            (info, got)
        });
        let mut options = pinned(&server, versions);
        options.server_name = Some("localhost".into());
        let (mut c, info) = connect(addr, &options, "127.0.0.1").unwrap();
        assert_eq!(info.protocol, protocol);
        assert!(info.cipher_suite.starts_with(suite), "{info:?}");
        assert!(info.key_exchange.is_some(), "{info:?}");
        assert_eq!(info.trust, PeerTrust::Pinned);
        assert_eq!(info.sni.as_deref(), Some("localhost"));
        let peer = info.peer.as_ref().unwrap();
        assert_eq!(peer.sha256, fingerprint);
        assert!(peer.subject.contains("CN=localhost"), "{peer:?}");
        assert_eq!(peer.names, names());
        c.write_all(b"hello").unwrap();
        let reply = read_to_end(&mut c, usize::MAX, Duration::from_secs(5));
        assert_eq!(reply, b"world");
        assert!(c.closed_cleanly());
        let (server_info, got) = srv.join().unwrap();
        assert_eq!(got, b"hello");
        assert_eq!(server_info.protocol, protocol);
        assert_eq!(server_info.sni.as_deref(), Some("localhost"));
        assert_eq!(server_info.trust, PeerTrust::NotAsked);
        assert!(server_info.peer.is_none());
    }
}

/// A client pinning another fingerprint is refused with both fingerprints in words.
#[test]
fn wrong_pin_is_refused() {
    let server = TlsServer::new(&TlsServerOptions::default()).unwrap();
    let (l, addr) = listener();
    let srv = serve(l, server.clone(), |hs| hs.map(|_| ()));
    let e = connect(
        addr,
        &TlsClientOptions {
            pinned_sha256: Some([0xAB; 32]),
            ..Default::default()
        },
        "127.0.0.1",
    )
    .unwrap_err();
    assert_eq!(
        e,
        EngineError::TlsPinMismatch {
            expected: fingerprint_hex(&[0xAB; 32]),
            presented: server.fingerprint(),
        }
    );
    assert!(e.to_string().contains("is not the pinned one"), "{e}");
    assert!(srv.join().unwrap().is_err());
}

/// "Accept any certificate" connects to a self-signed server and keeps what a strict
/// check would have said (unknown issuer) for the view.
#[test]
fn accept_any_connects_and_notes_the_problem() {
    let server = TlsServer::new(&TlsServerOptions::default()).unwrap();
    let (l, addr) = listener();
    let srv = serve(l, server, |hs| hs.map(|_| ()));
    let options = TlsClientOptions {
        accept_any: true,
        ..Default::default()
    };
    let roots = TlsClient::new(&options).unwrap().root_count();
    let (_c, info) = connect(addr, &options, "localhost").unwrap();
    match &info.trust {
        PeerTrust::AcceptedAny { problem: Some(p) } => {
            assert!(matches!(**p, EngineError::TlsUnknownIssuer { .. }), "{p}")
        }
        // A system without any trusted root can only check the name, which matches.
        PeerTrust::AcceptedAny { problem: None } => assert_eq!(roots, 0),
        other => panic!("{other:?}"),
    }
    srv.join().unwrap().unwrap();
}

/// ALPN: the server's choice among the client's offers on both sides; with nothing in
/// common both sides say so.
#[test]
fn alpn_negotiated_and_mismatched() {
    let opts = |server: &[&str]| TlsServerOptions {
        alpn: server.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    };
    let server = TlsServer::new(&opts(&["http/1.1"])).unwrap();
    let (l, addr) = listener();
    let srv = serve(l, server.clone(), |hs| hs.map(|(_, i)| i));
    let mut options = pinned(&server, TlsVersions::All);
    options.alpn = vec!["h2".into(), "http/1.1".into()];
    let (_c, info) = connect(addr, &options, "127.0.0.1").unwrap();
    assert_eq!(info.alpn.as_deref(), Some("http/1.1"));
    // Connected by IP address: no SNI on either side.
    assert_eq!(info.sni, None);
    let server_info = srv.join().unwrap().unwrap();
    assert_eq!(server_info.alpn.as_deref(), Some("http/1.1"));
    assert_eq!(server_info.sni, None);

    let (l, addr) = listener();
    let srv = serve(l, server.clone(), |hs| hs.map(|_| ()));
    options.alpn = vec!["h2".into()];
    let e = connect(addr, &options, "127.0.0.1").unwrap_err();
    assert_eq!(
        e,
        EngineError::TlsNoAlpn {
            ours: vec!["h2".into()]
        }
    );
    let e = srv.join().unwrap().unwrap_err();
    assert_eq!(
        e.to_string(),
        "no common application protocol (ALPN): the peer accepts none of http/1.1"
    );
}

/// 2 MiB each way through the blocking streams, both sides writing before reading with
/// small socket buffers (the pending buffer keeps that from deadlocking); an idle read
/// returns a timeout.
#[test]
fn data_both_ways_through_the_stream() {
    const SIZE: usize = 2 << 20;
    let server = TlsServer::new(&TlsServerOptions::default()).unwrap();
    let (l, addr) = listener();
    let mut payload = vec![0u8; SIZE];
    Prng(7).fill(&mut payload);
    let expected = payload.clone();
    let srv = serve(l, server.clone(), move |hs| {
        let (mut s, _) = hs.unwrap();
        small_buffers(s.stream());
        s.write_all(&payload).unwrap();
        let got = read_to_end(&mut s, SIZE, Duration::from_secs(30));
        s.close_notify().unwrap();
        got
    });
    let (mut c, _) = connect(addr, &pinned(&server, TlsVersions::All), "127.0.0.1").unwrap();
    small_buffers(c.stream());
    let mut mine = vec![0u8; SIZE];
    Prng(11).fill(&mut mine);
    c.write_all(&mine).unwrap();
    let got = read_to_end(&mut c, SIZE, Duration::from_secs(30));
    assert!(
        got == expected,
        "client got {} bytes, not the server's",
        got.len()
    );
    assert!(
        srv.join().unwrap() == mine,
        "server did not get the client's bytes"
    );
    // The server said goodbye: the next read is the end, a clean one.
    assert_eq!(read_to_end(&mut c, 1, Duration::from_secs(5)), b"");
    assert!(c.closed_cleanly());

    // An idle connection: read_some waits one poll interval and says so.
    let (l, addr) = listener();
    let srv = serve(l, server.clone(), |hs| {
        let (s, _) = hs.unwrap();
        thread::sleep(Duration::from_millis(300));
        drop(s);
    });
    let (mut c, _) = connect(addr, &pinned(&server, TlsVersions::All), "127.0.0.1").unwrap();
    let mut buf = [0u8; 16];
    let t = Instant::now();
    let e = c.read_some(&mut buf).unwrap_err();
    assert!(
        matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ),
        "{e}"
    );
    assert!(
        t.elapsed() < Duration::from_millis(250),
        "{:?}",
        t.elapsed()
    );
    srv.join().unwrap();
    // Dropped without close_notify: an end, but not a clean one.
    assert_eq!(read_to_end(&mut c, 1, Duration::from_secs(5)), b"");
    assert!(!c.closed_cleanly());
}

/// A self-signed certificate checked against the system's roots: unknown issuer on the
/// client, the UnknownCA alert on the server.
#[test]
fn unknown_issuer_classified() {
    let server = TlsServer::new(&TlsServerOptions::default()).unwrap();
    let (l, addr) = listener();
    let srv = serve(l, server, |hs| hs.map(|_| ()));
    let e = connect(addr, &TlsClientOptions::default(), "localhost").unwrap_err();
    assert_eq!(
        e,
        EngineError::TlsUnknownIssuer {
            server: "localhost".into()
        }
    );
    let e = srv.join().unwrap().unwrap_err();
    assert_eq!(
        e,
        EngineError::TlsAlert {
            alert: "UnknownCA".into()
        }
    );
    assert!(
        e.to_string().contains("does not trust our certificate"),
        "{e}"
    );
}

/// A CA we trust signs a leaf that expired in 2020, one for another name, and one that
/// is fine: expired (with dates), name mismatch (with the names), and success.
#[test]
fn expired_and_name_mismatch_classified() {
    let from = SystemTime::UNIX_EPOCH + Duration::from_secs(1_546_300_800); // 2019-01-01
    let until = SystemTime::UNIX_EPOCH + Duration::from_secs(1_577_836_800); // 2020-01-01
    let now = SystemTime::now();
    let cases: [(SystemTime, SystemTime, &str); 3] = [
        (from, until, "localhost"),
        (now - days(1), now + days(30), "wrong.example"),
        (now - days(1), now + days(30), "localhost"),
    ];
    for (i, (from, until, sni)) in cases.into_iter().enumerate() {
        let pki = ca_signed_der(&names(), from, until).unwrap();
        let server = TlsServer::with_certificate(
            vec![pki.leaf.clone(), pki.ca.clone()],
            pki.key.clone(),
            &TlsServerOptions::default(),
        )
        .unwrap();
        let (l, addr) = listener();
        let srv = serve(l, server, |hs| hs.map(|_| ()));
        let options = TlsClientOptions {
            server_name: Some(sni.into()),
            extra_roots: vec![pki.ca.clone()],
            ..Default::default()
        };
        let result = connect(addr, &options, "127.0.0.1");
        let server_side = srv.join().unwrap();
        match i {
            0 => {
                let e = result.unwrap_err();
                let EngineError::TlsExpired { not_after, .. } = &e else {
                    panic!("{e:?}")
                };
                assert_eq!(*not_after, Some(until));
                assert!(
                    e.to_string().starts_with(
                        "the certificate of localhost has expired: valid until 2020-01-01 00:00:00 UTC, checked at "
                    ),
                    "{e}"
                );
                assert_eq!(
                    server_side.unwrap_err(),
                    EngineError::TlsAlert {
                        alert: "CertificateExpired".into()
                    }
                );
            }
            1 => {
                let e = result.unwrap_err();
                assert_eq!(
                    e,
                    EngineError::TlsNameMismatch {
                        asked: "wrong.example".into(),
                        presented: names(),
                    }
                );
                assert!(
                    e.to_string().starts_with(
                        "the server's certificate is not for \"wrong.example\": it is for localhost, 127.0.0.1"
                    ),
                    "{e}"
                );
                assert!(server_side.is_err());
            }
            _ => {
                let (_c, info) = result.unwrap();
                assert_eq!(info.trust, PeerTrust::SystemRoots);
                assert!(info.peer.unwrap().issuer.contains("Sockscope Test CA"));
                server_side.unwrap();
            }
        }
    }
}

/// A TLS 1.3-only client and a TLS 1.2-only server: a version mismatch on both sides,
/// each naming what it accepts.
#[test]
fn protocol_mismatch_classified() {
    let server = TlsServer::new(&TlsServerOptions {
        versions: TlsVersions::Tls12,
        ..Default::default()
    })
    .unwrap();
    let (l, addr) = listener();
    let srv = serve(l, server.clone(), |hs| hs.map(|_| ()));
    let e = connect(addr, &pinned(&server, TlsVersions::Tls13), "127.0.0.1").unwrap_err();
    assert_eq!(
        e,
        EngineError::TlsProtocolMismatch {
            ours: "TLS 1.3 only".into()
        }
    );
    assert_eq!(
        e.to_string(),
        "TLS version mismatch: the peer accepts none of the versions we offer (TLS 1.3 only)"
    );
    assert_eq!(
        srv.join().unwrap().unwrap_err(),
        EngineError::TlsProtocolMismatch {
            ours: "TLS 1.2 only".into()
        }
    );
}

/// Plaintext peers: a plain server answering HTTP, a plain client sending a line, and a
/// silent plain server, each said in words.
#[test]
fn plaintext_peer_classified() {
    // Our client, a plain server that answers anything with an HTTP error.
    let (l, addr) = listener();
    let plain = thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 1024];
        let _ = s.read(&mut buf);
        let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n");
        thread::sleep(Duration::from_millis(200));
    });
    let e = connect(addr, &TlsClientOptions::default(), "localhost").unwrap_err();
    assert_eq!(
        e,
        EngineError::TlsNotTls {
            first_bytes: b"HTTP/1.1 400 Bad".to_vec()
        }
    );
    assert_eq!(
        e.to_string(),
        "the peer does not speak TLS: it sent \"HTTP/1.1 400 Bad\" (plaintext?)"
    );
    plain.join().unwrap();

    // Our server, a plain client sending a line.
    let server = TlsServer::new(&TlsServerOptions::default()).unwrap();
    let (l, addr) = listener();
    let srv = serve(l, server, |hs| hs.map(|_| ()));
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"hello\n").unwrap();
    let e = srv.join().unwrap().unwrap_err();
    assert_eq!(
        e,
        EngineError::TlsNotTls {
            first_bytes: b"hello\n".to_vec()
        }
    );

    // Our client, a plain server that says nothing: the handshake times out.
    let (l, addr) = listener();
    let silent = thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        thread::sleep(Duration::from_millis(800));
        drop(s);
    });
    let client = TlsClient::new(&TlsClientOptions::default()).unwrap();
    let stream = TcpStream::connect(addr).unwrap();
    let e = TlsSession::client(stream, &client, "localhost", Duration::from_millis(300))
        .err()
        .unwrap();
    assert_eq!(
        e,
        EngineError::TlsTimeout {
            after: Duration::from_millis(300)
        }
    );
    silent.join().unwrap();
}

// ---------------------------------------------------------------------------------
// Against Debian's openssl.

/// The openssl binary, or None (with the reason printed) when it cannot be found.
/// CI sets SOCKSCOPE_REQUIRE_OPENSSL, so there it cannot skip.
pub(crate) fn openssl() -> Option<&'static str> {
    let ok = Command::new("openssl")
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        return Some("openssl");
    }
    assert!(
        std::env::var_os("SOCKSCOPE_REQUIRE_OPENSSL").is_none(),
        "SOCKSCOPE_REQUIRE_OPENSSL is set but openssl cannot run"
    );
    eprintln!("note: openssl is not on PATH; skipping the openssl test (apt-get install openssl)");
    None
}

/// A PEM block of `der` (base64, 64 columns).
pub(crate) fn pem(label: &str, der: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = String::new();
    for chunk in der.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (*b as u32) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                b64.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                b64.push('=');
            }
        }
    }
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// A certificate and key made by `openssl req -x509 -newkey ec` (CA:TRUE, as openssl
/// makes them by default) for localhost and 127.0.0.1.
pub(crate) fn openssl_req(dir: &Path, bin: &str) -> (PathBuf, PathBuf) {
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    let out = Command::new(bin)
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .arg("ec_paramgen_curve:prime256v1")
        .args(["-nodes", "-days", "30", "-subj", "/CN=localhost/O=openssl"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl req: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (cert, key)
}

/// A child process killed when dropped (a failed assertion never leaves it running).
pub(crate) struct Killed(pub(crate) Child);

impl Killed {
    /// Types a line into the child's stdin (s_server sends it to its client).
    pub(crate) fn type_line(&mut self, line: &str) {
        let stdin = self.0.stdin.as_mut().unwrap();
        stdin.write_all(line.as_bytes()).unwrap();
        stdin.write_all(b"\n").unwrap();
        stdin.flush().unwrap();
    }
}

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `openssl s_server` on a free port with `args`, and waits until it accepts.
pub(crate) fn s_server(bin: &str, cert: &Path, key: &Path, args: &[&str]) -> (Killed, SocketAddr) {
    let port = listener().1.port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let child = Command::new(bin)
        .args(["s_server", "-accept"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("-cert")
        .arg(cert)
        .arg("-key")
        .arg(key)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let child = Killed(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(
            Instant::now() < deadline,
            "openssl s_server did not start on {addr}"
        );
        thread::sleep(Duration::from_millis(50));
    }
    (child, addr)
}

/// Runs `openssl s_client` with `args`, feeding `input` and then waiting up to 10 s.
pub(crate) fn s_client(bin: &str, addr: SocketAddr, args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(bin)
        .args(["s_client", "-connect"])
        .arg(addr.to_string())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut killed = Killed(child);
    loop {
        if killed.0.try_wait().unwrap().is_some() {
            break;
        }
        assert!(Instant::now() < deadline, "openssl s_client did not finish");
        thread::sleep(Duration::from_millis(20));
    }
    drop(stdin);
    let mut out = Output {
        status: killed.0.wait().unwrap(),
        stdout: Vec::new(),
        stderr: Vec::new(),
    };
    killed
        .0
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut out.stdout)
        .unwrap();
    killed
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_end(&mut out.stderr)
        .unwrap();
    out
}

pub(crate) fn text(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Our client against `openssl s_server -www` with openssl's own PEM certificate:
/// pinned, TLS 1.3 and (`-tls1_2`) TLS 1.2, ALPN, an HTTP request answered; strict, the
/// CA:TRUE certificate is named as such.
#[test]
fn our_client_against_openssl_s_server_pem() {
    let Some(bin) = openssl() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = openssl_req(dir.path(), bin);
    let der = load_pem_certs(&cert).unwrap().remove(0);
    let pin = sha256(&der);
    for (extra, protocol) in [(&[][..], "TLS 1.3"), (&["-tls1_2"][..], "TLS 1.2")] {
        let mut args = vec!["-www", "-alpn", "http/1.1"];
        args.extend_from_slice(extra);
        let (_server, addr) = s_server(bin, &cert, &key, &args);
        let options = TlsClientOptions {
            pinned_sha256: Some(pin),
            alpn: vec!["h2".into(), "http/1.1".into()],
            server_name: Some("localhost".into()),
            ..Default::default()
        };
        let (mut c, info) = connect(addr, &options, "127.0.0.1").unwrap();
        assert_eq!(info.protocol, protocol);
        assert_eq!(info.alpn.as_deref(), Some("http/1.1"));
        let peer = info.peer.unwrap();
        assert!(peer.subject.contains("CN=localhost"), "{peer:?}");
        assert!(peer.self_issued());
        c.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
        let page = read_to_end(&mut c, 1 << 20, Duration::from_secs(10));
        let page = String::from_utf8_lossy(&page);
        assert!(page.starts_with("HTTP/1.0 200 ok"), "{page}");
        assert!(page.contains("s_server"), "{page}");

        // Strict: openssl's certificate is a CA certificate, not a server's.
        let (_server, addr) = s_server(bin, &cert, &key, &args);
        let e = connect(addr, &TlsClientOptions::default(), "localhost").unwrap_err();
        assert_eq!(
            e,
            EngineError::TlsCaAsServer {
                server: "localhost".into()
            }
        );
        assert!(e.to_string().contains("CA certificate"), "{e}");
    }
}

/// Our client against `openssl s_server` serving certificates we made (written as PEM):
/// self-signed (unknown issuer when strict, fine when pinned), and from a CA we trust:
/// expired, for another name, and fine.
#[test]
fn our_client_against_openssl_s_server_failures() {
    let Some(bin) = openssl() else { return };
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: String| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let now = SystemTime::now();
    // Self-signed by rcgen.
    let (cert, key) = self_signed_der(&names(), now - days(1), now + days(30)).unwrap();
    let cert_pem = write("self.pem", pem("CERTIFICATE", &cert));
    let key_pem = write("self.key", pem("PRIVATE KEY", &key));
    let (_server, addr) = s_server(bin, &cert_pem, &key_pem, &[]);
    let e = connect(addr, &TlsClientOptions::default(), "localhost").unwrap_err();
    assert!(matches!(e, EngineError::TlsUnknownIssuer { .. }), "{e}");
    let (_server, addr) = s_server(bin, &cert_pem, &key_pem, &[]);
    let options = TlsClientOptions {
        pinned_sha256: Some(sha256(&cert)),
        ..Default::default()
    };
    let (_c, info) = connect(addr, &options, "localhost").unwrap();
    assert_eq!(info.trust, PeerTrust::Pinned);

    // From our CA.
    let expired_until = SystemTime::UNIX_EPOCH + Duration::from_secs(1_577_836_800);
    for (from, until, sni) in [
        (expired_until - days(365), expired_until, "localhost"),
        (now - days(1), now + days(30), "wrong.example"),
        (now - days(1), now + days(30), "localhost"),
    ] {
        let pki = ca_signed_der(&names(), from, until).unwrap();
        let chain = pem("CERTIFICATE", &pki.leaf) + &pem("CERTIFICATE", &pki.ca);
        let cert_pem = write("leaf.pem", chain);
        let key_pem = write("leaf.key", pem("PRIVATE KEY", &pki.key));
        let (_server, addr) = s_server(bin, &cert_pem, &key_pem, &[]);
        let options = TlsClientOptions {
            server_name: Some(sni.into()),
            extra_roots: vec![pki.ca.clone()],
            ..Default::default()
        };
        let result = connect(addr, &options, "127.0.0.1");
        match (sni, until == expired_until) {
            (_, true) => {
                let e = result.err().unwrap();
                assert!(matches!(e, EngineError::TlsExpired { .. }), "{e}");
                assert!(
                    e.to_string()
                        .contains("has expired: valid until 2020-01-01"),
                    "{e}"
                );
            }
            ("wrong.example", _) => {
                let e = result.err().unwrap();
                assert!(matches!(e, EngineError::TlsNameMismatch { .. }), "{e}");
                assert!(e.to_string().contains("not for \"wrong.example\""), "{e}");
            }
            _ => assert_eq!(result.unwrap().1.trust, PeerTrust::SystemRoots),
        }
    }
}

/// `openssl s_client` against our server, self-signed and with openssl's PEM files:
/// TLS 1.3, SNI and ALPN seen by us, a line each way; with `-verify_return_error` and no
/// CA it refuses our self-signed certificate and we hear its alert.
#[test]
fn openssl_s_client_against_our_server() {
    let Some(bin) = openssl() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = openssl_req(dir.path(), bin);
    let identities = [
        ServerIdentity::SelfSigned { names: names() },
        ServerIdentity::Pem {
            cert_path: cert.clone(),
            key_path: key.clone(),
        },
    ];
    for identity in identities {
        let server = TlsServer::new(&TlsServerOptions {
            identity,
            alpn: vec!["h2".into(), "http/1.1".into()],
            ..Default::default()
        })
        .unwrap();
        let (l, addr) = listener();
        let srv = serve(l, server.clone(), |hs| {
            let (mut s, info) = hs.unwrap();
            let line = read_to_end(&mut s, 6, Duration::from_secs(10));
            s.write_all(b"world\n").unwrap();
            s.close_notify().unwrap();
            (info, line)
        });
        let out = s_client(
            bin,
            addr,
            &["-servername", "localhost", "-alpn", "http/1.1", "-ign_eof"],
            b"hello\n",
        );
        let (info, line) = srv.join().unwrap();
        let said = text(&out);
        assert_eq!(line, b"hello\n", "{said}");
        assert!(said.contains("world"), "{said}");
        assert!(said.contains("TLSv1.3"), "{said}");
        assert_eq!(info.protocol, "TLS 1.3");
        assert_eq!(info.sni.as_deref(), Some("localhost"));
        assert_eq!(info.alpn.as_deref(), Some("http/1.1"));
    }

    // Verification on, our self-signed certificate: openssl refuses it with an alert.
    let server = TlsServer::new(&TlsServerOptions::default()).unwrap();
    let (l, addr) = listener();
    let srv = serve(l, server, |hs| hs.map(|_| ()));
    let out = s_client(
        bin,
        addr,
        &["-servername", "localhost", "-verify_return_error"],
        b"",
    );
    let said = text(&out);
    assert!(said.contains("self-signed certificate"), "{said}");
    let e = srv.join().unwrap().unwrap_err();
    assert!(matches!(e, EngineError::TlsAlert { .. }), "{e:?}");
}
