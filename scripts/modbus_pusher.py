#!/usr/bin/env python3
"""A small Modbus RTU-over-TCP device for screenshots: listens on 127.0.0.1:PORT,
answers "read holding registers" (function 03) requests, and also pushes an answer
every 0.2 s, so a plot fills without anyone sending. Register 0 is a temperature in
0.1 °C that drifts like a sine, register 1 a pressure that steps; the burst size varies
so the receive rate moves too. Stops after SECONDS (default 60)."""
import math
import socket
import sys
import time

from modbus_device import crc16_modbus  # the same CRC as the screenshots' other device


def answer(t: float) -> bytes:
    temp = int(215 + 40 * math.sin(t / 6.0) + 8 * math.sin(t * 1.3))
    pressure = 1000 + 25 * (int(t / 5) % 4)
    body = bytes([0x01, 0x03, 4]) + temp.to_bytes(2, "big") + pressure.to_bytes(2, "big")
    return body + crc16_modbus(body)


def main() -> None:
    port = int(sys.argv[1])
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 60.0
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(1)
    srv.settimeout(seconds)
    conn, _ = srv.accept()
    conn.settimeout(0.2)
    start = time.time()
    while time.time() - start < seconds:
        t = time.time() - start
        try:
            req = conn.recv(256)
            if not req:
                break
        except socket.timeout:
            pass
        except OSError:
            break
        burst = 1 + int(3 + 3 * math.sin(t / 4.0))
        try:
            conn.sendall(answer(t) * burst)
        except OSError:
            break


if __name__ == "__main__":
    main()
