//! Session log recorder tests: real loopback sessions recorded through the engine's tap,
//! each format parsed back and compared with what the peers sent. Every wait is bounded.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use sockscope::codec::text::TextEncoding;
use sockscope::engine::{Direction, Event, EventReceiver, SendTarget, SessionConfig, UdpConfig};
use sockscope::session::recorder::{
    LogFormat, LogOptions, Recorder, RecorderStatus, raw_tx_path, write_records, write_records_with,
};
use sockscope::session::store::{Store, StoreCaps};

use crate::util::{Prng, WAIT, engine, gbk, server_on, wait_for};

// ---------------------------------------------------------------------------------------
// Helpers.

/// A fresh directory under the system temp dir, removed when dropped
/// (`SOCKSCOPE_KEEP_LOGS=1` keeps the files for a look in Wireshark).
struct TempDir(tempfile::TempDir);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let mut dir = tempfile::Builder::new()
            .prefix(&format!("sockscope-rec-{name}-"))
            .tempdir()
            .unwrap();
        if std::env::var_os("SOCKSCOPE_KEEP_LOGS").is_some() {
            println!("keeping {}", dir.path().display());
            dir.disable_cleanup(true);
        }
        TempDir(dir)
    }

    fn path(&self, file: &str) -> PathBuf {
        self.0.path().join(file)
    }
}

/// Forwards every tap event to several recorders, so one session feeds every format.
/// The forwarder keeps the recorders' senders alive: stopping must not need them closed.
/// Also returns a channel that hears of each `Stopped` once every recorder has it.
fn fan_out(senders: Vec<SyncSender<Event>>) -> (SyncSender<Event>, Receiver<()>) {
    let (tx, rx) = sync_channel::<Event>(1024);
    let (stopped_tx, stopped) = std::sync::mpsc::channel();
    thread::spawn(move || {
        for event in rx {
            for s in &senders {
                let _ = s.send(event.clone());
            }
            if matches!(event, Event::Stopped { .. }) {
                let _ = stopped_tx.send(());
            }
        }
    });
    (tx, stopped)
}

/// Finishes a recorder and checks it ended cleanly.
fn finish_ok(recorder: &mut Recorder) -> RecorderStatus {
    let status = recorder.finish(WAIT);
    assert!(status.finished, "recorder did not finish: {status:?}");
    assert_eq!(status.error, None, "{status:?}");
    status
}

/// Reads from `stream` until `want` bytes came (bounded by the stream's read timeout).
fn read_exact_len(stream: &mut TcpStream, want: usize) -> Vec<u8> {
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let mut got = vec![0u8; want];
    stream.read_exact(&mut got).unwrap();
    got
}

/// Decodes contiguous or spaced hex.
fn unhex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    assert_eq!(digits.len() % 2, 0, "odd hex {s:?}");
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}

/// Checks `2026-11-23T14:05:09.123+08:00` / `...Z` shapes.
fn assert_iso_time(t: &str) {
    let b = t.as_bytes();
    assert!(b.len() >= 24, "time {t:?}");
    for (at, c) in [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (19, b'.'),
    ] {
        assert_eq!(b[at], c, "time {t:?}");
    }
    assert!(b[20..23].iter().all(u8::is_ascii_digit), "time {t:?}");
    let zone = &t[23..];
    assert!(
        zone == "Z" || (zone.len() == 6 && (zone.starts_with('+') || zone.starts_with('-'))),
        "time {t:?}"
    );
}

/// One line of the text formats: five fields, then `| rest` (payload or event text).
#[derive(Debug)]
struct Line {
    dir: String,
    peer: String,
    conn: String,
    len: String,
    rest: Option<String>,
}

fn parse_line(line: &str) -> Line {
    let mut it = line.splitn(6, ' ');
    let mut field = || {
        it.next()
            .unwrap_or_else(|| panic!("short line {line:?}"))
            .to_string()
    };
    let time = field();
    assert_iso_time(&time);
    let (dir, peer, conn, len) = (field(), field(), field(), field());
    let rest = it.next().map(|r| {
        r.strip_prefix("| ")
            .or_else(|| (r == "|").then_some(""))
            .unwrap_or_else(|| panic!("no '| ' in {line:?}"))
            .to_string()
    });
    assert!(["RX", "TX", "--"].contains(&dir.as_str()), "{line:?}");
    Line {
        dir,
        peer,
        conn,
        len,
        rest,
    }
}

/// Reads an RFC 4180 file with the `csv` crate (quoted fields, doubled quotes, every
/// row the same width), header row included, and checks that every row ends in CRLF.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.unwrap();
        // The reader places a record after the CR of a CRLF, before its LF.
        let start = record.position().unwrap().byte() as usize;
        let (before, after) = text.split_at(start);
        assert!(
            start == 0
                || before.ends_with("\r\n")
                || (before.ends_with('\r') && after.starts_with('\n')),
            "the row before byte {start} does not end in CRLF"
        );
        rows.push(record.iter().map(str::to_string).collect());
    }
    assert!(text.ends_with("\r\n"), "last row not terminated by CRLF");
    rows
}

// ---------------------------------------------------------------------------------------
// pcapng reader for the tests (independent of the writer).

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes(b[at..at + 2].try_into().unwrap())
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}

/// Ones'-complement sum of 16-bit words, folded.
fn ones_sum(parts: &[&[u8]]) -> u16 {
    let mut sum: u64 = 0;
    for part in parts {
        for pair in part.chunks(2) {
            let hi = u64::from(pair[0]) << 8;
            let lo = pair.get(1).map_or(0, |&b| u64::from(b));
            sum += hi | lo;
        }
    }
    while sum > 0xFFFF {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    sum as u16
}

/// One decoded packet.
#[derive(Debug, Clone)]
struct Packet {
    ts_us: u64,
    src: SocketAddr,
    dst: SocketAddr,
    tcp: Option<(u32, u32, u8)>,
    payload: Vec<u8>,
    comment: Option<String>,
}

const SYN: u8 = 0x02;
const FIN: u8 = 0x01;
const ACK: u8 = 0x10;

/// Walks SHB, IDB and EPBs, checks lengths, and decodes every frame down to its payload,
/// verifying the IPv4 header, TCP and UDP checksums.
fn read_pcapng(path: &Path) -> Vec<Packet> {
    let b = std::fs::read(path).unwrap();
    assert_eq!(le32(&b, 0), 0x0A0D_0D0A, "no SHB");
    assert_eq!(le32(&b, 8), 0x1A2B_3C4D, "byte order magic");
    let mut pos = 0;
    let mut packets = Vec::new();
    let mut idb_seen = false;
    while pos < b.len() {
        let kind = le32(&b, pos);
        let len = le32(&b, pos + 4) as usize;
        assert_eq!(len % 4, 0, "block length {len} at {pos}");
        assert!(pos + len <= b.len(), "block past the end at {pos}");
        assert_eq!(
            le32(&b, pos + len - 4) as usize,
            len,
            "trailing length at {pos}"
        );
        let body = &b[pos + 8..pos + len - 4];
        match kind {
            0x0A0D_0D0A => assert_eq!(pos, 0),
            1 => {
                assert_eq!(
                    u16::from_le_bytes([body[0], body[1]]),
                    1,
                    "LINKTYPE_ETHERNET"
                );
                // Options: look for if_tsresol = 6.
                let mut o = 8;
                let mut tsresol = None;
                while o + 4 <= body.len() {
                    let code = u16::from_le_bytes([body[o], body[o + 1]]);
                    let olen = usize::from(u16::from_le_bytes([body[o + 2], body[o + 3]]));
                    if code == 0 {
                        break;
                    }
                    if code == 9 {
                        tsresol = Some(body[o + 4]);
                    }
                    o += 4 + olen.div_ceil(4) * 4;
                }
                assert_eq!(tsresol, Some(6));
                idb_seen = true;
            }
            6 => {
                assert!(idb_seen, "EPB before IDB");
                assert_eq!(le32(body, 0), 0, "interface id");
                let ts = (u64::from(le32(body, 4)) << 32) | u64::from(le32(body, 8));
                let cap = le32(body, 12) as usize;
                assert_eq!(le32(body, 16) as usize, cap);
                let frame = &body[20..20 + cap];
                let opts_at = 20 + cap.div_ceil(4) * 4;
                let mut comment = None;
                if opts_at + 4 <= body.len() {
                    let code = u16::from_le_bytes([body[opts_at], body[opts_at + 1]]);
                    let olen =
                        usize::from(u16::from_le_bytes([body[opts_at + 2], body[opts_at + 3]]));
                    if code == 1 {
                        let v = &body[opts_at + 4..opts_at + 4 + olen];
                        comment = Some(String::from_utf8(v.to_vec()).unwrap());
                    }
                }
                packets.push(decode_frame(ts, frame, comment));
            }
            other => panic!("unexpected block type {other:#x}"),
        }
        pos += len;
    }
    assert_eq!(pos, b.len());
    packets
}

fn decode_frame(ts_us: u64, f: &[u8], comment: Option<String>) -> Packet {
    let ethertype = be16(f, 12);
    let (src_ip, dst_ip, proto, l4, pseudo): (
        std::net::IpAddr,
        std::net::IpAddr,
        u8,
        &[u8],
        Vec<u8>,
    ) = match ethertype {
        0x0800 => {
            let ip = &f[14..34];
            assert_eq!(ip[0], 0x45);
            assert_eq!(usize::from(be16(ip, 2)), f.len() - 14, "IPv4 total length");
            assert_eq!(ones_sum(&[ip]), 0xFFFF, "IPv4 header checksum");
            let s: [u8; 4] = ip[12..16].try_into().unwrap();
            let d: [u8; 4] = ip[16..20].try_into().unwrap();
            let l4 = &f[34..];
            let mut pseudo = Vec::new();
            pseudo.extend_from_slice(&s);
            pseudo.extend_from_slice(&d);
            pseudo.extend_from_slice(&[0, ip[9]]);
            pseudo.extend_from_slice(&(l4.len() as u16).to_be_bytes());
            (s.into(), d.into(), ip[9], l4, pseudo)
        }
        0x86DD => {
            let ip = &f[14..54];
            assert_eq!(ip[0] >> 4, 6);
            assert_eq!(
                usize::from(be16(ip, 4)),
                f.len() - 54,
                "IPv6 payload length"
            );
            let s: [u8; 16] = ip[8..24].try_into().unwrap();
            let d: [u8; 16] = ip[24..40].try_into().unwrap();
            let l4 = &f[54..];
            let mut pseudo = Vec::new();
            pseudo.extend_from_slice(&s);
            pseudo.extend_from_slice(&d);
            pseudo.extend_from_slice(&(l4.len() as u32).to_be_bytes());
            pseudo.extend_from_slice(&[0, 0, 0, ip[6]]);
            (s.into(), d.into(), ip[6], l4, pseudo)
        }
        other => panic!("ethertype {other:#x}"),
    };
    assert_eq!(ones_sum(&[&pseudo, l4]), 0xFFFF, "transport checksum");
    let (sp, dp) = (be16(l4, 0), be16(l4, 2));
    let (tcp, payload) = match proto {
        6 => {
            let off = usize::from(l4[12] >> 4) * 4;
            (Some((be32(l4, 4), be32(l4, 8), l4[13])), l4[off..].to_vec())
        }
        17 => {
            assert_eq!(usize::from(be16(l4, 4)), l4.len(), "UDP length");
            (None, l4[8..].to_vec())
        }
        other => panic!("protocol {other}"),
    };
    Packet {
        ts_us,
        src: SocketAddr::new(src_ip, sp),
        dst: SocketAddr::new(dst_ip, dp),
        tcp,
        payload,
        comment,
    }
}

/// Checks one TCP connection in `packets` (client → server): handshake first, FIN
/// exchange last (client first), contiguous sequence numbers, and returns the payload
/// each way.
fn check_tcp_stream(
    packets: &[Packet],
    client: SocketAddr,
    server: SocketAddr,
) -> (Vec<u8>, Vec<u8>) {
    let conn: Vec<&Packet> = packets
        .iter()
        .filter(|p| {
            p.tcp.is_some()
                && ((p.src == client && p.dst == server) || (p.src == server && p.dst == client))
        })
        .collect();
    assert!(conn.len() >= 6, "{conn:#?}");
    let flags = |p: &Packet| p.tcp.unwrap().2;
    assert_eq!((conn[0].src, flags(conn[0])), (client, SYN));
    assert_eq!((conn[1].src, flags(conn[1])), (server, SYN | ACK));
    assert_eq!((conn[2].src, flags(conn[2])), (client, ACK));
    let n = conn.len();
    assert_eq!((conn[n - 3].src, flags(conn[n - 3]) & FIN), (client, FIN));
    assert!(
        conn[n - 3]
            .comment
            .as_deref()
            .unwrap_or("")
            .starts_with("closed: ")
    );
    assert_eq!((conn[n - 2].src, flags(conn[n - 2]) & FIN), (server, FIN));
    assert_eq!((conn[n - 1].src, flags(conn[n - 1])), (client, ACK));
    let mut next = [conn[0].tcp.unwrap().0, conn[1].tcp.unwrap().0];
    let mut data = (Vec::new(), Vec::new());
    for p in &conn {
        let (seq, ack, fl) = p.tcp.unwrap();
        let side = usize::from(p.src == server);
        assert_eq!(seq, next[side], "sequence gap in {p:?}");
        if fl & ACK != 0 {
            assert_eq!(ack, next[1 - side], "ack in {p:?}");
        }
        let len = p.payload.len() as u32 + u32::from(fl & (SYN | FIN) != 0);
        next[side] = next[side].wrapping_add(len);
        if side == 0 {
            data.0.extend_from_slice(&p.payload);
        } else {
            data.1.extend_from_slice(&p.payload);
        }
    }
    (data.0, data.1)
}

fn tshark() -> Option<&'static str> {
    let ok = Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        Some("tshark")
    } else {
        // CI installs tshark and sets this, so the cross-check cannot skip there.
        assert!(
            std::env::var_os("SOCKSCOPE_REQUIRE_TSHARK").is_none(),
            "SOCKSCOPE_REQUIRE_TSHARK is set but tshark is not on PATH"
        );
        eprintln!(
            "note: tshark is not on PATH; skipping the tshark cross-check (apt install tshark)"
        );
        None
    }
}

/// `tshark -q -z follow,tcp,raw,0`: (bytes from node 0, bytes from node 1, node 0 address).
fn tshark_follow(path: &Path) -> (Vec<u8>, Vec<u8>, String) {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(path)
        .args(["-q", "-z", "follow,tcp,raw,0"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let (mut a, mut b, mut node0) = (Vec::new(), Vec::new(), String::new());
    let mut in_body = false;
    for line in text.lines() {
        if let Some(n) = line.strip_prefix("Node 0: ") {
            node0 = n.to_string();
        } else if line.starts_with("Node 1: ") {
            in_body = true;
        } else if line.starts_with("====") {
            in_body = false;
        } else if in_body {
            match line.strip_prefix('\t') {
                Some(hex) => b.extend(unhex(hex)),
                None => a.extend(unhex(line)),
            }
        }
    }
    (a, b, node0)
}

/// tshark with checksum validation on: no bad checksum and no malformed packet.
fn tshark_expert_clean(path: &Path) {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(path)
        .args([
            "-o",
            "ip.check_checksum:TRUE",
            "-o",
            "tcp.check_checksum:TRUE",
            "-o",
            "udp.check_checksum:TRUE",
            "-q",
            "-z",
            "expert",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).to_lowercase();
    for bad in [
        "bad checksum",
        "malformed",
        "incorrect",
        "unseen segment",
        "previous segment",
    ] {
        assert!(!text.contains(bad), "tshark expert says {bad:?}:\n{text}");
    }
}

// ---------------------------------------------------------------------------------------
// Tests.

/// 200 MB blasted into a server session are recorded raw byte for byte, while the same
/// events go through a default-capped store that stays within its byte cap.
#[test]
fn raw_capture_of_200_mb_is_exact_and_store_stays_capped() {
    const TOTAL: usize = 200 << 20;
    const CHUNK: usize = 256 << 10;
    const SEED: u64 = 0x5EED_F05E_C0DE;
    let dir = TempDir::new("raw200");
    let path = dir.path("capture.bin");
    let (engine, rx, _) = engine(4096);
    let (mut recorder, tap) =
        Recorder::start(&path, LogFormat::Raw, TextEncoding::Utf8, 4096).unwrap();
    engine.set_tap(Some(tap));
    let server = engine.start(server_on("127.0.0.1")).unwrap();
    let addr = server.local_addr().unwrap();

    let started = Instant::now();
    let client = thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        let mut rng = Prng(SEED);
        let mut buf = vec![0u8; CHUNK];
        let mut sent = 0;
        while sent < TOTAL {
            rng.fill(&mut buf);
            s.write_all(&buf).unwrap();
            sent += CHUNK;
        }
        s.shutdown(Shutdown::Write).unwrap();
        // Read the server's greeting and wait for its close.
        let mut greeting = Vec::new();
        s.set_read_timeout(Some(WAIT)).unwrap();
        let _ = s.read_to_end(&mut greeting);
        greeting
    });

    // The UI's part: drain events into a store with the default caps (Windows-1252 so
    // every byte is valid text: the test is about caps, not escapes, and stays fast).
    let mut store = Store::new(StoreCaps::default(), TextEncoding::Windows1252);
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut greeted = false;
    let mut rx_bytes = 0usize;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "timed out; {rx_bytes} bytes received");
        let Some(event) = rx.recv_timeout(left.min(Duration::from_millis(100))) else {
            continue;
        };
        match event {
            Event::ClientJoined {
                session,
                conn,
                peer,
                at,
                ..
            } => {
                store.push_info(
                    session,
                    Some(conn),
                    Some(peer),
                    at,
                    format!("client {peer} joined"),
                );
                if !greeted {
                    server
                        .send(SendTarget::Conn(conn), b"hello client".to_vec())
                        .unwrap();
                    greeted = true;
                }
            }
            Event::Data {
                session,
                conn,
                peer,
                dir,
                at,
                bytes,
                ..
            } => {
                if dir == Direction::Rx {
                    rx_bytes += bytes.len();
                }
                store.push_data(session, conn, peer, dir, at, bytes);
            }
            Event::Closed {
                session,
                at,
                conn,
                peer,
                reason,
                ..
            } => {
                store.end_conn(session, conn);
                store.push_info(session, Some(conn), Some(peer), at, format!("{reason}"));
                break;
            }
            _ => {}
        }
        let caps = store.caps();
        assert!(
            store.held_bytes() <= caps.max_bytes + 512 * 1024,
            "store holds {} bytes",
            store.held_bytes()
        );
    }
    let transfer = started.elapsed();
    assert_eq!(rx_bytes, TOTAL);
    assert!(store.evicted_bytes() > 0, "the store should have evicted");
    server.stop();
    assert_eq!(client.join().unwrap(), b"hello client");

    let status = finish_ok(&mut recorder);
    assert_eq!(status.data_bytes, TOTAL as u64 + 12);
    assert_eq!(status.bytes_written, TOTAL as u64 + 12);

    // Stream-compare the file with the regenerated sequence.
    let mut file = std::fs::File::open(&path).unwrap();
    assert_eq!(file.metadata().unwrap().len(), TOTAL as u64);
    let mut rng = Prng(SEED);
    let (mut want, mut got) = (vec![0u8; CHUNK], vec![0u8; CHUNK]);
    for i in 0..TOTAL / CHUNK {
        rng.fill(&mut want);
        file.read_exact(&mut got).unwrap();
        assert!(want == got, "raw capture differs in chunk {i}");
    }
    assert_eq!(std::fs::read(raw_tx_path(&path)).unwrap(), b"hello client");
    println!(
        "200 MB through the engine, store and raw recorder in {transfer:?} ({:.0} MB/s); store held {} bytes, evicted {} records",
        TOTAL as f64 / 1e6 / transfer.as_secs_f64(),
        store.held_bytes(),
        store.evicted_records()
    );
}

/// What the formats test sends: a GBK character split across two writes, an invalid
/// byte, CR LF inside a record.
struct TcpRun {
    client: SocketAddr,
    server: SocketAddr,
    sent: Vec<u8>,
    reply: Vec<u8>,
}

fn run_tcp_session(rx: &EventReceiver, server: &sockscope::engine::SessionHandle) -> TcpRun {
    let addr = server.local_addr().unwrap();
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_nodelay(true).unwrap();
    let client = s.local_addr().unwrap();
    let conn = match wait_for(rx, WAIT, |e| matches!(e, Event::ClientJoined { .. })) {
        Event::ClientJoined { conn, .. } => conn,
        _ => unreachable!(),
    };
    let hello = gbk("你好");
    let pieces: Vec<Vec<u8>> = vec![
        hello[..1].to_vec(),
        hello[1..].to_vec(),
        vec![0xFF],
        b"line1\r\nline2".to_vec(),
    ];
    let mut sent = Vec::new();
    let mut got = 0;
    for piece in &pieces {
        s.write_all(piece).unwrap();
        sent.extend_from_slice(piece);
        // Let each piece arrive as its own read where the OS allows.
        while got < sent.len() {
            match wait_for(rx, WAIT, |e| {
                matches!(
                    e,
                    Event::Data {
                        dir: Direction::Rx,
                        ..
                    }
                )
            }) {
                Event::Data { bytes, .. } => got += bytes.len(),
                _ => unreachable!(),
            }
        }
    }
    let reply = gbk("ok 好");
    server.send(SendTarget::Conn(conn), reply.clone()).unwrap();
    assert_eq!(read_exact_len(&mut s, reply.len()), reply);
    wait_for(rx, WAIT, |e| {
        matches!(
            e,
            Event::Data {
                dir: Direction::Tx,
                ..
            }
        )
    });
    drop(s);
    wait_for(rx, WAIT, |e| matches!(e, Event::Closed { .. }));
    TcpRun {
        client,
        server: addr,
        sent,
        reply,
    }
}

/// One TCP session recorded in every format at once; each file is parsed back and
/// agrees with what was sent (and, where available, tshark agrees with the pcapng).
#[test]
fn every_format_parses_back_to_the_session() {
    let dir = TempDir::new("formats");
    let (engine, rx, _) = engine(1024);
    let mut recorders = Vec::new();
    let mut senders = Vec::new();
    for (name, format) in [
        ("log.txt", LogFormat::Text),
        ("log-hex.txt", LogFormat::TextHex),
        ("log.hex", LogFormat::Hexdump),
        ("log.bin", LogFormat::Raw),
        ("log.csv", LogFormat::Csv),
        ("log.pcapng", LogFormat::Pcapng),
    ] {
        let (r, tx) = Recorder::start(&dir.path(name), format, TextEncoding::Gbk, 256).unwrap();
        recorders.push(r);
        senders.push(tx);
    }
    let (tap, forwarded_stop) = fan_out(senders);
    engine.set_tap(Some(tap));
    let server = engine.start(server_on("127.0.0.1")).unwrap();
    let run = run_tcp_session(&rx, &server);
    server.stop();
    wait_for(&rx, WAIT, |e| matches!(e, Event::Stopped { .. }));
    // The view gets `Stopped` as the forwarder gets it, not once the recorders have it:
    // finishing them earlier could leave out the last lines (a flaky "session stopped").
    forwarded_stop.recv_timeout(WAIT).unwrap();
    // The tap (and the forwarder's senders) are still alive: finishing must not wait for them.
    for r in &mut recorders {
        finish_ok(r);
    }
    let client = run.client.to_string();
    let conn_field = |conn: &str| conn.starts_with("s1/c");

    // text: payload decoded as GBK, split character whole, invalid byte and CR LF escaped.
    let text = std::fs::read_to_string(dir.path("log.txt")).unwrap();
    assert!(text.ends_with('\n'));
    let lines: Vec<Line> = text.lines().map(parse_line).collect();
    let rx_text: String = lines
        .iter()
        .filter(|l| l.dir == "RX")
        .map(|l| {
            assert_eq!(l.peer, client);
            assert!(conn_field(&l.conn), "{l:?}");
            assert!(l.len.ends_with('B'));
            l.rest.clone().unwrap()
        })
        .collect();
    assert_eq!(rx_text, "你好\\xFFline1\\r\\nline2");
    let tx_text: String = lines
        .iter()
        .filter(|l| l.dir == "TX")
        .map(|l| l.rest.clone().unwrap())
        .collect();
    assert_eq!(tx_text, "ok 好");
    let events: Vec<&str> = lines
        .iter()
        .filter(|l| l.dir == "--")
        .map(|l| l.rest.as_deref().unwrap())
        .collect();
    assert!(
        events
            .iter()
            .any(|e| e.starts_with("listening on 127.0.0.1:")),
        "{events:?}"
    );
    assert!(
        events.contains(&format!("client {client} joined (local {})", run.server).as_str()),
        "{events:?}"
    );
    assert!(
        events.contains(&"closed: peer closed the connection"),
        "{events:?}"
    );
    assert!(events.contains(&"session stopped"), "{events:?}");
    // Length fields add up to the bytes sent.
    let rx_len: usize = lines
        .iter()
        .filter(|l| l.dir == "RX")
        .map(|l| l.len.trim_end_matches('B').parse::<usize>().unwrap())
        .sum();
    assert_eq!(rx_len, run.sent.len());

    // text-hex: the hex payloads are the bytes.
    let text = std::fs::read_to_string(dir.path("log-hex.txt")).unwrap();
    let lines: Vec<Line> = text.lines().map(parse_line).collect();
    let bytes_of = |dir: &str| -> Vec<u8> {
        lines
            .iter()
            .filter(|l| l.dir == dir)
            .flat_map(|l| unhex(l.rest.as_deref().unwrap()))
            .collect()
    };
    assert_eq!(bytes_of("RX"), run.sent);
    assert_eq!(bytes_of("TX"), run.reply);

    // hexdump: header line, rows with stream offsets, empty line.
    let text = std::fs::read_to_string(dir.path("log.hex")).unwrap();
    let mut hexdump_rx = Vec::new();
    for block in text.split("\n\n").filter(|b| !b.is_empty()) {
        let mut rows = block.lines();
        let head = parse_line(rows.next().unwrap());
        if head.dir != "RX" {
            continue;
        }
        assert!(head.rest.is_none());
        for row in rows {
            let offset = usize::from_str_radix(&row[..8], 16).unwrap();
            assert_eq!(offset, hexdump_rx.len(), "offset within the stream");
            hexdump_rx.extend(unhex(&row[10..59]));
            assert_eq!(&row[59..61], " |");
        }
    }
    assert_eq!(hexdump_rx, run.sent);

    // raw: exact bytes per direction.
    assert_eq!(std::fs::read(dir.path("log.bin")).unwrap(), run.sent);
    assert_eq!(std::fs::read(dir.path("log.tx.bin")).unwrap(), run.reply);

    // csv: header, rows, hex column decodes to the bytes.
    let rows = parse_csv(&std::fs::read_to_string(dir.path("log.csv")).unwrap());
    assert_eq!(
        rows[0],
        [
            "time",
            "session",
            "conn",
            "peer",
            "direction",
            "length",
            "hex",
            "event"
        ]
    );
    let mut csv_rx = Vec::new();
    for row in &rows[1..] {
        assert_eq!(row.len(), 8, "{row:?}");
        assert_iso_time(&row[0]);
        assert_eq!(row[1], "1");
        if row[4] == "RX" {
            assert_eq!(row[3], client);
            let bytes = unhex(&row[6]);
            assert_eq!(bytes.len(), row[5].parse::<usize>().unwrap());
            csv_rx.extend(bytes);
        } else if row[4] == "EVENT" {
            assert!(!row[7].is_empty());
        }
    }
    assert_eq!(csv_rx, run.sent);
    assert!(
        rows.iter()
            .any(|r| r[4] == "EVENT" && r[7] == "closed: peer closed the connection")
    );

    // pcapng: our own reader, then tshark.
    let pcap = dir.path("log.pcapng");
    let packets = read_pcapng(&pcap);
    let (up, down) = check_tcp_stream(&packets, run.client, run.server);
    assert_eq!(up, run.sent);
    assert_eq!(down, run.reply);
    assert!(
        packets
            .windows(2)
            .all(|w| w[0].ts_us <= w[1].ts_us + 1_000_000)
    );
    if tshark().is_some() {
        let (a, b, node0) = tshark_follow(&pcap);
        assert_eq!(node0, client);
        assert_eq!(a, run.sent);
        assert_eq!(b, run.reply);
        tshark_expert_clean(&pcap);
    }
}

/// A TCP payload larger than one segment is split, over IPv6, and tshark reassembles it.
#[test]
fn pcapng_splits_large_writes_over_ipv6() {
    let dir = TempDir::new("ipv6");
    let path = dir.path("v6.pcapng");
    let (engine, rx, _) = engine(1024);
    let (mut recorder, tap) =
        Recorder::start(&path, LogFormat::Pcapng, TextEncoding::Utf8, 256).unwrap();
    engine.set_tap(Some(tap));
    let Ok(server) = engine.start(server_on("::1")) else {
        println!("note: no IPv6 loopback here; skipping");
        return;
    };
    let addr = server.local_addr().unwrap();
    let mut s = TcpStream::connect(addr).unwrap();
    let client = s.local_addr().unwrap();
    let conn = match wait_for(&rx, WAIT, |e| matches!(e, Event::ClientJoined { .. })) {
        Event::ClientJoined { conn, .. } => conn,
        _ => unreachable!(),
    };
    // 300 KB from the server in one send: the engine writes it as one Tx event.
    let mut big = vec![0u8; 300_000];
    Prng(7).fill(&mut big);
    server.send(SendTarget::Conn(conn), big.clone()).unwrap();
    assert_eq!(read_exact_len(&mut s, big.len()), big);
    s.write_all(b"thanks").unwrap();
    wait_for(&rx, WAIT, |e| {
        matches!(
            e,
            Event::Data {
                dir: Direction::Rx,
                ..
            }
        )
    });
    drop(s);
    wait_for(&rx, WAIT, |e| matches!(e, Event::Closed { .. }));
    finish_ok(&mut recorder);
    let packets = read_pcapng(&path);
    let (up, down) = check_tcp_stream(&packets, client, addr);
    assert_eq!(up, b"thanks");
    assert_eq!(down, big);
    assert!(packets.iter().all(|p| p.payload.len() <= 65_495));
    assert!(
        packets
            .iter()
            .filter(|p| p.src == addr && !p.payload.is_empty())
            .count()
            >= 5
    );
    if tshark().is_some() {
        let (a, b, _) = tshark_follow(&path);
        assert_eq!(a, b"thanks");
        assert_eq!(b, big);
        tshark_expert_clean(&path);
    }
}

/// A UDP session recorded to pcapng: one UDP packet per datagram, real addresses and
/// ports (local from `Listening`), payloads exact.
#[test]
fn udp_session_to_pcapng() {
    let dir = TempDir::new("udp");
    let path = dir.path("udp.pcapng");
    let (engine, rx, _) = engine(1024);
    let (mut recorder, tap) = Recorder::start(
        &path,
        LogFormat::from_path(&path).unwrap(),
        TextEncoding::Utf8,
        256,
    )
    .unwrap();
    engine.set_tap(Some(tap));
    let udp = engine
        .start(SessionConfig::Udp(UdpConfig {
            host: "127.0.0.1".into(),
            port: 0,
            ..Default::default()
        }))
        .unwrap();
    let local = udp.local_addr().unwrap();
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    peer.set_read_timeout(Some(WAIT)).unwrap();
    let peer_addr = peer.local_addr().unwrap();
    let datagrams: Vec<Vec<u8>> = vec![b"one".to_vec(), gbk("二"), vec![0u8; 1400], vec![]];
    for d in &datagrams {
        peer.send_to(d, local).unwrap();
        wait_for(&rx, WAIT, |e| {
            matches!(
                e,
                Event::Data {
                    dir: Direction::Rx,
                    ..
                }
            )
        });
    }
    udp.send(SendTarget::Peer(peer_addr), b"pong".to_vec())
        .unwrap();
    let mut buf = [0u8; 64];
    let (n, _) = peer.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"pong");
    wait_for(&rx, WAIT, |e| {
        matches!(
            e,
            Event::Data {
                dir: Direction::Tx,
                ..
            }
        )
    });
    udp.stop();
    wait_for(&rx, WAIT, |e| matches!(e, Event::Stopped { .. }));
    finish_ok(&mut recorder);

    let packets = read_pcapng(&path);
    assert!(packets.iter().all(|p| p.tcp.is_none()));
    let received: Vec<Vec<u8>> = packets
        .iter()
        .filter(|p| p.src == peer_addr && p.dst == local)
        .map(|p| p.payload.clone())
        .collect();
    assert_eq!(received, datagrams);
    let sent: Vec<&Packet> = packets.iter().filter(|p| p.src == local).collect();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (sent[0].dst, sent[0].payload.as_slice()),
        (peer_addr, &b"pong"[..])
    );
    if tshark().is_some() {
        let out = Command::new("tshark")
            .arg("-r")
            .arg(&path)
            .args([
                "-T",
                "fields",
                "-e",
                "udp.srcport",
                "-e",
                "udp.dstport",
                "-e",
                "udp.length",
            ])
            .output()
            .unwrap();
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split('\t').collect()).collect();
        assert_eq!(rows.len(), 5, "{text}");
        let want_len: Vec<String> = datagrams
            .iter()
            .map(|d| (d.len() + 8).to_string())
            .collect();
        for (row, len) in rows.iter().zip(&want_len) {
            assert_eq!(row[0], peer_addr.port().to_string());
            assert_eq!(row[1], local.port().to_string());
            assert_eq!(row[2], len);
        }
        tshark_expert_clean(&path);
    }
}

/// Recording to a full disk ends the recording with the cause in its status, while the
/// session keeps running: events still flow and a later send still works. Linux only
/// (/dev/full); the write-failure handling is the same code on every system, and
/// unwritable_path_fails_at_start checks a failing path on every system.
#[cfg(target_os = "linux")]
#[test]
fn disk_full_stops_recording_but_not_the_session() {
    let dev_full = Path::new("/dev/full");
    let (engine, rx, _) = engine(1024);
    let (mut recorder, tap) =
        Recorder::start(dev_full, LogFormat::Text, TextEncoding::Utf8, 64).unwrap();
    engine.set_tap(Some(tap));
    let server = engine.start(server_on("127.0.0.1")).unwrap();
    let mut s = TcpStream::connect(server.local_addr().unwrap()).unwrap();
    wait_for(&rx, WAIT, |e| matches!(e, Event::ClientJoined { .. }));
    // 3 MB of text overflows the recorder's 1 MiB buffer at once.
    let chunk = vec![b'x'; 64 << 10];
    let deadline = Instant::now() + WAIT;
    let status = loop {
        s.write_all(&chunk).unwrap();
        while rx.try_recv().is_some() {}
        let status = recorder.status();
        if status.finished {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "recorder never failed: {status:?}"
        );
    };
    let error = status.error.clone().unwrap();
    assert!(
        error.to_lowercase().contains("no space left on device"),
        "{error}"
    );
    assert!(error.contains("/dev/full"), "{error}");
    // The session goes on: new bytes arrive as events, and sending still works.
    s.write_all(b"still here").unwrap();
    wait_for(
        &rx,
        WAIT,
        |e| matches!(e, Event::Data { bytes, .. } if bytes.ends_with(b"still here")),
    );
    server.send(SendTarget::All, b"reply".to_vec()).unwrap();
    assert_eq!(read_exact_len(&mut s, 5), b"reply");
    assert_eq!(recorder.finish(WAIT).error, Some(error));
}

/// A log path that cannot be created fails at start, naming the path and the cause:
/// the system's own words for creating that file (Unix: "Not a directory"; Windows:
/// "The system cannot find the path specified. (os error 3)").
#[test]
fn unwritable_path_fails_at_start() {
    let dir = TempDir::new("unwritable");
    let blocker = dir.path("a-file");
    std::fs::write(&blocker, b"x").unwrap();
    let path = blocker.join("log.txt");
    let cause = std::fs::File::create(&path).unwrap_err();
    #[cfg(unix)]
    assert_eq!(cause.kind(), std::io::ErrorKind::NotADirectory);
    #[cfg(windows)]
    assert_eq!(cause.raw_os_error(), Some(3), "ERROR_PATH_NOT_FOUND");
    for format in LogFormat::ALL {
        let err = Recorder::start(&path, format, TextEncoding::Utf8, 16).unwrap_err();
        let message = err.to_string();
        // The path is quoted as Rust quotes it (`{:?}`: backslashes doubled on Windows).
        assert!(message.contains(&format!("{path:?}")), "{message}");
        assert!(message.contains(&cause.to_string()), "{message}");
    }
    let err = write_records(&path, LogFormat::Csv, TextEncoding::Utf8, []).unwrap_err();
    assert!(
        err.to_string().starts_with("cannot create log file"),
        "{err}"
    );
}

/// "Save log…": what the store holds is written in each format (text decoded per
/// stream, CSV rows, raw bytes, pcapng with the local address given).
#[test]
fn write_records_saves_the_store() {
    let dir = TempDir::new("save");
    let mut store = Store::new(StoreCaps::default(), TextEncoding::Utf8);
    let peer: SocketAddr = "192.0.2.7:5000".parse().unwrap();
    let local: SocketAddr = "192.0.2.1:8080".parse().unwrap();
    let at = SystemTime::now();
    let hello = gbk("你好");
    store.push_info(1, Some(3), Some(peer), at, format!("client {peer} joined"));
    store.push_data(1, Some(3), peer, Direction::Rx, at, hello[..1].into());
    store.push_data(1, Some(3), peer, Direction::Rx, at, hello[1..].into());
    store.push_data(
        1,
        Some(3),
        peer,
        Direction::Tx,
        at,
        b"a,\"b\"\n".as_slice().into(),
    );
    store.push_data(1, None, peer, Direction::Rx, at, b"udp".as_slice().into());
    store.push_info(1, Some(3), Some(peer), at, "closed: \"bye\", friend".into());

    let text_path = dir.path("save.txt");
    let summary =
        write_records(&text_path, LogFormat::Text, TextEncoding::Gbk, store.iter()).unwrap();
    assert_eq!(summary.records, 6);
    assert_eq!(summary.data_bytes, 4 + 6 + 3);
    let text = std::fs::read_to_string(&text_path).unwrap();
    assert_eq!(summary.bytes_written, text.len() as u64);
    let lines: Vec<Line> = text.lines().map(parse_line).collect();
    assert_eq!(lines.len(), 6);
    assert_eq!(
        lines[1].rest.as_deref(),
        Some(""),
        "the split character waits"
    );
    assert_eq!(lines[2].rest.as_deref(), Some("你好"));
    assert_eq!(lines[3].rest.as_deref(), Some("a,\"b\"\\n"));
    assert_eq!(
        (lines[4].conn.as_str(), lines[4].rest.as_deref()),
        ("s1/udp", Some("udp"))
    );

    let csv_path = dir.path("save.csv");
    write_records(&csv_path, LogFormat::Csv, TextEncoding::Utf8, store.iter()).unwrap();
    let rows = parse_csv(&std::fs::read_to_string(&csv_path).unwrap());
    assert_eq!(rows.len(), 7);
    assert_eq!(rows[6][7], "closed: \"bye\", friend");
    assert_eq!(unhex(&rows[4][6]), b"a,\"b\"\n");
    assert_eq!(rows[5][2], "");

    let raw_path = dir.path("save.bin");
    write_records(&raw_path, LogFormat::Raw, TextEncoding::Utf8, store.iter()).unwrap();
    let mut want = hello.clone();
    want.extend_from_slice(b"udp");
    assert_eq!(std::fs::read(&raw_path).unwrap(), want);
    assert_eq!(std::fs::read(raw_tx_path(&raw_path)).unwrap(), b"a,\"b\"\n");

    let pcap_path = dir.path("save.pcapng");
    let mut options = LogOptions::new(LogFormat::Pcapng, TextEncoding::Utf8);
    options.locals.push((1, local));
    write_records_with(&pcap_path, &options, store.iter()).unwrap();
    let packets = read_pcapng(&pcap_path);
    assert_eq!(packets.len(), 4);
    let tcp_up: Vec<u8> = packets
        .iter()
        .filter(|p| p.tcp.is_some() && p.src == peer && p.dst == local)
        .flat_map(|p| p.payload.clone())
        .collect();
    assert_eq!(tcp_up, hello);
    assert!(
        packets
            .iter()
            .any(|p| p.tcp.is_none() && p.payload == b"udp" && p.dst == local)
    );

    let hex_path = dir.path("save.hex");
    write_records(
        &hex_path,
        LogFormat::from_path(&hex_path).unwrap(),
        TextEncoding::Utf8,
        store.iter(),
    )
    .unwrap();
    let text = std::fs::read_to_string(&hex_path).unwrap();
    assert!(text.contains("00000000  C4 "), "{text}");
    assert!(
        text.contains("00000001  E3 BA C3"),
        "stream offsets continue: {text}"
    );
}

/// A datagram addressed to a joined multicast group says so in the text log (before the
/// payload's ` | `) and in the CSV's event column; a unicast one does not (Linux, where
/// the OS tells each datagram's destination).
#[cfg(target_os = "linux")]
#[test]
fn group_datagrams_are_marked_in_text_and_csv() {
    use crate::util::udp_joining;
    use sockscope::engine::{GroupSpec, Notice};
    let dir = TempDir::new("groups");
    let (engine, rx, _) = engine(1024);
    let mut recorders = Vec::new();
    let mut senders = Vec::new();
    for (name, format) in [("log.txt", LogFormat::Text), ("log.csv", LogFormat::Csv)] {
        let (r, tx) = Recorder::start(&dir.path(name), format, TextEncoding::Utf8, 256).unwrap();
        recorders.push(r);
        senders.push(tx);
    }
    let (tap, forwarded_stop) = fan_out(senders);
    engine.set_tap(Some(tap));
    let udp = engine
        .start(udp_joining(
            "0.0.0.0",
            GroupSpec::parse("239.255.78.1@127.0.0.1").unwrap(),
        ))
        .unwrap();
    let port = udp.local_addr().unwrap().port();
    wait_for(&rx, WAIT, |e| {
        matches!(
            e,
            Event::Notice {
                notice: Notice::GroupJoined { .. },
                ..
            }
        )
    });
    let sender = crate::util::loopback_multicast_sender();
    for (to, bytes) in [
        (
            SocketAddr::from(([239, 255, 78, 1], port)),
            &b"to the group"[..],
        ),
        (SocketAddr::from(([127, 0, 0, 1], port)), &b"unicast"[..]),
    ] {
        sender.send_to(bytes, &to.into()).unwrap();
        wait_for(
            &rx,
            WAIT,
            |e| matches!(e, Event::Data { dir: Direction::Rx, bytes: b, .. } if &b[..] == bytes),
        );
    }
    udp.stop();
    wait_for(&rx, WAIT, |e| matches!(e, Event::Stopped { .. }));
    forwarded_stop.recv_timeout(WAIT).unwrap();
    for r in &mut recorders {
        finish_ok(r);
    }
    let text = std::fs::read_to_string(dir.path("log.txt")).unwrap();
    let line = |payload: &str| {
        text.lines()
            .find(|l| l.ends_with(&format!(" | {payload}")))
            .unwrap_or_else(|| panic!("no line for {payload:?} in:\n{text}"))
            .to_string()
    };
    assert!(line("to the group").contains(" 12B to group 239.255.78.1 | "));
    assert!(!line("unicast").contains("to group"));
    let rows = parse_csv(&std::fs::read_to_string(dir.path("log.csv")).unwrap());
    let event_col = rows[0].iter().position(|h| h == "event").unwrap();
    let groups: Vec<&str> = rows[1..]
        .iter()
        .filter(|r| r.iter().any(|f| f == "RX"))
        .map(|r| r[event_col].as_str())
        .collect();
    assert_eq!(groups, ["to group 239.255.78.1", ""]);
}

/// A TLS connection between our own server (self-signed) and client (accept any), the
/// client recorded to pcapng and CSV: the packets carry the plaintext on the real ports; every
/// data packet after the handshake, and none before it, has the TLS comment, which
/// tshark reads back as `frame.comment`; the CSV's handshake rows name their connection
/// and peer.
#[test]
fn tls_connection_marked_in_pcapng_and_csv() {
    use sockscope::engine::tls::{TlsClientOptions, TlsServerOptions};
    use sockscope::engine::{Notice, TcpClientConfig, TcpServerConfig};
    use sockscope::session::pcapng::TLS_COMMENT;

    let dir = TempDir::new("tls");
    let pcap = dir.path("tls.pcapng");
    let csv = dir.path("tls.csv");
    let (engine, rx, _) = engine(1024);
    let (mut pcap_rec, pcap_tap) =
        Recorder::start(&pcap, LogFormat::Pcapng, TextEncoding::Utf8, 256).unwrap();
    let (mut csv_rec, csv_tap) =
        Recorder::start(&csv, LogFormat::Csv, TextEncoding::Utf8, 256).unwrap();
    let (tap, stopped) = fan_out(vec![pcap_tap, csv_tap]);
    engine.set_tap(Some(tap));
    // The server runs on an engine of its own, not recorded: one end of the connection
    // in the file, as a capture would have it.
    let (server_engine, server_rx, _) = crate::util::engine(1024);
    let server = server_engine
        .start(SessionConfig::TcpServer(TcpServerConfig {
            host: "127.0.0.1".into(),
            port: 0,
            tls: Some(TlsServerOptions::default()),
            ..Default::default()
        }))
        .unwrap();
    let addr = server.local_addr().unwrap();
    let client = engine
        .start(SessionConfig::TcpClient(TcpClientConfig {
            host: "127.0.0.1".into(),
            port: addr.port(),
            tls: Some(TlsClientOptions {
                accept_any: true,
                ..Default::default()
            }),
            ..Default::default()
        }))
        .unwrap();
    for events in [&rx, &server_rx] {
        wait_for(events, WAIT, |e| {
            matches!(
                e,
                Event::Notice {
                    notice: Notice::TlsHandshake { .. },
                    ..
                }
            )
        });
    }
    client
        .send(SendTarget::Default, b"hello over tls".to_vec())
        .unwrap();
    let rx_data = |e: &Event| {
        matches!(
            e,
            Event::Data {
                dir: Direction::Rx,
                ..
            }
        )
    };
    wait_for(&server_rx, WAIT, rx_data);
    server.send(SendTarget::All, b"and back".to_vec()).unwrap();
    wait_for(&rx, WAIT, rx_data);
    client.stop();
    stopped.recv_timeout(WAIT).unwrap();
    server.stop();
    finish_ok(&mut pcap_rec);
    finish_ok(&mut csv_rec);

    // Each message once, on the real ports, with the comment; the handshake has none.
    let packets = read_pcapng(&pcap);
    let data: Vec<&Packet> = packets.iter().filter(|p| !p.payload.is_empty()).collect();
    assert_eq!(data.len(), 2, "{:?}", packets.len());
    for p in &data {
        assert_eq!(p.comment.as_deref(), Some(TLS_COMMENT), "{p:?}");
        let to_server = p.payload == b"hello over tls";
        assert!(to_server || p.payload == b"and back", "{p:?}");
        let server_port = if to_server {
            p.dst.port()
        } else {
            p.src.port()
        };
        assert_eq!(server_port, addr.port());
    }
    let syns = packets
        .iter()
        .filter(|p| p.tcp.is_some_and(|(_, _, flags)| flags & SYN != 0));
    assert_eq!(syns.clone().count(), 2);
    assert!(syns.into_iter().all(|p| p.comment.is_none()));

    // The CSV: the handshake rows are events of their connection, with the peer.
    let rows = parse_csv(&std::fs::read_to_string(&csv).unwrap());
    let tls_rows: Vec<&Vec<String>> = rows
        .iter()
        .filter(|r| r[4] == "EVENT" && r[7].starts_with("TLS with "))
        .collect();
    assert_eq!(tls_rows.len(), 1, "{rows:#?}");
    for r in tls_rows {
        assert!(!r[2].is_empty() && !r[3].is_empty(), "{r:?}");
    }

    if tshark().is_some() {
        let out = Command::new("tshark")
            .arg("-r")
            .arg(&pcap)
            .args(["-T", "fields", "-e", "tcp.len", "-e", "frame.comment"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let marked = text
            .lines()
            .filter(|l| l.split('\t').nth(1) == Some(TLS_COMMENT))
            .count();
        assert_eq!(marked, 2, "{text}");
        for line in text.lines() {
            let (len, comment) = line.split_once('\t').unwrap_or((line, ""));
            if len != "0" {
                assert_eq!(comment, TLS_COMMENT, "{text}");
            }
        }
        tshark_expert_clean(&pcap);
    }
}
