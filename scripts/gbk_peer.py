#!/usr/bin/env python3
"""A loopback peer for screenshots and manual checks, speaking GBK like the seed tutorials.

    gbk_peer.py client PORT [COUNT]   connect to 127.0.0.1:PORT (COUNT clients), send GBK lines
    gbk_peer.py server PORT           listen on 127.0.0.1:PORT, greet each client in GBK, echo
    gbk_peer.py udp PORT [COUNT]      send COUNT GBK datagrams to 127.0.0.1:PORT from two ports
Runs for at most 15 seconds.
"""
import socket
import sys
import threading
import time

LINES = ["你好服务端，我是客户端小黑!", "ok, 问题正在处理中...", "信息已收到"]


def client(port: int, count: int) -> None:
    socks = []
    deadline = time.time() + 10
    while len(socks) < count and time.time() < deadline:
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=1)
            socks.append(s)
        except OSError:
            time.sleep(0.05)
    for i, s in enumerate(socks):
        s.sendall(LINES[i % len(LINES)].encode("gbk") + b"\r\n")
        time.sleep(0.05)
    socks[0].sendall(b"\x01\x03\x00\x00\x00\x0a\xc5\xcd") if socks else None
    time.sleep(12)


def server(port: int) -> None:
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(128)
    srv.settimeout(15)

    def serve(conn: socket.socket) -> None:
        conn.settimeout(15)
        for line in LINES:
            conn.sendall(line.encode("gbk") + b"\r\n")
            time.sleep(0.05)
        try:
            while True:
                data = conn.recv(4096)
                if not data:
                    break
                conn.sendall(data)
        except OSError:
            pass

    end = time.time() + 15
    while time.time() < end:
        try:
            conn, _ = srv.accept()
        except OSError:
            break
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


def udp(port: int, count: int) -> None:
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2)]
    for i in range(count):
        line = f"{LINES[i % len(LINES)]} #{i}\r\n".encode("gbk")
        socks[i % 2].sendto(line, ("127.0.0.1", port))
        time.sleep(0.02)


if __name__ == "__main__":
    mode, port = sys.argv[1], int(sys.argv[2])
    if mode == "client":
        client(port, int(sys.argv[3]) if len(sys.argv) > 3 else 1)
    elif mode == "udp":
        udp(port, int(sys.argv[3]) if len(sys.argv) > 3 else 20)
    else:
        server(port)
