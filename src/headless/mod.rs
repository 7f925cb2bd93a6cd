//! Sessions without a window: `sockscope --headless server|client|udp ADDR [OPTIONS]`.
//!
//! The same engine, recorder and auto-reply rules as the window, with the main thread
//! draining the engine's events instead of a frame loop: on a terminal one status line
//! (clients, RX/TX bytes and rates, drops) is redrawn in place above which records
//! scroll; on a pipe every record and connection event is one line (`--json`: one JSON
//! object). Ctrl+C, SIGTERM and SIGHUP (Windows: console events) stop the session the
//! normal way, so the log is finished; a second Ctrl+C within 3 s exits at once.
//!
//! Exit status: 0 when the session ended normally (Ctrl+C, `--duration`, a client's
//! connection closed by the peer), 1 when it failed (cannot bind or connect, an engine
//! error, a client's connection reset or its TLS handshake failing, the log could not be
//! written), 2 for a bad option or rules file. A server outlives a client whose TLS
//! handshake fails (reported on standard error), and a `--reconnect` client treats one
//! like a refused attempt.
//!
//! Imports no window type: nothing here loads a GUI library or needs a display.

mod output;

use crate::session::recorder::numbered_free_path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::automation::AutoResponder;
use crate::cli::{HeadlessOptions, SessionOptions, StartSession};
use crate::engine::{
    CloseReason, Engine, EngineError, Event, MulticastOptions, SessionConfig, TcpClientConfig,
    TcpServerConfig, UdpConfig,
};
use crate::plan::load_rules;
use crate::platform::signals;
use crate::session::recorder::{LogFormat, Recorder, raw_tx_path};
use crate::session::stats::human_bytes;

use self::output::{Output, Status};

/// Exit status: the session ended normally.
pub const EXIT_OK: u8 = 0;
/// Exit status: the session failed.
pub const EXIT_FAILED: u8 = 1;
/// Exit status: a bad option or rules file.
pub const EXIT_USAGE: u8 = 2;

/// Events the engine may queue for us.
const EVENT_QUEUE: usize = 8192;
/// Events between the engine and the recorder: with 64 KiB reads at most 16 MiB in
/// flight, which is what bounds memory under a flood (TCP workers wait when it is full).
const TAP_CAPACITY: usize = 256;
/// How often the status line is redrawn and the stop flag looked at.
const TICK: Duration = Duration::from_millis(250);
/// Most events handled between two looks at the clock.
const BATCH: usize = 4096;
/// How long finishing the log may take at the end.
const FINISH_LOG: Duration = Duration::from_secs(60);

/// The engine config for the command line's session.
pub fn session_config(session: &StartSession, options: &SessionOptions) -> SessionConfig {
    match session {
        StartSession::Server { host, port } => SessionConfig::TcpServer(TcpServerConfig {
            host: host.clone(),
            port: *port,
            ipv6_only: options.ipv6_only,
            tls: options.tls.as_ref().map(|t| t.server_options()),
            ..TcpServerConfig::default()
        }),
        StartSession::Client { host, port } => SessionConfig::TcpClient(TcpClientConfig {
            host: host.clone(),
            port: *port,
            reconnect: options.reconnect,
            tls: options.tls.as_ref().map(|t| t.client_options()),
            ..TcpClientConfig::default()
        }),
        StartSession::Udp { host, port, peer } => SessionConfig::Udp(UdpConfig {
            host: host.clone(),
            port: *port,
            ipv6_only: options.ipv6_only,
            peer: peer.clone(),
            multicast: MulticastOptions {
                ttl: options.ttl,
                join: options.join.clone(),
                ..MulticastOptions::default()
            },
            ..UdpConfig::default()
        }),
    }
}

/// True for a TLS failure of one connection (its handshake, or TLS later on it), as
/// opposed to TLS that could not be set up for the session.
fn tls_handshake_failed(error: &EngineError) -> bool {
    matches!(
        error,
        EngineError::TlsUnknownIssuer { .. }
            | EngineError::TlsCaAsServer { .. }
            | EngineError::TlsExpired { .. }
            | EngineError::TlsNotYetValid { .. }
            | EngineError::TlsNameMismatch { .. }
            | EngineError::TlsPinMismatch { .. }
            | EngineError::TlsBadCertificate { .. }
            | EngineError::TlsProtocolMismatch { .. }
            | EngineError::TlsNoAlpn { .. }
            | EngineError::TlsAlert { .. }
            | EngineError::TlsNotTls { .. }
            | EngineError::TlsClosed
            | EngineError::TlsTimeout { .. }
            | EngineError::TlsHandshake { .. }
    )
}

/// The command line's way past a certificate the client did not trust (the engine's
/// words name the window's setting).
fn tls_hint(error: &EngineError) -> Option<&'static str> {
    match error {
        EngineError::TlsUnknownIssuer { .. }
        | EngineError::TlsCaAsServer { .. }
        | EngineError::TlsExpired { .. }
        | EngineError::TlsNotYetValid { .. }
        | EngineError::TlsNameMismatch { .. }
        | EngineError::TlsBadCertificate { .. } => Some(
            "on the command line: --pin SHA256 trusts that one certificate, --ca FILE a private CA, --sni NAME checks another name, --insecure accepts any",
        ),
        _ => None,
    }
}

/// Runs the session until it ends; returns the exit status.
pub fn run(options: &HeadlessOptions) -> u8 {
    let encoding = options.options.encoding.unwrap_or_default();
    let mut out = Output::new(options.print, options.quiet, options.json, encoding);
    let rules = match &options.rules {
        Some(path) => match load_rules(path) {
            Ok(config) => Some(config),
            Err(e) => {
                out.error(&e.to_string());
                return EXIT_USAGE;
            }
        },
        None => None,
    };
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    if let Err(e) = signals::on_shutdown_request(move || flag.store(true, Ordering::Release)) {
        out.error(&format!("Ctrl+C will not finish the log cleanly: {e}"));
    }
    let status = run_session(options, rules.as_ref(), &stop, &mut out);
    out.flush();
    signals::finished();
    status
}

fn run_session(
    options: &HeadlessOptions,
    rules: Option<&crate::automation::AutoReplyConfig>,
    stop: &AtomicBool,
    out: &mut Output,
) -> u8 {
    let encoding = options.options.encoding.unwrap_or_default();
    let (engine, events) = Engine::new(EVENT_QUEUE, Box::new(|| {}));
    // Recording starts first so the log holds the session from its first event.
    let mut recorder = None;
    let mut log_path = None;
    if let Some(path) = &options.options.log {
        let format = options
            .options
            .log_format
            .or_else(|| LogFormat::from_path(path))
            .unwrap_or(LogFormat::Text);
        let path = if path.exists() {
            let free = numbered_free_path(path);
            out.error(&format!(
                "{} exists and is kept: recording to {}",
                path.display(),
                free.display()
            ));
            free
        } else {
            path.clone()
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && let Err(e) = std::fs::create_dir_all(dir)
        {
            out.error(&format!("cannot create {}: {e}", dir.display()));
            return EXIT_FAILED;
        }
        match Recorder::start(&path, format, encoding, TAP_CAPACITY) {
            Ok((r, tap)) => {
                engine.set_tap(Some(tap));
                recorder = Some(r);
                log_path = Some((path, format));
            }
            Err(e) => {
                out.error(&e.to_string());
                return EXIT_FAILED;
            }
        }
    }
    let handle = match engine.start(session_config(&options.session, &options.options)) {
        Ok(handle) => handle,
        Err(e) => {
            out.error(&e.to_string());
            if let Some(mut r) = recorder {
                engine.set_tap(None);
                r.finish(FINISH_LOG);
            }
            return EXIT_FAILED;
        }
    };
    if let Some(config) = rules {
        match AutoResponder::new(config) {
            Ok(responder) => responder.install(&handle),
            Err(e) => {
                out.error(&format!("rules: {e}"));
                handle.stop();
            }
        }
    }
    let started = Instant::now();
    let deadline = options.duration.map(|d| started + d);
    let mut stop_asked = false;
    let mut failure: Option<String> = None;
    let mut last_tick = Instant::now();
    let mut last_counters = handle.counters();
    let mut status = Status::default();
    let session = handle.id();
    let client = matches!(options.session, StartSession::Client { .. });
    // A reconnecting client outlives its connections: losing one, or a refused attempt,
    // is reported but is not the session failing.
    let reconnecting = client && options.options.reconnect.is_some();
    'run: loop {
        let now = Instant::now();
        if !stop_asked && (stop.load(Ordering::Acquire) || deadline.is_some_and(|d| now >= d)) {
            handle.stop();
            stop_asked = true;
        }
        let wait = match deadline {
            Some(d) if !stop_asked => TICK.min(d.saturating_duration_since(now)),
            _ => TICK,
        };
        if let Some(first) = events.recv_timeout(wait) {
            let mut next = Some(first);
            let mut handled = 0;
            while let Some(event) = next {
                out.event(&event);
                match &event {
                    Event::Error { error, .. } => {
                        out.error(&error.to_string());
                        if let Some(hint) = tls_hint(error) {
                            out.error(hint);
                        }
                        let attempt = matches!(
                            error,
                            EngineError::Refused { .. }
                                | EngineError::TimedOut { .. }
                                | EngineError::Resolve { .. }
                        ) || tls_handshake_failed(error);
                        // A server outlives a client whose TLS handshake failed, as it
                        // outlives one that resets: reported, not the session failing.
                        let peer_failed = !client && tls_handshake_failed(error);
                        let excused = peer_failed || (reconnecting && attempt);
                        if !excused {
                            failure.get_or_insert_with(|| error.to_string());
                        }
                    }
                    // A client's one connection ending badly is the session failing.
                    Event::Closed {
                        reason: reason @ (CloseReason::Reset | CloseReason::Error(_)),
                        ..
                    } if client && !reconnecting => {
                        let message = format!("the connection ended: {reason}");
                        out.error(&message);
                        failure.get_or_insert(message);
                    }
                    Event::Stopped { session: s, .. } if *s == session => {
                        out.flush();
                        break 'run;
                    }
                    _ => {}
                }
                handled += 1;
                if handled >= BATCH {
                    break;
                }
                next = events.try_recv();
            }
            out.flush();
        }
        let elapsed = last_tick.elapsed();
        if elapsed >= TICK {
            let counters = handle.counters();
            let secs = elapsed.as_secs_f64();
            status = Status {
                clients: handle.clients().len(),
                counters,
                rx_rate: (counters.rx_bytes - last_counters.rx_bytes) as f64 / secs,
                tx_rate: (counters.tx_bytes - last_counters.tx_bytes) as f64 / secs,
                dropped: handle.udp_dropped().0,
            };
            last_counters = counters;
            last_tick = Instant::now();
            out.status(&status);
        }
    }
    let _ = status;
    let elapsed = started.elapsed();
    let counters = handle.counters();
    let (dropped, dropped_bytes) = handle.udp_dropped();
    // Every event was teed to the recorder before it reached us, so after `Stopped` the
    // tap holds the rest of the session: finish writing it.
    engine.set_tap(None);
    let mut log = serde_json::Value::Null;
    let mut log_line = String::new();
    if let (Some(mut r), Some((path, format))) = (recorder, log_path) {
        let status = r.finish(FINISH_LOG);
        if let Some(e) = &status.error {
            out.error(e);
            failure.get_or_insert_with(|| e.clone());
        } else if !status.finished {
            let e = format!("the log {} was not finished in time", path.display());
            out.error(&e);
            failure.get_or_insert(e);
        }
        let tx = (format == LogFormat::Raw).then(|| raw_tx_path(&path));
        log = json!({
            "path": path.display().to_string(),
            "format": format.name(),
            "tx_path": tx.as_ref().map(|p| p.display().to_string()),
            "records": status.records,
            "data_bytes": status.data_bytes,
            "bytes_written": status.bytes_written,
        });
        log_line = format!(
            "; log {} ({}, {} written)",
            path.display(),
            format.name(),
            human_bytes(status.bytes_written as f64)
        );
    }
    let secs = elapsed.as_secs_f64().max(1e-9);
    let summary = json!({
        "event": "summary",
        "ok": failure.is_none(),
        "error": failure,
        "seconds": elapsed.as_secs_f64(),
        "rx_bytes": counters.rx_bytes,
        "rx_msgs": counters.rx_msgs,
        "tx_bytes": counters.tx_bytes,
        "tx_msgs": counters.tx_msgs,
        "dropped_datagrams": dropped,
        "dropped_bytes": dropped_bytes,
        "rx_rate": counters.rx_bytes as f64 / secs,
        "log": log,
    });
    let line = format!(
        "session {} after {:.1} s: RX {} in {} reads ({}/s), TX {} in {} writes{}{log_line}",
        if failure.is_none() { "ended" } else { "failed" },
        elapsed.as_secs_f64(),
        human_bytes(counters.rx_bytes as f64),
        counters.rx_msgs,
        human_bytes(counters.rx_bytes as f64 / secs),
        human_bytes(counters.tx_bytes as f64),
        counters.tx_msgs,
        if dropped > 0 {
            format!(", {dropped} datagrams dropped")
        } else {
            String::new()
        },
    );
    out.summary(summary, &line);
    if failure.is_some() {
        EXIT_FAILED
    } else {
        EXIT_OK
    }
}
