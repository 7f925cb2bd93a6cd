//! SOAK — mixed load through the real app, headless, for 10 minutes (run it by name:
//! `cargo bench --bench suite -- soak`; `--quick` makes it 30 s; `SOCKSCOPE_SOAK_SECS`
//! sets any length). Runs in a fresh child process.
//!
//! The app (`SockscopeApp`, 60 frames/s of `tick` + `draw` + `tessellate` on a headless
//! context) holds two tabs, each recording to a raw log:
//! - a TCP server with auto-reply on (rule: `ping` → `pong`): clients join and leave all
//!   the time (each sends `ping`, reads `pong`, closes), and one client floods it with
//!   paced data;
//! - a UDP socket receiving 64-byte datagrams at 50,000/s.
//!
//! RSS is sampled every 10 s. Reported: RSS flatness over the second half (max − min
//! over min; goal ≤ 5 %), every counter against what the peers sent (TCP bytes, pongs,
//! UDP datagrams with the kernel's own drops), the logs' sizes against the counters
//! (with what the recorder reported as not recorded), and panics (zero).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use sockscope::automation::{AutoReplyConfig, MatchKind, Rule, SendSpec};
use sockscope::cli::{StartOptions, StartSession, StartTab};
use sockscope::codec::text::TextEncoding;
use sockscope::session::recorder::{LogFormat, raw_tx_path};
use sockscope::ui::{AppSettings, Lang, Mode, SockscopeApp, UiAction};

use crate::common::{Config, Row, mib, rss};
use crate::p5::{frame, raw_input};

/// UDP datagrams per second.
const UDP_RATE: u64 = 50_000;
/// UDP payload.
const DGRAM: usize = 64;
/// TCP flood, bytes per second.
const FLOOD_RATE: u64 = 4 << 20;
/// Joining-and-leaving clients per second.
const CHURN_RATE: u64 = 50;
/// RSS sample interval.
const SAMPLE_EVERY: Duration = Duration::from_secs(10);

/// Sends at `rate` per second until `stop`, calling `send` for each; returns the count.
fn paced(rate: u64, stop: &AtomicBool, mut send: impl FnMut() -> bool) -> u64 {
    let start = Instant::now();
    let mut sent = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let due = (start.elapsed().as_secs_f64() * rate as f64) as u64;
        if sent >= due {
            std::thread::sleep(Duration::from_millis(1));
            continue;
        }
        while sent < due {
            if !send() {
                return sent;
            }
            sent += 1;
        }
    }
    sent
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// What the load threads did.
struct Load {
    udp: JoinHandle<u64>,
    flood: JoinHandle<(u64, TcpStream)>,
    churn: JoinHandle<(u64, u64, u64)>,
}

fn start_load(server: SocketAddr, udp: SocketAddr, stop: Arc<AtomicBool>) -> Load {
    let s = stop.clone();
    let udp = std::thread::spawn(move || {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("udp sender");
        let payload = [0x5au8; DGRAM];
        paced(UDP_RATE, &s, || socket.send_to(&payload, udp).is_ok())
    });
    let s = stop.clone();
    let flood = std::thread::spawn(move || {
        let mut c = TcpStream::connect(server).expect("flood client");
        let chunk = vec![b'f'; 64 << 10];
        let chunks = paced(FLOOD_RATE / chunk.len() as u64, &s, || {
            c.write_all(&chunk).is_ok()
        });
        (chunks * chunk.len() as u64, c)
    });
    let s = stop;
    let churn = std::thread::spawn(move || {
        let (mut pings, mut pongs, mut failed) = (0u64, 0u64, 0u64);
        paced(CHURN_RATE, &s, || {
            let Ok(mut c) = TcpStream::connect(server) else {
                failed += 1;
                return true;
            };
            let _ = c.set_read_timeout(Some(Duration::from_secs(10)));
            if c.write_all(b"ping").is_ok() {
                pings += 1;
                let mut b = [0u8; 4];
                if c.read_exact(&mut b).is_ok() && &b == b"pong" {
                    pongs += 1;
                }
            }
            true
        });
        (pings, pongs, failed)
    });
    Load { udp, flood, churn }
}

/// Runs the soak and appends its rows.
pub fn run(cfg: &Config, rows: &mut Vec<Row>) {
    let secs: u64 = std::env::var("SOCKSCOPE_SOAK_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if cfg.quick { 30 } else { 600 });
    let panics = Arc::new(AtomicU64::new(0));
    {
        let panics = panics.clone();
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            panics.fetch_add(1, Ordering::SeqCst);
            default(info);
        }));
    }
    let dir = std::env::temp_dir().join(format!("sockscope-soak-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let tcp_log: PathBuf = dir.join("tcp.bin");
    let udp_log: PathBuf = dir.join("udp.bin");

    let ctx = egui::Context::default();
    let mut settings = AppSettings::single(Lang::En, Mode::TcpServer);
    settings.tabs[0].automation.auto_reply = AutoReplyConfig {
        rules: vec![Rule {
            name: "ping".into(),
            kind: MatchKind::Exact,
            pattern: "ping".into(),
            reply: SendSpec::text("pong", TextEncoding::Utf8),
            ..Rule::default()
        }],
        ..AutoReplyConfig::default()
    };
    let mut tcp_tab = StartTab::new(StartSession::Server {
        host: "127.0.0.1".into(),
        port: 0,
    });
    tcp_tab.options.log = Some(tcp_log.clone());
    tcp_tab.options.log_format = Some(LogFormat::Raw);
    let mut udp_tab = StartTab::new(StartSession::Udp {
        host: "127.0.0.1".into(),
        port: 0,
        peer: None,
    });
    udp_tab.options.log = Some(udp_log.clone());
    udp_tab.options.log_format = Some(LogFormat::Raw);
    let options = StartOptions {
        tabs: vec![tcp_tab, udp_tab],
        ..StartOptions::one(StartSession::Udp {
            host: "127.0.0.1".into(),
            port: 0,
            peer: None,
        })
    };
    let mut app = SockscopeApp::with_settings(ctx.clone(), settings, options);
    app.tabs[0].apply(Lang::En, vec![UiAction::SetAutoReply(true)]);
    let addr = |app: &SockscopeApp, i: usize| {
        app.tabs
            .get(i)
            .and_then(|t| t.session.as_ref())
            .and_then(|s| s.local_addr())
    };
    let (Some(server), Some(udp)) = (addr(&app, 0), addr(&app, 1)) else {
        println!("SOAK: the app did not open both sessions");
        return;
    };
    println!(
        "SOAK: {secs} s through the app (2 tabs, 60 fps headless): UDP {}k dgram/s of {DGRAM} B, TCP flood {} MiB/s, {CHURN_RATE} clients/s joining and leaving with auto-reply, raw logs in {}",
        UDP_RATE / 1000,
        FLOOD_RATE >> 20,
        dir.display()
    );

    let stop = Arc::new(AtomicBool::new(false));
    let load = start_load(server, udp, stop.clone());
    let mut samples: Vec<(u64, u64)> = Vec::new();
    let started = Instant::now();
    let mut next_sample = started;
    let mut frame_no = 0u64;
    let frame_len = Duration::from_secs_f64(1.0 / 60.0);
    let mut next_frame = Instant::now();
    let mut run_frame = |app: &mut SockscopeApp, frame_no: &mut u64| {
        frame(&ctx, app, raw_input(*frame_no));
        *frame_no += 1;
        next_frame += frame_len;
        let now = Instant::now();
        if next_frame > now {
            std::thread::sleep(next_frame - now);
        } else {
            next_frame = now;
        }
    };
    while started.elapsed() < Duration::from_secs(secs) {
        if Instant::now() >= next_sample {
            let r = rss();
            samples.push((started.elapsed().as_secs(), r));
            println!("  t={:>4} s  RSS {}", started.elapsed().as_secs(), mib(r));
            next_sample += SAMPLE_EVERY;
        }
        run_frame(&mut app, &mut frame_no);
    }
    stop.store(true, Ordering::SeqCst);
    let udp_sent = load.udp.join().unwrap_or(0);
    // Closing the flood connection lets the server see it end (and count it all).
    let flood_sent = match load.flood.join() {
        Ok((sent, conn)) => {
            drop(conn);
            sent
        }
        Err(_) => 0,
    };
    let (pings, pongs, churn_failed) = load.churn.join().unwrap_or((0, 0, 0));

    // UDP: the kernel's drop count rides on the next datagram; probe until all add up.
    let probe = UdpSocket::bind("127.0.0.1:0").expect("probe");
    let mut probes = 0u64;
    let engine_udp = |app: &SockscopeApp| {
        app.tabs[1].session.as_ref().map(|s| {
            (
                s.counters(),
                s.udp_kernel_dropped(),
                s.udp_dropped(),
                s.unrecorded(),
            )
        })
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        run_frame(&mut app, &mut frame_no);
        let Some((c, kernel, _, _)) = engine_udp(&app) else {
            break;
        };
        if c.rx_msgs + kernel >= udp_sent + probes {
            break;
        }
        if frame_no % 6 == 0 {
            let _ = probe.send_to(b"p", udp);
            probes += 1;
        }
    }
    // TCP: wait for every byte to reach the server and the store.
    let expected_tcp = flood_sent + pings * 4;
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        run_frame(&mut app, &mut frame_no);
        let c = app.tabs[0].session.as_ref().map(|s| s.counters());
        let store_rx = app.tabs[0].store.stats.total.rx_bytes;
        if c.is_some_and(|c| c.rx_bytes >= expected_tcp) && store_rx >= expected_tcp {
            break;
        }
    }
    let tcp = app.tabs[0]
        .session
        .as_ref()
        .map(|s| s.counters())
        .unwrap_or_default();
    let tcp_store = app.tabs[0].store.stats.total;
    let (udp_c, kernel, queue_drop, unrec) = engine_udp(&app).unwrap_or_default();
    let udp_store = app.tabs[1].store.stats.total;
    for tab in &mut app.tabs {
        tab.stop_session();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.tabs.iter().any(|t| t.session.is_some()) && Instant::now() < deadline {
        run_frame(&mut app, &mut frame_no);
    }
    let tcp_rec = app.tabs[0].finish_recording(Duration::from_secs(30));
    let udp_rec = app.tabs[1].finish_recording(Duration::from_secs(30));
    let (tcp_log_rx, tcp_log_tx) = (file_len(&tcp_log), file_len(&raw_tx_path(&tcp_log)));
    let udp_log_rx = file_len(&udp_log);
    let _ = std::fs::remove_dir_all(&dir);

    // RSS flatness over the second half (after warm-up).
    let half = secs / 2;
    let tail: Vec<u64> = samples
        .iter()
        .filter(|(t, _)| *t >= half)
        .map(|(_, r)| *r)
        .collect();
    let (lo, hi) = (
        tail.iter().copied().min().unwrap_or(0),
        tail.iter().copied().max().unwrap_or(0),
    );
    let spread = if lo > 0 {
        (hi - lo) as f64 / lo as f64
    } else {
        f64::NAN
    };
    let panics = panics.load(Ordering::SeqCst);
    println!(
        "  RSS last {} s: {} .. {} (spread {:.1} %); first sample {}, last {}",
        secs - half,
        mib(lo),
        mib(hi),
        spread * 100.0,
        mib(samples.first().map_or(0, |s| s.1)),
        mib(samples.last().map_or(0, |s| s.1)),
    );
    let tcp_ok = tcp.rx_bytes == expected_tcp && tcp_store.rx_bytes == expected_tcp;
    println!(
        "  TCP: peers sent {expected_tcp} B ({} flood + {pings} pings), server counted {}, store {}; pongs {pongs}/{pings} (server TX {} B), {churn_failed} connects failed",
        flood_sent, tcp.rx_bytes, tcp_store.rx_bytes, tcp.tx_bytes
    );
    let udp_received = udp_c.rx_msgs.saturating_sub(probes.min(udp_c.rx_msgs));
    let udp_ok = udp_c.rx_msgs + kernel == udp_sent + probes
        && udp_store.rx_msgs + queue_drop.0 == udp_c.rx_msgs;
    println!(
        "  UDP: sent {udp_sent} (+{probes} probes), received {} + kernel drops {kernel} (== sent: {}); store {} + queue drops {} (== received: {})",
        udp_c.rx_msgs,
        udp_c.rx_msgs + kernel == udp_sent + probes,
        udp_store.rx_msgs,
        queue_drop.0,
        udp_store.rx_msgs + queue_drop.0 == udp_c.rx_msgs
    );
    let log_ok = tcp_log_rx == tcp.rx_bytes
        && tcp_log_tx == tcp.tx_bytes
        && udp_log_rx + unrec.1 == udp_c.rx_bytes;
    println!(
        "  logs: TCP raw {tcp_log_rx} B received / {tcp_log_tx} B sent (counters {} / {}); UDP raw {udp_log_rx} B + {} B reported not recorded (counter {}); recorders: {:?} / {:?}",
        tcp.rx_bytes,
        tcp.tx_bytes,
        unrec.1,
        udp_c.rx_bytes,
        tcp_rec.and_then(|s| s.error),
        udp_rec.and_then(|s| s.error),
    );
    println!("  panics: {panics}; UDP datagrams received excluding probes: {udp_received}");
    rows.push(
        Row::new(
            "SOAK",
            format!("RSS spread, last {} s of {secs} s", secs - half),
        )
        .ours(format!(
            "{:.1} % ({}..{})",
            spread * 100.0,
            mib(lo),
            mib(hi)
        ))
        .goal("≤ 5 %", spread <= 0.05),
    );
    rows.push(
        Row::new(
            "SOAK",
            "counters == what peers sent (TCP, pongs, UDP + kernel drops)",
        )
        .ours(format!(
            "TCP {} / UDP {} / pongs {pongs}/{pings}",
            if tcp_ok { "equal" } else { "DIFFER" },
            if udp_ok { "equal" } else { "DIFFER" }
        ))
        .goal("equal", tcp_ok && udp_ok && pongs == pings),
    );
    rows.push(
        Row::new(
            "SOAK",
            "log complete (raw sizes == counters, losses reported)",
        )
        .ours(if log_ok { "complete" } else { "INCOMPLETE" })
        .goal("complete", log_ok),
    );
    rows.push(
        Row::new("SOAK", "panics")
            .ours(panics.to_string())
            .goal("0", panics == 0),
    );
}
