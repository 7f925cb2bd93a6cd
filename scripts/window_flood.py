#!/usr/bin/env python3
"""Issue 14's measure through the real window: a client sends N MiB on loopback to
`sockscope server` (release build, its window under Xvfb, recording `raw`) and, in the
same run, to `socat -u TCP-LISTEN:P OPEN:file` writing the same stream to a file. Prints
each rate and the ratio, for printable text and for binary (every byte value).

    python3 scripts/window_flood.py [MiB] [ENCODING]   (default 512 MiB, the view in
        UTF-8; needs Xvfb, socat and a built target/release/sockscope)
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "sockscope")
CHUNK = 1 << 20


def payload(kind):
    if kind == "text":
        line = b"2026-11-23 14:00:00.000 sensor=17 temp=21.5 hum=40 status=OK seq=0123456789\n"
        return (line * (CHUNK // len(line) + 1))[:CHUNK]
    return os.urandom(CHUNK)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def send(port, total, chunk, deadline=60):
    end = time.time() + deadline
    while True:
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=2)
            break
        except OSError:
            if time.time() > end:
                raise
            time.sleep(0.05)
    s.settimeout(None)
    start = time.time()
    left = total
    while left > 0:
        n = min(left, len(chunk))
        s.sendall(chunk[:n])
        left -= n
    s.close()
    return start


def wait_size(path, total, limit=300):
    end = time.time() + limit
    while time.time() < end:
        try:
            if os.path.getsize(path) >= total:
                return time.time()
        except OSError:
            pass
        time.sleep(0.005)
    raise RuntimeError(f"{path} never reached {total} bytes")


def settle_disk():
    """Each run starts with no dirty pages: a file left behind keeps the kernel writing it
    back, and once dirty pages pass `vm.dirty_ratio` every writer (socat and the window's
    recorder alike) is held to the disk's speed (about 300 MB/s on a 2-core VM), so a
    later run measured the disk."""
    os.sync()


def socat_run(total, chunk, out):
    settle_disk()
    port = free_port()
    proc = subprocess.Popen(
        ["socat", "-u", f"TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr", f"OPEN:{out},creat,trunc"]
    )
    start = send(port, total, chunk)
    proc.wait(timeout=300)
    done = time.time()
    assert os.path.getsize(out) == total, "socat file incomplete"
    os.remove(out)
    return done - start


def window_run(total, chunk, out, env, encoding):
    settle_disk()
    port = free_port()
    app = subprocess.Popen(
        [BIN, "server", f"127.0.0.1:{port}", "--no-persist", "--lang", "en",
         "--encoding", encoding, "--log", out, "--log-format", "raw"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(2)  # the window is up and drawing before the flood
        start = send(port, total, chunk)
        done = wait_size(out, total)
        return done - start
    finally:
        app.terminate()
        app.wait(timeout=30)
        if os.path.exists(out):
            os.remove(out)


def main():
    mib = int(sys.argv[1]) if len(sys.argv) > 1 else 512
    encoding = sys.argv[2] if len(sys.argv) > 2 else "utf-8"
    total = mib << 20
    for tool in ("Xvfb", "socat"):
        if not shutil.which(tool):
            sys.exit(f"window_flood: {tool} is not installed")
    if not os.path.exists(BIN):
        sys.exit("window_flood: build first: cargo build --release")
    n = 90
    while os.path.exists(f"/tmp/.X11-unix/X{n}") or os.path.exists(f"/tmp/.X{n}-lock"):
        n += 1
    xvfb = subprocess.Popen(["Xvfb", f":{n}", "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env = dict(os.environ, DISPLAY=f":{n}", LIBGL_ALWAYS_SOFTWARE="1")
    time.sleep(1)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            print(f"{mib} MiB on loopback, release window (view in {encoding}) under Xvfb "
                  "recording raw vs socat → file")
            for kind in ("text", "binary"):
                chunk = payload(kind)
                ref = socat_run(total, chunk, os.path.join(tmp, f"socat-{kind}.bin"))
                ours = window_run(total, chunk, os.path.join(tmp, f"window-{kind}.bin"), env,
                                  encoding)
                print(f"  {kind:6}: window {total / ours / 1e6:6.0f} MB/s ({ours:.2f} s), "
                      f"socat {total / ref / 1e6:6.0f} MB/s ({ref:.2f} s), ratio {ref / ours:.2f}")
    finally:
        xvfb.terminate()


if __name__ == "__main__":
    main()
