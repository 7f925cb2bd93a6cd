//! Automation over real loopback sockets: periodic sends, a 300 MB file send with flat
//! memory, every auto-reply rule kind (also split across two TCP reads), a CRC reply, the
//! seed presets, and quick-command files. std sockets play the peers; every wait is
//! bounded.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use sockscope::automation::StopReason;
use sockscope::automation::file::{FileSendOptions, FileSender};
use sockscope::automation::periodic::{PeriodicConfig, PeriodicSender};
use sockscope::automation::quick::{ImportError, QuickCommand, QuickCommands};
use sockscope::automation::rules::{
    AutoReplyConfig, AutoResponder, MatchKind, Preset, Rule, RuleAction, SEED_REPLY,
};
use sockscope::automation::template::SendSpec;
use sockscope::codec::checksum::Checksum;
use sockscope::codec::escape::LineEnding;
use sockscope::codec::text::TextEncoding;
use sockscope::engine::{
    CloseReason, Engine, Event, EventReceiver, SendTarget, SessionConfig, SessionHandle,
    TcpClientConfig, UdpConfig,
};

use crate::util::{Prng, WAIT, engine, gbk, next_close, server_on, wait_for};

/// Polls `cond` every millisecond until it holds; panics after `timeout`.
fn wait_until(timeout: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(1));
    }
}

/// An engine client connected to a std listener: (engine, events, handle, std peer).
fn client_pair() -> (Engine, EventReceiver, SessionHandle, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (engine, rx, _) = engine(4096);
    let handle = engine
        .start(SessionConfig::TcpClient(TcpClientConfig {
            host: addr.ip().to_string(),
            port: addr.port(),
            ..Default::default()
        }))
        .unwrap();
    let (peer, _) = listener.accept().unwrap();
    peer.set_read_timeout(Some(WAIT)).unwrap();
    wait_for(&rx, WAIT, |e| matches!(e, Event::Connected { .. }));
    (engine, rx, handle, peer)
}

/// An engine server on 127.0.0.1:0 with `config` installed: (engine, events, handle,
/// responder, address).
fn rule_server(
    config: &AutoReplyConfig,
) -> (
    Engine,
    EventReceiver,
    SessionHandle,
    Arc<AutoResponder>,
    SocketAddr,
) {
    let (engine, rx, _) = engine(4096);
    let handle = engine.start(server_on("127.0.0.1")).unwrap();
    let responder = AutoResponder::new(config).unwrap();
    responder.install(&handle);
    let addr = handle.local_addr().unwrap();
    (engine, rx, handle, responder, addr)
}

/// A std client like the seeds' peers, with Nagle off so each write is its own segment.
fn std_client(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect_timeout(&addr, WAIT).unwrap();
    s.set_nodelay(true).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s
}

/// Writes `parts` with 50 ms between them (so they arrive as separate reads).
fn write_split(s: &mut TcpStream, parts: &[&[u8]]) {
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            thread::sleep(Duration::from_millis(50));
        }
        s.write_all(part).unwrap();
    }
}

/// Asserts nothing arrives on `s` within `quiet`.
fn assert_silent(s: &mut TcpStream, quiet: Duration, what: &str) {
    s.set_read_timeout(Some(quiet)).unwrap();
    let mut buf = [0u8; 64];
    match s.read(&mut buf) {
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
        other => panic!("{what}: expected no reply, got {other:?} {:?}", &buf[..8]),
    }
    s.set_read_timeout(Some(WAIT)).unwrap();
}

fn read_n(s: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    s.read_exact(&mut buf).unwrap();
    buf
}

/// VmRSS of this test process in KiB (0 where /proc is missing).
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// CRC-16/MODBUS, bit by bit (independent of the codec's table-driven one).
fn modbus_crc(data: &[u8]) -> [u8; 2] {
    let mut crc: u16 = 0xFFFF;
    for &b in data {
        crc ^= u16::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xA001
            } else {
                crc >> 1
            };
        }
    }
    crc.to_le_bytes()
}

/// 100 sends at 10 ms reach a std peer as exactly `n=1` … `n=100`, in order, in about
/// one second (absolute deadlines, no drift), and the sender reports Finished.
#[test]
fn periodic_100_sends_at_10ms_in_order() {
    let (_engine, _rx, handle, peer) = client_pair();
    let started = Instant::now();
    let sender = PeriodicSender::start(
        handle,
        PeriodicConfig {
            send: SendSpec {
                line_ending: LineEnding::Lf,
                ..SendSpec::text("n={counter}", TextEncoding::Utf8)
            },
            target: SendTarget::Default,
            interval: Duration::from_millis(10),
            count: Some(100),
        },
    )
    .unwrap();
    let mut lines = BufReader::new(peer.try_clone().unwrap());
    for n in 1..=100 {
        let mut line = String::new();
        lines.read_line(&mut line).unwrap();
        assert_eq!(line, format!("n={n}\n"));
    }
    let took = started.elapsed();
    wait_until(WAIT, "the sender to end", || !sender.is_running());
    assert_eq!(sender.sent(), 100);
    assert_eq!(sender.stop_reason(), Some(StopReason::Finished));
    eprintln!("periodic: 100 × 10 ms took {took:?}");
    assert!(
        took >= Duration::from_millis(980) && took < Duration::from_millis(1500),
        "{took:?}"
    );
    // Nothing after the 100th.
    let mut peer = peer;
    assert_silent(&mut peer, Duration::from_millis(50), "after 100 sends");
}

/// An unlimited sender stops on stop() (Stopped) and, on another connection, when the
/// peer goes away (ConnectionGone); bad settings are refused up front.
#[test]
fn periodic_stops_on_stop_and_when_the_connection_goes() {
    let (_engine, _rx, handle, peer) = client_pair();
    let config = PeriodicConfig {
        send: SendSpec::text("tick", TextEncoding::Utf8),
        target: SendTarget::Default,
        interval: Duration::from_millis(1),
        count: None,
    };
    let sender = PeriodicSender::start(handle.clone(), config.clone()).unwrap();
    wait_until(WAIT, "some sends", || sender.sent() >= 20);
    sender.stop();
    wait_until(WAIT, "the sender to stop", || !sender.is_running());
    assert_eq!(sender.stop_reason(), Some(StopReason::Stopped));

    let sender = PeriodicSender::start(handle.clone(), config.clone()).unwrap();
    wait_until(WAIT, "some sends", || sender.sent() >= 5);
    drop(peer);
    wait_until(WAIT, "the sender to notice", || !sender.is_running());
    assert_eq!(sender.stop_reason(), Some(StopReason::ConnectionGone));

    let too_fast = PeriodicConfig {
        interval: Duration::from_micros(500),
        ..config.clone()
    };
    let e = PeriodicSender::start(handle.clone(), too_fast).unwrap_err();
    assert!(e.to_string().contains("at least 1 ms"), "{e}");
    let bad = PeriodicConfig {
        send: SendSpec::text("{nope}", TextEncoding::Utf8),
        ..config
    };
    let e = PeriodicSender::start(handle, bad).unwrap_err();
    assert!(
        e.to_string()
            .contains("unknown variable {nope} at position 1"),
        "{e}"
    );
}

/// A 300 MB file goes through a loopback pair byte-exact in 64 KiB chunks while the
/// process RSS stays under 150 MB; progress ends at 300 MB of 300 MB with a rate.
#[test]
fn file_send_300mb_byte_exact_with_flat_memory() {
    const SIZE: usize = 300 << 20;
    // Removed with the directory, even when the test fails.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("file.bin");
    let t0 = Instant::now();
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        let mut prng = Prng(0x5eed_f11e);
        let mut block = vec![0u8; 1 << 20];
        for _ in 0..SIZE / block.len() {
            prng.fill(&mut block);
            f.write_all(&block).unwrap();
        }
        f.flush().unwrap();
    }
    let generated = t0.elapsed();

    let (engine, rx, handle, mut peer) = client_pair();
    // The UI's role: drain events so Tx records do not pile up in the queue.
    let draining = Arc::new(AtomicBool::new(true));
    let drain = {
        let draining = draining.clone();
        thread::spawn(move || {
            while draining.load(Ordering::SeqCst) {
                rx.recv_timeout(Duration::from_millis(20));
            }
        })
    };
    // The peer compares what it reads with the file, chunk by chunk.
    let compare_path = path.clone();
    let reader = thread::spawn(move || {
        let mut file = std::fs::File::open(compare_path).unwrap();
        let mut got = vec![0u8; 256 << 10];
        let mut want = vec![0u8; 256 << 10];
        let mut total = 0usize;
        while total < SIZE {
            let n = peer.read(&mut got).unwrap();
            assert!(n > 0, "EOF after {total} bytes");
            file.read_exact(&mut want[..n]).unwrap();
            assert!(
                got[..n] == want[..n],
                "mismatch in the {n} bytes after offset {total}"
            );
            total += n;
        }
        (total, peer)
    });
    let peak = Arc::new(AtomicU64::new(rss_kib()));
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (peak, sampling) = (peak.clone(), sampling.clone());
        thread::spawn(move || {
            while sampling.load(Ordering::SeqCst) {
                peak.fetch_max(rss_kib(), Ordering::SeqCst);
                thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let rss_before = rss_kib();
    let t1 = Instant::now();
    let sender = FileSender::start(
        handle.clone(),
        SendTarget::Default,
        &path,
        FileSendOptions {
            chunk_size: 64 << 10,
            ..Default::default()
        },
    )
    .unwrap();
    let mut max_queued = 0;
    let deadline = Instant::now() + Duration::from_secs(120);
    while sender.is_running() {
        assert!(
            Instant::now() < deadline,
            "file send too slow: {:?}",
            sender.progress()
        );
        max_queued = max_queued.max(handle.queued_bytes(None).unwrap_or(0));
        thread::sleep(Duration::from_millis(2));
    }
    let sent_in = t1.elapsed();
    let (received, mut peer) = reader.join().unwrap();
    let rss_after = rss_kib();
    sampling.store(false, Ordering::SeqCst);
    sampler.join().unwrap();
    draining.store(false, Ordering::SeqCst);
    drain.join().unwrap();

    assert_eq!(sender.stop_reason(), Some(StopReason::Finished));
    assert_eq!(received, SIZE);
    let p = sender.progress();
    assert_eq!(
        (p.done, p.queued, p.total),
        (SIZE as u64, SIZE as u64, SIZE as u64)
    );
    assert_eq!(p.fraction(), 1.0);
    assert!(
        p.bytes_per_sec > 0.0 && p.eta == Some(Duration::ZERO),
        "{p:?}"
    );
    assert_eq!(handle.counters().tx_bytes, SIZE as u64);
    assert_silent(&mut peer, Duration::from_millis(50), "after the file");
    let peak_mib = peak.load(Ordering::SeqCst) / 1024;
    eprintln!(
        "file: generated 300 MB in {generated:?}; sent in {sent_in:?} ({:.0} MB/s); \
         RSS before {} MiB, peak {peak_mib} MiB, after {} MiB; engine queue peak {} KiB",
        SIZE as f64 / 1e6 / sent_in.as_secs_f64(),
        rss_before / 1024,
        rss_after / 1024,
        max_queued / 1024
    );
    assert!(peak_mib < 150, "RSS peaked at {peak_mib} MiB");
    assert!(max_queued <= 5 << 20, "in flight {max_queued}");
    drop(engine);
}

/// Cancel stops a file send early (Stopped), and a missing file is an error naming it.
#[test]
fn file_send_cancel_and_missing_file() {
    let (_engine, _rx, handle, mut peer) = client_pair();
    // Removed with the directory, even when the test fails.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cancel.bin");
    std::fs::write(&path, vec![7u8; 1 << 20]).unwrap();
    // 1 KiB chunks, 5 ms apart: ~5 s for the whole file, so cancel lands mid-way.
    let sender = FileSender::start(
        handle.clone(),
        SendTarget::Default,
        &path,
        FileSendOptions {
            chunk_size: 1024,
            chunk_delay: Duration::from_millis(5),
            ..Default::default()
        },
    )
    .unwrap();
    let mut first = [0u8; 1024];
    peer.read_exact(&mut first).unwrap();
    assert_eq!(first, [7u8; 1024]);
    wait_until(WAIT, "progress", || sender.progress().done >= 4096);
    let p = sender.progress();
    assert!(p.eta.is_some() && p.total == 1 << 20, "{p:?}");
    sender.cancel();
    wait_until(WAIT, "cancel", || !sender.is_running());
    assert_eq!(sender.stop_reason(), Some(StopReason::Stopped));
    assert!(sender.progress().done < 1 << 20);

    let e = FileSender::start(
        handle,
        SendTarget::Default,
        "/nonexistent/sockscope.bin",
        FileSendOptions::default(),
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("opening /nonexistent/sockscope.bin: "),
        "{e}"
    );
}

/// A server sends a file to the chosen client only; the other client gets nothing.
#[test]
fn file_send_to_one_chosen_client() {
    let (_engine, rx, handle, _resp, addr) = rule_server(&AutoReplyConfig::default());
    let mut a = std_client(addr);
    let joined_a = wait_for(&rx, WAIT, |e| matches!(e, Event::ClientJoined { .. }));
    let mut b = std_client(addr);
    wait_for(&rx, WAIT, |e| matches!(e, Event::ClientJoined { .. }));
    let Event::ClientJoined { conn, .. } = joined_a else {
        unreachable!()
    };
    // Removed with the directory, even when the test fails.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("one.bin");
    let mut data = vec![0u8; 200_000];
    Prng(9).fill(&mut data);
    std::fs::write(&path, &data).unwrap();
    let sender = FileSender::start(
        handle,
        SendTarget::Conn(conn),
        &path,
        FileSendOptions::default(),
    )
    .unwrap();
    assert_eq!(read_n(&mut a, data.len()), data);
    wait_until(WAIT, "finish", || !sender.is_running());
    assert_eq!(sender.stop_reason(), Some(StopReason::Finished));
    assert_silent(&mut b, Duration::from_millis(50), "the other client");
}

/// A rule-kind case: kind, pattern, pattern is hex, encoding, the matching input in two
/// reads, an input that does not match.
type Case = (
    MatchKind,
    &'static str,
    bool,
    TextEncoding,
    [Vec<u8>; 2],
    Vec<u8>,
);

/// Each rule kind fires on matching input — split across two TCP reads 50 ms apart —
/// and stays silent on input that does not match.
#[test]
fn each_rule_kind_fires_on_match_only_even_split() {
    let (_engine, _rx, _handle, responder, addr) = rule_server(&AutoReplyConfig::default());
    let gbk_temp = gbk("温度=42");
    let cases: Vec<Case> = vec![
        (
            MatchKind::Exact,
            "exit",
            false,
            TextEncoding::Utf8,
            [b"ex".to_vec(), b"it".to_vec()],
            b"exit now".to_vec(),
        ),
        (
            MatchKind::Exact,
            "FF 00",
            true,
            TextEncoding::Utf8,
            [vec![0xFF], vec![0x00]],
            vec![0xFF, 0x01],
        ),
        (
            MatchKind::Contains,
            "needle",
            false,
            TextEncoding::Utf8,
            [b"hay ne".to_vec(), b"edle hay".to_vec()],
            b"haystack".to_vec(),
        ),
        (
            MatchKind::StartsWith,
            "AT+",
            false,
            TextEncoding::Utf8,
            [b"A".to_vec(), b"T+GMR\r\n".to_vec()],
            b"XAT+GMR\r\n".to_vec(),
        ),
        (
            // Split inside the first GBK character.
            MatchKind::Regex,
            r"^温度=\d+$",
            false,
            TextEncoding::Gbk,
            [gbk_temp[..1].to_vec(), gbk_temp[1..].to_vec()],
            gbk("湿度=42"),
        ),
        (
            MatchKind::HexPattern,
            "01 03 ?? ??",
            false,
            TextEncoding::Utf8,
            [vec![0x01, 0x03], vec![0x00, 0x0A]],
            vec![0x01, 0x04, 0x00, 0x0A],
        ),
    ];
    for (kind, pattern, hex, encoding, [first, second], other) in cases {
        let what = format!("{kind:?} {pattern:?}");
        responder
            .set_config(&AutoReplyConfig {
                rules: vec![Rule {
                    name: what.clone(),
                    kind,
                    pattern: pattern.into(),
                    pattern_hex: hex,
                    encoding,
                    reply: SendSpec::text("hit {counter}", TextEncoding::Utf8),
                    ..Rule::default()
                }],
                ..AutoReplyConfig::default()
            })
            .unwrap();
        let mut miss = std_client(addr);
        miss.write_all(&other).unwrap();
        let mut hit = std_client(addr);
        write_split(&mut hit, &[&first, &second]);
        assert_eq!(read_n(&mut hit, 5), b"hit 1", "{what}");
        assert_silent(&mut hit, Duration::from_millis(100), &what);
        assert_silent(&mut miss, Duration::from_millis(100), &what);
        assert_eq!(responder.hits(), [1], "{what}");
    }
}

/// A hex reply with a CRC-16/MODBUS suffix: the peer reads `01 03 02 00 2A` and the CRC
/// computed here bit by bit; a second request gets the same frame.
#[test]
fn modbus_reply_gets_the_right_crc() {
    let config = AutoReplyConfig {
        rules: vec![Rule {
            name: "read reg 0".into(),
            kind: MatchKind::HexPattern,
            pattern: "01 03 00 00 00 01 ?? ??".into(),
            reply: SendSpec {
                checksum: Checksum::Crc16Modbus,
                ..SendSpec::hex("01 03 02 00 2A")
            },
            ..Rule::default()
        }],
        ..AutoReplyConfig::default()
    };
    let (_engine, _rx, _handle, _responder, addr) = rule_server(&config);
    let mut device = std_client(addr);
    let request = [0x01, 0x03, 0x00, 0x00, 0x00, 0x01, 0x84, 0x0A];
    let mut want = vec![0x01, 0x03, 0x02, 0x00, 0x2A];
    want.extend_from_slice(&modbus_crc(&want));
    // Two requests back to back in one write: one frame each.
    device.write_all(&[request, request].concat()).unwrap();
    assert_eq!(read_n(&mut device, 7), want);
    assert_eq!(read_n(&mut device, 7), want);
}

/// Preset "seed echo server": every client gets `ok, 问题正在处理中...` in GBK for every
/// message, like seed 000's server.
#[test]
fn preset_seed_echo_server_answers_in_gbk() {
    let (_engine, _rx, _handle, responder, addr) = rule_server(&Preset::SeedEchoServer.config());
    let reply = gbk(SEED_REPLY);
    for _ in 0..2 {
        let mut c = std_client(addr);
        c.write_all(&gbk("你好服务端，我是客户端小黑!")).unwrap();
        assert_eq!(read_n(&mut c, reply.len()), reply);
        c.write_all(b"hello").unwrap();
        assert_eq!(read_n(&mut c, reply.len()), reply);
    }
    assert_eq!(responder.hits(), [4]);
}

/// Preset "close on exit" (seed 003): `收到请求` for other messages, and `exit` closes
/// the connection: the std client reads EOF and the server reports the client kicked.
#[test]
fn preset_close_on_exit_closes() {
    let (_engine, rx, _handle, responder, addr) = rule_server(&Preset::CloseOnExit.config());
    let mut c = std_client(addr);
    c.write_all(&gbk("查询")).unwrap();
    let ack = gbk("收到请求");
    assert_eq!(read_n(&mut c, ack.len()), ack);
    c.write_all(b"exit").unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(c.read(&mut buf).unwrap(), 0, "expected EOF");
    assert_eq!(next_close(&rx).1, CloseReason::Kicked);
    assert_eq!(responder.hits(), [1, 1]);
}

/// Reply-then-close writes the reply before closing; a delayed reply waits its delay
/// without holding up the reader (a second rule answers at once meanwhile).
#[test]
fn reply_then_close_and_delayed_reply() {
    let config = AutoReplyConfig {
        rules: vec![
            Rule {
                kind: MatchKind::Exact,
                pattern: "bye".into(),
                action: RuleAction::ReplyThenClose,
                reply: SendSpec::text("see you", TextEncoding::Utf8),
                ..Rule::default()
            },
            Rule {
                kind: MatchKind::Exact,
                pattern: "slow".into(),
                delay_ms: 200,
                reply: SendSpec::text("late", TextEncoding::Utf8),
                ..Rule::default()
            },
            Rule {
                kind: MatchKind::Exact,
                pattern: "fast".into(),
                reply: SendSpec::text("now!", TextEncoding::Utf8),
                ..Rule::default()
            },
        ],
        ..AutoReplyConfig::default()
    };
    let (_engine, _rx, _handle, _responder, addr) = rule_server(&config);
    let mut c = std_client(addr);
    let t = Instant::now();
    c.write_all(b"slow").unwrap();
    thread::sleep(Duration::from_millis(50));
    c.write_all(b"fast").unwrap();
    assert_eq!(read_n(&mut c, 4), b"now!");
    assert!(
        t.elapsed() < Duration::from_millis(200),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(read_n(&mut c, 4), b"late");
    assert!(
        t.elapsed() >= Duration::from_millis(200),
        "{:?}",
        t.elapsed()
    );
    c.write_all(b"bye").unwrap();
    assert_eq!(read_n(&mut c, 7), b"see you");
    let mut buf = [0u8; 8];
    assert_eq!(c.read(&mut buf).unwrap(), 0, "expected EOF after the reply");
}

/// Client mode echo: our client echoes what a std server sends; UDP rules answer each
/// peer (per datagram).
#[test]
fn client_echo_and_udp_rule() {
    let (_engine, _rx, handle, mut server) = client_pair();
    let echo = AutoResponder::new(&AutoReplyConfig {
        echo: true,
        ..AutoReplyConfig::default()
    })
    .unwrap();
    echo.install(&handle);
    server.write_all(b"mirror me").unwrap();
    assert_eq!(read_n(&mut server, 9), b"mirror me");

    let (engine, _rx, _) = engine(1024);
    let udp = engine
        .start(SessionConfig::Udp(UdpConfig {
            host: "127.0.0.1".into(),
            port: 0,
            ..Default::default()
        }))
        .unwrap();
    let responder = AutoResponder::new(&AutoReplyConfig {
        rules: vec![Rule {
            kind: MatchKind::Exact,
            pattern: "ping".into(),
            reply: SendSpec::text("pong {counter}", TextEncoding::Utf8),
            ..Rule::default()
        }],
        ..AutoReplyConfig::default()
    })
    .unwrap();
    responder.install(&udp);
    let addr = udp.local_addr().unwrap();
    for peer_no in 1..=2 {
        let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
        peer.set_read_timeout(Some(WAIT)).unwrap();
        peer.send_to(b"ping", addr).unwrap();
        let mut buf = [0u8; 64];
        let (n, from) = peer.recv_from(&mut buf).unwrap();
        assert_eq!(
            (&buf[..n], from),
            (format!("pong {peer_no}").as_bytes(), addr)
        );
    }
}

/// Quick commands: export to a JSON file and import it back unchanged; a command sends
/// with its counter; a broken file gives an error saying what and where.
#[test]
fn quick_commands_json_round_trip_and_send() {
    let mut list = QuickCommands::default();
    list.add(QuickCommand::new(
        "read regs",
        SendSpec {
            checksum: Checksum::Crc16Modbus,
            ..SendSpec::hex("01 03 00 00 00 01")
        },
    ));
    list.add(QuickCommand::new(
        "greet",
        SendSpec {
            line_ending: LineEnding::CrLf,
            ..SendSpec::text("你好 #{counter}", TextEncoding::Gbk)
        },
    ));
    assert!(list.move_item(1, 0));
    // Removed with the directory, even when the test fails.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("quick.json");
    list.export_file(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("\"version\": 1") && text.contains("\"GBK\""),
        "{text}"
    );
    let mut back = QuickCommands::import_file(&path).unwrap();
    assert_eq!(back, list);

    let (_engine, _rx, handle, mut peer) = client_pair();
    back.send(0, &handle, SendTarget::Default).unwrap();
    back.send(0, &handle, SendTarget::Default).unwrap();
    let mut want = gbk("你好 #1\r\n");
    want.extend(gbk("你好 #2\r\n"));
    assert_eq!(read_n(&mut peer, want.len()), want);
    back.send(1, &handle, SendTarget::Default).unwrap();
    let mut frame = vec![0x01, 0x03, 0x00, 0x00, 0x00, 0x01];
    frame.extend_from_slice(&modbus_crc(&frame));
    assert_eq!(read_n(&mut peer, 8), frame);

    let broken = text.replace("\"GBK\"", "\"GBQ\"");
    let e = QuickCommands::from_json(&broken).unwrap_err();
    assert!(matches!(e, ImportError::Json { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("unknown encoding \"GBQ\"") && msg.contains("line "),
        "{msg}"
    );
    let e = QuickCommands::from_json("[1, 2").unwrap_err();
    assert!(
        e.to_string().starts_with("not a valid quick-command file"),
        "{e}"
    );
}

/// A hand-written responder on the engine hook itself.
struct Probe {
    closed: AtomicU64,
}

impl sockscope::engine::Responder for Probe {
    fn on_data(
        &self,
        _conn: Option<sockscope::engine::ConnId>,
        _peer: SocketAddr,
        bytes: &[u8],
    ) -> Vec<sockscope::engine::Action> {
        if bytes == b"boom" {
            panic!("probe panics on purpose");
        }
        let mut reply = b"re:".to_vec();
        reply.extend_from_slice(bytes);
        vec![sockscope::engine::Action::Send {
            bytes: reply,
            delay: Duration::ZERO,
        }]
    }

    fn on_closed(&self, _conn: sockscope::engine::ConnId) {
        self.closed.fetch_add(1, Ordering::SeqCst);
    }
}

/// Engine hook: the Rx event comes before the reply's Tx event, a panicking responder
/// is reported as WorkerPanic without closing the connection, and on_closed runs once
/// the client leaves.
#[test]
fn engine_hook_order_panic_and_close() {
    let (engine, rx, _) = engine(1024);
    let handle = engine.start(server_on("127.0.0.1")).unwrap();
    let probe = Arc::new(Probe {
        closed: AtomicU64::new(0),
    });
    handle.set_responder(Some(probe.clone()));
    let mut c = std_client(handle.local_addr().unwrap());
    c.write_all(b"hi").unwrap();
    assert_eq!(read_n(&mut c, 5), b"re:hi");
    let first = wait_for(&rx, WAIT, |e| matches!(e, Event::Data { .. }));
    assert!(
        matches!(&first, Event::Data { dir: sockscope::engine::Direction::Rx, bytes, .. } if &bytes[..] == b"hi"),
        "{first:?}"
    );
    let second = wait_for(&rx, WAIT, |e| matches!(e, Event::Data { .. }));
    assert!(
        matches!(&second, Event::Data { dir: sockscope::engine::Direction::Tx, bytes, .. } if &bytes[..] == b"re:hi"),
        "{second:?}"
    );
    c.write_all(b"boom").unwrap();
    let err = wait_for(&rx, WAIT, |e| matches!(e, Event::Error { .. }));
    assert!(
        format!("{err:?}").contains("probe panics on purpose"),
        "{err:?}"
    );
    c.write_all(b"again").unwrap();
    assert_eq!(read_n(&mut c, 8), b"re:again");
    drop(c);
    wait_for(&rx, WAIT, |e| matches!(e, Event::Closed { .. }));
    wait_until(WAIT, "on_closed", || {
        probe.closed.load(Ordering::SeqCst) == 1
    });
    handle.set_responder(None);
}

/// A file send to a client that stopped reading does not hang forever: once nothing has
/// been written for the stall timeout it stops, saying why.
#[test]
fn file_send_to_a_peer_that_stops_reading_stalls_out() {
    let (_engine, rx, handle, _resp, addr) = rule_server(&AutoReplyConfig::default());
    let _silent = std_client(addr);
    let joined = wait_for(&rx, WAIT, |e| matches!(e, Event::ClientJoined { .. }));
    let Event::ClientJoined { conn, .. } = joined else {
        unreachable!()
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.bin");
    std::fs::write(&path, vec![0x5Au8; 48 << 20]).unwrap();
    let options = FileSendOptions {
        stall_timeout: Duration::from_millis(300),
        ..FileSendOptions::default()
    };
    let sender = FileSender::start(handle, SendTarget::Conn(conn), &path, options).unwrap();
    wait_until(WAIT, "the stall", || !sender.is_running());
    assert_eq!(
        sender.stop_reason(),
        Some(StopReason::Stalled(Duration::from_millis(300)))
    );
    assert!(sender.progress().done < 48 << 20);
}
