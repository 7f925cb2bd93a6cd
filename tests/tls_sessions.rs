//! TLS through the engine's sessions (TcpClientConfig.tls / TcpServerConfig.tls) over
//! real loopback sockets: our client session against our server session, against
//! `openssl s_server`, and `openssl s_client` against our server session; handshake
//! facts, plaintext both ways, close_notify on our closes, failures closing with
//! `CloseReason::Tls`, and a stop during a stalled handshake. Every wait is bounded.

use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use sockscope::engine::tls::{
    PeerTrust, ServerIdentity, TlsClientOptions, TlsServerOptions, load_pem_certs, sha256,
};
use sockscope::engine::{
    CloseReason, ConnId, Direction, Engine, EngineError, Event, EventReceiver, Notice, SendTarget,
    SessionConfig, SessionHandle, SessionId, TcpClientConfig, TcpServerConfig,
};

use crate::tls::{openssl, openssl_req, s_client, s_server, text};
use crate::util::{Prng, WAIT, engine, timing_factor};

/// Every event seen so far, across sessions, so a test can wait for one session's event
/// without caring how the sessions interleave.
struct Seen<'a> {
    rx: &'a EventReceiver,
    events: Vec<Event>,
}

impl<'a> Seen<'a> {
    fn new(rx: &'a EventReceiver) -> Self {
        Seen {
            rx,
            events: Vec::new(),
        }
    }

    /// Waits until some event (seen before or now) matches; returns a copy of it.
    fn wait(&mut self, what: &str, pred: impl Fn(&Event) -> bool) -> Event {
        let deadline = Instant::now() + WAIT * timing_factor();
        loop {
            if let Some(e) = self.events.iter().find(|e| pred(e)) {
                return e.clone();
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; seen: {:#?}",
                self.events
            );
            if let Some(e) = self.rx.recv_timeout(Duration::from_millis(50)) {
                self.events.push(e);
            }
        }
    }

    /// The plaintext a session received (Rx) or sent (Tx), in order.
    fn bytes(&self, session: SessionId, dir: Direction) -> Vec<u8> {
        let mut out = Vec::new();
        for e in &self.events {
            if let Event::Data {
                session: s,
                dir: d,
                bytes,
                ..
            } = e
                && *s == session
                && *d == dir
            {
                out.extend_from_slice(bytes);
            }
        }
        out
    }

    /// Waits until `session` has received `len` bytes.
    fn wait_bytes(&mut self, session: SessionId, len: usize) -> Vec<u8> {
        let deadline = Instant::now() + WAIT * timing_factor();
        loop {
            let got = self.bytes(session, Direction::Rx);
            if got.len() >= len {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "session {session} received {} of {len} bytes",
                got.len()
            );
            if let Some(e) = self.rx.recv_timeout(Duration::from_millis(50)) {
                self.events.push(e);
            }
        }
    }

    fn notices(&self, session: SessionId) -> Vec<Notice> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Notice {
                    session: s, notice, ..
                } if *s == session => Some(notice.clone()),
                _ => None,
            })
            .collect()
    }

    fn errors(&self, session: SessionId) -> Vec<EngineError> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Error {
                    session: s, error, ..
                } if *s == session => Some(error.clone()),
                _ => None,
            })
            .collect()
    }
}

fn tls_server(engine: &Engine, options: TlsServerOptions) -> SessionHandle {
    engine
        .start(SessionConfig::TcpServer(TcpServerConfig {
            host: "127.0.0.1".into(),
            port: 0,
            tls: Some(options),
            ..Default::default()
        }))
        .unwrap()
}

fn tls_client(engine: &Engine, addr: SocketAddr, options: TlsClientOptions) -> SessionHandle {
    engine
        .start(SessionConfig::TcpClient(TcpClientConfig {
            host: addr.ip().to_string(),
            port: addr.port(),
            connect_timeout: Duration::from_secs(5) * timing_factor(),
            tls: Some(options),
            ..Default::default()
        }))
        .unwrap()
}

fn handshake_of(
    seen: &mut Seen,
    session: SessionId,
) -> (ConnId, sockscope::engine::tls::HandshakeInfo) {
    match seen.wait("a TLS handshake", |e| {
        matches!(e, Event::Notice { session: s, notice: Notice::TlsHandshake { .. }, .. } if *s == session)
    }) {
        Event::Notice {
            notice: Notice::TlsHandshake { conn, info, .. },
            ..
        } => (conn, *info),
        _ => unreachable!(),
    }
}

fn closed_of(seen: &mut Seen, session: SessionId) -> CloseReason {
    match seen.wait(
        "a close",
        |e| matches!(e, Event::Closed { session: s, .. } if *s == session),
    ) {
        Event::Closed { reason, .. } => reason,
        _ => unreachable!(),
    }
}

fn stopped(seen: &mut Seen, session: SessionId) {
    seen.wait(
        "the session's end",
        |e| matches!(e, Event::Stopped { session: s, .. } if *s == session),
    );
}

/// Our server session (self-signed) and our client session pinning the fingerprint it
/// announced: the handshake facts on both sides, 256 KiB of plaintext each way counted
/// as plaintext, and the client's disconnect ending with close_notify (the server sees
/// a clean close, no "without close_notify" notice).
#[test]
fn client_and_server_sessions_over_tls() {
    let (engine, rx, _) = engine(100_000);
    let mut seen = Seen::new(&rx);
    let server = tls_server(
        &engine,
        TlsServerOptions {
            alpn: vec!["sockscope-test".into()],
            ..Default::default()
        },
    );
    let addr = server.local_addr().unwrap();
    let identity = seen.wait("the server's certificate", |e| {
        matches!(
            e,
            Event::Notice {
                notice: Notice::TlsIdentity { .. },
                ..
            }
        )
    });
    let Event::Notice {
        notice: Notice::TlsIdentity {
            certificate,
            self_signed,
        },
        ..
    } = identity
    else {
        unreachable!()
    };
    assert!(self_signed);
    let pin = sockscope::engine::tls::parse_fingerprint(&certificate.sha256).unwrap();

    let client = tls_client(
        &engine,
        addr,
        TlsClientOptions {
            pinned_sha256: Some(pin),
            alpn: vec!["h2".into(), "sockscope-test".into()],
            ..Default::default()
        },
    );
    let (_, theirs) = handshake_of(&mut seen, client.id());
    let (server_conn, ours) = handshake_of(&mut seen, server.id());
    assert_eq!(theirs.protocol, "TLS 1.3");
    assert_eq!(theirs.trust, PeerTrust::Pinned);
    assert_eq!(theirs.alpn.as_deref(), Some("sockscope-test"));
    assert_eq!(theirs.peer.as_ref().unwrap().sha256, certificate.sha256);
    assert_eq!(ours.protocol, "TLS 1.3");
    assert_eq!(ours.trust, PeerTrust::NotAsked);
    assert_eq!(ours.alpn.as_deref(), Some("sockscope-test"));

    let mut rng = Prng(7);
    let mut up = vec![0u8; 256 << 10];
    rng.fill(&mut up);
    let mut down = vec![0u8; 256 << 10];
    rng.fill(&mut down);
    // Sent in pieces, as a user's repeated sends would be.
    for piece in up.chunks(40_000) {
        client.send(SendTarget::Default, piece.to_vec()).unwrap();
    }
    server
        .send(SendTarget::Conn(server_conn), down.clone())
        .unwrap();
    assert_eq!(seen.wait_bytes(server.id(), up.len()), up);
    assert_eq!(seen.wait_bytes(client.id(), down.len()), down);
    assert_eq!(seen.bytes(client.id(), Direction::Tx), up);
    assert_eq!(client.counters().rx_bytes, down.len() as u64);
    assert_eq!(server.counters().rx_bytes, up.len() as u64);

    client.stop();
    assert_eq!(
        closed_of(&mut seen, client.id()),
        CloseReason::LocalDisconnect
    );
    assert_eq!(closed_of(&mut seen, server.id()), CloseReason::PeerClosed);
    stopped(&mut seen, client.id());
    assert!(
        !seen
            .notices(server.id())
            .iter()
            .any(|n| matches!(n, Notice::TlsNoCloseNotify { .. })),
        "our disconnect did not say close_notify: {:?}",
        seen.notices(server.id())
    );
    server.stop();
    stopped(&mut seen, server.id());
}

/// A strict client (system roots) against our self-signed server: the client reports
/// the unknown issuer and closes with `CloseReason::Tls`; the server hears the client's
/// alert and closes that client with `CloseReason::Tls` too, and goes on serving (a
/// pinned client connects afterwards).
#[test]
fn handshake_failure_closes_with_tls_and_the_server_goes_on() {
    let (engine, rx, _) = engine(10_000);
    let mut seen = Seen::new(&rx);
    let server = tls_server(&engine, TlsServerOptions::default());
    let addr = server.local_addr().unwrap();
    let strict = tls_client(&engine, addr, TlsClientOptions::default());
    assert_eq!(closed_of(&mut seen, strict.id()), CloseReason::Tls);
    stopped(&mut seen, strict.id());
    let errors = seen.errors(strict.id());
    assert!(
        matches!(errors.as_slice(), [EngineError::TlsUnknownIssuer { .. }]),
        "{errors:?}"
    );
    assert_eq!(closed_of(&mut seen, server.id()), CloseReason::Tls);
    let errors = seen.errors(server.id());
    assert!(
        matches!(errors.as_slice(), [EngineError::TlsAlert { .. }]),
        "{errors:?}"
    );

    let Event::Notice {
        notice: Notice::TlsIdentity { certificate, .. },
        ..
    } = seen.wait("the server's certificate", |e| {
        matches!(
            e,
            Event::Notice {
                notice: Notice::TlsIdentity { .. },
                ..
            }
        )
    })
    else {
        unreachable!()
    };
    let pinned = tls_client(
        &engine,
        addr,
        TlsClientOptions {
            pinned_sha256: Some(
                sockscope::engine::tls::parse_fingerprint(&certificate.sha256).unwrap(),
            ),
            ..Default::default()
        },
    );
    let (_, info) = handshake_of(&mut seen, pinned.id());
    assert_eq!(info.trust, PeerTrust::Pinned);
    pinned.stop();
    stopped(&mut seen, pinned.id());
    server.stop();
    stopped(&mut seen, server.id());
}

/// A peer that accepts TCP and never answers the ClientHello: stopping the client
/// session during the handshake ends it promptly, with no TLS error.
#[test]
fn stop_during_a_stalled_handshake_is_prompt() {
    let (engine, rx, _) = engine(1_000);
    let mut seen = Seen::new(&rx);
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    let client = tls_client(&engine, addr, TlsClientOptions::default());
    let _accepted = silent.accept().unwrap();
    seen.wait("connected", |e| matches!(e, Event::Connected { .. }));
    std::thread::sleep(Duration::from_millis(200));
    let asked = Instant::now();
    client.stop();
    stopped(&mut seen, client.id());
    assert!(
        asked.elapsed() < Duration::from_secs(2) * timing_factor(),
        "stop took {:?}",
        asked.elapsed()
    );
    assert!(
        seen.errors(client.id()).is_empty(),
        "{:?}",
        seen.errors(client.id())
    );
    assert_eq!(
        closed_of(&mut seen, client.id()),
        CloseReason::LocalDisconnect
    );
}

/// Our client session against `openssl s_server` (a peer we did not write) with
/// openssl's own certificate, accepted by the CA file given as an extra root: what we
/// type reaches s_server's stdout, what s_server's user types reaches us as plaintext,
/// and the handshake facts name openssl's certificate.
#[test]
fn client_session_against_openssl_s_server() {
    let Some(bin) = openssl() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = openssl_req(dir.path(), bin);
    let der = load_pem_certs(&cert).unwrap().remove(0);
    let (mut server, addr) = s_server(bin, &cert, &key, &["-alpn", "http/1.1"]);
    let (engine, rx, _) = engine(10_000);
    let mut seen = Seen::new(&rx);
    let client = tls_client(
        &engine,
        addr,
        TlsClientOptions {
            pinned_sha256: Some(sha256(&der)),
            server_name: Some("localhost".into()),
            alpn: vec!["http/1.1".into()],
            ..Default::default()
        },
    );
    let (_, info) = handshake_of(&mut seen, client.id());
    assert_eq!(info.protocol, "TLS 1.3");
    assert_eq!(info.alpn.as_deref(), Some("http/1.1"));
    assert_eq!(info.sni.as_deref(), Some("localhost"));
    assert!(info.peer.unwrap().subject.contains("CN=localhost"));
    // s_server sends what its stdin gets to the client.
    server.type_line("from openssl 你好");
    let got = seen.wait_bytes(client.id(), "from openssl 你好\n".len());
    assert_eq!(got, "from openssl 你好\n".as_bytes());
    client.stop();
    stopped(&mut seen, client.id());
}

/// `openssl s_client` against our server session, self-signed and with PEM files:
/// its line reaches us as plaintext, our answer reaches it, and it reports TLS 1.3.
#[test]
fn openssl_s_client_against_server_session() {
    let Some(bin) = openssl() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = openssl_req(dir.path(), bin);
    for identity in [
        ServerIdentity::default(),
        ServerIdentity::Pem {
            cert_path: cert.clone(),
            key_path: key.clone(),
        },
    ] {
        let (engine, rx, _) = engine(10_000);
        let mut seen = Seen::new(&rx);
        let server = tls_server(
            &engine,
            TlsServerOptions {
                identity,
                ..Default::default()
            },
        );
        let addr = server.local_addr().unwrap();
        // The server answers every line with "pong" as soon as the client's line came.
        let h = server.clone();
        let id = server.id();
        let client = std::thread::spawn(move || {
            s_client(
                bin,
                addr,
                &["-servername", "localhost", "-ign_eof"],
                b"ping\n",
            )
        });
        let (conn, info) = handshake_of(&mut seen, id);
        assert_eq!(info.sni.as_deref(), Some("localhost"));
        assert_eq!(seen.wait_bytes(id, 5), b"ping\n");
        h.send(SendTarget::Conn(conn), b"pong\n".to_vec()).unwrap();
        // s_client with -ign_eof keeps going after its stdin ends: kick it when it got
        // the answer (the kick says close_notify, so s_client ends by itself).
        let deadline = Instant::now() + WAIT;
        while seen.bytes(id, Direction::Tx).len() < 5 {
            assert!(Instant::now() < deadline);
            if let Some(e) = rx.recv_timeout(Duration::from_millis(50)) {
                seen.events.push(e);
            }
        }
        std::thread::sleep(Duration::from_millis(200));
        server.kick(conn).unwrap();
        let out = client.join().unwrap();
        let said = text(&out);
        assert!(said.contains("pong"), "{said}");
        assert!(said.contains("TLSv1.3"), "{said}");
        assert_eq!(closed_of(&mut seen, id), CloseReason::Kicked);
        server.stop();
        stopped(&mut seen, id);
    }
}

/// A reconnecting client whose handshakes keep failing (strict, against our
/// self-signed server) backs off as after refused attempts: the waits grow.
#[test]
fn reconnecting_client_backs_off_after_failed_handshakes() {
    let (engine, rx, _) = engine(10_000);
    let mut seen = Seen::new(&rx);
    let server = tls_server(&engine, TlsServerOptions::default());
    let addr = server.local_addr().unwrap();
    let client = engine
        .start(SessionConfig::TcpClient(TcpClientConfig {
            host: addr.ip().to_string(),
            port: addr.port(),
            reconnect: Some(sockscope::engine::Reconnect {
                delay: Duration::from_millis(50),
                max: Duration::from_secs(5),
            }),
            tls: Some(TlsClientOptions::default()),
            ..Default::default()
        }))
        .unwrap();
    let third = |e: &Event| matches!(e, Event::Notice { session, notice: Notice::Reconnecting { attempt: 3, .. }, .. } if *session == client.id());
    seen.wait("a third attempt", third);
    let delays: Vec<(u32, Duration)> = seen
        .notices(client.id())
        .into_iter()
        .filter_map(|n| match n {
            Notice::Reconnecting { attempt, delay } => Some((attempt, delay)),
            _ => None,
        })
        .collect();
    assert_eq!(
        delays,
        [
            (1, Duration::from_millis(50)),
            (2, Duration::from_millis(100)),
            (3, Duration::from_millis(200))
        ]
    );
    assert!(
        seen.errors(client.id())
            .iter()
            .all(|e| matches!(e, EngineError::TlsUnknownIssuer { .. })),
        "{:?}",
        seen.errors(client.id())
    );
    client.stop();
    stopped(&mut seen, client.id());
    server.stop();
    stopped(&mut seen, server.id());
}
