//! Without a window: `sockscope test PLAN` against the seed tutorials' Python servers and
//! client, and `sockscope --headless` as the device and as a flood recorder. Every run
//! has DISPLAY and WAYLAND_DISPLAY removed, so none of it can need a display; every wait
//! is bounded.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use sockscope::automation::{MatchKind, Preset, QuickCommand, QuickCommands, Rule, SendSpec};
use sockscope::codec::checksum::Checksum;
use sockscope::codec::text::TextEncoding;

/// Upper bound of one whole `sockscope test` run here.
const RUN: Duration = Duration::from_secs(30);

/// The binary, with no display in its environment.
fn sockscope() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sockscope"));
    cmd.env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("WAYLAND_SOCKET")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    cmd
}

fn python() -> Command {
    let mut cmd = Command::new("python3");
    cmd.env("PYTHONIOENCODING", "utf-8").arg("-u");
    cmd
}

/// True when Python can run the seed programs here. It cannot under Wine (CI's Windows
/// runs these tests as a Windows program, which cannot start the Linux `python3`); there
/// a test that needs it says so and returns. CI's Linux part sets
/// `SOCKSCOPE_REQUIRE_PYTHON`, so there it cannot skip.
fn python_available(test: &str) -> bool {
    let ok = Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("SOCKSCOPE_REQUIRE_PYTHON").is_none(),
            "SOCKSCOPE_REQUIRE_PYTHON is set but python3 cannot run"
        );
        eprintln!("note: {test}: skipped, python3 cannot run here (the seeds are Python)");
    }
    ok
}

/// Lines of a child's pipe, read on a thread, received with a timeout.
struct Lines {
    rx: Receiver<String>,
    seen: Vec<String>,
}

impl Lines {
    fn new(pipe: impl Read + Send + 'static) -> Self {
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Lines {
            rx,
            seen: Vec::new(),
        }
    }

    /// The first line (from now) that satisfies `pred`; panics after `timeout`.
    fn until(&mut self, timeout: Duration, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if pred(&line) {
                        return line;
                    }
                }
                Err(_) => panic!("no such line within {timeout:?}; seen: {:#?}", self.seen),
            }
        }
    }

    /// Everything until the pipe closes (bounded).
    fn rest(&mut self, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        while let Ok(line) = self
            .rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            self.seen.push(line);
        }
        self.seen.join("\n")
    }
}

/// Waits for `child` to exit, killing it after `timeout`.
fn wait_bounded(child: &mut Child, timeout: Duration) -> ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            panic!("{child:?} still running after {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What a finished run printed.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `sockscope ARGS` to its end (bounded).
fn run(args: &[&str]) -> Run {
    let mut child = sockscope()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = Lines::new(child.stdout.take().unwrap());
    let mut err = Lines::new(child.stderr.take().unwrap());
    let status = wait_bounded(&mut child, RUN);
    Run {
        code: status.code(),
        stdout: out.rest(Duration::from_secs(5)),
        stderr: err.rest(Duration::from_secs(5)),
    }
}

/// A seed server (Python) started with a free port, which it prints first.
struct Seed {
    child: Child,
    port: u16,
    /// Kept so the seed never blocks on a full stdout pipe.
    _out: Lines,
}

impl Seed {
    fn start(dir: &Path, name: &str, code: &str) -> Seed {
        let script = dir.join(name);
        std::fs::write(&script, code).unwrap();
        let mut child = python()
            .arg(&script)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs the seed servers");
        let mut out = Lines::new(child.stdout.take().unwrap());
        let line = out.until(Duration::from_secs(10), |l| l.starts_with("PORT "));
        let port = line[5..].trim().parse().unwrap();
        Seed {
            child,
            port,
            _out: out,
        }
    }
}

impl Drop for Seed {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Seed 000: the one-shot GBK server (port 0 and time limits added).
const SEED_000: &str = r#"
import socket

if __name__ == '__main__':
    tcp_server_socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp_server_socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, True)
    tcp_server_socket.bind(("127.0.0.1", 0))
    tcp_server_socket.listen(128)
    tcp_server_socket.settimeout(20)
    print("PORT", tcp_server_socket.getsockname()[1], flush=True)
    service_client_socket, ip_port = tcp_server_socket.accept()
    service_client_socket.settimeout(20)
    print("客户端的ip地址和端口号:", ip_port)
    recv_data = service_client_socket.recv(1024)
    recv_data_length = len(recv_data)
    print("接收数据的长度为:", recv_data_length)
    recv_content = recv_data.decode("gbk")
    print("接收客户端的数据为:", recv_content)
    send_data = "ok, 问题正在处理中...".encode("gbk")
    service_client_socket.send(send_data)
    service_client_socket.close()
    tcp_server_socket.close()
"#;

/// Seed 003: the looping server that ends a client on `exit`.
const SEED_003: &str = r#"
import socket


def main():
    tcp_server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp_server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, True)
    tcp_server.bind(("127.0.0.1", 0))
    tcp_server.listen(128)
    tcp_server.settimeout(20)
    print("PORT", tcp_server.getsockname()[1], flush=True)
    while True:
        print("等待客户链接.....")
        try:
            new_client_socket, client_addr = tcp_server.accept()
        except socket.timeout:
            break
        new_client_socket.settimeout(20)
        print("收到%s链接" % str(client_addr))
        while True:
            recv_data = new_client_socket.recv(1024)
            print("客户端发送来的请求是：%s" % recv_data.decode("gbk"))
            if not recv_data or recv_data.decode("gbk") == "exit":
                break
            else:
                new_client_socket.send("收到请求".encode("gbk"))
        new_client_socket.close()
        print("链接服务完毕。", flush=True)
    tcp_server.close()


if __name__ == '__main__':
    main()
"#;

/// Seed 002: the threaded server that notices a client going offline.
const SEED_002: &str = r#"
import socket
import threading


def handle_client_request(service_client_socket, ip_port):
    while True:
        recv_data = service_client_socket.recv(1024)
        if recv_data:
            print(recv_data.decode("gbk"), ip_port)
            service_client_socket.send("ok，问题正在处理中...".encode("gbk"))
        else:
            print("客户端下线了:", ip_port, flush=True)
            break
    service_client_socket.close()


if __name__ == '__main__':
    tcp_server_socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp_server_socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, True)
    tcp_server_socket.bind(("127.0.0.1", 0))
    tcp_server_socket.listen(128)
    tcp_server_socket.settimeout(20)
    print("PORT", tcp_server_socket.getsockname()[1], flush=True)
    while True:
        try:
            service_client_socket, ip_port = tcp_server_socket.accept()
        except socket.timeout:
            break
        service_client_socket.settimeout(20)
        print("客户端连接成功:", ip_port)
        sub_thread = threading.Thread(target=handle_client_request, args=(service_client_socket, ip_port))
        sub_thread.daemon = True
        sub_thread.start()
"#;

/// Seed 002's client, pointed at the port given as its argument.
const SEED_CLIENT: &str = r#"
import socket
import sys

if __name__ == '__main__':
    tcp_client_socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp_client_socket.settimeout(20)
    tcp_client_socket.connect(("127.0.0.1", int(sys.argv[1])))
    send_data = "你好服务端，我是客户端小黑!".encode("gbk")
    tcp_client_socket.send(send_data)
    recv_data = tcp_client_socket.recv(1024)
    print(recv_data)
    recv_content = recv_data.decode("gbk")
    print("接收服务端的数据为:", recv_content, flush=True)
    tcp_client_socket.close()
"#;

/// Counts of a JUnit file, read by Python's XML parser (so it must be well-formed):
/// (tests, failures, skipped) of the root and the number of testcase elements.
fn junit_counts(path: &Path) -> (String, usize) {
    let out = python()
        .arg("-c")
        .arg(
            "import sys, xml.etree.ElementTree as ET\n\
             root = ET.parse(sys.argv[1]).getroot()\n\
             cases = root.findall('.//testcase')\n\
             print(root.tag, root.get('tests'), root.get('failures'), root.get('skipped'), len(cases))\n\
             for c in cases:\n    print('CASE', c.get('name'), 'failure' if c.find('failure') is not None else ('skipped' if c.find('skipped') is not None else 'ok'))",
        )
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the JUnit file does not parse: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let first = text.lines().next().unwrap_or_default().to_string();
    let cases = text.lines().filter(|l| l.starts_with("CASE")).count();
    (format!("{first}\n{text}"), cases)
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// A plan against seed 000's one-shot GBK server passes (exit 0): it sends `hello`,
/// gets the GBK reply, sees the server close; the JUnit file parses and counts the
/// target and the three steps, none failed.
#[test]
fn seed_000_one_shot_server_passes() {
    if !python_available("seed_000_one_shot_server_passes") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let seed = Seed::start(dir.path(), "seed000.py", SEED_000);
    let plan = write(
        dir.path(),
        "seed000.toml",
        &format!(
            r#"version = 1
name = "seed 000"
encoding = "GBK"

[target]
connect = "127.0.0.1:{}"

[[steps]]
send = "hello"

[[steps]]
expect = "ok, 问题正在处理中..."

[[steps]]
expect_closed = true
"#,
            seed.port
        ),
    );
    let junit = dir.path().join("report.xml");
    let r = run(&[
        "test",
        plan.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert_eq!(r.code, Some(0), "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("PASS \"seed 000\""), "{}", r.stdout);
    assert!(r.stdout.contains("rtt 1 → 2"), "{}", r.stdout);
    let (counts, cases) = junit_counts(&junit);
    assert!(counts.starts_with("testsuites 4 0 0 4"), "{counts}");
    assert_eq!(cases, 4);
}

/// Against seed 003's looping server: ten send/expect round trips in a repeat (RTT
/// min/p50/p95/max over 10 samples in the JSON result), `exit` closes the connection,
/// `reconnect` is served by the next turn of its accept loop.
#[test]
fn seed_003_looping_server_repeat_and_reconnect() {
    if !python_available("seed_003_looping_server_repeat_and_reconnect") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let seed = Seed::start(dir.path(), "seed003.py", SEED_003);
    let plan = write(
        dir.path(),
        "seed003.json",
        r#"{
  "version": 1,
  "name": "seed 003",
  "encoding": "gbk",
  "target": { "connect": "127.0.0.1:1" },
  "steps": [
    { "repeat": 10, "steps": [
        { "send": "ping {counter}" },
        { "expect": { "exact": "收到请求" }, "timeout_ms": 2000 }
    ] },
    { "send": "exit" },
    { "expect_closed": true, "timeout_ms": 2000 },
    { "reconnect": true },
    { "send": "again" },
    { "expect": { "regex": "^收到.求$" } }
  ]
}"#,
    );
    let target = format!("127.0.0.1:{}", seed.port);
    let r = run(&[
        "test",
        plan.to_str().unwrap(),
        "--target",
        &target,
        "--json",
    ]);
    assert_eq!(r.code, Some(0), "{}\n{}", r.stdout, r.stderr);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc["passed"], true);
    let plan = &doc["plans"][0];
    assert_eq!(plan["counts"]["passed"], 9, "{plan:#}");
    let rtt = &plan["rtt"][0];
    assert_eq!(
        (rtt["send"].as_str(), rtt["expect"].as_str()),
        (Some("1.1"), Some("1.2"))
    );
    assert_eq!(rtt["n"], 10);
    let (min, p50, p95, max) = (
        rtt["min_ms"].as_f64().unwrap(),
        rtt["p50_ms"].as_f64().unwrap(),
        rtt["p95_ms"].as_f64().unwrap(),
        rtt["max_ms"].as_f64().unwrap(),
    );
    assert!(0.0 < min && min <= p50 && p50 <= p95 && p95 <= max, "{rtt}");
    let repeat = &plan["cases"][1];
    assert_eq!(
        (repeat["id"].as_str(), repeat["runs"].as_u64()),
        (Some("1"), Some(1))
    );
    assert_eq!(plan["cases"][3]["runs"], 10);
}

/// Seed 002's threaded server answers with a full-width comma (`ok，`), seed 000's
/// with an ASCII one: a plan expecting seed 000's reply fails (exit 1), naming the step
/// and showing what arrived in hex (GBK `A3 AC` for `，`) and as text; the steps after
/// it are not run, and the JUnit file says so.
#[test]
fn seed_002_failing_plan_names_the_step_and_shows_bytes() {
    if !python_available("seed_002_failing_plan_names_the_step_and_shows_bytes") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let seed = Seed::start(dir.path(), "seed002.py", SEED_002);
    let plan = write(
        dir.path(),
        "wrong-comma.toml",
        &format!(
            r#"version = 1
name = "wrong comma"
encoding = "GBK"

[target]
connect = "127.0.0.1:{}"

[[steps]]
send = "你好服务端，我是客户端小黑!"

[[steps]]
name = "the seed 000 reply"
expect = {{ exact = "ok, 问题正在处理中..." }}

[[steps]]
send = "again"

[[steps]]
expect = {{ contains = "问题" }}
"#,
            seed.port
        ),
    );
    let junit = dir.path().join("report.xml");
    let r = run(&[
        "test",
        plan.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert_eq!(r.code, Some(1), "{}\n{}", r.stdout, r.stderr);
    let out = &r.stdout;
    assert!(
        out.contains("failed: step 2 the seed 000 reply: different bytes arrived"),
        "{out}"
    );
    assert!(out.contains("expected  hex:  6F 6B 2C 20"), "{out}");
    assert!(out.contains("received  hex:  6F 6B A3 AC"), "{out}");
    assert!(out.contains("text: ok，问题正在处理中..."), "{out}");
    assert!(
        out.contains("FAIL \"wrong comma\": 2 passed, 1 failed, 2 not run"),
        "{out}"
    );
    let (counts, cases) = junit_counts(&junit);
    assert!(counts.starts_with("testsuites 5 1 2 5"), "{counts}");
    assert!(
        counts.contains("CASE 2 the seed 000 reply failure"),
        "{counts}"
    );
    assert!(
        counts.contains("CASE 4 expect contains \"问题\" skipped"),
        "{counts}"
    );
    assert_eq!(cases, 5);
}

/// A plan can be the server: it listens on a free port (printed on standard error),
/// seed 002's client connects, the plan expects its GBK greeting and answers; the
/// client prints the answer.
#[test]
fn listening_plan_serves_the_seed_client() {
    if !python_available("listening_plan_serves_the_seed_client") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let plan = write(
        dir.path(),
        "server.toml",
        r#"version = 1
encoding = "GBK"

[target]
listen = "127.0.0.1:0"
timeout_ms = 10000

[[steps]]
expect = "你好服务端，我是客户端小黑!"

[[steps]]
send = "信息已收到"

[[steps]]
expect_closed = true
"#,
    );
    let mut child = sockscope()
        .args(["test", plan.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = Lines::new(child.stderr.take().unwrap());
    let mut out = Lines::new(child.stdout.take().unwrap());
    let line = err.until(RUN, |l| l.contains("listening on"));
    let port = line.rsplit(':').next().unwrap().trim().to_string();
    let script = write(dir.path(), "client.py", SEED_CLIENT);
    let client = python().arg(&script).arg(&port).output().unwrap();
    let printed = String::from_utf8_lossy(&client.stdout);
    assert!(
        printed.contains("接收服务端的数据为: 信息已收到"),
        "{printed}"
    );
    let status = wait_bounded(&mut child, RUN);
    assert_eq!(
        status.code(),
        Some(0),
        "{}",
        out.rest(Duration::from_secs(5))
    );
}

/// A plan skeleton exported from the window's quick commands and rules (seed 003's
/// close-on-exit preset plus a Modbus rule) runs as the device under
/// `sockscope --headless server --rules`, and the same file passes as a test against it.
/// The headless server needs no display and maps no GUI library (Linux: its
/// /proc/PID/maps), logs the session as text, and SIGTERM ends it with exit status 0.
#[test]
fn exported_skeleton_against_headless_server() {
    let dir = tempfile::tempdir().unwrap();
    let mut rules = Preset::CloseOnExit.config();
    let mut reply = SendSpec::hex("01 03 02 00 2A");
    reply.checksum = Checksum::Crc16Modbus;
    rules.rules.insert(
        0,
        Rule {
            name: "read register".into(),
            kind: MatchKind::HexPattern,
            pattern: "01 03 ?? ?? 00 01 ?? ??".into(),
            reply,
            ..Rule::default()
        },
    );
    let mut commands = QuickCommands::default();
    commands.add(QuickCommand::new(
        "hello",
        SendSpec::text("你好", TextEncoding::Gbk),
    ));
    let text = sockscope::plan::skeleton(&commands, &rules, "127.0.0.1:8080");
    let plan = write(dir.path(), "device.toml", &text);
    let log = dir.path().join("logs").join("device.txt");
    let mut server = sockscope()
        .args([
            "--headless",
            "server",
            "127.0.0.1:0",
            "--rules",
            plan.to_str().unwrap(),
            "--log",
            log.to_str().unwrap(),
            "--encoding",
            "gbk",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = Lines::new(server.stdout.take().unwrap());
    let mut err = Lines::new(server.stderr.take().unwrap());
    let line = out.until(RUN, |l| l.contains("listening on"));
    let port = line.rsplit(':').next().unwrap().trim().to_string();
    #[cfg(target_os = "linux")]
    {
        let maps = std::fs::read_to_string(format!("/proc/{}/maps", server.id())).unwrap();
        for lib in [
            "libX11",
            "libxcb",
            "libwayland",
            "libGL",
            "libEGL",
            "libxkbcommon",
            "libvulkan",
        ] {
            assert!(
                !maps.contains(lib),
                "{lib} is mapped in the headless process"
            );
        }
    }
    let target = format!("127.0.0.1:{port}");
    let r = run(&["test", plan.to_str().unwrap(), "--target", &target]);
    assert_eq!(r.code, Some(0), "{text}\n{}\n{}", r.stdout, r.stderr);
    // The rule steps first (modbus, exit, ping), then the quick command.
    assert!(r.stdout.contains("PASS"), "{}", r.stdout);
    out.until(RUN, |l| l.contains("RX") && l.contains("你好"));
    #[cfg(unix)]
    {
        // SAFETY: a signal to our own child.
        assert_eq!(unsafe { libc::kill(server.id() as i32, libc::SIGTERM) }, 0);
        let status = wait_bounded(&mut server, RUN);
        assert_eq!(
            status.code(),
            Some(0),
            "{}",
            err.rest(Duration::from_secs(5))
        );
        let summary = err.rest(Duration::from_secs(5));
        assert!(summary.contains("session ended"), "{summary}");
        let logged = std::fs::read_to_string(&log).unwrap();
        assert!(logged.contains("| exit"), "{logged}");
        assert!(logged.contains("| 收到请求"), "{logged}");
        assert!(
            logged.contains("01 03 02 00 2A") || logged.contains("\\x01\\x03\\x02"),
            "{logged}"
        );
    }
    #[cfg(not(unix))]
    {
        let _ = server.kill();
        let _ = server.wait();
        let _ = &mut err;
    }
}

/// UDP both ways: `sockscope --headless udp` echoes (a bare rules file) and a UDP plan
/// sends a Modbus frame with its CRC and text, each expect taking one whole datagram;
/// `--duration` ends the headless session by itself with exit status 0 and a JSON
/// summary that counts both datagrams.
#[test]
fn udp_plan_against_headless_udp_echo() {
    let dir = tempfile::tempdir().unwrap();
    let rules = write(dir.path(), "echo.json", r#"{ "version": 1, "echo": true }"#);
    let mut echo = sockscope()
        .args([
            "--headless",
            "udp",
            "127.0.0.1:0",
            "--rules",
            rules.to_str().unwrap(),
            "--duration",
            "20s",
            "--json",
            "--print",
            "hex",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = Lines::new(echo.stdout.take().unwrap());
    let line = out.until(RUN, |l| l.contains("\"listening\""));
    let event: serde_json::Value = serde_json::from_str(&line).unwrap();
    let port = event["text"]
        .as_str()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .to_string();
    let plan = write(
        dir.path(),
        "udp.toml",
        r#"version = 1

[target]
udp = "127.0.0.1:0"
peer = "127.0.0.1:9"

[[steps]]
send = { text = "01 03 00 00 00 01", hex = true, checksum = "CRC-16/MODBUS" }

[[steps]]
expect = { hex = "01 03 00 ?? 00 01", checksum = "CRC-16/MODBUS" }

[[steps]]
send = "hello udp"

[[steps]]
expect = { contains = "udp" }
"#,
    );
    let target = format!("127.0.0.1:{port}");
    let r = run(&["test", plan.to_str().unwrap(), "--target", &target]);
    assert_eq!(r.code, Some(0), "{}\n{}", r.stdout, r.stderr);
    let data = out.until(RUN, |l| {
        l.contains("\"dir\":\"rx\"") && l.contains("68 65 6C")
    });
    assert!(data.contains("\"len\":9"), "{data}");
    let summary = out.until(RUN, |l| l.contains("\"summary\""));
    let summary: serde_json::Value = serde_json::from_str(&summary).unwrap();
    assert_eq!(summary["rx_msgs"], 2, "{summary}");
    assert_eq!(summary["tx_msgs"], 2, "{summary}");
    let status = wait_bounded(&mut echo, RUN);
    assert_eq!(status.code(), Some(0));
}

/// Malformed plans exit 2 before any socket opens, naming the line and the field: a
/// TOML typo, a JSON regex that does not compile, a version from the future, a step that
/// does two things.
#[test]
fn malformed_plans_exit_2_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &str, &str); 4] = [
        (
            "typo.toml",
            "version = 1\n\n[target]\nconnect = \"127.0.0.1:9\"\n\n[[steps]]\nsend = \"x\"\n\n[[steps]]\nexpect = { contians = \"ok\" }\n",
            "line 10, column 12: unknown field `contians`",
        ),
        (
            "regex.json",
            "{\n  \"version\": 1,\n  \"target\": { \"connect\": \"127.0.0.1:9\" },\n  \"steps\": [\n    { \"send\": \"x\" },\n    { \"expect\": { \"regex\": \"([a-z]\" } }\n  ]\n}\n",
            "line 6",
        ),
        (
            "future.toml",
            "# a comment\nversion = 7\n[target]\nconnect = \"127.0.0.1:9\"\n[[steps]]\nsend = \"x\"\n",
            "line 2, column 11: version: 7 is not supported",
        ),
        (
            "two.toml",
            "version = 1\n[target]\nconnect = \"127.0.0.1:9\"\n[[steps]]\nsend = \"x\"\nwait_ms = 5\n",
            "send and wait_ms",
        ),
    ];
    for (name, text, says) in cases {
        let plan = write(dir.path(), name, text);
        let r = run(&["test", plan.to_str().unwrap()]);
        assert_eq!(r.code, Some(2), "{name}: {}\n{}", r.stdout, r.stderr);
        assert!(r.stderr.contains(says), "{name}: {}", r.stderr);
        assert!(r.stderr.contains(name), "{name}: {}", r.stderr);
    }
    let r = run(&["test", "--bogus"]);
    assert_eq!(r.code, Some(2), "{}", r.stderr);
}

/// `sockscope --headless server` recording a 200 MB flood to `raw` holds exactly the
/// bytes sent (sha256 of the file = sha256 computed by the Python sender), exits 0 on
/// SIGTERM, and its peak memory stays bounded (VmHWM, Linux).
#[cfg(unix)]
#[test]
fn headless_flood_recorded_byte_exact_with_bounded_memory() {
    const TOTAL: usize = 200 << 20;
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("flood.bin");
    let mut server = sockscope()
        .args([
            "--headless",
            "server",
            "127.0.0.1:0",
            "--log",
            capture.to_str().unwrap(),
            "--print",
            "none",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = Lines::new(server.stdout.take().unwrap());
    let mut err = Lines::new(server.stderr.take().unwrap());
    let line = out.until(RUN, |l| l.contains("listening on"));
    let port = line.rsplit(':').next().unwrap().trim().to_string();
    let sender = python()
        .arg("-c")
        .arg(
            "import hashlib, os, socket, sys, time\n\
             total = int(sys.argv[2]); h = hashlib.sha256(); sent = 0\n\
             s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=60)\n\
             t = time.time()\n\
             while sent < total:\n    b = os.urandom(min(1 << 20, total - sent)); h.update(b); s.sendall(b); sent += len(b)\n\
             s.shutdown(socket.SHUT_WR); s.recv(1); s.close()\n\
             print(h.hexdigest(), sent / (time.time() - t) / 1e6)",
        )
        .arg(&port)
        .arg(TOTAL.to_string())
        .output()
        .unwrap();
    assert!(
        sender.status.success(),
        "{}",
        String::from_utf8_lossy(&sender.stderr)
    );
    let printed = String::from_utf8(sender.stdout).unwrap();
    let mut fields = printed.split_whitespace();
    let sent_sha = fields.next().unwrap().to_string();
    let rate: f64 = fields.next().unwrap().parse().unwrap();
    out.until(RUN, |l| l.contains("closed:"));
    #[cfg(target_os = "linux")]
    let hwm_kib: u64 = {
        let status = std::fs::read_to_string(format!("/proc/{}/status", server.id())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    // SAFETY: a signal to our own child.
    assert_eq!(unsafe { libc::kill(server.id() as i32, libc::SIGTERM) }, 0);
    let status = wait_bounded(&mut server, RUN);
    let summary = err.rest(Duration::from_secs(5));
    assert_eq!(status.code(), Some(0), "{summary}");
    assert_eq!(std::fs::metadata(&capture).unwrap().len(), TOTAL as u64);
    let sha = python()
        .arg("-c")
        .arg(
            "import hashlib, sys\nh = hashlib.sha256()\nf = open(sys.argv[1], 'rb')\n\
             for b in iter(lambda: f.read(1 << 20), b''): h.update(b)\nprint(h.hexdigest())",
        )
        .arg(&capture)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(sha.stdout).unwrap().trim(), sent_sha);
    eprintln!("flood: 200 MiB at {rate:.0} MB/s into a raw log; {summary}");
    #[cfg(target_os = "linux")]
    {
        eprintln!("flood: peak RSS (VmHWM) {} MiB", hwm_kib / 1024);
        assert!(hwm_kib < 64 * 1024, "peak RSS {hwm_kib} KiB");
    }
}

/// The README's complete plan example stays true: its `[auto_reply]` device runs under
/// `--headless --rules` and the plan passes against it (exit 0, 11 cases).
#[test]
fn readme_plan_example_passes() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme
        .find("```toml\n# device.toml")
        .expect("the README's plan")
        + 8;
    let end = start + readme[start..].find("```").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let plan = write(dir.path(), "device.toml", &readme[start..end]);
    let mut device = sockscope()
        .args([
            "--headless",
            "server",
            "127.0.0.1:0",
            "--rules",
            plan.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = Lines::new(device.stdout.take().unwrap());
    let line = out.until(RUN, |l| l.contains("listening on"));
    let target = format!("127.0.0.1:{}", line.rsplit(':').next().unwrap().trim());
    let r = run(&["test", plan.to_str().unwrap(), "--target", &target]);
    let _ = device.kill();
    let _ = device.wait();
    assert_eq!(r.code, Some(0), "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("PASS \"GBK device\": 11 passed, 0 failed, 0 not run"),
        "{}",
        r.stdout
    );
}

/// The window's "Copy as test plan" (Commands tab) puts a valid plan on the clipboard:
/// the tab's auto-reply rules as send/expect steps and `[auto_reply]`, its quick
/// commands as sends.
#[test]
fn window_copies_a_plan_skeleton() {
    use egui_kittest::kittest::Queryable;
    use sockscope::cli::StartOptions;
    use sockscope::ui::{AppSettings, Lang, Mode, SockscopeApp};

    let mut settings = AppSettings::single(Lang::En, Mode::TcpServer);
    let automation = &mut settings.tabs[0].automation;
    automation.auto_reply = Preset::CloseOnExit.config();
    automation.quick_commands.add(QuickCommand::new(
        "hello",
        SendSpec::text("你好", TextEncoding::Gbk),
    ));
    let options = StartOptions {
        persist: false,
        ..StartOptions::default()
    };
    let mut h = egui_kittest::Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .build_eframe(move |cc| {
            SockscopeApp::with_settings(cc.egui_ctx.clone(), settings, options)
        });
    h.run_steps(2);
    h.get_by_label("Quick commands").click();
    h.run_steps(2);
    h.get_by_label("Copy as test plan").click();
    h.step();
    let copied = h
        .output()
        .platform_output
        .commands
        .iter()
        .find_map(|c| match c {
            egui::OutputCommand::CopyText(text) => Some(text.clone()),
            _ => None,
        })
        .expect("the plan was copied");
    let plan = sockscope::plan::parse_plan(&copied, Path::new("copied.toml"))
        .unwrap_or_else(|e| panic!("{e}\n{copied}"));
    let kinds: Vec<&str> = plan.steps.iter().map(|s| s.action.kind()).collect();
    assert_eq!(
        kinds,
        [
            "send",
            "expect_closed",
            "reconnect",
            "send",
            "expect",
            "send"
        ]
    );
    assert_eq!(plan.auto_reply, Some(Preset::CloseOnExit.config()));
}

/// A headless client ends with its connection: exit 0 when the peer closes it (what the
/// peer said is printed, decoded as GBK), exit 1 when the peer resets it.
#[test]
fn headless_client_exit_status_follows_the_connection() {
    if !python_available("headless_client_exit_status_follows_the_connection") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let polite = Seed::start(
        dir.path(),
        "polite.py",
        "import socket\n\
         s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(); s.settimeout(20)\n\
         print('PORT', s.getsockname()[1], flush=True)\n\
         c, _ = s.accept(); c.sendall('ok, 问题正在处理中...'.encode('gbk')); c.close()\n",
    );
    let port = polite.port.to_string();
    let r = run(&[
        "--headless",
        "client",
        &format!("127.0.0.1:{port}"),
        "--encoding",
        "gbk",
    ]);
    assert_eq!(r.code, Some(0), "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("RX") && r.stdout.contains("| ok, 问题正在处理中..."),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("closed: peer closed the connection"),
        "{}",
        r.stdout
    );
    let rude = Seed::start(
        dir.path(),
        "rude.py",
        "import socket, struct\n\
         s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(); s.settimeout(20)\n\
         print('PORT', s.getsockname()[1], flush=True)\n\
         c, _ = s.accept(); c.settimeout(20)\n\
         c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0)); c.close()\n",
    );
    let port = rude.port.to_string();
    let r = run(&[
        "--headless",
        "client",
        &format!("127.0.0.1:{port}"),
        "--quiet",
    ]);
    assert_eq!(r.code, Some(1), "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("reset"), "{}", r.stderr);
    assert!(r.stdout.is_empty(), "{}", r.stdout);
}

/// `--headless client … --reconnect=…` outlives a server restart: the lost connection and
/// the refused attempts are reported, the second server's greeting is printed, and the run
/// still ends with 0 at `--duration`.
#[test]
fn headless_client_reconnects_across_a_server_restart() {
    if !python_available("headless_client_reconnects_across_a_server_restart") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = Seed::start(
        dir.path(),
        "restarts.py",
        "import socket, struct, time\n\
         def listen(port):\n\
         \x20   s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
         \x20   s.bind(('127.0.0.1', port)); s.listen(); s.settimeout(20); return s\n\
         s = listen(0); port = s.getsockname()[1]\n\
         print('PORT', port, flush=True)\n\
         c, _ = s.accept(); c.sendall(b'first life\\n'); time.sleep(0.2)\n\
         c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))\n\
         c.close(); s.close(); time.sleep(0.8)\n\
         s = listen(port)\n\
         c, _ = s.accept(); c.sendall(b'second life\\n'); time.sleep(10)\n",
    );
    let r = run(&[
        "--headless",
        "client",
        &format!("127.0.0.1:{}", server.port),
        "--reconnect=100ms..200ms",
        "--duration",
        "4s",
    ]);
    assert_eq!(r.code, Some(0), "{}\n{}", r.stdout, r.stderr);
    for expected in ["| first life", "reconnecting in", "| second life"] {
        assert!(
            r.stdout.contains(expected),
            "{expected:?} missing:\n{}",
            r.stdout
        );
    }
    assert!(r.stderr.contains("connection refused"), "{}", r.stderr);
}

/// `--headless udp … --join GROUP@127.0.0.1` joins at start (the output says "joined …")
/// and prints a datagram sent to the group by IP_MULTICAST_IF 127.0.0.1.
#[cfg(target_os = "linux")]
#[test]
fn headless_udp_joins_a_group() {
    let mut child = sockscope()
        .args([
            "--headless",
            "udp",
            "0.0.0.0:0",
            "--join",
            "239.255.81.1@127.0.0.1",
            "--ttl",
            "1",
            "--duration",
            "20s",
            "--json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = Lines::new(child.stdout.take().unwrap());
    let line = out.until(RUN, |l| l.contains("\"listening\""));
    let event: serde_json::Value = serde_json::from_str(&line).unwrap();
    let port: u16 = event["text"]
        .as_str()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    out.until(RUN, |l| l.contains("joined 239.255.81.1 on 127.0.0.1"));
    let sender = crate::util::loopback_multicast_sender();
    let group = std::net::SocketAddr::from(([239, 255, 81, 1], port));
    sender.send_to(b"group hello", &group.into()).unwrap();
    out.until(RUN, |l| l.contains("group hello"));
    let _ = child.kill();
    let _ = child.wait();
}

// ---------------------------------------------------------------------------------------
// TLS: `--headless client|server … --tls` against Debian's openssl and each other.

/// A headless run in the background, its output read by line; killed when dropped.
struct Running {
    child: Child,
    out: Lines,
    err: Lines,
}

impl Running {
    fn start(args: &[&str]) -> Running {
        let mut child = sockscope()
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = Lines::new(child.stdout.take().unwrap());
        let err = Lines::new(child.stderr.take().unwrap());
        Running { child, out, err }
    }

    /// Waits for the end (bounded) and collects what is left of the output.
    fn finish(&mut self) -> Run {
        let status = wait_bounded(&mut self.child, RUN);
        Run {
            code: status.code(),
            stdout: self.out.rest(Duration::from_secs(5)),
            stderr: self.err.rest(Duration::from_secs(5)),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `openssl s_client` that sends `input`, then ends its input (so it closes), bounded.
#[cfg(unix)]
fn s_client_once(bin: &str, addr: &str, args: &[&str], input: &[u8]) -> String {
    use std::io::Write;
    let mut child = Command::new(bin)
        .args(["s_client", "-connect", addr])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let mut out = Lines::new(child.stdout.take().unwrap());
    let mut err = Lines::new(child.stderr.take().unwrap());
    wait_bounded(&mut child, RUN);
    format!(
        "{}\n{}",
        out.rest(Duration::from_secs(5)),
        err.rest(Duration::from_secs(5))
    )
}

/// The port of a `--json` run's `listening` event.
#[cfg(unix)]
fn listening_port(line: &str) -> u16 {
    let event: serde_json::Value = serde_json::from_str(line).unwrap();
    event["text"]
        .as_str()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// `--headless client … --tls` against `openssl s_server` with openssl's own
/// certificate: pinned, it prints the handshake (TLS 1.3, ALPN) and what s_server
/// types, and ends with 0 at `--duration`; a wrong pin, and the strict check of
/// openssl's CA:TRUE certificate, fail at once with exit status 1 and the words (the
/// presented fingerprint; the command line's way on) on standard error; `--insecure`
/// connects and says what the strict check found.
#[test]
fn headless_tls_client_against_openssl_s_server() {
    use sockscope::engine::tls::{fingerprint_hex, load_pem_certs, sha256};
    use std::io::Write;
    let Some(bin) = crate::tls::openssl() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = crate::tls::openssl_req(dir.path(), bin);
    let pin = fingerprint_hex(&sha256(&load_pem_certs(&cert).unwrap()[0]));

    let (mut server, addr) = crate::tls::s_server(bin, &cert, &key, &["-alpn", "http/1.1"]);
    let addr = addr.to_string();
    let mut client = Running::start(&[
        "--headless",
        "client",
        &addr,
        "--pin",
        &pin.to_ascii_lowercase(),
        "--sni",
        "localhost",
        "--alpn",
        "h2,http/1.1",
        "--duration",
        "3s",
    ]);
    let line = client.out.until(RUN, |l| l.contains("TLS with"));
    for expected in [
        "TLS 1.3",
        "ALPN http/1.1",
        "SNI localhost",
        "pinned fingerprint matches",
    ] {
        assert!(line.contains(expected), "{expected:?} missing: {line}");
    }
    let stdin = server.0.stdin.as_mut().unwrap();
    stdin.write_all(b"hello from openssl\n").unwrap();
    stdin.flush().unwrap();
    client.out.until(RUN, |l| {
        l.contains(" RX ") && l.contains("| hello from openssl")
    });
    let r = client.finish();
    assert_eq!(r.code, Some(0), "{}\n{}", r.stdout, r.stderr);
    drop(server);

    // A wrong pin: exit 1, the words and the fingerprint the server has.
    let (_server, addr) = crate::tls::s_server(bin, &cert, &key, &[]);
    let wrong = format!("00{}", &pin[2..]);
    let r = run(&["--headless", "client", &addr.to_string(), "--pin", &wrong]);
    assert_eq!(r.code, Some(1), "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("is not the pinned one") && r.stderr.contains(&pin),
        "{}",
        r.stderr
    );
    assert!(r.stdout.contains("closed: TLS failed"), "{}", r.stdout);

    // Strict: openssl's certificate is a CA certificate.
    let (_server, addr) = crate::tls::s_server(bin, &cert, &key, &[]);
    let r = run(&[
        "--headless",
        "client",
        &addr.to_string(),
        "--tls",
        "--quiet",
    ]);
    assert_eq!(r.code, Some(1), "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("CA certificate"), "{}", r.stderr);
    assert!(r.stderr.contains("--insecure accepts any"), "{}", r.stderr);

    // `--insecure`: connected, and the line says what a strict check found.
    let (_server, addr) = crate::tls::s_server(bin, &cert, &key, &[]);
    let r = run(&[
        "--headless",
        "client",
        &addr.to_string(),
        "--insecure",
        "--duration",
        "1s",
    ]);
    assert_eq!(r.code, Some(0), "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("ACCEPT ANY CERTIFICATE is on (a strict check says:"),
        "{}",
        r.stdout
    );
}

/// `--headless server … --tls` makes a self-signed certificate and prints its
/// fingerprint on a line of its own (text) or as `sha256` (`--json`); `openssl
/// s_client` connects (SNI and ALPN seen, its line printed); our own client connects
/// with `--pin` of that fingerprint and with `--insecure`, and fails without either;
/// a client that rejects the certificate is reported on standard error without failing
/// the server, which ends with 0 on SIGTERM.
#[cfg(unix)]
#[test]
fn headless_tls_server_with_openssl_and_our_clients() {
    let Some(bin) = crate::tls::openssl() else {
        return;
    };
    // Text: the fingerprint line, easy to copy.
    let r = run(&[
        "--headless",
        "server",
        "127.0.0.1:0",
        "--tls",
        "--duration",
        "500ms",
    ]);
    assert_eq!(r.code, Some(0), "{}\n{}", r.stdout, r.stderr);
    let line = r
        .stdout
        .lines()
        .find(|l| l.contains("SHA-256 fingerprint (a client's --pin): "))
        .unwrap_or_else(|| panic!("no fingerprint line:\n{}", r.stdout));
    let copied = line.rsplit(' ').next().unwrap();
    assert_eq!(copied.len(), 95, "{line}");

    let mut server = Running::start(&[
        "--headless",
        "server",
        "127.0.0.1:0",
        "--tls",
        "--alpn",
        "http/1.1",
        "--json",
        "--duration",
        "60s",
    ]);
    let port = listening_port(&server.out.until(RUN, |l| l.contains("\"listening\"")));
    let addr = format!("127.0.0.1:{port}");
    let identity = server.out.until(RUN, |l| l.contains("\"tls-identity\""));
    let identity: serde_json::Value = serde_json::from_str(&identity).unwrap();
    assert_eq!(identity["self_signed"], true);
    let sha = identity["sha256"].as_str().unwrap().to_string();

    let said = s_client_once(
        bin,
        &addr,
        &["-servername", "localhost", "-alpn", "http/1.1"],
        b"hello over tls\n",
    );
    assert!(said.contains("TLSv1.3"), "{said}");
    let tls = server.out.until(RUN, |l| l.contains("\"event\":\"tls\""));
    let tls: serde_json::Value = serde_json::from_str(&tls).unwrap();
    assert_eq!(tls["sni"], "localhost");
    assert_eq!(tls["alpn"], "http/1.1");
    assert!(tls["conn"].is_u64(), "{tls}");
    server.out.until(RUN, |l| {
        l.contains("\"data\"") && l.contains("hello over tls")
    });

    let r = run(&[
        "--headless",
        "client",
        &addr,
        "--pin",
        &sha,
        "--duration",
        "1s",
    ]);
    assert_eq!(r.code, Some(0), "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("pinned fingerprint matches"),
        "{}",
        r.stdout
    );
    let r = run(&[
        "--headless",
        "client",
        &addr,
        "--insecure",
        "--duration",
        "1s",
    ]);
    assert_eq!(r.code, Some(0), "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("ACCEPT ANY CERTIFICATE"), "{}", r.stdout);
    let r = run(&["--headless", "client", &addr, "--tls"]);
    assert_eq!(r.code, Some(1), "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("is not trusted"), "{}", r.stderr);
    assert!(r.stderr.contains("--pin SHA256"), "{}", r.stderr);

    // A client that refuses our certificate: the server says so and goes on.
    let said = s_client_once(
        bin,
        &addr,
        &["-servername", "localhost", "-verify_return_error"],
        b"",
    );
    assert!(said.contains("self-signed certificate"), "{said}");
    server
        .err
        .until(RUN, |l| l.contains("ended the TLS handshake with alert"));
    assert_eq!(
        unsafe { libc::kill(server.child.id() as i32, libc::SIGTERM) },
        0
    );
    let r = server.finish();
    assert_eq!(r.code, Some(0), "{}\n{}", r.stdout, r.stderr);
    let summary = r.stdout.lines().last().unwrap();
    assert!(summary.contains("\"ok\":true"), "{summary}");
}
