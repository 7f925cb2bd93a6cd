//! Protocol frames over real loopback sockets: a small Modbus RTU-over-TCP device
//! simulator (started by the test: holding registers, CRC-16/MODBUS, answering after a
//! set delay, its answers written in random pieces) driven by our TCP client session,
//! with the session store cutting frames by the Modbus RTU definition, judging CRCs,
//! reading register fields with a scale, and measuring round trips. Bounded in time.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use sockscope::codec::checksum::Checksum;
use sockscope::codec::text::TextEncoding;
use sockscope::engine::{
    ConnId, Event, EventReceiver, SendTarget, SessionConfig, SessionHandle, TcpClientConfig,
};
use sockscope::protocol::{FieldDef, FieldKind, FrameDef, Verdict};
use sockscope::session::store::{Store, StoreCaps};

use crate::util::{Prng, WAIT, engine, timing_factor};

/// How the simulated device behaves.
#[derive(Clone, Copy)]
pub(crate) struct Device {
    /// Wait before answering each request.
    pub delay: Duration,
    /// Answer the n-th request (1-based) of every `corrupt_every` with a wrong CRC.
    pub corrupt_every: usize,
    /// Write each answer in random pieces with short pauses between them.
    pub split: bool,
}

/// Holding register `i`'s value: 200 + 5·i (so register 3 reads 21.5 at scale 0.1).
pub(crate) fn register(i: u16) -> u16 {
    200 + 5 * i
}

/// A Modbus RTU request "read holding registers" (function 03) to unit 1.
pub(crate) fn read_request(start: u16, count: u16) -> Vec<u8> {
    let mut f = vec![0x01, 0x03];
    f.extend_from_slice(&start.to_be_bytes());
    f.extend_from_slice(&count.to_be_bytes());
    Checksum::Crc16Modbus.append(&mut f);
    f
}

/// Starts the device on 127.0.0.1: one client, requests of 8 bytes answered in order;
/// ends when the client leaves or `stop` is set.
pub(crate) fn start_device(device: Device) -> (SocketAddr, Arc<AtomicBool>, JoinHandle<usize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let stopping = stop.clone();
    let handle = thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        let mut rng = Prng(42);
        let mut buf = Vec::new();
        let mut answered = 0;
        let mut chunk = [0u8; 256];
        while !stopping.load(Ordering::SeqCst) {
            match s.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(_) => continue,
            }
            while buf.len() >= 8 {
                let req: Vec<u8> = buf.drain(..8).collect();
                assert!(Checksum::Crc16Modbus.verify(&req), "bad request {req:02X?}");
                let start = u16::from_be_bytes([req[2], req[3]]);
                let count = u16::from_be_bytes([req[4], req[5]]);
                let mut answer = vec![0x01, 0x03, (count * 2) as u8];
                for i in start..start + count {
                    answer.extend_from_slice(&register(i).to_be_bytes());
                }
                Checksum::Crc16Modbus.append(&mut answer);
                answered += 1;
                if device.corrupt_every > 0 && answered % device.corrupt_every == 0 {
                    let n = answer.len();
                    answer[n - 1] ^= 0x5A;
                }
                thread::sleep(device.delay);
                if device.split {
                    let mut at = 0;
                    while at < answer.len() {
                        let n = rng.range(1, answer.len() - at).min(answer.len() - at);
                        if s.write_all(&answer[at..at + n]).is_err() {
                            return answered;
                        }
                        at += n;
                        thread::sleep(Duration::from_millis(1));
                    }
                } else if s.write_all(&answer).is_err() {
                    return answered;
                }
            }
        }
        answered
    });
    (addr, stop, handle)
}

/// Moves the engine's events into the store as the window does, until `done` holds.
fn pump(rx: &EventReceiver, store: &mut Store, within: Duration, done: impl Fn(&Store) -> bool) {
    let deadline = Instant::now() + within;
    while !done(store) {
        assert!(
            Instant::now() < deadline,
            "timed out; store holds {:?}",
            store
                .iter()
                .map(|r| (r.kind, r.bytes.to_vec(), r.verdict().cloned()))
                .collect::<Vec<_>>()
        );
        // Everything queued goes in before the store is polled, as the window does.
        let mut next = rx.recv_timeout(Duration::from_millis(20));
        while let Some(ev) = next {
            if let Event::Data {
                session,
                conn,
                peer,
                dir,
                at,
                bytes,
                ..
            } = ev
            {
                store.push_data(session, conn, peer, dir, at, bytes);
            }
            next = rx.try_recv();
        }
        store.poll(Instant::now());
    }
}

fn connect(
    addr: SocketAddr,
) -> (
    sockscope::engine::Engine,
    EventReceiver,
    SessionHandle,
    ConnId,
) {
    let (engine, rx, _) = engine(10_000);
    let h = engine
        .start(SessionConfig::TcpClient(TcpClientConfig {
            host: "127.0.0.1".into(),
            port: addr.port(),
            ..Default::default()
        }))
        .unwrap();
    let conn = match crate::util::wait_for(&rx, WAIT, |e| matches!(e, Event::Connected { .. })) {
        Event::Connected { conn, .. } => conn,
        _ => unreachable!(),
    };
    (engine, rx, h, conn)
}

/// The Modbus RTU definition with register 3 as a temperature (0.1 °C). Without the
/// idle-gap fallback: on a loaded 2-core machine the device's 1 ms pause between the
/// pieces of an answer can exceed the preset's 50 ms (the fallback has unit tests).
fn definition() -> FrameDef {
    let mut def = FrameDef::modbus_rtu();
    def.idle_gap_ms = None;
    let mut temp = FieldDef::number("temperature", 3 + 2 * 3, FieldKind::U16, Default::default());
    temp.scale = 0.1;
    temp.unit = "°C".into();
    def.fields.push(temp);
    def
}

/// 30 requests to a device answering after 40 ms in random pieces, every 7th answer
/// with a bad CRC: 30 frames cut whole, exactly the corrupted ones bad, no resync, the
/// registers decoded with their scale, and round trips between the delay and the delay
/// plus a tolerance, with no timeouts.
#[test]
fn modbus_device_frames_fields_and_round_trips() {
    let delay = Duration::from_millis(40);
    let (addr, stop, device) = start_device(Device {
        delay,
        corrupt_every: 7,
        split: true,
    });
    let (_engine, rx, h, conn) = connect(addr);
    let mut store = Store::new(StoreCaps::default(), TextEncoding::Utf8);
    store.set_frame_def(Some(definition()));
    let requests = 30;
    for n in 0..requests {
        let req = read_request(0, 4);
        store.expect_reply(Some(conn), addr, "read 4 registers", req.len());
        h.send(SendTarget::Default, req).unwrap();
        let answered = n + 1;
        pump(&rx, &mut store, WAIT * timing_factor(), |s| {
            s.rtt().summary("read 4 registers").unwrap().count >= answered
        });
    }
    let frames: Vec<_> = store
        .iter()
        .filter(|r| r.kind == sockscope::session::store::RecordKind::Rx)
        .collect();
    assert_eq!(frames.len(), requests as usize);
    for (i, r) in frames.iter().enumerate() {
        assert_eq!(r.bytes.len(), 3 + 8 + 2, "frame {i} cut whole");
        let bad = (i + 1) % 7 == 0;
        match r.verdict().unwrap() {
            Verdict::Good => assert!(!bad, "frame {i}"),
            Verdict::BadChecksum { .. } => assert!(bad, "frame {i}"),
            v => panic!("frame {i}: {v:?}"),
        }
        assert_eq!(r.crc_ok(), Some(!bad));
    }
    assert_eq!(store.frame_counts(), (26, 4));
    assert_eq!(store.resyncs(), 0);
    let values = store.field_values(frames[0]);
    let get = |name: &str| {
        values
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.clone())
            .unwrap()
    };
    assert_eq!(get("register 0").raw, f64::from(register(0)));
    assert_eq!(get("register 1").raw, f64::from(register(1)));
    assert_eq!(get("temperature").text, "21.5 °C");
    assert!(
        store.field_values(frames[6]).is_empty(),
        "a bad frame has no values"
    );
    let series = store.field_series(2).unwrap();
    assert_eq!(series.len(), 26);
    assert!(series.iter().all(|p| (p.value - 21.5).abs() < 1e-9));

    let rtt = store.rtt().summary("read 4 registers").unwrap();
    let tolerance = Duration::from_millis(250) * timing_factor();
    assert_eq!(rtt.count, 30);
    assert_eq!(rtt.timeouts, 0);
    assert!(rtt.min >= delay, "{rtt:?}");
    assert!(rtt.p50 >= delay && rtt.p50 < delay + tolerance, "{rtt:?}");
    assert!(
        rtt.p95 <= rtt.max && rtt.max < delay + tolerance * 2,
        "{rtt:?}"
    );

    h.stop();
    stop.store(true, Ordering::SeqCst);
    assert_eq!(device.join().unwrap(), 30);
}

/// A device slower than the timeout: every request counts as a timeout, and the late
/// answers are still cut and shown.
#[test]
fn slow_device_counts_timeouts() {
    let (addr, stop, device) = start_device(Device {
        delay: Duration::from_millis(150),
        corrupt_every: 0,
        split: false,
    });
    let (_engine, rx, h, conn) = connect(addr);
    let mut store = Store::new(StoreCaps::default(), TextEncoding::Utf8);
    store.set_frame_def(Some(definition()));
    store.rtt_mut().set_timeout(Duration::from_millis(50));
    for _ in 0..3 {
        let req = read_request(0, 2);
        store.expect_reply(Some(conn), addr, "slow", req.len());
        h.send(SendTarget::Default, req).unwrap();
    }
    pump(&rx, &mut store, WAIT * timing_factor(), |s| {
        s.frame_counts().0 == 3
    });
    let rtt = store.rtt().summary("slow").unwrap();
    assert_eq!((rtt.count, rtt.timeouts), (0, 3), "{rtt:?}");
    h.stop();
    stop.store(true, Ordering::SeqCst);
    device.join().unwrap();
}

/// Bytes a device sends before its first frame (noise on the line) are shown as such,
/// counted as one resync, and the frames after them are cut right.
#[test]
fn noise_then_frames_resync() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (_engine, rx, h, _conn) = {
        let t = thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            // A sync-framed protocol: AA 55, length of the body, body, XOR8.
            let mut stream = vec![0x13, 0x37, 0xAA];
            for body in [&b"first"[..], b"second"] {
                let mut f = vec![0xAA, 0x55, body.len() as u8];
                f.extend_from_slice(body);
                Checksum::Xor8.append(&mut f);
                stream.extend(f);
            }
            for piece in stream.chunks(3) {
                s.write_all(piece).unwrap();
                thread::sleep(Duration::from_millis(2));
            }
            thread::sleep(Duration::from_millis(300));
            drop(s);
        });
        let c = connect(addr);
        drop(t);
        c
    };
    let mut def = FrameDef::u16_length_prefix();
    def.sync = vec![0xAA, 0x55];
    def.length = sockscope::protocol::FrameLength::Field {
        offset: 2,
        width: 1,
        endian: Default::default(),
        counts: Default::default(),
        adjust: 1,
    };
    def.checksum = Some(sockscope::protocol::FrameChecksum {
        kind: Checksum::Xor8,
        from: 0,
        trailer: 0,
        endian: None,
    });
    let mut store = Store::new(StoreCaps::default(), TextEncoding::Utf8);
    store.set_frame_def(Some(def));
    pump(&rx, &mut store, WAIT, |s| s.frame_counts().0 == 2);
    // The noise may come as several records (it is shown as it arrives, and a lone AA
    // waits to see whether a 55 follows), but it is one run: one resync.
    let noise: Vec<u8> = store
        .iter()
        .take_while(|r| r.verdict() == Some(&Verdict::NoSync))
        .flat_map(|r| r.bytes.to_vec())
        .collect();
    assert_eq!(noise, [0x13, 0x37, 0xAA]);
    let frames: Vec<_> = store
        .iter()
        .filter(|r| r.verdict() != Some(&Verdict::NoSync))
        .map(|r| (r.bytes[3..r.bytes.len() - 1].to_vec(), r.verdict().cloned()))
        .collect();
    assert_eq!(
        frames,
        [
            (b"first".to_vec(), Some(Verdict::Good)),
            (b"second".to_vec(), Some(Verdict::Good))
        ]
    );
    assert_eq!(store.resyncs(), 1);
    let _ = TcpStream::connect(addr);
    h.stop();
}

/// The CSV log with the Modbus RTU definition, recording a session with the device:
/// one row per frame with its verdict, the round trip of the request it answers
/// (at least the device's delay) and the field columns; sends keep their usual rows.
#[test]
fn csv_log_has_frames_round_trips_and_fields() {
    use sockscope::session::recorder::{LogFormat, LogOptions, Recorder};
    let delay = Duration::from_millis(30);
    let (addr, stop, device) = start_device(Device {
        delay,
        corrupt_every: 3,
        split: true,
    });
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("frames.csv");
    let mut options = LogOptions::new(LogFormat::Csv, TextEncoding::Utf8);
    options.frame_def = Some(definition());
    let (mut recorder, tap) = Recorder::start_with(&path, &options, 1024).unwrap();
    let (engine, rx, _) = engine(10_000);
    engine.set_tap(Some(tap));
    let h = engine
        .start(SessionConfig::TcpClient(TcpClientConfig {
            host: "127.0.0.1".into(),
            port: addr.port(),
            ..Default::default()
        }))
        .unwrap();
    crate::util::wait_for(&rx, WAIT, |e| matches!(e, Event::Connected { .. }));
    let mut received = 0;
    for _ in 0..6 {
        h.send(SendTarget::Default, read_request(0, 4)).unwrap();
        // One request at a time, as a master polls a device.
        let deadline = Instant::now() + WAIT * timing_factor();
        let before = received;
        while received < before + 13 {
            assert!(Instant::now() < deadline, "no answer");
            if let Some(Event::Data {
                dir: sockscope::engine::Direction::Rx,
                bytes,
                ..
            }) = rx.recv_timeout(Duration::from_millis(20))
            {
                received += bytes.len();
            }
        }
    }
    h.stop();
    crate::util::until_stopped(&rx, h.id(), WAIT);
    engine.set_tap(None);
    let status = recorder.finish(WAIT);
    assert!(status.error.is_none(), "{status:?}");
    stop.store(true, Ordering::SeqCst);
    device.join().unwrap();

    let mut reader = csv::Reader::from_path(&path).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        header,
        [
            "time",
            "session",
            "conn",
            "peer",
            "direction",
            "length",
            "hex",
            "event",
            "frame",
            "rtt_ms",
            "register 0",
            "register 1",
            "temperature"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    let frames: Vec<_> = rows.iter().filter(|r| &r[4] == "RX").collect();
    let sends = rows.iter().filter(|r| &r[4] == "TX").count();
    assert_eq!((frames.len(), sends), (6, 6));
    for (i, row) in frames.iter().enumerate() {
        assert_eq!(&row[5], "13", "frame {i} whole");
        let rtt: f64 = row[9].parse().unwrap();
        assert!(rtt >= delay.as_secs_f64() * 1000.0, "row {i}: {rtt} ms");
        if (i + 1) % 3 == 0 {
            assert!(row[8].starts_with("bad checksum: expected "), "{:?}", row);
            assert_eq!((&row[10], &row[12]), ("", ""));
        } else {
            assert_eq!(&row[8], "good");
            assert_eq!(&row[10], register(0).to_string().as_str());
            assert_eq!(&row[12], "21.5");
        }
    }
}
