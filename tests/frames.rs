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
        if let Some(Event::Data {
            session,
            conn,
            peer,
            dir,
            at,
            bytes,
            ..
        }) = rx.recv_timeout(Duration::from_millis(20))
        {
            store.push_data(session, conn, peer, dir, at, bytes);
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

/// The Modbus RTU definition with register 3 as a temperature (0.1 °C).
fn definition() -> FrameDef {
    let mut def = FrameDef::modbus_rtu();
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
