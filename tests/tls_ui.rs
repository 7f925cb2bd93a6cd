//! TLS from the window, driven through its labels with egui_kittest: a TLS server tab
//! (self-signed) and a TLS client tab talk over 127.0.0.1.

use std::net::SocketAddr;
use std::time::Instant;

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use sockscope::session::store::RecordKind;
use sockscope::ui::{Lang, Mode, SessionTab, SockscopeApp, Status};

use crate::ui::{
    WAIT, blank_settings, click_send, english_words, fill, harness, has_info, no_persist,
    step_until,
};

/// A window whose TCP server was started with TLS ticked (self-signed, the default) on
/// 127.0.0.1 and a free port; its address and certificate fingerprint.
fn tls_server_window() -> (Harness<'static, SockscopeApp>, SocketAddr, String) {
    let mut h = harness(blank_settings(Mode::TcpServer), no_persist());
    fill(&mut h, "Local address", "127.0.0.1");
    fill(&mut h, "Local port", "0");
    h.get_by_label("TLS").click();
    h.run_steps(2);
    assert!(
        h.query_by_label("TLS: a self-signed certificate is made at start")
            .is_some()
    );
    h.get_by_label("Listen").click();
    h.run_steps(1);
    step_until(&mut h, "TLS identity", |app| app.tls.identity.is_some());
    let Status::Listening(addr) = h.state().tab().status.clone() else {
        panic!("not listening: {:?}", h.state().tab().status);
    };
    let (fingerprint, self_signed) = h.state().tab().tls.identity.clone().unwrap();
    assert!(self_signed);
    assert_eq!(fingerprint.len(), 95, "{fingerprint}");
    // The fingerprint is in the panel, beside its Copy button.
    h.run_steps(1);
    assert!(h.query_by_label(&fingerprint).is_some());
    assert!(h.query_by_label("Copy").is_some());
    (h, addr, fingerprint)
}

/// Steps both windows until `done` holds for the front tab of `h`.
fn step_both(
    h: &mut Harness<'_, SockscopeApp>,
    other: &mut Harness<'_, SockscopeApp>,
    what: &str,
    mut done: impl FnMut(&SessionTab) -> bool,
) {
    let deadline = Instant::now() + WAIT;
    while !done(h.state().tab()) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        h.step();
        other.step();
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    h.step();
}

fn has_data(app: &SessionTab, kind: RecordKind, bytes: &[u8]) -> bool {
    app.store
        .iter()
        .any(|r| r.kind == kind && &*r.bytes == bytes)
}

/// A client window to `addr` with TLS ticked, the Advanced pop-up open.
fn tls_client_window(addr: SocketAddr) -> Harness<'static, SockscopeApp> {
    let mut h = harness(blank_settings(Mode::TcpClient), no_persist());
    fill(&mut h, "Remote host", "127.0.0.1");
    fill(&mut h, "Remote port", &addr.port().to_string());
    h.get_by_label("TLS").click();
    h.run_steps(2);
    assert!(
        h.query_by_label("TLS: the certificate is checked against the system's roots")
            .is_some()
    );
    h.get_by_label("Advanced …").click();
    h.run_steps(2);
    assert!(h.query_by_label("Server name (SNI)").is_some());
    assert!(h.query_by_label("ALPN").is_some());
    assert!(h.query_by_label("1.3 only").is_some());
    assert!(h.query_by_label("Extra CA file (PEM)").is_some());
    h
}

/// Closes the Advanced pop-up (a click outside it) and clicks Connect.
fn connect(h: &mut Harness<'_, SockscopeApp>) {
    h.get_by_label("Remote host").click();
    h.run_steps(2);
    h.get_by_label("Connect").click();
    h.run_steps(1);
}

/// A TLS server tab (self-signed) and a TLS client tab with "Accept any certificate",
/// both set up by clicking: the client's view holds the handshake record (TLS 1.3, the
/// server's fingerprint, the accept-any verdict) with its connection; the red
/// "accepting ANY certificate" marker shows while it runs; text goes both ways and
/// shows as plaintext on both sides; the server's record of the handshake is attached
/// to its client's connection.
#[test]
fn tls_server_and_accept_any_client_talk() {
    let (mut server, addr, fingerprint) = tls_server_window();
    let mut client = tls_client_window(addr);
    client.get_by_label("Accept any certificate").click();
    client.run_steps(2);
    assert!(client.state().tab().settings.connection.tls.accept_any);
    connect(&mut client);
    step_both(&mut client, &mut server, "handshake record", |app| {
        has_info(app, "TLS 1.3")
    });
    let tab = client.state().tab();
    let record = tab
        .store
        .iter()
        .find(|r| {
            r.kind == RecordKind::Info && String::from_utf8_lossy(&r.bytes).contains("TLS 1.3")
        })
        .unwrap();
    let text = String::from_utf8_lossy(&record.bytes).into_owned();
    assert!(text.contains(&format!("SHA-256 {fingerprint}")), "{text}");
    assert!(text.contains("ACCEPT ANY CERTIFICATE is on"), "{text}");
    assert!(
        record.conn.is_some() && record.peer == Some(addr),
        "{record:?}"
    );
    assert!(matches!(tab.status, Status::Connected { .. }));
    client.run_steps(2);
    assert!(
        client
            .query_by_label("TLS: accepting ANY certificate")
            .is_some(),
        "the red marker"
    );
    assert!(
        client
            .query_by_label_contains("TLS with 127.0.0.1:")
            .is_some()
    );

    // Client → server, in plaintext on both sides.
    fill(&mut client, "Data to send", "hello over tls");
    click_send(&mut client);
    step_both(&mut server, &mut client, "server RX", |app| {
        has_data(app, RecordKind::Rx, b"hello over tls")
    });
    step_both(&mut client, &mut server, "client TX", |app| {
        has_data(app, RecordKind::Tx, b"hello over tls")
    });
    // The server's own handshake record goes with its client's connection.
    let joined = server
        .state()
        .tab()
        .store
        .iter()
        .find(|r| {
            r.kind == RecordKind::Info && String::from_utf8_lossy(&r.bytes).starts_with("TLS with")
        })
        .map(|r| (r.conn, String::from_utf8_lossy(&r.bytes).into_owned()))
        .unwrap();
    assert!(joined.0.is_some(), "{joined:?}");
    assert!(joined.1.contains("TLS 1.3"), "{joined:?}");
    // Server → client (all clients).
    fill(&mut server, "Data to send", "你好 from the server");
    click_send(&mut server);
    step_both(&mut client, &mut server, "client RX", |app| {
        has_data(app, RecordKind::Rx, "你好 from the server".as_bytes())
    });
    client.run_steps(1);
    assert!(
        client
            .query_by_label_contains("你好 from the server")
            .is_some()
    );
}

/// A fingerprint that is not one is flagged beside the Pin field and Connect starts
/// nothing; pasting the server's fingerprint (as its Copy button gives it) connects,
/// and the handshake record says the pin matched, with no accept-any marker.
#[test]
fn pinned_client_and_bad_fingerprint() {
    let (mut server, addr, fingerprint) = tls_server_window();
    let mut client = tls_client_window(addr);
    fill(&mut client, "Pin SHA-256", "12:34:zz");
    // Beside the field (in the pop-up) and in the connection row.
    let said = |h: &Harness<'_, SockscopeApp>| {
        h.query_all_by_label_contains("! Not a SHA-256 fingerprint: 64 hex digits")
            .count()
    };
    assert_eq!(said(&client), 2);
    connect(&mut client);
    client.run_steps(2);
    assert_eq!(client.state().tab().status, Status::Idle);
    assert!(client.state().tab().session.is_none());
    // The pop-up is closed; the connection row still says why Connect is refused.
    assert_eq!(said(&client), 1);

    client.get_by_label("Advanced …").click();
    client.run_steps(2);
    fill(&mut client, "Pin SHA-256", &fingerprint.to_lowercase());
    assert_eq!(said(&client), 0);
    connect(&mut client);
    step_both(&mut client, &mut server, "handshake record", |app| {
        has_info(app, "pinned fingerprint matches")
    });
    client.run_steps(2);
    assert!(has_info(client.state().tab(), "TLS 1.3"));
    assert!(
        client
            .query_by_label("TLS: only the certificate with the pinned fingerprint is trusted")
            .is_some()
    );
    assert!(
        client
            .query_by_label("TLS: accepting ANY certificate")
            .is_none()
    );
}

/// The TLS line and the TLS options of both modes read in Chinese with no English word
/// in them (protocol names and example file names aside); a PEM server without its
/// files says so beside the field.
#[test]
fn chinese_tls_options_have_no_english_words() {
    let mut settings = blank_settings(Mode::TcpClient);
    settings.lang = Lang::Zh;
    settings.tabs[0].connection.tls.client = true;
    settings.tabs[0].connection.tls.accept_any = true;
    let mut h = harness(settings, no_persist());
    h.run_steps(2);
    assert!(h.query_by_label("TLS：已开启“接受任何证书”").is_some());
    h.get_by_label("高级选项 …").click();
    h.run_steps(2);
    assert!(h.query_by_label("接受任何证书").is_some());
    let mut found: Vec<String> = english_words(&h)
        .into_iter()
        .map(|w| format!("client: {w}"))
        .collect();
    h.get_by_label("远程主机").click();
    h.run_steps(2);
    h.get_by_label("TCP 服务器").click();
    h.run_steps(2);
    h.get_by_label("TLS").click();
    h.run_steps(2);
    h.get_by_label("高级选项 …").click();
    h.run_steps(2);
    h.get_by_label("PEM 文件").click();
    h.run_steps(2);
    // Beside both file fields (the connection row names the empty host first).
    assert_eq!(h.query_all_by_label_contains("! 请选择文件").count(), 2);
    found.extend(
        english_words(&h)
            .into_iter()
            .map(|w| format!("server: {w}")),
    );
    assert!(
        found.is_empty(),
        "English in the Chinese window: {found:#?}"
    );
}

/// The command line opens a TLS client tab: `client ADDR --pin FP --alpn …` fills the
/// TLS fields (TLS ticked, the pin, ALPN) and connects by pin to a TLS server window.
#[test]
fn command_line_opens_a_tls_client_tab() {
    let (mut server, addr, fingerprint) = tls_server_window();
    let sockscope::cli::Parsed::Run(mut options) = sockscope::cli::parse_args([
        "client",
        &addr.to_string(),
        "--pin",
        &fingerprint.replace(':', ""),
        "--alpn",
        "h2,http/1.1",
    ])
    .unwrap() else {
        panic!("not a window start")
    };
    options.persist = false;
    let mut client = harness(blank_settings(Mode::TcpClient), options);
    let fields = client.state().tab().settings.connection.tls.clone();
    assert!(fields.client);
    assert_eq!(fields.pin, fingerprint);
    assert_eq!(fields.client_alpn, "h2, http/1.1");
    step_both(&mut client, &mut server, "pinned handshake", |app| {
        has_info(app, "pinned fingerprint matches")
    });
}
