//! P2 — UDP receive: paced 64-byte datagrams at increasing rates into (a) a plain
//! socket2 receiver with a 4 MiB SO_RCVBUF, (b) the engine → store consumer thread,
//! (c) the real app run headless at 60 frames/s (tick + draw + tessellate per frame).

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};
use sockscope::cli::{StartOptions, StartSession};
use sockscope::engine::{Engine, SessionConfig, UdpConfig};
use sockscope::ui::{AppSettings, Lang, Mode, SockscopeApp};

use crate::common::{Config, Live, Row, loopback, spawn_store_consumer, udp_rcvbuf_errors};
use crate::p5::{frame, raw_input};

/// Datagram size.
const DGRAM: usize = 64;
/// Receive buffer asked for by both sides.
const RCVBUF: usize = 4 << 20;
/// Datagrams per sendmmsg call at most.
const BATCH: usize = 32;

/// What one paced send achieved.
struct Sent {
    count: u64,
    rate: f64,
}

/// Sends `rate` datagrams/s for `dur` to `to`, paced per batch (sendmmsg on Linux).
fn paced_send(to: SocketAddr, rate: u64, dur: Duration) -> Sent {
    let Ok(sock) = UdpSocket::bind("127.0.0.1:0") else {
        return Sent {
            count: 0,
            rate: 0.0,
        };
    };
    if sock.connect(to).is_err() {
        return Sent {
            count: 0,
            rate: 0.0,
        };
    }
    let total = (rate as f64 * dur.as_secs_f64()) as u64;
    let payload = [0x5Au8; DGRAM];
    let start = Instant::now();
    let mut sent = 0u64;
    while sent < total {
        // Every ~0.5 ms, send what is due by now (in sendmmsg batches), then sleep: a
        // paced sender that leaves the CPU to the receivers (2 cores here).
        let due = ((start.elapsed().as_secs_f64() * rate as f64) as u64).min(total);
        while sent < due {
            let n = ((due - sent) as usize).min(BATCH);
            let done = send_batch(&sock, &payload, n) as u64;
            if done == 0 {
                break;
            }
            sent += done;
        }
        if sent < total {
            std::thread::sleep(Duration::from_micros(500));
        }
    }
    let took = start.elapsed();
    Sent {
        count: sent,
        rate: sent as f64 / took.as_secs_f64().max(1e-9),
    }
}

#[cfg(target_os = "linux")]
fn send_batch(sock: &UdpSocket, payload: &[u8; DGRAM], n: usize) -> usize {
    use std::os::fd::AsRawFd;
    let mut iov = libc::iovec {
        iov_base: payload.as_ptr() as *mut libc::c_void,
        iov_len: DGRAM,
    };
    // SAFETY: mmsghdr is plain data; all-zero is a valid value we then fill in.
    let mut msgs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
    for m in msgs.iter_mut().take(n) {
        m.msg_hdr.msg_iov = &mut iov;
        m.msg_hdr.msg_iovlen = 1;
    }
    // SAFETY: `msgs[..n]` point at one valid iovec over `payload`, alive for the call;
    // the socket is connected so no address is needed.
    let rc = unsafe { libc::sendmmsg(sock.as_raw_fd(), msgs.as_mut_ptr(), n as u32, 0) };
    if rc < 0 { 0 } else { rc as usize }
}

#[cfg(not(target_os = "linux"))]
fn send_batch(sock: &UdpSocket, payload: &[u8; DGRAM], n: usize) -> usize {
    (0..n).filter(|_| sock.send(payload).is_ok()).count()
}

/// Waits until `count()` has not changed for 150 ms (or 3 s passed); returns it.
fn settle(count: impl Fn() -> u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut last = count();
    let mut since = Instant::now();
    while Instant::now() < deadline && since.elapsed() < Duration::from_millis(150) {
        std::thread::sleep(Duration::from_millis(10));
        let now = count();
        if now != last {
            last = now;
            since = Instant::now();
        }
    }
    last
}

/// One measurement: rate asked, rate achieved, sent, received.
struct Step {
    asked: u64,
    sent: Sent,
    received: u64,
}

impl Step {
    fn lost(&self) -> u64 {
        self.sent.count.saturating_sub(self.received)
    }
    fn print(&self, who: &str, extra: &str) {
        println!(
            "  {who}: {:>6}/s asked, {:>7.0}/s sent, {} sent, {} received, {} lost{extra}",
            self.asked,
            self.sent.rate,
            self.sent.count,
            self.received,
            self.lost()
        );
    }
}

/// Highest asked rate with zero loss whose sender kept within 5 % of the pace.
fn best_lossless(steps: &[Step]) -> Option<u64> {
    steps
        .iter()
        .filter(|s| s.lost() == 0 && s.sent.rate >= 0.95 * s.asked as f64)
        .map(|s| s.asked)
        .max()
}

/// Runs the ladder with `measure(rate)`, stopping after two lossy steps in a row.
fn ladder(rates: &[u64], mut measure: impl FnMut(u64) -> Option<Step>, who: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut lossy = 0;
    for &rate in rates {
        let Some(step) = measure(rate) else { break };
        let rcvbuf_errors = udp_rcvbuf_errors()
            .map(|e| format!(" (kernel RcvbufErrors total {e})"))
            .unwrap_or_default();
        step.print(who, &rcvbuf_errors);
        lossy = if step.lost() > 0 { lossy + 1 } else { 0 };
        steps.push(step);
        if lossy >= 2 {
            break;
        }
    }
    steps
}

/// The plain receiver: socket2, 4 MiB SO_RCVBUF, one `recv` per datagram.
fn plain(rates: &[u64], dur: Duration) -> Vec<Step> {
    let Ok(sock) = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)) else {
        return Vec::new();
    };
    let _ = sock.set_recv_buffer_size(RCVBUF);
    if sock.bind(&loopback(0).into()).is_err() {
        return Vec::new();
    }
    let _ = sock.set_read_timeout(Some(Duration::from_millis(50)));
    let sock: UdpSocket = sock.into();
    let Ok(addr) = sock.local_addr() else {
        return Vec::new();
    };
    let count = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (count, stop) = (count.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            while !stop.load(Ordering::Relaxed) {
                if sock.recv(&mut buf).is_ok() {
                    count.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };
    let steps = ladder(
        rates,
        |rate| {
            let before = count.load(Ordering::Relaxed);
            let sent = paced_send(addr, rate, dur);
            let after = settle(|| count.load(Ordering::Relaxed));
            Some(Step {
                asked: rate,
                sent,
                received: after - before,
            })
        },
        "plain socket2 recv   ",
    );
    stop.store(true, Ordering::Relaxed);
    let _ = reader.join();
    steps
}

/// Engine → store consumer thread (draining continuously).
fn engine_store(rates: &[u64], dur: Duration) -> Vec<Step> {
    let (engine, events) = Engine::new(4096, Box::new(|| {}));
    let live = Arc::new(Live::default());
    let consumer = spawn_store_consumer(events, live.clone());
    let handle = match engine.start(SessionConfig::Udp(UdpConfig {
        host: "127.0.0.1".into(),
        port: 0,
        peer: None,
        recv_buffer: RCVBUF,
        ..UdpConfig::default()
    })) {
        Ok(h) => h,
        Err(e) => {
            println!("  engine UDP start failed: {e}");
            return Vec::new();
        }
    };
    let Some(addr) = handle.local_addr() else {
        return Vec::new();
    };
    let steps = ladder(
        rates,
        |rate| {
            let before = live.rx_msgs.load(Ordering::Relaxed);
            let engine_before = handle.counters().rx_msgs;
            let queue_before = handle.udp_dropped().0;
            let sent = paced_send(addr, rate, dur);
            let after = settle(|| live.rx_msgs.load(Ordering::Relaxed));
            let engine_got = handle.counters().rx_msgs - engine_before;
            let queue_dropped = handle.udp_dropped().0 - queue_before;
            let step = Step {
                asked: rate,
                sent,
                received: after - before,
            };
            if step.lost() > 0 {
                println!(
                    "    (engine read {engine_got}, event queue full dropped {queue_dropped}, kernel dropped {})",
                    step.sent.count.saturating_sub(engine_got)
                );
            }
            Some(step)
        },
        "engine → store thread",
    );
    handle.stop();
    live.stop.store(true, Ordering::Release);
    drop(engine);
    let _ = consumer.join();
    steps
}

/// The real app, headless, at 60 frames/s: each frame is tick (drain ≤ 6 ms) + draw +
/// tessellate, then a sleep to the next 16.7 ms slot. The sender runs on its own thread.
fn app_path(rates: &[u64], dur: Duration) -> Vec<Step> {
    let ctx = egui::Context::default();
    let mut settings = AppSettings::single(Lang::En, Mode::Udp);
    settings.tabs[0].connection.udp_buffer_kib = (RCVBUF / 1024).to_string();
    let options = StartOptions::one(StartSession::Udp {
        host: "127.0.0.1".into(),
        port: 0,
        peer: None,
    });
    let mut app = SockscopeApp::with_settings(ctx.clone(), settings, options);
    let Some(addr) = app.tab().session.as_ref().and_then(|s| s.local_addr()) else {
        println!("  app did not bind a UDP socket: {:?}", app.tab().status);
        return Vec::new();
    };
    let mut frame_no = 0u64;
    let frame_len = Duration::from_secs_f64(1.0 / 60.0);
    let mut run_frames = |app: &mut SockscopeApp, until: &dyn Fn() -> bool| {
        let mut next = Instant::now();
        while !until() {
            frame(&ctx, app, raw_input(frame_no));
            frame_no += 1;
            next += frame_len;
            let now = Instant::now();
            if next > now {
                std::thread::sleep(next - now);
            } else {
                next = now;
            }
        }
    };
    let steps = ladder(
        rates,
        |rate| {
            let before = app.tab().store.stats.total.rx_msgs;
            let sender = std::thread::spawn(move || paced_send(addr, rate, dur));
            run_frames(&mut app, &|| sender.is_finished());
            let sent = sender.join().ok()?;
            // Keep drawing until nothing more arrives for 150 ms.
            let mut last = app.tab().store.stats.total.rx_msgs;
            let mut since = Instant::now();
            let deadline = Instant::now() + Duration::from_secs(3);
            while since.elapsed() < Duration::from_millis(150) && Instant::now() < deadline {
                run_frames(&mut app, &{
                    let t = Instant::now();
                    move || t.elapsed() >= Duration::from_millis(16)
                });
                if app.tab().store.stats.total.rx_msgs != last {
                    last = app.tab().store.stats.total.rx_msgs;
                    since = Instant::now();
                }
            }
            let step = Step {
                asked: rate,
                sent,
                received: last - before,
            };
            if step.lost() > 0 {
                println!(
                    "    (app shows {} datagrams dropped by the event queue)",
                    app.tab().udp_dropped
                );
            }
            Some(step)
        },
        "app, 60 fps headless ",
    );
    app.tab_mut().stop_session();
    steps
}

/// Runs P2 and appends its rows.
pub fn run(cfg: &Config, rows: &mut Vec<Row>) {
    let (rates, dur): (&[u64], _) = if cfg.quick {
        (&[10_000, 50_000], Duration::from_millis(300))
    } else {
        (
            &[
                10_000, 50_000, 100_000, 200_000, 300_000, 400_000, 450_000, 500_000, 550_000,
                600_000,
            ],
            Duration::from_secs(1),
        )
    };
    println!(
        "P2 UDP receive: {DGRAM}-byte datagrams, {} ms per rate, SO_RCVBUF {} MiB asked",
        dur.as_millis(),
        RCVBUF >> 20
    );
    let plain_steps = plain(rates, dur);
    let engine_steps = engine_store(rates, dur);
    let app_steps = app_path(rates, dur);
    let fmt = |v: Option<u64>| v.map_or("none".to_string(), |r| format!("{}k/s", r / 1000));
    let reference = best_lossless(&plain_steps);
    let ratio_of = |v: Option<u64>| match (v, reference) {
        (Some(a), Some(b)) if b > 0 => a as f64 / b as f64,
        _ => f64::NAN,
    };
    let top_note = if reference == rates.last().copied() {
        format!(
            " (top of ladder; sender max {:.0}k/s)",
            plain_steps.iter().map(|s| s.sent.rate).fold(0.0, f64::max) / 1000.0
        )
    } else {
        String::new()
    };
    let engine = best_lossless(&engine_steps);
    let r = ratio_of(engine);
    rows.push(
        Row::new("P2", "UDP highest loss-free rate, engine → store thread")
            .ours(fmt(engine))
            .reference(format!("{}{top_note} (socket2 recv)", fmt(reference)))
            .ratio(r)
            .goal("≥ 0.90", r >= 0.9),
    );
    let app = best_lossless(&app_steps);
    let r = ratio_of(app);
    rows.push(
        Row::new("P2", "UDP highest loss-free rate, app headless 60 fps")
            .ours(fmt(app))
            .reference(format!("{} (socket2 recv)", fmt(reference)))
            .ratio(r)
            .note("informative"),
    );
    let at10k = app_steps.iter().find(|s| s.asked == 10_000);
    let lost10k = at10k.map(|s| s.lost());
    rows.push(
        Row::new("P2", "UDP loss at 10k/s, app headless 60 fps")
            .ours(lost10k.map_or("not run".into(), |l| {
                format!("{l} lost of {}", at10k.map_or(0, |s| s.sent.count))
            }))
            .goal("0 lost", lost10k == Some(0)),
    );
}

/// 100k datagrams/s for 1 s into the engine → store thread, for callgrind.
pub fn profile() {
    let steps = engine_store(&[100_000], Duration::from_secs(1));
    println!("{} steps", steps.len());
}
