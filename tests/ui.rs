//! The window driven through its labels with egui_kittest, against real loopback peers.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use sockscope::cli::{StartOptions, StartSession};
use sockscope::session::store::RecordKind;
use sockscope::ui::{Lang, Mode, Settings, SockscopeApp, Status};

/// Longest wait for anything in these tests.
const WAIT: Duration = Duration::from_secs(10);

/// Settings with empty endpoint fields, English, and persistence off.
fn blank_settings(mode: Mode) -> Settings {
    Settings {
        lang: Lang::En,
        mode,
        client_host: String::new(),
        client_port: String::new(),
        server_host: String::new(),
        server_port: String::new(),
        ..Settings::default()
    }
}

fn harness(settings: Settings, options: StartOptions) -> Harness<'static, SockscopeApp> {
    Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .build_eframe(move |cc| SockscopeApp::with_settings(cc.egui_ctx.clone(), settings, options))
}

fn no_persist() -> StartOptions {
    StartOptions {
        persist: false,
        ..StartOptions::default()
    }
}

/// A harness whose app opens `start` at once (persistence off).
fn started(start: StartSession, settings: Settings) -> Harness<'static, SockscopeApp> {
    let options = StartOptions {
        start: Some(start),
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
    let Status::Listening(addr) = h.state().status.clone() else {
        unreachable!()
    };
    (h, addr)
}

/// A harness whose TCP client connected to a loopback listener, and the accepted peer.
fn connected_client(settings: Settings) -> (Harness<'static, SockscopeApp>, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let start = StartSession::Client {
        host: "127.0.0.1".into(),
        port: listener.local_addr().unwrap().port(),
    };
    let h = started(start, settings);
    let (peer, _) = listener.accept().unwrap();
    (h, peer)
}

/// Steps the harness (draining engine events each frame) until `done` holds.
fn step_until(
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

/// Replaces the text of the input labelled `label`.
fn fill(harness: &mut Harness<'_, SockscopeApp>, label: &str, text: &str) {
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

fn read_exact_timeout(stream: &mut TcpStream, len: usize) -> Vec<u8> {
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
    h.get_by_label("Send").click();
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
    h.get_by_label("Send").click();
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
        .store
        .iter()
        .find(|r| r.kind == RecordKind::Rx)
        .unwrap()
        .text()
        .to_string();
    assert_eq!(garbled, "\\xC4\\xE3\\xBA\\xC3\n");
    assert!(h.query_by_label_contains("\\xC4\\xE3\\xBA\\xC3").is_some());
    assert!(h.query_by_label_contains("你好").is_none());
    assert_eq!(h.state().store.decode_errors(), 4);

    // Pick GBK in the receive view's encoding menu: the same record now reads 你好.
    h.get_by_label("Encoding").click();
    h.run_steps(2);
    h.get_by_label("GBK").click();
    h.run_steps(2);
    assert!(h.query_by_label_contains("你好").is_some());
    assert_eq!(h.state().store.decode_errors(), 0);

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

    // Tick the first client, choose "Selected clients", send.
    let first: SocketAddr = clients[0].local_addr().unwrap();
    h.get_by_label(&first.to_string()).click();
    h.get_by_label("Selected clients").click();
    h.run_steps(1);
    fill(&mut h, "Data to send", "only you");
    h.get_by_label("Send").click();
    h.run_steps(1);
    assert_eq!(read_exact_timeout(&mut clients[0], 8), b"only you");

    // Then to all.
    h.get_by_label("All clients").click();
    h.run_steps(1);
    fill(&mut h, "Data to send", "everyone");
    h.get_by_label("Send").click();
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
    settings.server_host = "127.0.0.1".into();
    let mut h = harness(settings, no_persist());
    fill(&mut h, "Local port", "70000");
    assert!(
        h.query_by_label_contains("Port must be a number from 0 to 65535")
            .is_some()
    );
    h.get_by_label("Listen").click();
    h.run_steps(2);
    assert_eq!(h.state().status, Status::Idle, "Listen is disabled");

    h.get_by_label("as hex").click();
    h.run_steps(1);
    fill(&mut h, "Data to send", "48 6G");
    assert!(
        h.query_by_label_contains("'G' at position 5").is_some(),
        "hex error names the character and position"
    );
    h.get_by_label("Send").click();
    h.run_steps(2);
    assert!(h.state().send.feedback.is_none(), "nothing was sent");
}

/// The language switch turns the window Chinese, and Chinese glyphs render.
#[test]
fn switches_to_chinese() {
    let mut h = harness(blank_settings(Mode::TcpServer), no_persist());
    h.get_by_label("Language").click();
    h.run_steps(2);
    h.get_by_label("简体中文").click();
    h.run_steps(2);
    assert!(h.query_by_label("开始监听").is_some());
    assert!(h.query_by_label("发送").is_some());
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
        h.query_by_label_contains("GBK: 你好!  (0 invalid)")
            .is_some()
    );
    assert!(
        h.query_by_label_contains("UTF-8: \\xC4\\xE3\\xBA\\xC3!  (4 invalid)")
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
    h.get_by_label("Language").click();
    h.run_steps(2);
    h.get_by_label("简体中文").click();
    h.run_steps(2);
    h.state_mut().settings.history.push("AT+GMR\\r\\n".into());
    let mut storage = MemoryStorage::default();
    eframe::App::save(h.state_mut(), &mut storage);
    let restored: Settings = eframe::get_value(&storage, eframe::APP_KEY).unwrap();
    assert_eq!(restored, h.state().settings);
    assert_eq!(restored.mode, Mode::Udp);
    assert_eq!(restored.lang, Lang::Zh);
    assert_eq!(restored.history, vec!["AT+GMR\\r\\n".to_string()]);
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
    let Status::Bound(addr) = h.state().status.clone() else {
        unreachable!()
    };
    peer.send_to(&gbk("信息已收到"), addr).unwrap();
    step_until(&mut h, "peer listed", |app| app.clients.len() == 1);
    assert!(h.query_by_label_contains("\\u{3E2}").is_some());
    assert!(h.query_by_label_contains("UDP peers (1)").is_some());
    let peer_addr = peer.local_addr().unwrap();
    h.get_by_label(&peer_addr.to_string()).click();
    h.get_by_label("Ticked peers").click();
    h.run_steps(1);
    fill(&mut h, "Data to send", "ok");
    h.get_by_label("Send").click();
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
    let dir = std::env::temp_dir().join(format!("sockscope-ui-log-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("capture.bin");
    let (mut h, addr) = listening_server();
    fill(&mut h, "Log file", path.to_str().unwrap());
    h.get_by_label("Format").click();
    h.run_steps(2);
    h.get_by_label("raw").click();
    h.run_steps(2);
    h.get_by_label("Record").click();
    h.run_steps(2);
    assert!(h.state().recording(), "{:?}", h.state().log);
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
        assert!(matches!(h.state().status, Status::Listening(_)));
    }
    drop(client);
    let _ = std::fs::remove_dir_all(&dir);
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
