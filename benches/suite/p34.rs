//! P3 — connection burst (time until the last ClientJoined, kernel listen overflows) and
//! P4 — 10,000 idle clients held (RSS, kernel memory), vs a plain accept loop.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};
use sockscope::engine::Engine;

use crate::common::{
    Config, Live, Row, kernel_mem, listen_drops, listen_overflows, loopback, mib, rss,
    spawn_store_consumer, start_loopback_server, threads, wait_until,
};

/// Threads that connect the clients.
const CONNECTORS: usize = 2;
/// Listen backlog of both servers (Sockscope's default).
const BACKLOG: i32 = 4096;

/// Connects `n` clients to `addr` from `CONNECTORS` threads as fast as they can and
/// returns the open streams and the connect errors.
pub fn connect_many(addr: SocketAddr, n: usize) -> (Vec<TcpStream>, Vec<String>) {
    let per = n.div_ceil(CONNECTORS);
    let workers: Vec<_> = (0..CONNECTORS)
        .map(|k| {
            let count = per.min(n.saturating_sub(k * per));
            std::thread::spawn(move || {
                let mut streams = Vec::with_capacity(count);
                let mut errors = Vec::new();
                for _ in 0..count {
                    match TcpStream::connect_timeout(&addr, Duration::from_secs(10)) {
                        Ok(s) => streams.push(s),
                        Err(e) => errors.push(e.to_string()),
                    }
                }
                (streams, errors)
            })
        })
        .collect();
    let mut streams = Vec::with_capacity(n);
    let mut errors = Vec::new();
    for w in workers {
        if let Ok((s, e)) = w.join() {
            streams.extend(s);
            errors.extend(e);
        }
    }
    (streams, errors)
}

/// Reference: a socket2 listener with the same backlog, one thread accepting and holding.
fn plain_burst(n: usize) -> Option<Duration> {
    let sock = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).ok()?;
    sock.set_reuse_address(true).ok()?;
    sock.bind(&loopback(0).into()).ok()?;
    sock.listen(BACKLOG).ok()?;
    let listener: std::net::TcpListener = sock.into();
    let addr = listener.local_addr().ok()?;
    let start = Instant::now();
    let acceptor = std::thread::spawn(move || {
        let mut held = Vec::with_capacity(n);
        while held.len() < n {
            match listener.accept() {
                Ok((s, _)) => held.push(s),
                Err(_) => break,
            }
        }
        (Instant::now(), held.len())
    });
    let (streams, _) = connect_many(addr, n);
    let (last, accepted) = acceptor.join().ok()?;
    drop(streams);
    (accepted == n).then(|| last - start)
}

/// Sockscope burst: returns (time to last ClientJoined, joined, errors).
fn sockscope_burst(n: usize) -> Result<(Duration, u64, Vec<String>), String> {
    let (engine, events) = Engine::new(4096, Box::new(|| {}));
    let live = Arc::new(Live::default());
    let consumer = spawn_store_consumer(events, live.clone());
    let handle = start_loopback_server(&engine)?;
    let addr = handle.local_addr().ok_or("no bound address")?;
    // The accept thread polls every 25 ms when idle: let it reach its sleep first, as a
    // server waiting for clients would be.
    std::thread::sleep(Duration::from_millis(50));
    let start = Instant::now();
    let (streams, connect_errors) = connect_many(addr, n);
    println!(
        "    all {n} connect() calls returned after {:.3} s; {} ClientJoined by then",
        start.elapsed().as_secs_f64(),
        live.joined.load(Ordering::Relaxed)
    );
    wait_until(Instant::now() + Duration::from_secs(30), || {
        live.joined.load(Ordering::Relaxed) >= n as u64
    });
    drop(streams);
    wait_until(Instant::now() + Duration::from_secs(30), || {
        live.closed.load(Ordering::Relaxed) >= live.joined.load(Ordering::Relaxed)
    });
    handle.stop();
    live.stop.store(true, Ordering::Release);
    drop(engine);
    let totals = consumer.join().map_err(|_| "consumer panicked")?;
    let last = totals.last_joined.map_or(Duration::MAX, |t| t - start);
    let mut errors = totals.errors;
    errors.extend(connect_errors.into_iter().take(3));
    Ok((last, totals.joined, errors))
}

/// Runs P3 and appends its rows.
pub fn run_p3(cfg: &Config, rows: &mut Vec<Row>) {
    let sizes: &[usize] = if cfg.quick { &[200] } else { &[1000, 5000] };
    println!("P3 connection burst: {CONNECTORS} connector threads, backlog {BACKLOG}");
    for &n in sizes {
        let o0 = listen_overflows();
        let d0 = listen_drops();
        let reference = plain_burst(n);
        let o1 = listen_overflows();
        let ours = sockscope_burst(n);
        let o2 = listen_overflows();
        let d2 = listen_drops();
        let ref_over = o1.zip(o0).map(|(a, b)| a - b);
        let our_over = o2.zip(o1).map(|(a, b)| a - b);
        let drops = d2.zip(d0).map(|(a, b)| a - b);
        let reference_text = reference.map_or("failed".into(), |t| {
            format!(
                "{:.3} s (socket2 accept loop), {} overflows",
                t.as_secs_f64(),
                ref_over.unwrap_or(0)
            )
        });
        println!("  {n} clients, plain accept loop: {reference_text}");
        match ours {
            Ok((t, joined, errors)) => {
                println!(
                    "  {n} clients, Sockscope: last ClientJoined after {:.3} s, {joined} joined, listen overflows {:?}, listen drops (both runs) {:?}",
                    t.as_secs_f64(),
                    our_over,
                    drops
                );
                for e in &errors {
                    println!("    error: {e}");
                }
                let ratio = reference.map_or(f64::NAN, |r| r.as_secs_f64() / t.as_secs_f64());
                let met = joined == n as u64
                    && our_over == Some(0)
                    && (n != 1000 || t <= Duration::from_millis(200));
                let goal = if n == 1000 {
                    "0 overflows, ≤ 0.2 s"
                } else {
                    "0 overflows, all joined"
                };
                rows.push(
                    Row::new(
                        "P3",
                        format!("burst of {n} clients: time to last ClientJoined, overflows"),
                    )
                    .ours(format!(
                        "{:.3} s, {} overflows{}",
                        t.as_secs_f64(),
                        our_over.map_or("?".into(), |o| o.to_string()),
                        if joined == n as u64 {
                            String::new()
                        } else {
                            format!(", only {joined} joined")
                        }
                    ))
                    .reference(reference_text)
                    .ratio(ratio)
                    .goal(goal, met),
                );
            }
            Err(e) => println!("  {n} clients, Sockscope failed: {e}"),
        }
    }
}

/// Child-process helper: connects `n` clients to `addr`, prints `connected K errors E`,
/// then holds them until stdin closes.
pub fn client_helper(addr: &str, n: usize) {
    let Ok(addr) = addr.parse::<SocketAddr>() else {
        println!("connected 0 errors 1 bad address");
        return;
    };
    let (streams, errors) = connect_many(addr, n);
    println!(
        "connected {} errors {} {}",
        streams.len(),
        errors.len(),
        errors.first().cloned().unwrap_or_default()
    );
    let _ = std::io::stdout().flush();
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    drop(streams);
}

/// P4, run in a fresh child process (so RSS is this part's alone): a Sockscope server
/// holding `n` idle clients connected from a helper process.
pub fn run_p4(cfg: &Config, rows: &mut Vec<Row>) {
    let n: usize = if cfg.quick { 500 } else { 10_000 };
    let (soft, hard) = crate::common::raise_nofile();
    println!(
        "P4 clients held: {n} idle clients from a helper process; RLIMIT_NOFILE {soft}/{hard}"
    );
    let (engine, events) = Engine::new(4096, Box::new(|| {}));
    let live = Arc::new(Live::default());
    let consumer = spawn_store_consumer(events, live.clone());
    let handle = match start_loopback_server(&engine) {
        Ok(h) => h,
        Err(e) => {
            println!("  server start failed: {e}");
            return;
        }
    };
    let Some(addr) = handle.local_addr() else {
        return;
    };
    std::thread::sleep(Duration::from_millis(100));
    let rss0 = rss();
    let k0 = kernel_mem();
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            println!("  cannot find own executable: {e}");
            return;
        }
    };
    let child = Command::new(exe)
        .args(["__clients", &addr.to_string(), &n.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            println!("  cannot start the client helper: {e}");
            return;
        }
    };
    let start = Instant::now();
    let mut report = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = BufReader::new(out).read_line(&mut report);
    }
    let joined_all = wait_until(Instant::now() + Duration::from_secs(30), || {
        live.joined.load(Ordering::Relaxed) >= n as u64
    });
    // Let reader threads reach their blocking read and settle.
    std::thread::sleep(Duration::from_millis(500));
    let joined = live.joined.load(Ordering::Relaxed);
    let held = handle.clients().len();
    let rss1 = rss();
    let k1 = kernel_mem();
    let nthreads = threads();
    println!(
        "  helper: {}; {joined} joined in {:.2} s ({}), {held} held, {nthreads} threads",
        report.trim(),
        start.elapsed().as_secs_f64(),
        if joined_all { "all" } else { "NOT all" }
    );
    let rss_delta = rss1.saturating_sub(rss0);
    let k_delta = k1.saturating_sub(k0);
    println!(
        "  RSS {} → {} (+{}), kernel KernelStack+Slab +{} (both ends of each connection)",
        mib(rss0),
        mib(rss1),
        mib(rss_delta),
        mib(k_delta)
    );
    // Stop: close the helper's side first, then the server.
    drop(child.stdin.take());
    let _ = child.wait();
    wait_until(Instant::now() + Duration::from_secs(30), || {
        live.closed.load(Ordering::Relaxed) >= joined
    });
    handle.stop();
    live.stop.store(true, Ordering::Release);
    drop(engine);
    let errors = consumer.join().map(|t| t.errors).unwrap_or_default();
    let fd_limit_error = errors.iter().find(|e| e.contains("open-file limit"));
    for e in errors.iter().take(3) {
        println!("  engine error: {e}");
    }
    let total = rss1 + k_delta;
    rows.push(
        Row::new(
            "P4",
            format!("{n} idle clients held: RSS + kernel (KernelStack+Slab Δ)"),
        )
        .ours(format!(
            "{} RSS (+{} for clients) + {} kernel = {}; {held} held{}",
            mib(rss1),
            mib(rss_delta),
            mib(k_delta),
            mib(total),
            if fd_limit_error.is_some() {
                ", open-file limit hit"
            } else {
                ""
            }
        ))
        .goal("≤ 600 MB in all", total <= 600_000_000 && held == n),
    );
}
