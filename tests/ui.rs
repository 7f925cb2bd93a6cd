//! The window driven through its labels with egui_kittest, against real loopback peers.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use sockscope::cli::{Parsed, StartOptions, StartSession, StartTab, parse_args};
use sockscope::session::store::RecordKind;
use sockscope::ui::{AppSettings, Lang, Mode, SessionTab, SockscopeApp, Status};

/// Longest wait for anything in these tests.
pub(crate) const WAIT: Duration = Duration::from_secs(10);

/// Settings with one tab in `mode`, empty endpoint fields, English.
pub(crate) fn blank_settings(mode: Mode) -> AppSettings {
    let mut settings = AppSettings::single(Lang::En, mode);
    let c = &mut settings.tabs[0].connection;
    c.client_host.clear();
    c.client_port.clear();
    c.server_host.clear();
    c.server_port.clear();
    settings
}

pub(crate) fn harness(
    settings: AppSettings,
    options: StartOptions,
) -> Harness<'static, SockscopeApp> {
    Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .build_eframe(move |cc| SockscopeApp::with_settings(cc.egui_ctx.clone(), settings, options))
}

pub(crate) fn no_persist() -> StartOptions {
    StartOptions {
        persist: false,
        ..StartOptions::default()
    }
}

/// A harness whose app opens `start` at once (persistence off).
fn started(start: StartSession, settings: AppSettings) -> Harness<'static, SockscopeApp> {
    let options = StartOptions {
        tabs: vec![StartTab::new(start)],
        ..no_persist()
    };
    harness(settings, options)
}

/// A harness with a TCP server listening on 127.0.0.1 and a free port, and that address.
fn listening_server() -> (Harness<'static, SockscopeApp>, SocketAddr) {
    let start = StartSession::Server {
        host: "127.0.0.1".into(),
        port: 0,
    };
    let mut h = started(start, blank_settings(Mode::TcpServer));
    step_until(&mut h, "listening", |app| {
        matches!(app.status, Status::Listening(_))
    });
    let Status::Listening(addr) = h.state().tab().status.clone() else {
        unreachable!()
    };
    (h, addr)
}

/// A harness whose TCP client connected to a loopback listener, and the accepted peer.
fn connected_client(settings: AppSettings) -> (Harness<'static, SockscopeApp>, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let start = StartSession::Client {
        host: "127.0.0.1".into(),
        port: listener.local_addr().unwrap().port(),
    };
    let h = started(start, settings);
    let (peer, _) = listener.accept().unwrap();
    (h, peer)
}

/// Steps the harness (draining engine events each frame) until `done` holds for the
/// front tab.
pub(crate) fn step_until(
    harness: &mut Harness<'_, SockscopeApp>,
    what: &str,
    mut done: impl FnMut(&SessionTab) -> bool,
) {
    let deadline = Instant::now() + WAIT;
    while !done(harness.state().tab()) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        harness.step();
        std::thread::sleep(Duration::from_millis(5));
    }
    harness.step();
}

/// The Send button, whatever its second line says about the target.
fn send_button<'h>(h: &'h Harness<'_, SockscopeApp>) -> egui_kittest::Node<'h> {
    h.get_by(|n| {
        n.role() == egui::accesskit::Role::Button
            && n.label()
                .is_some_and(|l| l == "Send" || l.starts_with("Send\n"))
    })
}

/// Clicks Send.
pub(crate) fn click_send(h: &mut Harness<'_, SockscopeApp>) {
    send_button(h).click();
    h.run_steps(1);
}

/// Picks a language in the window's settings menu.
fn choose_language(h: &mut Harness<'_, SockscopeApp>, language: &str) {
    h.get_by_label("Settings").click();
    h.run_steps(2);
    h.get_by_label(language).click();
    h.run_steps(2);
}

/// Replaces the text of the input labelled `label`.
pub(crate) fn fill(harness: &mut Harness<'_, SockscopeApp>, label: &str, text: &str) {
    harness.get_by_label(label).focus();
    harness.run_steps(1);
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    harness.run_steps(1);
    harness.get_by_label(label).type_text(text);
    harness.run_steps(2);
}

fn gbk(text: &str) -> Vec<u8> {
    let (bytes, _, bad) = encoding_rs::GBK.encode(text);
    assert!(!bad);
    bytes.into_owned()
}

pub(crate) fn read_exact_timeout(stream: &mut TcpStream, len: usize) -> Vec<u8> {
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let mut buf = vec![0; len];
    stream.read_exact(&mut buf).unwrap();
    buf
}

/// A user fills the connection panel, connects to a loopback server, sends text and hex,
/// sees the records, and switching the encoding re-renders GBK `你好` from its UTF-8 garble.
#[test]
fn client_connects_sends_and_switches_encoding() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut h = harness(blank_settings(Mode::TcpClient), no_persist());

    fill(&mut h, "Remote host", "127.0.0.1");
    fill(&mut h, "Remote port", &port.to_string());
    h.get_by_label("Connect").click();
    h.run_steps(1);
    let (mut peer, _) = listener.accept().unwrap();
    step_until(&mut h, "connected", |app| {
        matches!(app.status, Status::Connected { .. })
    });
    assert!(h.query_by_label_contains("Connected: 127.0.0.1:").is_some());

    // Text send.
    fill(&mut h, "Data to send", "hello");
    click_send(&mut h);
    h.run_steps(1);
    assert_eq!(read_exact_timeout(&mut peer, 5), b"hello");
    step_until(&mut h, "TX record", |app| {
        app.store
            .iter()
            .any(|r| r.kind == RecordKind::Tx && &*r.bytes == b"hello")
    });
    assert!(h.query_by_label_contains("hello").is_some());

    // Hex send.
    h.get_by_label("as hex").click();
    h.run_steps(1);
    fill(&mut h, "Data to send", "48 65 6C 6C 6F 21");
    click_send(&mut h);
    h.run_steps(1);
    assert_eq!(read_exact_timeout(&mut peer, 6), b"Hello!");

    // The peer answers in GBK; in UTF-8 the bytes are invalid and shown as escapes.
    let mut line = gbk("你好");
    line.push(b'\n');
    peer.write_all(&line).unwrap();
    step_until(&mut h, "RX record", |app| {
        app.store.iter().any(|r| r.kind == RecordKind::Rx)
    });
    let garbled = h
        .state()
        .tab()
        .store
        .iter()
        .find(|r| r.kind == RecordKind::Rx)
        .map(|r| h.state().tab().store.text(r).into_owned())
        .unwrap();
    assert_eq!(garbled, "\\xC4\\xE3\\xBA\\xC3\n");
    assert!(h.query_by_label_contains("\\xC4\\xE3\\xBA\\xC3").is_some());
    assert!(h.query_by_label_contains("你好").is_none());
    assert_eq!(h.state().tab().store.decode_errors(), 4);

    // Pick GBK in the receive view's encoding menu: the same record now reads 你好.
    h.get_by_label("Encoding").click();
    h.run_steps(2);
    h.get_by_label("GBK").click();
    h.run_steps(2);
    assert!(h.query_by_label_contains("你好").is_some());
    assert_eq!(h.state().tab().store.decode_errors(), 0);

    // Disconnect: the status says so and the peer sees EOF.
    h.get_by_label("Disconnect").click();
    step_until(&mut h, "stopped", |app| app.status == Status::Stopped);
    peer.set_read_timeout(Some(WAIT)).unwrap();
    let mut rest = Vec::new();
    peer.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
}

/// Server mode lists three loopback clients, sends to one selected client, then to all,
/// and kicks one, which sees its connection closed.
#[test]
fn server_lists_sends_and_kicks() {
    let (mut h, addr) = listening_server();
    let mut clients: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(addr).unwrap()).collect();
    step_until(&mut h, "three clients", |app| app.clients.len() == 3);
    assert!(h.query_by_label_contains("Clients (3)").is_some());

    // With nothing ticked the Send button says it goes to all three.
    fill(&mut h, "Data to send", "only you");
    assert_eq!(
        send_button(&h).accesskit_node().label().as_deref(),
        Some("Send\n→ all 3")
    );
    // Ticking a client targets it: no other choice to make.
    let first: SocketAddr = clients[0].local_addr().unwrap();
    h.get_by_label(&first.to_string()).click();
    h.run_steps(2);
    assert_eq!(
        send_button(&h).accesskit_node().label().as_deref(),
        Some("Send\n→ 1 ticked")
    );
    assert!(h.query_by_label_contains("1 ticked clients").is_some());
    click_send(&mut h);
    h.run_steps(1);
    assert_eq!(read_exact_timeout(&mut clients[0], 8), b"only you");

    // Then to all, once unticked.
    h.get_by_label("Untick all").click();
    h.run_steps(1);
    fill(&mut h, "Data to send", "everyone");
    click_send(&mut h);
    h.run_steps(1);
    for client in &mut clients {
        assert_eq!(read_exact_timeout(client, 8), b"everyone");
    }
    // The others got nothing before "everyone": the selected send went to one client only.
    step_until(&mut h, "tx records", |app| {
        app.store.stats.total.tx_msgs == 4
    });

    // Kick the first client.
    let kicks = h.get_all_by_label("Kick").count();
    assert_eq!(kicks, 3);
    h.get_all_by_label("Kick").next().unwrap().click();
    h.run_steps(1);
    step_until(&mut h, "two clients", |app| app.clients.len() == 2);
    let kicked: Vec<usize> = clients
        .iter_mut()
        .enumerate()
        .filter_map(|(i, c)| {
            c.set_read_timeout(Some(Duration::from_millis(300)))
                .unwrap();
            let mut b = [0u8; 1];
            matches!(c.read(&mut b), Ok(0)).then_some(i)
        })
        .collect();
    assert_eq!(
        kicked.len(),
        1,
        "exactly one client saw its connection closed"
    );
    assert!(h.query_by_label_contains("Clients (2)").is_some());
}

/// Invalid hex names the bad character and its position and disables Send; an invalid
/// port is flagged at the field and disables Listen; nothing crashes.
#[test]
fn invalid_input_is_flagged() {
    let mut settings = blank_settings(Mode::TcpServer);
    settings.tabs[0].connection.server_host = "127.0.0.1".into();
    let mut h = harness(settings, no_persist());
    fill(&mut h, "Local port", "70000");
    assert!(
        h.query_by_label_contains("Port must be a number from 0 to 65535")
            .is_some()
    );
    h.get_by_label("Listen").click();
    h.run_steps(2);
    assert_eq!(h.state().tab().status, Status::Idle, "Listen is disabled");

    h.get_by_label("as hex").click();
    h.run_steps(1);
    fill(&mut h, "Data to send", "48 6G");
    assert!(
        h.query_by_label_contains("'G' at position 5").is_some(),
        "hex error names the character and position"
    );
    click_send(&mut h);
    h.run_steps(2);
    assert!(h.state().tab().notice.is_none(), "nothing was sent");
}

/// The language switch turns the window Chinese, and Chinese glyphs render.
#[test]
fn switches_to_chinese() {
    let mut h = harness(blank_settings(Mode::TcpServer), no_persist());
    choose_language(&mut h, "简体中文");
    h.run_steps(2);
    assert!(h.query_by_label("开始监听").is_some());
    assert!(
        h.query_by(|n| n.label().is_some_and(|l| l.starts_with("发送\n→")))
            .is_some()
    );
}

/// The compare pane shows the newest received record read as GBK and as UTF-8: `你好` in
/// GBK, and the same four bytes as invalid escapes in UTF-8.
#[test]
fn compare_pane_reads_gbk_and_utf8() {
    let (mut h, mut peer) = connected_client(blank_settings(Mode::TcpClient));
    let mut bytes = gbk("你好");
    bytes.push(b'!');
    peer.write_all(&bytes).unwrap();
    step_until(&mut h, "RX record", |app| {
        app.store.iter().any(|r| r.kind == RecordKind::Rx)
    });
    h.get_by_label("Compare GBK / UTF-8").click();
    h.run_steps(2);
    assert!(
        h.query_by_label_contains("GBK: 你好!  (0 bytes invalid)")
            .is_some()
    );
    assert!(
        h.query_by_label_contains("UTF-8: \\xC4\\xE3\\xBA\\xC3!  (4 bytes invalid)")
            .is_some()
    );
}

/// In-memory eframe storage, so the test never touches the user's settings.
#[derive(Default)]
struct MemoryStorage(std::collections::HashMap<String, String>);

impl eframe::Storage for MemoryStorage {
    fn get_string(&self, key: &str) -> Option<String> {
        self.0.get(key).cloned()
    }
    fn set_string(&mut self, key: &str, value: String) {
        self.0.insert(key.to_string(), value);
    }
    fn remove_string(&mut self, key: &str) {
        self.0.remove(key);
    }
    fn flush(&mut self) {}
}

/// Settings changed in the window are saved through eframe's storage and read back equal.
#[test]
fn settings_persist() {
    let options = StartOptions::default(); // persistence on, but with our own storage
    let mut h = harness(blank_settings(Mode::TcpServer), options);
    h.get_by_label("UDP").click();
    h.run_steps(1);
    choose_language(&mut h, "简体中文");
    let spec = sockscope::automation::SendSpec {
        text: "AT+GMR\\r\\n".into(),
        ..Default::default()
    };
    h.state_mut()
        .tab_mut()
        .settings
        .compose
        .remember(spec.clone());
    let mut storage = MemoryStorage::default();
    eframe::App::save(h.state_mut(), &mut storage);
    let text = eframe::Storage::get_string(&storage, eframe::APP_KEY).unwrap();
    let restored = AppSettings::from_stored(&text).unwrap();
    assert_eq!(restored, h.state().stored_settings());
    assert_eq!(restored.tabs[0].connection.mode, Mode::Udp);
    assert_eq!(restored.lang, Lang::Zh);
    assert_eq!(restored.tabs[0].compose.history, vec![spec]);
}

/// The "Both" view lays a record out as a header line and hexdump rows of 16 bytes,
/// each row its own line in the virtualised list.
#[test]
fn both_view_shows_hexdump_rows() {
    let (mut h, mut peer) = connected_client(blank_settings(Mode::TcpClient));
    peer.write_all(b"0123456789abcdefGHIJKLMNOPQRSTUVwxyz")
        .unwrap();
    step_until(&mut h, "RX record", |app| {
        app.store
            .iter()
            .any(|r| r.kind == RecordKind::Rx && r.bytes.len() == 36)
    });
    h.get_by_label("Both").click();
    h.run_steps(2);
    assert!(h.query_by_label_contains("00000000  30 31 32 33").is_some());
    assert!(h.query_by_label_contains("|GHIJKLMNOPQRSTUV|").is_some());
    assert!(h.query_by_label_contains("00000020  77 78 79 7A").is_some());
}

/// UDP mode: a datagram from a loopback peer shows up with its source in the peers list,
/// and a send to the ticked peer reaches it.
#[test]
fn udp_peer_listed_and_answered() {
    let peer = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    peer.set_read_timeout(Some(WAIT)).unwrap();
    let start = StartSession::Udp {
        host: "127.0.0.1".into(),
        port: 0,
        peer: None,
    };
    // Viewed as UTF-8, these GBK bytes include valid but rare characters the bundled
    // font cannot draw: the row names them by code point (kittest would panic on a box).
    let mut h = started(start, blank_settings(Mode::Udp));
    step_until(&mut h, "bound", |app| {
        matches!(app.status, Status::Bound(_))
    });
    let Status::Bound(addr) = h.state().tab().status.clone() else {
        unreachable!()
    };
    peer.send_to(&gbk("信息已收到"), addr).unwrap();
    step_until(&mut h, "peer listed", |app| app.clients.len() == 1);
    assert!(h.query_by_label_contains("\\u{3E2}").is_some());
    assert!(h.query_by_label_contains("UDP peers (1)").is_some());
    let peer_addr = peer.local_addr().unwrap();
    h.get_by_label(&peer_addr.to_string()).click();
    h.run_steps(1);
    fill(&mut h, "Data to send", "ok");
    click_send(&mut h);
    h.run_steps(1);
    let mut buf = [0u8; 16];
    let (n, from) = peer.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"ok");
    assert_eq!(from, addr);
}

/// Record from the window: choose a path and format, record a session with a loopback
/// client, stop, and the file holds exactly what the client sent; on Linux, a path on a
/// full disk (/dev/full) says why the recording stopped while the session keeps running.
#[test]
fn records_from_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("capture.bin");
    let (mut h, addr) = listening_server();
    fill(&mut h, "Log file", path.to_str().unwrap());
    h.get_by_label("Format").click();
    h.run_steps(2);
    h.get_by_label("raw").click();
    h.run_steps(2);
    h.get_by_label("Record").click();
    h.run_steps(2);
    assert!(h.state().tab().recording(), "{:?}", h.state().tab().log);
    let mut client = TcpStream::connect(addr).unwrap();
    let sent: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    client.write_all(&sent).unwrap();
    step_until(&mut h, "all bytes", |app| {
        app.store.stats.total.rx_bytes == sent.len() as u64
    });
    h.get_by_label("Stop recording").click();
    h.run_steps(1);
    step_until(&mut h, "recording finished", |app| !app.recording());
    assert_eq!(std::fs::read(&path).unwrap(), sent);
    assert!(h.query_by_label_contains("Recording finished:").is_some());

    // A full disk stops the recording with a message; the session goes on. Linux only:
    // /dev/full exists nowhere else. The recorder's write-failure path itself is the same
    // code on every system; tests/recorder.rs (disk_full_stops_recording_but_not_the_session)
    // covers it below the window, and unwritable_path_fails_at_start covers a failing
    // path on every system.
    #[cfg(target_os = "linux")]
    {
        fill(&mut h, "Log file", "/dev/full");
        h.get_by_label("Format").click();
        h.run_steps(2);
        h.get_by_label("text").click();
        h.run_steps(2);
        h.get_by_label("Record").click();
        h.run_steps(2);
        client.write_all(&vec![b'x'; 4 << 20]).unwrap();
        step_until(&mut h, "recording error", |app| {
            app.log
                .recorder
                .as_ref()
                .is_some_and(|r| r.status().error.is_some())
        });
        assert!(h.query_by_label_contains("Recording stopped").is_some());
        client.write_all(b"still here").unwrap();
        step_until(&mut h, "session still running", |app| {
            app.store.iter().any(|r| r.bytes.ends_with(b"still here"))
        });
        assert!(matches!(h.state().tab().status, Status::Listening(_)));
    }
    drop(client);
}

/// A quick command made through the window (compose text saved under a name) is sent
/// with one click, reaches the peer with its variables expanded, and shows as a TX record.
#[test]
fn quick_command_from_the_window() {
    let (mut h, mut peer) = connected_client(blank_settings(Mode::TcpClient));
    step_until(&mut h, "connected", |app| {
        matches!(app.status, Status::Connected { .. })
    });
    fill(&mut h, "Data to send", "AT+N={counter}\\r\\n");
    h.get_by_label("Quick commands").click();
    h.run_steps(2);
    fill(&mut h, "Name", "version");
    h.get_by_label("Save compose box as command").click();
    h.run_steps(2);
    h.get_by_label("▶ version").click();
    h.run_steps(1);
    h.get_by_label("▶ version").click();
    h.run_steps(1);
    assert_eq!(read_exact_timeout(&mut peer, 16), b"AT+N=1\r\nAT+N=2\r\n");
    step_until(&mut h, "TX records", |app| {
        app.store
            .iter()
            .filter(|r| r.kind == RecordKind::Tx)
            .count()
            == 2
    });
    assert!(h.query_by_label_contains("AT+N=2\\r\\n").is_some());
}

/// Turning on echo in the auto-reply tab makes the server answer a client's bytes by
/// itself, and the reply appears as a TX record.
#[test]
fn echo_rule_from_the_window() {
    let (mut h, addr) = listening_server();
    h.get_by_label("Auto-reply").click();
    h.run_steps(2);
    h.get_by_label("Echo everything").click();
    h.run_steps(1);
    h.get_by_label("Auto-reply on").click();
    h.run_steps(1);
    let mut client = TcpStream::connect(addr).unwrap();
    client.write_all(b"ping 42").unwrap();
    assert_eq!(read_exact_timeout(&mut client, 7), b"ping 42");
    step_until(&mut h, "echo record", |app| {
        app.store
            .iter()
            .any(|r| r.kind == RecordKind::Tx && &*r.bytes == b"ping 42")
    });
}

/// Steps the harness until `done` holds for the whole app.
fn step_app_until(
    harness: &mut Harness<'_, SockscopeApp>,
    what: &str,
    mut done: impl FnMut(&SockscopeApp) -> bool,
) {
    let deadline = Instant::now() + WAIT;
    while !done(harness.state()) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        harness.step();
        std::thread::sleep(Duration::from_millis(5));
    }
    harness.step();
}

/// A server tab and a client tab in one window talk to each other over loopback: text
/// typed in one appears in the other, both record, closing the client tab stops its
/// session and its log holds the close, and the saved settings bring both tabs back,
/// stopped.
#[test]
fn two_tabs_talk_record_close_and_restore() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let start = StartSession::Server {
        host: "127.0.0.1".into(),
        port: 0,
    };
    let mut h = started(start, blank_settings(Mode::TcpServer));
    step_until(&mut h, "listening", |tab| {
        matches!(tab.status, Status::Listening(_))
    });
    let Status::Listening(addr) = h.state().tab().status.clone() else {
        unreachable!()
    };
    let server_log = dir.join("server.txt");
    fill(&mut h, "Log file", server_log.to_str().unwrap());
    h.get_by_label("Record").click();
    h.run_steps(2);

    // "+" opens a second tab, stopped, in front.
    h.get_by_label("+").click();
    h.run_steps(2);
    assert_eq!(h.state().tabs.len(), 2);
    assert_eq!(h.state().active, 1);
    assert_eq!(h.state().tab().status, Status::Idle);
    h.get_by_label("TCP client").click();
    h.run_steps(1);
    fill(&mut h, "Remote host", "127.0.0.1");
    fill(&mut h, "Remote port", &addr.port().to_string());
    let client_log = dir.join("client.txt");
    fill(&mut h, "Log file", client_log.to_str().unwrap());
    h.get_by_label("Record").click();
    h.run_steps(2);
    h.get_by_label("Connect").click();
    step_until(&mut h, "connected", |tab| {
        matches!(tab.status, Status::Connected { .. })
    });
    fill(&mut h, "Data to send", "from the client tab");
    click_send(&mut h);
    // The server tab, in the background, receives it and marks the tab.
    step_app_until(&mut h, "server receives", |app| {
        app.tabs[0]
            .store
            .iter()
            .any(|r| r.kind == RecordKind::Rx && &*r.bytes == b"from the client tab")
    });
    assert!(
        h.state().tabs[0].unseen > 0,
        "background activity is counted"
    );

    // Switch to the server tab and answer.
    let server_title = h.state().tabs[0].title(Lang::En);
    h.get_by_label(&format!("{server_title} +{}", h.state().tabs[0].unseen))
        .click();
    h.run_steps(2);
    assert_eq!(h.state().active, 0);
    assert_eq!(h.state().tabs[0].unseen, 0);
    fill(&mut h, "Data to send", "from the server tab");
    click_send(&mut h);
    step_app_until(&mut h, "client receives", |app| {
        app.tabs[1]
            .store
            .iter()
            .any(|r| r.kind == RecordKind::Rx && &*r.bytes == b"from the server tab")
    });

    // What persists now: both tabs.
    let saved = h.state().stored_settings();
    assert_eq!(saved.tabs.len(), 2);

    // Close the client tab (bring it to the front, Ctrl+W): its session stops, its log is
    // finished and holds the close.
    let client_title = h.state().tabs[1].title(Lang::En);
    h.get_by_label_contains(&client_title).click();
    h.run_steps(2);
    assert_eq!(h.state().active, 1);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::W);
    h.run_steps(1);
    assert_eq!(h.state().active, 0);
    assert_eq!(h.state().tabs.len(), 1);
    step_app_until(&mut h, "closed tab finished", |app| app.closing_tabs() == 0);
    step_until(&mut h, "server sees the close", |tab| {
        tab.clients.is_empty()
    });
    let client_text = std::fs::read_to_string(&client_log).unwrap();
    assert!(client_text.contains("from the client tab"), "{client_text}");
    assert!(client_text.contains("from the server tab"), "{client_text}");
    assert!(client_text.contains("closed"), "{client_text}");
    h.get_by_label("Stop recording").click();
    step_until(&mut h, "server log finished", |tab| !tab.recording());
    let server_text = std::fs::read_to_string(&server_log).unwrap();
    assert!(server_text.contains("from the client tab"), "{server_text}");

    // A restart from the saved settings brings both tabs back, stopped.
    let text = ron::to_string(&saved).unwrap();
    let restored = AppSettings::from_stored(&text).unwrap();
    let r = harness(restored, no_persist());
    assert_eq!(r.state().tabs.len(), 2);
    assert_eq!(r.state().tabs[1].settings.connection.mode, Mode::TcpClient);
    assert!(
        r.state()
            .tabs
            .iter()
            .all(|t| t.status == Status::Idle && t.session.is_none())
    );
}

/// `sockscope server 127.0.0.1:P client 127.0.0.1:P` opens two tabs, and the client is
/// connected to the server in the same process.
#[test]
fn command_line_opens_connected_tabs() {
    let port = {
        let probe = TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let addr = format!("127.0.0.1:{port}");
    let Parsed::Run(options) = parse_args([
        "server",
        addr.as_str(),
        "client",
        addr.as_str(),
        "--encoding",
        "gbk",
        "--no-persist",
    ])
    .unwrap() else {
        panic!("expected options")
    };
    let mut h = harness(AppSettings::single(Lang::En, Mode::TcpServer), options);
    assert_eq!(h.state().tabs.len(), 2);
    step_app_until(&mut h, "client connected to server", |app| {
        matches!(app.tabs[1].status, Status::Connected { .. }) && app.tabs[0].clients.len() == 1
    });
    assert_eq!(
        h.state().tabs[1].store.encoding(),
        sockscope::codec::text::TextEncoding::Gbk
    );
    assert!(h.query_by_label_contains("Client 127.0.0.1").is_some());
}

/// Every sender (Send button, quick command, repeat) sends a UDP "selected" send to
/// every ticked peer, one datagram each.
#[test]
fn udp_selected_target_is_the_same_for_every_sender() {
    let peers: Vec<std::net::UdpSocket> = (0..3)
        .map(|_| {
            let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            s.set_read_timeout(Some(WAIT)).unwrap();
            s
        })
        .collect();
    let start = StartSession::Udp {
        host: "127.0.0.1".into(),
        port: 0,
        peer: None,
    };
    let mut h = started(start, blank_settings(Mode::Udp));
    step_until(&mut h, "bound", |tab| {
        matches!(tab.status, Status::Bound(_))
    });
    let Status::Bound(addr) = h.state().tab().status.clone() else {
        unreachable!()
    };
    for peer in &peers {
        peer.send_to(b"hi", addr).unwrap();
    }
    step_until(&mut h, "three peers", |tab| tab.clients.len() == 3);
    // Tick the first two.
    for peer in &peers[..2] {
        h.get_by_label(&peer.local_addr().unwrap().to_string())
            .click();
    }
    h.run_steps(1);
    let expect = |peers: &[std::net::UdpSocket], what: &[u8]| {
        for peer in &peers[..2] {
            let mut buf = [0u8; 64];
            let (n, _) = peer.recv_from(&mut buf).unwrap();
            assert_eq!(&buf[..n], what);
        }
        peers[2]
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut buf = [0u8; 64];
        assert!(
            peers[2].recv_from(&mut buf).is_err(),
            "the unticked peer got {what:?}"
        );
        peers[2].set_read_timeout(Some(WAIT)).unwrap();
    };
    fill(&mut h, "Data to send", "button");
    click_send(&mut h);
    h.run_steps(1);
    expect(&peers, b"button");

    // A quick command saved from the box goes to the same two peers.
    fill(&mut h, "Data to send", "quick");
    h.get_by_label("Quick commands").click();
    h.run_steps(2);
    fill(&mut h, "Name", "q");
    h.get_by_label("Save compose box as command").click();
    h.run_steps(2);
    h.get_by_label("▶ q").click();
    h.run_steps(1);
    expect(&peers, b"quick");

    // A repeat of one send, too.
    fill(&mut h, "Data to send", "repeat");
    fill(&mut h, "times", "1");
    fill(&mut h, "Repeat every (ms)", "10");
    h.get_by_label("Start repeat").click();
    h.run_steps(1);
    expect(&peers, b"repeat");
}

/// Switching the view's encoding re-renders what was received and is what persists:
/// one owner, the store and the settings changed together.
#[test]
fn encoding_switch_rerenders_and_persists() {
    let (mut h, mut peer) = connected_client(blank_settings(Mode::TcpClient));
    peer.write_all(&gbk("你好")).unwrap();
    step_until(&mut h, "RX record", |tab| {
        tab.store.iter().any(|r| r.kind == RecordKind::Rx)
    });
    h.get_by_label("Encoding").click();
    h.run_steps(2);
    h.get_by_label("GBK").click();
    h.run_steps(2);
    let gbk_enc = sockscope::codec::text::TextEncoding::Gbk;
    assert_eq!(h.state().tab().store.encoding(), gbk_enc);
    assert_eq!(h.state().stored_settings().tabs[0].view.encoding, gbk_enc);
    assert!(h.query_by_label_contains("你好").is_some());
}

/// Switching a full view to GBK does not decode it all in one frame: the status bar
/// says "re-decoding N%" while it goes on, the newest rows read right at once, and at
/// the end the error count is the one of the whole stream (one 0xFF per line).
#[test]
fn encoding_switch_over_a_full_view_shows_progress() {
    let (mut h, mut peer) = connected_client(blank_settings(Mode::TcpClient));
    let line = gbk("温度=21.5 状态=正常\r\n");
    let mut stream = Vec::new();
    let mut lines = 0u64;
    while stream.len() < 4 << 20 {
        stream.extend_from_slice(&line);
        stream.push(0xFF);
        lines += 1;
    }
    let total = stream.len() as u64;
    peer.write_all(&stream).unwrap();
    step_until(&mut h, "4 MiB received", |tab| {
        tab.store.stats.total.rx_bytes >= total
    });
    h.get_by_label("Encoding").click();
    h.run_steps(2);
    h.get_by_label("GBK").click();
    h.run_steps(2);
    assert!(
        h.query_by_label_contains("re-decoding").is_some(),
        "no progress shown"
    );
    assert!(h.query_all_by_label_contains("状态=正常").next().is_some());
    step_until(&mut h, "re-decoding done", |tab| {
        tab.store.redecoding().is_none()
    });
    assert_eq!(h.state().tab().store.decode_errors(), lines);
    h.run_steps(2);
    assert!(h.query_by_label_contains("re-decoding").is_none());
    // The view's budget shows the room kept for arriving data (a quarter of the 64 MiB
    // at first; more while a flood needs it).
    let reserve = h.state().tab().store.reserve();
    assert!(reserve >= 16 << 20, "{reserve}");
    let shown = format!(
        "+ {} / 64.0 MiB",
        sockscope::session::stats::human_bytes(reserve as f64)
    );
    assert!(
        h.query_by_label_contains(&shown).is_some(),
        "view memory does not show the reserve ({shown})"
    );
}

/// A flood grows the window's queue (the store makes room first, so what is held and
/// what may be queued never pass the view's 64 MiB), every byte still arrives, and a
/// calm second gives the room back to the store.
#[test]
fn a_flood_grows_the_window_queue_within_the_view_budget() {
    let (mut h, mut peer) = connected_client(blank_settings(Mode::TcpClient));
    let total: u64 = 96 << 20;
    let writer = std::thread::spawn(move || {
        let chunk = vec![b'x'; 1 << 20];
        for _ in 0..(total >> 20) {
            peer.write_all(&chunk).unwrap();
        }
        peer
    });
    let cap = 64usize << 20;
    let mut most = 0;
    let deadline = Instant::now() + WAIT;
    while h.state().tab().store.stats.total.rx_bytes < total {
        assert!(Instant::now() < deadline, "timed out waiting for the flood");
        // Frames far apart, as a window drawing slowly: the queue fills between them
        // (up to 3/4 of its bound, or until the flood's tail is in).
        let tab = h.state().tab();
        let full = tab.store.reserve() / 4 * 3;
        let pause = Instant::now() + Duration::from_secs(2);
        while tab.queued_bytes() < full
            && tab.store.stats.total.rx_bytes + (tab.queued_bytes() as u64) < total
            && Instant::now() < pause
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        h.step();
        let store = &h.state().tab().store;
        most = most.max(store.reserve());
        assert!(
            store.len() <= 1 || store.held_bytes() + store.reserve() <= cap,
            "held {} + reserve {} over the cap",
            store.held_bytes(),
            store.reserve()
        );
    }
    let _peer = writer.join().unwrap();
    assert!(most > 16 << 20, "the queue never grew: {most}");
    assert_eq!(h.state().tab().store.stats.total.rx_bytes, total);
    // Calm: halved once a second, back to a quarter of the view.
    let deadline = Instant::now() + WAIT;
    let slack = h.state().tab().store.slack();
    assert_eq!(slack, 8 << 20, "an eighth of the view for the allocator");
    while h.state().tab().store.reserve() > (16 << 20) + slack {
        assert!(Instant::now() < deadline, "the queue did not shrink back");
        std::thread::sleep(Duration::from_millis(50));
        h.step();
    }
}

/// Framing by fixed length, chosen in the window, with a CRC-16/MODBUS check: a good
/// Modbus frame is tagged "CRC ok", a corrupted one "CRC bad", however the bytes arrive.
#[test]
fn fixed_length_frames_are_crc_checked() {
    let (mut h, mut peer) = connected_client(blank_settings(Mode::TcpClient));
    h.get_by_label("Framing").click();
    h.run_steps(2);
    h.get_by_label("Fixed length").click();
    h.run_steps(2);
    // The menu stays open for the parameters and the check.
    h.get_by_label("CRC-16/MODBUS").click();
    h.run_steps(2);
    let tab = &h.state().tab().settings.view;
    assert_eq!(tab.framing, sockscope::ui::Framing::Fixed { len: 8 });
    // A read request for 10 registers, then the same with its last CRC byte wrong; the
    // stream is cut mid-frame.
    let good = [0x01, 0x03, 0x00, 0x00, 0x00, 0x0A, 0xC5, 0xCD];
    let mut bad = good;
    bad[7] ^= 0xFF;
    let stream: Vec<u8> = good.iter().chain(bad.iter()).copied().collect();
    peer.write_all(&stream[..5]).unwrap();
    peer.flush().unwrap();
    std::thread::sleep(Duration::from_millis(50));
    peer.write_all(&stream[5..]).unwrap();
    step_until(&mut h, "two frames", |tab| {
        tab.store
            .iter()
            .filter(|r| r.kind == RecordKind::Rx)
            .count()
            == 2
    });
    let verdicts: Vec<Option<bool>> = h
        .state()
        .tab()
        .store
        .iter()
        .filter(|r| r.kind == RecordKind::Rx)
        .map(|r| r.crc_ok())
        .collect();
    assert_eq!(verdicts, vec![Some(true), Some(false)]);
    h.run_steps(2);
    assert!(h.query_by_label_contains("CRC ok").is_some());
    assert!(h.query_by_label_contains("CRC bad").is_some());
}

/// Every panel rendered in 简体中文 (each mode, each side tab, the rule and command
/// editors, Advanced, the framing parameters, the compare pane) shows no English word.
#[test]
fn chinese_window_has_no_english_words() {
    let mut settings = blank_settings(Mode::TcpServer);
    settings.lang = Lang::Zh;
    let mut h = harness(settings, no_persist());
    let mut found = Vec::new();
    let mut look = |h: &mut Harness<'_, SockscopeApp>, what: &str| {
        h.run_steps(2);
        for word in english_words(h) {
            found.push(format!("{what}: {word}"));
        }
    };
    h.get_by_label("高级选项 …").click();
    look(&mut h, "server, advanced");
    h.get_by_label("发送文件 …").click();
    look(&mut h, "file menu");
    h.get_by_label("快捷指令").click();
    h.run_steps(2);
    fill(&mut h, "待发送数据", "你好");
    h.get_by_label("将发送框保存为快捷指令").click();
    h.run_steps(2);
    h.run_steps(2);
    h.get_by_label("编辑").click();
    look(&mut h, "quick commands");
    h.get_by_label("自动回复").click();
    h.run_steps(2);
    h.get_by_label("添加规则").click();
    look(&mut h, "auto-reply");
    h.get_by_label("UDP").click();
    look(&mut h, "udp");
    h.get_by_label("TCP 客户端").click();
    look(&mut h, "client");
    h.get_by_label("分帧").click();
    h.run_steps(2);
    h.get_by_label("长度前缀").click();
    h.get_by_label("两者").click();
    h.get_by_label("对比 GBK / UTF-8").click();
    look(&mut h, "framing, compare");
    assert!(
        found.is_empty(),
        "English in the Chinese window: {found:#?}"
    );
}

/// Every English-looking word (three or more ASCII letters) the window exposes through
/// AccessKit: labels, values, descriptions and placeholders. Protocol, encoding, format
/// and syntax names are allowed.
pub(crate) fn english_words(h: &Harness<'_, SockscopeApp>) -> Vec<String> {
    const ALLOWED: &[&str] = &[
        "Sockscope",
        "sockscope",
        "TCP",
        "UDP",
        "GBK",
        "UTF",
        "CRC",
        // The IP header field (multicast TTL), named so in Chinese tools too.
        "TTL",
        "MODBUS",
        "CCITT",
        "FALSE",
        "XOR",
        "sum",
        "hex",
        "Big",
        "Shift",
        "JIS",
        "EUC",
        "windows",
        "Windows",
        "ASCII",
        "CRLF",
        "KiB",
        "MiB",
        "GiB",
        "csv",
        "pcapng",
        "hexdump",
        "logs",
        "txt",
        "bin",
        "JSON",
        "xNN",
        "IPv",
        "counter",
        "time",
        "rand",
        "len",
        "Ctrl",
        "Enter",
        "localhost",
        // The word the close-on-exit preset matches, quoted as the peer must send it.
        "exit",
        // TLS names and the example values of its fields (ALPN `http/1.1`, `ca.pem`,
        // `cert.pem`, `key.pem`).
        "TLS",
        "SNI",
        "ALPN",
        "SHA",
        "PEM",
        "http",
        "pem",
        "cert",
        "key",
        "PKCS",
        "RSA",
        // The openssl command the pin field's tip quotes, as it must be typed.
        "openssl",
        "noout",
        "fingerprint",
        "sha",
    ];
    let mut words = Vec::new();
    for node in h.query_all_by(|_| true) {
        let n = node.accesskit_node();
        let texts = [
            n.label(),
            n.value(),
            n.description(),
            n.placeholder().map(str::to_string),
        ];
        // egui names its panel resize handles itself, in English, for screen readers only.
        for text in texts.into_iter().flatten().filter(|t| t != "Resize panel") {
            for word in text.split(|c: char| !c.is_ascii_alphabetic()) {
                if word.len() >= 3 && !ALLOWED.contains(&word) && !words.contains(&word.to_string())
                {
                    words.push(word.to_string());
                }
            }
        }
    }
    words
}

/// The UDP target has a name and shows where it sends: before anyone sent, "reply to
/// last sender" has nobody and Send says why it is disabled; after a datagram, Send says
/// "→ sender"; a fixed peer typed while the socket is open gets the next send.
#[test]
fn udp_target_is_named_and_editable_while_open() {
    let start = StartSession::Udp {
        host: "127.0.0.1".into(),
        port: 0,
        peer: None,
    };
    let mut h = started(start, blank_settings(Mode::Udp));
    step_until(&mut h, "bound", |tab| {
        matches!(tab.status, Status::Bound(_))
    });
    let Status::Bound(addr) = h.state().tab().status.clone() else {
        unreachable!()
    };
    fill(&mut h, "Data to send", "hello");
    assert!(
        h.query_by_label("Reply to last sender (nobody yet)")
            .is_some()
    );
    assert!(send_button(&h).accesskit_node().is_disabled());
    assert_eq!(
        h.state().tab().target(),
        Err(sockscope::ui::action::TargetError::NoSender)
    );

    let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sender.set_read_timeout(Some(WAIT)).unwrap();
    sender.send_to(b"hi", addr).unwrap();
    step_until(&mut h, "a sender", |tab| tab.last_sender.is_some());
    h.run_steps(1);
    let from = sender.local_addr().unwrap();
    assert!(
        h.query_by_label(&format!("Reply to last sender ({from})"))
            .is_some()
    );
    assert_eq!(
        send_button(&h).accesskit_node().label().as_deref(),
        Some(format!("Send\n→ {from}").as_str())
    );
    click_send(&mut h);
    let mut buf = [0u8; 16];
    let (n, _) = sender.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"hello");

    // A fixed peer, typed while the socket is open.
    let fixed = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    fixed.set_read_timeout(Some(WAIT)).unwrap();
    let peer_field =
        |n: &egui_kittest::kittest::AccessKitNode<'_>| n.placeholder() == Some("192.168.1.50:9001");
    h.get_by(peer_field).focus();
    h.run_steps(1);
    h.get_by(peer_field)
        .type_text(&fixed.local_addr().unwrap().to_string());
    h.run_steps(2);
    assert_eq!(
        h.state().tab().settings.connection.udp_target,
        sockscope::ui::settings::UdpTarget::FixedPeer
    );
    click_send(&mut h);
    let (n, _) = fixed.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"hello");
}

/// The log's format follows the extension typed (a .pcapng path records pcapng), and an
/// existing file is never overwritten without asking: "Write as …-2" keeps it whole.
#[test]
fn log_format_from_extension_and_no_silent_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let (mut h, addr) = listening_server();
    let pcap = dir.path().join("mylog.pcapng");
    fill(&mut h, "Log file", pcap.to_str().unwrap());
    assert_eq!(
        h.state().tab().settings.log.format,
        sockscope::session::recorder::LogFormat::Pcapng
    );
    h.get_by_label("Record").click();
    h.run_steps(2);
    let mut client = TcpStream::connect(addr).unwrap();
    client.write_all(b"abc").unwrap();
    step_until(&mut h, "rx", |tab| tab.store.stats.total.rx_bytes == 3);
    h.get_by_label("Stop recording").click();
    step_until(&mut h, "finished", |tab| !tab.recording());
    let bytes = std::fs::read(&pcap).unwrap();
    assert_eq!(
        &bytes[..4],
        &[0x0A, 0x0D, 0x0D, 0x0A],
        "a pcapng section header"
    );

    // The same path again: the window asks.
    h.get_by_label("Record").click();
    h.run_steps(2);
    assert!(
        h.state().tab().log.confirm.is_some(),
        "{:?}",
        h.state().tab().log
    );
    h.run_steps(2);
    assert!(h.query_by_label("This file exists").is_some());
    assert!(!h.state().tab().recording());
    h.get_by_label("Write as mylog-2.pcapng").click();
    h.run_steps(2);
    assert!(h.state().tab().recording());
    client.write_all(b"def").unwrap();
    step_until(&mut h, "rx", |tab| tab.store.stats.total.rx_bytes == 6);
    h.get_by_label("Stop recording").click();
    step_until(&mut h, "finished", |tab| !tab.recording());
    assert_eq!(
        std::fs::read(&pcap).unwrap(),
        bytes,
        "the first file is untouched"
    );
    assert!(dir.path().join("mylog-2.pcapng").is_file());

    // Save log… writes the view to the typed path too, asking before it overwrites.
    fill(
        &mut h,
        "Log file",
        dir.path().join("view.txt").to_str().unwrap(),
    );
    h.get_by_label("Save log…").click();
    step_until(&mut h, "saved", |tab| {
        tab.notice.as_ref().is_some_and(|n| n.ok)
    });
    let saved = std::fs::read_to_string(dir.path().join("view.txt")).unwrap();
    assert!(saved.contains("def"), "{saved}");
    h.get_by_label("Save log…").click();
    h.run_steps(2);
    h.get_by_label("Overwrite").click();
    step_until(&mut h, "saved again", |tab| tab.log.confirm.is_none());
}

/// Switching the compose box between text and hex converts what it holds, in the send
/// encoding (which follows the view's GBK); a history entry brings back its own mode.
#[test]
fn compose_converts_and_follows_the_view() {
    let (mut h, mut peer) = connected_client(blank_settings(Mode::TcpClient));
    h.get_by_label("Encoding").click();
    h.run_steps(2);
    h.get_by_label("GBK").click();
    h.run_steps(2);
    let gbk_enc = sockscope::codec::text::TextEncoding::Gbk;
    assert_eq!(h.state().tab().settings.compose.spec.encoding, gbk_enc);

    fill(&mut h, "Data to send", "你好\\r\\n");
    click_send(&mut h);
    assert_eq!(read_exact_timeout(&mut peer, 6), gbk("你好\r\n"));

    h.get_by_label("as hex").click();
    h.run_steps(2);
    let spec = &h.state().tab().settings.compose.spec;
    assert!(spec.hex);
    assert_eq!(spec.text, "C4 E3 BA C3 0D 0A");
    fill(&mut h, "Data to send", "01 02");
    click_send(&mut h);
    assert_eq!(read_exact_timeout(&mut peer, 2), [1, 2]);
    h.get_by_label("as text").click();
    h.run_steps(2);
    assert_eq!(h.state().tab().settings.compose.spec.text, "\\x01\\x02");

    // History: the text entry comes back as text, the hex one as hex.
    h.get_by_label("History").click();
    h.run_steps(2);
    h.get_by_label("[hex] 01 02").click();
    h.run_steps(2);
    let spec = &h.state().tab().settings.compose.spec;
    assert!(spec.hex);
    assert_eq!(spec.text, "01 02");
    h.get_by_label("History").click();
    h.run_steps(2);
    h.get_by_label("[GBK] 你好\\r\\n").click();
    h.run_steps(2);
    let spec = &h.state().tab().settings.compose.spec;
    assert!(!spec.hex);
    assert_eq!(spec.encoding, gbk_enc);
}

/// A server on port 0 writes the port it got into the field, and listens on the same
/// port again after Stop → Listen.
#[test]
fn bound_port_is_shown_and_kept() {
    let (mut h, addr) = listening_server();
    assert_eq!(
        h.state().tab().settings.connection.server_port,
        addr.port().to_string()
    );
    assert!(
        h.query_all_by_value(&addr.port().to_string())
            .next()
            .is_some()
    );
    h.get_by_label("Stop").click();
    step_until(&mut h, "stopped", |tab| !tab.running());
    h.get_by_label("Listen").click();
    step_until(&mut h, "listening again", |tab| {
        matches!(tab.status, Status::Listening(_))
    });
    assert_eq!(h.state().tab().status, Status::Listening(addr));
}

/// The compare pane says in words which reading is valid and why, and its button views
/// the record as GBK; the status bar hints at GBK at the decode-error count.
#[test]
fn compare_verdict_and_gbk_hint() {
    let (mut h, mut peer) = connected_client(blank_settings(Mode::TcpClient));
    peer.write_all(&gbk("你好")).unwrap();
    step_until(&mut h, "RX record", |app| {
        app.store.iter().any(|r| r.kind == RecordKind::Rx)
    });
    assert!(h.query_by_label("Looks like GBK?").is_some());
    h.get_by_label("Compare GBK / UTF-8").click();
    h.run_steps(2);
    assert!(
        h.query_by_label_contains("Valid GBK; 4 bytes invalid as UTF-8")
            .is_some()
    );
    h.get_by_label("View as GBK").click();
    h.run_steps(2);
    assert_eq!(
        h.state().tab().store.encoding(),
        sockscope::codec::text::TextEncoding::Gbk
    );
}

/// At 1024×700, in every mode, the receive list shows at least 15 records (text view)
/// with the compose panel, the status bar and the message strip all in place.
#[test]
fn fifteen_records_visible_at_1024x700() {
    let small = |settings: AppSettings, start: StartSession| {
        let options = StartOptions {
            tabs: vec![StartTab::new(start)],
            ..no_persist()
        };
        Harness::builder()
            .with_size(egui::vec2(1024.0, 700.0))
            .build_eframe(move |cc| {
                SockscopeApp::with_settings(cc.egui_ctx.clone(), settings, options)
            })
    };
    let visible_rx = |h: &Harness<'_, SockscopeApp>| {
        h.query_all(egui_kittest::kittest::By::new().predicate(|n| {
            n.role() == egui::accesskit::Role::Button
                && n.label().is_some_and(|l| {
                    l.contains("RX") && (l.contains("line ") || l.contains("datagram "))
                })
        }))
        .count()
    };
    let lines: Vec<u8> = (0..40)
        .flat_map(|i| format!("line {i}\n").into_bytes())
        .collect();

    // Server: one client sends 40 lines, framed as lines.
    let mut settings = blank_settings(Mode::TcpServer);
    settings.tabs[0].view.framing = sockscope::ui::Framing::Line;
    let start = StartSession::Server {
        host: "127.0.0.1".into(),
        port: 0,
    };
    let mut h = small(settings.clone(), start);
    step_until(&mut h, "listening", |tab| {
        matches!(tab.status, Status::Listening(_))
    });
    let Status::Listening(addr) = h.state().tab().status.clone() else {
        unreachable!()
    };
    let mut client = TcpStream::connect(addr).unwrap();
    client.write_all(&lines).unwrap();
    step_until(&mut h, "40 records", |tab| {
        tab.store
            .iter()
            .filter(|r| r.kind == RecordKind::Rx)
            .count()
            == 40
    });
    h.run_steps(3);
    assert!(visible_rx(&h) >= 15, "server: {} rows", visible_rx(&h));

    // Client: the server sends 40 lines.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut settings = blank_settings(Mode::TcpClient);
    settings.tabs[0].view.framing = sockscope::ui::Framing::Line;
    let start = StartSession::Client {
        host: "127.0.0.1".into(),
        port: listener.local_addr().unwrap().port(),
    };
    let mut h = small(settings, start);
    let (mut peer, _) = listener.accept().unwrap();
    peer.write_all(&lines).unwrap();
    step_until(&mut h, "40 records", |tab| {
        tab.store
            .iter()
            .filter(|r| r.kind == RecordKind::Rx)
            .count()
            == 40
    });
    h.run_steps(3);
    assert!(visible_rx(&h) >= 15, "client: {} rows", visible_rx(&h));

    // UDP: 40 datagrams (loopback may drop; the count waits for what arrived).
    let start = StartSession::Udp {
        host: "127.0.0.1".into(),
        port: 0,
        peer: None,
    };
    let mut h = small(blank_settings(Mode::Udp), start);
    step_until(&mut h, "bound", |tab| {
        matches!(tab.status, Status::Bound(_))
    });
    let Status::Bound(addr) = h.state().tab().status.clone() else {
        unreachable!()
    };
    let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for i in 0..40 {
        sender
            .send_to(format!("datagram {i}").as_bytes(), addr)
            .unwrap();
    }
    step_until(&mut h, "20 datagrams", |tab| {
        tab.store
            .iter()
            .filter(|r| r.kind == RecordKind::Rx)
            .count()
            >= 20
    });
    h.run_steps(3);
    assert!(visible_rx(&h) >= 15, "udp: {} rows", visible_rx(&h));
}

/// When the window goes away without its exit hook (a panic on the UI thread unwinds
/// through the app, or the app is dropped), the recording is still finished: everything
/// received is in the file and the session's stop is its last line.
#[test]
fn dropping_the_app_finishes_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dropped.txt");
    let (mut h, addr) = listening_server();
    fill(&mut h, "Log file", path.to_str().unwrap());
    h.get_by_label("Record").click();
    h.run_steps(2);
    let mut client = TcpStream::connect(addr).unwrap();
    client.write_all(b"before the crash").unwrap();
    step_until(&mut h, "rx", |tab| tab.store.stats.total.rx_bytes == 16);
    drop(h);
    let log = std::fs::read_to_string(&path).unwrap();
    assert!(log.contains("before the crash"), "{log}");
    let last = log.lines().last().unwrap_or_default();
    assert!(last.contains("session stopped"), "last line: {last}");
}

/// A plain first start (no stored settings, no command line) listens at once, on
/// 127.0.0.1 only, and the status line says how to open it to the network.
#[test]
fn plain_first_start_listens_on_loopback_only() {
    let options = StartOptions {
        auto_start: true,
        ..no_persist()
    };
    let mut h = Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .build_eframe(move |cc| SockscopeApp::new(cc, options));
    step_until(&mut h, "listening", |tab| {
        matches!(tab.status, Status::Listening(_))
    });
    let Status::Listening(addr) = h.state().tab().status.clone() else {
        unreachable!()
    };
    assert_eq!(addr.ip(), std::net::IpAddr::from([127, 0, 0, 1]));
    assert_ne!(addr.port(), 0);
    assert!(
        h.query_by_label_contains("to let other machines in, set the address to 0.0.0.0")
            .is_some()
    );
    // Nothing but loopback reaches it.
    assert!(TcpStream::connect(addr).is_ok());
}

/// A sweep of UDP source ports beyond what the peers list holds: the list stays at its
/// bound and an "Others" row sums the rest, so memory stays bounded and nothing is
/// uncounted.
#[test]
fn udp_peer_sweep_is_listed_up_to_a_bound_with_others() {
    let start = StartSession::Udp {
        host: "127.0.0.1".into(),
        port: 0,
        peer: None,
    };
    let mut h = started(start, blank_settings(Mode::Udp));
    step_until(&mut h, "bound", |tab| {
        matches!(tab.status, Status::Bound(_))
    });
    let Status::Bound(addr) = h.state().tab().status.clone() else {
        unreachable!()
    };
    let bound = sockscope::session::stats::MAX_PEER_STATS;
    let mut senders = Vec::new();
    for _ in 0..bound + 200 {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.send_to(b"x", addr).unwrap();
        senders.push(s);
        // Let the window drain now and then, as it would under a real sweep.
        if senders.len() % 500 == 0 {
            h.run_steps(1);
        }
    }
    // Loopback may drop a datagram under load: wait for what arrived to settle.
    let mut last = 0;
    let deadline = Instant::now() + WAIT;
    loop {
        h.run_steps(1);
        std::thread::sleep(Duration::from_millis(50));
        let now = h.state().tab().store.stats.total.rx_msgs;
        if now == (bound + 200) as u64 || (now == last && Instant::now() > deadline) {
            break;
        }
        assert!(Instant::now() < deadline + WAIT, "datagrams kept arriving");
        last = now;
    }
    let tab = h.state().tab();
    let arrived = tab.store.stats.total.rx_msgs;
    assert!(arrived > bound as u64, "only {arrived} datagrams arrived");
    assert!(tab.clients.len() <= bound);
    let others = tab.store.stats.others.expect("an others entry");
    let listed: u64 = tab
        .store
        .stats
        .per_peer
        .values()
        .map(|p| p.counters.rx_msgs)
        .sum();
    assert_eq!(listed + others.counters.rx_msgs, arrived);
    h.run_steps(2);
    assert!(h.query_by_label_contains("Others ·").is_some());
}

/// A fixed UDP peer given by name is looked up on a helper thread: the window keeps
/// drawing while it runs, and a name that does not exist says so (Send stays disabled).
#[test]
fn udp_peer_name_is_looked_up_off_the_ui_thread() {
    let start = StartSession::Udp {
        host: "127.0.0.1".into(),
        port: 0,
        peer: None,
    };
    let mut h = started(start, blank_settings(Mode::Udp));
    step_until(&mut h, "bound", |tab| {
        matches!(tab.status, Status::Bound(_))
    });
    h.state_mut().tab_mut().settings.connection.udp_target =
        sockscope::ui::settings::UdpTarget::FixedPeer;
    h.state_mut().tab_mut().settings.connection.udp_peer = "nosuch.invalid:9".into();
    fill(&mut h, "Data to send", "hello");
    step_until(&mut h, "the lookup's answer", |tab| {
        tab.target() == Err(sockscope::ui::action::TargetError::PeerNotFound)
    });
    assert!(send_button(&h).accesskit_node().is_disabled());
    assert!(
        h.query_by_label_contains("the name could not be looked up")
            .is_some()
    );
}

/// True once the view holds an info record containing `text`.
pub(crate) fn has_info(app: &SessionTab, text: &str) -> bool {
    app.store
        .iter()
        .any(|r| r.kind == RecordKind::Info && String::from_utf8_lossy(&r.bytes).contains(text))
}

/// From the Advanced panel of an open UDP socket: a unicast "group" is refused in words
/// beside the field; joining 239.255.78.2 on 127.0.0.1 lists the group as joined and
/// says so in the view ("joined … on 127.0.0.1"); a datagram sent to the group by
/// IP_MULTICAST_IF 127.0.0.1 arrives and (Linux) is counted for the group; Leave
/// leaves it.
#[cfg(target_os = "linux")]
#[test]
fn multicast_group_joined_and_left_from_advanced() {
    let start = StartSession::Udp {
        host: "0.0.0.0".into(),
        port: 0,
        peer: None,
    };
    let mut h = started(start, blank_settings(Mode::Udp));
    step_until(&mut h, "bound", |app| {
        matches!(app.status, Status::Bound(_))
    });
    let Status::Bound(local) = h.state().tab().status.clone() else {
        unreachable!()
    };
    h.get_by_label("Advanced …").click();
    h.run_steps(2);
    fill(&mut h, "Group", "10.0.0.1");
    assert!(
        h.query_by_label_contains("is not a multicast address")
            .is_some()
    );
    fill(&mut h, "Group", "239.255.78.2");
    fill(&mut h, "on interface", "127.0.0.1");
    h.get_by_label("Join").click();
    h.run_steps(1);
    step_until(&mut h, "joined record", |app| {
        has_info(app, "joined 239.255.78.2 on 127.0.0.1")
    });
    h.run_steps(2);
    assert!(h.query_by_label("239.255.78.2@127.0.0.1").is_some());
    assert!(h.query_by_label("joined").is_some());

    let sender = crate::util::loopback_multicast_sender();
    let group = SocketAddr::from(([239, 255, 78, 2], local.port()));
    sender.send_to(b"for the group", &group.into()).unwrap();
    step_until(&mut h, "group datagram", |app| {
        app.store
            .iter()
            .any(|r| r.kind == RecordKind::Rx && &*r.bytes == b"for the group")
    });
    // The row names the group the datagram was addressed to.
    h.run_steps(1);
    assert!(
        h.query_by_label_contains("→ 239.255.78.2[13]for the group")
            .is_some()
    );
    let deadline = Instant::now() + WAIT;
    while h
        .query_by_label_contains("1 datagrams for this group")
        .is_none()
    {
        assert!(Instant::now() < deadline, "group count not shown");
        h.run_steps(1);
    }
    h.get_by_label("Leave").click();
    h.run_steps(1);
    step_until(&mut h, "left record", |app| {
        has_info(app, "left 239.255.78.2 on 127.0.0.1")
    });
    assert_eq!(
        h.state().tab().settings.connection.udp_groups,
        ["239.255.78.2@127.0.0.1"]
    );
}

/// A TCP client with Reconnect on (set in Advanced) whose server goes away says
/// "reconnecting in 1 s (attempt 1)" in the status line and the view, connects again
/// by itself when the server is back on the same port, and the compose box sends on
/// the new connection; the recording started before the loss goes on and holds the mark.
#[test]
fn client_reconnects_and_marks_the_view() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut h = harness(blank_settings(Mode::TcpClient), no_persist());
    fill(&mut h, "Remote host", "127.0.0.1");
    fill(&mut h, "Remote port", &port.to_string());
    h.get_by_label("Advanced …").click();
    h.run_steps(2);
    h.get_by_label("Reconnect automatically").click();
    h.run_steps(2);
    fill(&mut h, "First delay (s)", "1");
    fill(&mut h, "Longest delay (s)", "4");
    assert!(h.query_by_label("Source port").is_some());
    assert!(h.query_by_label("Keepalive probe interval (s)").is_some());
    assert!(h.query_by_label("Keepalive probes before drop").is_some());
    // Close the popup, then connect.
    h.get_by_label("Remote host").click();
    h.run_steps(2);
    h.get_by_label("Connect").click();
    h.run_steps(1);
    let (peer, _) = listener.accept().unwrap();
    step_until(&mut h, "connected", |app| {
        matches!(app.status, Status::Connected { .. })
    });
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("reconnect.txt");
    fill(&mut h, "Log file", path.to_str().unwrap());
    h.get_by_label("Record").click();
    h.run_steps(2);
    assert!(h.state().tab().recording());
    drop(peer);
    drop(listener);
    step_until(&mut h, "reconnecting", |app| {
        matches!(app.status, Status::Reconnecting { .. })
    });
    step_until(&mut h, "reconnect mark", |app| {
        has_info(app, "reconnecting in 1 s (attempt 1)")
    });
    // The status line says it too.
    let shown = h
        .query_all_by(|n| n.label().is_some_and(|l| l.contains("reconnecting in")))
        .count();
    assert!(shown >= 1, "{shown}");
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    listener.set_nonblocking(false).unwrap();
    let (mut peer, _) = listener.accept().unwrap();
    step_until(&mut h, "connected again", |app| {
        matches!(app.status, Status::Connected { .. })
    });
    fill(&mut h, "Data to send", "after reconnect");
    click_send(&mut h);
    assert_eq!(read_exact_timeout(&mut peer, 15), b"after reconnect");
    step_until(&mut h, "TX record", |app| {
        app.store
            .iter()
            .any(|r| r.kind == RecordKind::Tx && &*r.bytes == b"after reconnect")
    });
    h.get_by_label("Stop recording").click();
    h.run_steps(1);
    step_until(&mut h, "recording finished", |app| !app.recording());
    let log = std::fs::read_to_string(&path).unwrap();
    assert!(log.contains("reconnecting in 1 s (attempt 1)"), "{log}");
    assert!(log.contains("after reconnect"), "{log}");
}

/// The `▼` beside the bind address lists 0.0.0.0, ::, 127.0.0.1, ::1 and, once the helper
/// thread has read them, this machine's interfaces by name (the loopback's 127.0.0.1
/// among them); picking an entry fills the field, which stays free text.
#[test]
fn bind_address_picker_lists_interfaces() {
    let mut settings = blank_settings(Mode::TcpServer);
    settings.tabs[0].connection.server_host = "127.0.0.1".into();
    let mut h = harness(settings, no_persist());
    h.run_steps(2);
    h.get_all_by_label("▼").next().unwrap().click();
    h.run_steps(2);
    assert!(h.query_by_label("0.0.0.0   every IPv4 address").is_some());
    assert!(h.query_by_label("::1   this machine only").is_some());
    let deadline = Instant::now() + WAIT;
    let named_loopback = |h: &Harness<'_, SockscopeApp>| {
        h.query_all_by(|n| {
            n.role() == egui::accesskit::Role::Button
                && n.label().is_some_and(|l| {
                    l.starts_with("127.0.0.1   ") && l != "127.0.0.1   this machine only"
                })
        })
        .count()
            > 0
    };
    while !named_loopback(&h) {
        assert!(Instant::now() < deadline, "no interface was listed");
        std::thread::sleep(Duration::from_millis(5));
        h.run_steps(1);
    }
    h.get_by_label("0.0.0.0   every IPv4 address").click();
    h.run_steps(2);
    assert_eq!(h.state().tab().settings.connection.server_host, "0.0.0.0");
}

/// The Advanced panels this release added (client: source address and port, reconnect,
/// keepalive interval and count; UDP: multicast options and the group list, a group
/// with its state) show no English word in the Chinese window.
#[test]
fn chinese_advanced_panels_have_no_english_words() {
    let mut settings = blank_settings(Mode::TcpClient);
    settings.lang = Lang::Zh;
    settings.tabs[0].connection.reconnect = true;
    settings.tabs[0].connection.udp_groups = vec!["239.255.79.1@127.0.0.1".into()];
    let mut h = harness(settings, no_persist());
    h.run_steps(2);
    h.get_by_label("高级选项 …").click();
    h.run_steps(2);
    assert!(h.query_by_label("自动重连").is_some());
    assert!(h.query_by_label("源端口").is_some());
    let mut found: Vec<String> = english_words(&h)
        .into_iter()
        .map(|w| format!("client: {w}"))
        .collect();
    h.get_by_label("UDP").click();
    h.run_steps(2);
    h.get_by_label("高级选项 …").click();
    h.run_steps(2);
    assert!(h.query_by_label("组播组").is_some());
    assert!(h.query_by_label("未加入").is_some());
    found.extend(english_words(&h).into_iter().map(|w| format!("udp: {w}")));
    assert!(
        found.is_empty(),
        "English in the Chinese window: {found:#?}"
    );
}

/// The app without a window (a plain `egui::Context`), its one tab a TCP server on a free
/// loopback port, and that port's address.
fn headless_server(settings: AppSettings) -> (egui::Context, SockscopeApp, SocketAddr) {
    let ctx = egui::Context::default();
    let options = StartOptions::one(StartSession::Server {
        host: "127.0.0.1".into(),
        port: 0,
    });
    let app = SockscopeApp::with_settings(ctx.clone(), settings, options);
    let addr = app
        .tab()
        .session
        .as_ref()
        .and_then(|s| s.local_addr())
        .expect("the server listens");
    (ctx, app, addr)
}

/// What arrives while a frame is being drawn is taken from the queue when the frame ends
/// (a second drain), not left there until the next frame: a flood's queue then needs to
/// hold only the time between frames, not a whole frame interval.
#[test]
fn events_that_arrive_during_a_frame_are_drained_when_it_ends() {
    let (ctx, mut app, addr) = headless_server(AppSettings::single(Lang::En, Mode::TcpServer));
    let mut peer = TcpStream::connect(addr).unwrap();
    let deadline = Instant::now() + WAIT;
    while app.tab().clients.is_empty() {
        assert!(Instant::now() < deadline, "the client never showed");
        app.tick(&ctx);
        std::thread::sleep(Duration::from_millis(5));
    }
    // The frame's own drain has run; the bytes come after it, before the drawing.
    app.tick(&ctx);
    peer.write_all(b"during the frame").unwrap();
    while app.tab().queued_bytes() < 16 {
        assert!(
            Instant::now() < deadline,
            "the bytes never reached the queue"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    let mut out = ctx.run_ui(egui::RawInput::default(), |ui| app.draw(ui));
    out.textures_delta.clear();
    assert_eq!(app.tab().queued_bytes(), 0);
    assert_eq!(app.tab().store.stats.total.rx_bytes, 16);
}

/// `len` bytes counting up in little-endian u32s: any stretch of it says where it came
/// from, so a view holding a gap or a reordering cannot match it.
fn counting_stream(len: usize) -> Vec<u8> {
    (0..len / 4)
        .flat_map(|i| (i as u32).to_le_bytes())
        .collect()
}

/// The received bytes a store holds, oldest first, joined.
fn held_rx(store: &sockscope::session::store::Store) -> Vec<u8> {
    store
        .iter()
        .filter(|r| r.kind == RecordKind::Rx)
        .flat_map(|r| r.bytes.iter().copied())
        .collect()
}

/// A flood into a small view while frames come at 60 per second: the queue sheds what
/// the view would evict anyway, and the view still ends up holding exactly the stream's
/// newest bytes, contiguous, with every byte counted.
#[test]
fn a_flood_into_a_small_view_keeps_its_newest_bytes_exactly() {
    const TOTAL: usize = 48 << 20;
    let stream = counting_stream(TOTAL);
    let mut settings = AppSettings::single(Lang::En, Mode::TcpServer);
    settings.view_cap_mib = 4;
    let (ctx, mut app, addr) = headless_server(settings);
    let sender = {
        let stream = stream.clone();
        std::thread::spawn(move || {
            let mut peer = TcpStream::connect(addr).unwrap();
            peer.write_all(&stream).unwrap();
        })
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while app.tab().store.stats.total.rx_bytes < TOTAL as u64 {
        assert!(Instant::now() < deadline, "the flood never arrived");
        app.tick(&ctx);
        let mut out = ctx.run_ui(egui::RawInput::default(), |ui| app.draw(ui));
        out.textures_delta.clear();
        std::thread::sleep(Duration::from_millis(16));
    }
    sender.join().unwrap();
    let store = &app.tab().store;
    assert!(
        store.shed_bytes() > 0,
        "a 48 MiB flood into a 4 MiB view sheds"
    );
    let held = held_rx(store);
    // The queue grows only as far as shedding needs (2 MiB of the 4), so the store
    // keeps 4 MiB less the queue and the allocator's eighth: 1.5 MiB, less its slots.
    assert!(
        held.len() >= 1 << 20 && held.len() <= 4 << 20,
        "{} held",
        held.len()
    );
    // Dropped from view: the shed reads and the evicted ones (plus the evicted
    // "listening" / "connected" lines).
    let rx_dropped = TOTAL as u64 - held.len() as u64;
    assert!(store.shed_bytes() <= rx_dropped && store.evicted_bytes() >= rx_dropped);
    assert_eq!(store.stats.total.rx_bytes, TOTAL as u64);
    assert!(
        held == stream[TOTAL - held.len()..],
        "the view holds the stream's last {} bytes",
        held.len()
    );
}

/// A paused view under a flood keeps one stretch of the stream, from where it was
/// paused: once a read does not fit, every later one is dropped from the view (a small
/// one that would still fit too), every byte is counted, and Resume shows new data again.
#[test]
fn a_paused_view_keeps_one_stretch_of_a_flood() {
    let mut settings = blank_settings(Mode::TcpClient);
    settings.view_cap_mib = 4;
    let (mut h, mut peer) = connected_client(settings);
    h.get_by_label("Pause").click();
    h.run_steps(2);
    assert!(h.query_by_label_contains("Resume").is_some());
    // Big and small writes, so that reads of very different sizes come.
    let stream = counting_stream(12 << 20);
    let writer = {
        let stream = stream.clone();
        std::thread::spawn(move || {
            for (n, piece) in stream.chunks(256 << 10).enumerate() {
                let (big, small) = piece.split_at(piece.len() - 64);
                peer.write_all(big).unwrap();
                if n % 4 == 0 {
                    std::thread::sleep(Duration::from_millis(2));
                }
                peer.write_all(small).unwrap();
            }
            peer
        })
    };
    let total = stream.len() as u64;
    step_until(&mut h, "the flood counted", |tab| {
        tab.store.stats.total.rx_bytes >= total
    });
    let mut peer = writer.join().unwrap();
    let store = &h.state().tab().store;
    let held = held_rx(store);
    assert!(!held.is_empty() && held.len() < stream.len());
    assert!(
        held == stream[..held.len()],
        "the paused view holds the stream's first {} bytes, with no gap",
        held.len()
    );
    assert_eq!(
        store.evicted_bytes(),
        total - held.len() as u64,
        "the rest is dropped from view"
    );
    h.get_by_label_contains("Resume").click();
    h.run_steps(2);
    peer.write_all(b"after the pause").unwrap();
    step_until(&mut h, "new data shown", |tab| {
        tab.store
            .iter()
            .last()
            .is_some_and(|r| &*r.bytes == b"after the pause")
    });
}
