//! Unit tests of the command-line parser: sessions and their options, headless and
//! `test` runs, durations, sizes and the errors each bad argument gets.

use super::*;

fn run(args: &[&str]) -> StartOptions {
    match parse_args(args.iter().copied()).unwrap() {
        Parsed::Run(o) => o,
        other => panic!("expected options, got {other:?}"),
    }
}

/// `--join` (repeatable, with interface and source) and `--ttl` belong to a UDP
/// session; a unicast group or a TCP session is refused in words.
#[test]
fn join_and_ttl() {
    let o = run(&[
        "udp",
        "0.0.0.0:5000",
        "--join",
        "239.1.2.3@eth0",
        "--join",
        "232.1.1.1+10.0.0.5",
        "--ttl",
        "4",
    ]);
    let joins: Vec<String> = o.tabs[0]
        .options
        .join
        .iter()
        .map(|g| g.to_string())
        .collect();
    assert_eq!(joins, ["239.1.2.3@eth0", "232.1.1.1+10.0.0.5"]);
    assert_eq!(o.tabs[0].options.ttl, Some(4));
    let e = parse_args(["udp", "0.0.0.0:5000", "--join", "10.0.0.1"]).unwrap_err();
    assert!(
        e.starts_with("--join: \"10.0.0.1\" is not a multicast address"),
        "{e}"
    );
    let e = parse_args(["server", "0.0.0.0:5000", "--join", "239.1.2.3"]).unwrap_err();
    assert_eq!(e, "--join belongs to a udp session");
    assert!(parse_args(["udp", "0.0.0.0:5000", "--ttl", "300"]).is_err());
    let Ok(Parsed::Headless(h)) = parse_args([
        "--headless",
        "udp",
        "0.0.0.0:5000",
        "--join",
        "239.1.2.3@127.0.0.1",
        "--ttl",
        "2",
    ]) else {
        panic!("headless udp with --join did not parse");
    };
    assert_eq!(h.options.join.len(), 1);
    assert_eq!(h.options.ttl, Some(2));
    let config = crate::headless::session_config(&h.session, &h.options);
    let crate::engine::SessionConfig::Udp(udp) = config else {
        panic!("not udp");
    };
    assert_eq!(udp.multicast.join, h.options.join);
    assert_eq!(udp.multicast.ttl, Some(2));
}

/// `--reconnect` takes the defaults, a first wait, or a first and a longest wait, and
/// belongs to a client session; the headless client's config carries it.
#[test]
fn reconnect_option() {
    let o = run(&["client", "127.0.0.1:9000", "--reconnect"]);
    assert_eq!(o.tabs[0].options.reconnect, Some(Reconnect::default()));
    let o = run(&["--reconnect=500ms", "client", "127.0.0.1:9000"]);
    let r = o.tabs[0].options.reconnect.unwrap();
    assert_eq!(
        (r.delay, r.max),
        (Duration::from_millis(500), Duration::from_secs(30))
    );
    let o = run(&["client", "127.0.0.1:9000", "--reconnect=2s..1m"]);
    let r = o.tabs[0].options.reconnect.unwrap();
    assert_eq!(
        (r.delay, r.max),
        (Duration::from_secs(2), Duration::from_secs(60))
    );
    let o = run(&["client", "127.0.0.1:9000", "--reconnect=45s"]);
    assert_eq!(
        o.tabs[0].options.reconnect.unwrap().max,
        Duration::from_secs(45)
    );
    let e = parse_args(["client", "127.0.0.1:9000", "--reconnect=5s..1s"]).unwrap_err();
    assert!(e.contains("shorter than the first"), "{e}");
    let e = parse_args(["client", "127.0.0.1:9000", "--reconnect=soon"]).unwrap_err();
    assert!(e.starts_with("--reconnect: \"soon\" is not DELAY"), "{e}");
    let e = parse_args(["server", "0.0.0.0:9000", "--reconnect"]).unwrap_err();
    assert_eq!(e, "--reconnect belongs to a client session");
    let e = parse_args(["--reconnect", "udp", "0.0.0.0:9000"]).unwrap_err();
    assert_eq!(e, "--reconnect belongs to a client session");
    let Ok(Parsed::Headless(h)) = parse_args([
        "--headless",
        "client",
        "127.0.0.1:9000",
        "--reconnect=1s..4s",
    ]) else {
        panic!("headless client with --reconnect did not parse");
    };
    let crate::engine::SessionConfig::TcpClient(c) =
        crate::headless::session_config(&h.session, &h.options)
    else {
        panic!("not a client");
    };
    assert_eq!(c.reconnect.unwrap().max, Duration::from_secs(4));
}

/// The three session forms parse into start sessions, with their options.
#[test]
fn sessions() {
    assert_eq!(
        run(&["server", "0.0.0.0:8989"]).tabs,
        vec![StartTab::new(StartSession::Server {
            host: "0.0.0.0".into(),
            port: 8989
        })]
    );
    let client = run(&[
        "client",
        "127.0.0.1:8000",
        "--encoding",
        "gbk",
        "--view",
        "hex",
    ]);
    assert_eq!(client.tabs[0].options.encoding, Some(TextEncoding::Gbk));
    assert_eq!(client.tabs[0].options.view, Some(ViewMode::Hex));
    let udp = run(&["udp", "0.0.0.0:9000", "--peer", "127.0.0.1:9001"]);
    assert_eq!(
        udp.tabs[0].session,
        StartSession::Udp {
            host: "0.0.0.0".into(),
            port: 9000,
            peer: Some("127.0.0.1:9001".into())
        }
    );
    let plain = run(&[]);
    assert!(plain.auto_start && plain.tabs.is_empty());
    assert!(
        run(&["server", "[::]:0", "--ipv6-only"]).tabs[0]
            .options
            .ipv6_only
    );
}

/// Pairs repeat; each pair's options follow it; options before any pair go to the first.
#[test]
fn several_sessions() {
    let o = run(&[
        "--encoding",
        "big5",
        "server",
        "127.0.0.1:9000",
        "client",
        "127.0.0.1:9000",
        "--encoding",
        "gbk",
        "--log",
        "c.txt",
        "udp",
        "0.0.0.0:9001",
        "--lang",
        "zh",
    ]);
    assert_eq!(o.tabs.len(), 3);
    assert_eq!(o.tabs[0].options.encoding, Some(TextEncoding::Big5));
    assert_eq!(o.tabs[1].options.encoding, Some(TextEncoding::Gbk));
    assert_eq!(o.tabs[1].options.log, Some(PathBuf::from("c.txt")));
    assert_eq!(o.tabs[2].options.encoding, None);
    assert!(!o.tabs[0].options.ipv6_only);
    assert!(matches!(
        o.tabs[2].session,
        StartSession::Udp { port: 9001, .. }
    ));
    assert_eq!(o.lang, Some(Lang::Zh));
    assert!(!o.auto_start);
}

/// `--headless` takes one session and its options; `test` takes plans.
#[test]
fn headless_and_test() {
    let Ok(Parsed::Headless(h)) = parse_args([
        "--headless",
        "server",
        "127.0.0.1:0",
        "--log",
        "x.bin",
        "--rules",
        "r.toml",
        "--duration",
        "1.5s",
        "--print",
        "hex",
        "--quiet",
    ]) else {
        panic!("expected headless options");
    };
    assert_eq!(
        h.session,
        StartSession::Server {
            host: "127.0.0.1".into(),
            port: 0
        }
    );
    assert_eq!(h.options.log, Some(PathBuf::from("x.bin")));
    assert_eq!(h.rules, Some(PathBuf::from("r.toml")));
    assert_eq!(h.duration, Some(Duration::from_millis(1500)));
    assert_eq!(h.print, PrintMode::Hex);
    assert!(h.quiet && !h.json);
    let Ok(Parsed::Test(t)) = parse_args([
        "test", "a.toml", "b.json", "--junit", "r.xml", "--target", "[::1]:9", "--json",
    ]) else {
        panic!("expected test options");
    };
    assert_eq!(t.plans, [PathBuf::from("a.toml"), PathBuf::from("b.json")]);
    assert_eq!(t.junit, Some(PathBuf::from("r.xml")));
    assert_eq!(t.target.as_deref(), Some("[::1]:9"));
    assert!(t.json && !t.quiet);
    assert!(parse_args(["test"]).unwrap_err().contains("plan"));
    assert!(
        parse_args(["--headless"])
            .unwrap_err()
            .contains("one session")
    );
    assert!(
        parse_args(["--headless", "server", "0.0.0.0:1", "client", "h:1"])
            .unwrap_err()
            .contains("one session")
    );
    assert!(
        parse_args(["server", "0.0.0.0:1", "--rules", "r.json"])
            .unwrap_err()
            .contains("--headless")
    );
    assert!(
        parse_args(["--headless", "server", "0.0.0.0:1", "--screenshot", "a.png"])
            .unwrap_err()
            .contains("window")
    );
    assert_eq!(parse_duration("90"), Some(Duration::from_secs(90)));
    assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
    assert_eq!(parse_duration("2h"), Some(Duration::from_secs(7200)));
    assert_eq!(parse_duration("0"), None);
    assert_eq!(parse_duration("5 parsecs"), None);
}

/// Bad arguments are errors in words, not panics.
#[test]
fn errors() {
    assert!(parse_args(["server"]).unwrap_err().contains("HOST:PORT"));
    assert!(parse_args(["client", "127.0.0.1:99999"]).is_err());
    assert!(
        parse_args(["--encoding", "klingon"])
            .unwrap_err()
            .contains("klingon")
    );
    assert!(parse_args(["--view", "x"]).is_err());
    assert!(parse_args(["--bogus"]).unwrap_err().contains("--bogus"));
    assert!(parse_args(["elephant"]).unwrap_err().contains("elephant"));
    assert!(
        parse_args(["server", "0.0.0.0:1", "--peer", "127.0.0.1:2"])
            .unwrap_err()
            .contains("udp")
    );
    assert!(matches!(parse_args(["--help"]), Ok(Parsed::Print(t)) if t.contains("--screenshot")));
}

/// `--headless ARGS…` parsed, or the parser's words.
fn headless(args: &[&str]) -> Result<HeadlessOptions, String> {
    let mut all = vec!["--headless"];
    all.extend_from_slice(args);
    match parse_args(all)? {
        Parsed::Headless(h) => Ok(h),
        other => panic!("expected a headless run, got {other:?}"),
    }
}

/// A PEM file holding one certificate (DER made by the engine's test helper).
fn pem_file(dir: &std::path::Path) -> std::path::PathBuf {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let now = std::time::SystemTime::now();
    let day = Duration::from_secs(86_400);
    let (der, _key) =
        crate::engine::tls::self_signed_der(&["localhost".into()], now - day, now + day).unwrap();
    let mut b64 = String::new();
    for chunk in der.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            b64.push(if i <= chunk.len() {
                A[(n >> (18 - 6 * i) & 63) as usize] as char
            } else {
                '='
            });
        }
    }
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|l| std::str::from_utf8(l).unwrap())
        .collect();
    let path = dir.join("ca.pem");
    let text = format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    );
    std::fs::write(&path, text).unwrap();
    path
}

const PIN: &str = "3A:7F:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:01:23:45:67:89:AB:CD:EF:10:32:54:76:98:BA";

/// A TLS client's options reach the engine's config: SNI, ALPN in order, the pin, one
/// version, the CA file's certificate; any TLS option turns TLS on, before or after the
/// session.
#[test]
fn tls_client_options() {
    let dir = tempfile::tempdir().unwrap();
    let ca = pem_file(dir.path());
    let ca = ca.to_str().unwrap();
    let h = headless(&[
        "client",
        "127.0.0.1:8443",
        "--tls",
        "--sni",
        "device.local",
        "--alpn",
        "h2, http/1.1",
        "--pin",
        PIN,
        "--tls-version",
        "1.3",
        "--ca",
        ca,
    ])
    .unwrap();
    let crate::engine::SessionConfig::TcpClient(c) =
        crate::headless::session_config(&h.session, &h.options)
    else {
        panic!("not a client");
    };
    let tls = c.tls.unwrap();
    assert_eq!(tls.server_name.as_deref(), Some("device.local"));
    assert_eq!(tls.alpn, ["h2", "http/1.1"]);
    assert_eq!(tls.pinned_sha256.unwrap()[..2], [0x3A, 0x7F]);
    assert_eq!(tls.versions, crate::engine::tls::TlsVersions::Tls13);
    assert_eq!(tls.extra_roots.len(), 1);
    assert!(!tls.accept_any);

    // `--insecure` alone turns TLS on; so does an option before the session.
    let h = headless(&["client", "127.0.0.1:8443", "--insecure"]).unwrap();
    assert!(h.options.tls.unwrap().client_options().accept_any);
    let h = headless(&[
        "--tls-version",
        "tls1.2",
        "client",
        "127.0.0.1:8443",
        "--tls",
    ])
    .unwrap();
    let tls = h.options.tls.unwrap();
    assert_eq!(tls.versions, crate::engine::tls::TlsVersions::Tls12);
    // Without any, no TLS.
    let h = headless(&["client", "127.0.0.1:8443"]).unwrap();
    assert_eq!(h.options.tls, None);
}

/// A TLS server presents `--cert`/`--key`, or else a self-signed certificate; the two
/// files come together.
#[test]
fn tls_server_options() {
    let dir = tempfile::tempdir().unwrap();
    let cert = pem_file(dir.path());
    let cert = cert.to_str().unwrap();
    let h = headless(&["server", "127.0.0.1:0", "--tls"]).unwrap();
    let crate::engine::SessionConfig::TcpServer(s) =
        crate::headless::session_config(&h.session, &h.options)
    else {
        panic!("not a server");
    };
    assert_eq!(
        s.tls.unwrap().identity,
        crate::engine::tls::ServerIdentity::default()
    );
    let h = headless(&[
        "server",
        "127.0.0.1:0",
        "--cert",
        cert,
        "--key",
        cert,
        "--alpn",
        "http/1.1",
    ])
    .unwrap();
    let options = h.options.tls.unwrap().server_options();
    assert!(matches!(
        options.identity,
        crate::engine::tls::ServerIdentity::Pem { .. }
    ));
    assert_eq!(options.alpn, ["http/1.1"]);
    let e = headless(&["server", "127.0.0.1:0", "--cert", cert]).unwrap_err();
    assert!(e.starts_with("--cert needs --key FILE"), "{e}");
    let e = headless(&["server", "127.0.0.1:0", "--tls", "--key", cert]).unwrap_err();
    assert!(e.starts_with("--key needs --cert FILE"), "{e}");
    let missing = dir.path().join("missing.pem");
    let e = headless(&["server", "127.0.0.1:0", "--cert", missing.to_str().unwrap()]).unwrap_err();
    assert!(e.starts_with("--cert: cannot read \""), "{e}");
    assert!(e.contains("missing.pem"), "{e}");
}

/// Each misplaced or malformed TLS option is refused in words: on UDP, a client's option
/// on a server and the reverse (also when given before the session), a fingerprint with
/// a wrong character (named with its position) or too few digits, a CA file that cannot
/// be read or holds no certificate, `--insecure` with `--pin`, an unknown version, an
/// empty ALPN name, TLS in the window (not there yet), TLS with no session.
#[test]
fn tls_option_errors() {
    let dir = tempfile::tempdir().unwrap();
    let err = |args: &[&str]| parse_args(args.iter().copied()).unwrap_err();
    assert_eq!(
        err(&["--headless", "udp", "0.0.0.0:9000", "--tls"]),
        "--tls belongs to a TCP client or server session (UDP has no TLS)"
    );
    assert!(
        err(&["--headless", "server", "0.0.0.0:9000", "--pin", PIN])
            .starts_with("--pin belongs to a TLS client session"),
    );
    assert!(
        err(&["--headless", "--insecure", "server", "0.0.0.0:9000"])
            .starts_with("--insecure belongs to a TLS client session"),
    );
    let cert = pem_file(dir.path());
    assert_eq!(
        err(&[
            "--headless",
            "client",
            "h:1",
            "--cert",
            cert.to_str().unwrap()
        ]),
        "--cert belongs to a TLS server session"
    );
    let bad = PIN.replacen("7F", "7G", 1);
    let e = err(&["--headless", "client", "h:1", "--pin", &bad]);
    assert!(
        e.starts_with("--pin: 'G' at character 5 of \"3A:7G:"),
        "{e}"
    );
    let e = err(&["--headless", "client", "h:1", "--pin", "sha256:3A7F"]);
    assert!(
        e.starts_with("--pin: \"sha256:3A7F\" has 4 hex digits, a SHA-256 fingerprint has 64"),
        "{e}"
    );
    let missing = dir.path().join("nope.pem");
    let e = err(&[
        "--headless",
        "client",
        "h:1",
        "--ca",
        missing.to_str().unwrap(),
    ]);
    assert!(
        e.starts_with("--ca: cannot use the TLS certificate file"),
        "{e}"
    );
    assert!(e.contains("nope.pem"), "{e}");
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    let e = err(&[
        "--headless",
        "client",
        "h:1",
        "--ca",
        empty.to_str().unwrap(),
    ]);
    assert!(e.contains("no CERTIFICATE section"), "{e}");
    let e = err(&["--headless", "client", "h:1", "--insecure", "--pin", PIN]);
    assert!(e.starts_with("--insecure and --pin contradict"), "{e}");
    assert_eq!(
        err(&["--headless", "client", "h:1", "--tls-version", "1.1"]),
        "--tls-version: expected 1.2 or 1.3 (default: both), got \"1.1\""
    );
    let e = err(&["--headless", "client", "h:1", "--alpn", "h2,,http/1.1"]);
    assert!(
        e.starts_with("--alpn: protocol 2 of \"h2,,http/1.1\" is empty"),
        "{e}"
    );
    let e = err(&["--tls"]);
    assert!(e.starts_with("--tls needs a TCP session"), "{e}");
}
