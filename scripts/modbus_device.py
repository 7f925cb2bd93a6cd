#!/usr/bin/env python3
"""A small Modbus RTU-over-TCP device for screenshots: listens on 127.0.0.1:PORT, answers
"read holding registers" (function 03) with registers 200 + 5*i and CRC-16/MODBUS after
DELAY ms, and corrupts the CRC of every CORRUPT-th answer (0: never).

Usage: modbus_device.py PORT [DELAY_MS] [CORRUPT]
"""
import socket
import struct
import sys
import time


def crc16_modbus(data: bytes) -> bytes:
    crc = 0xFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return struct.pack("<H", crc)


def main() -> None:
    port = int(sys.argv[1])
    delay = int(sys.argv[2]) / 1000 if len(sys.argv) > 2 else 0.02
    corrupt = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(1)
    srv.settimeout(60)
    while True:
        try:
            conn, _ = srv.accept()
        except OSError:
            return
        conn.settimeout(120)
        buf = b""
        answered = 0
        try:
            while True:
                chunk = conn.recv(256)
                if not chunk:
                    break
                buf += chunk
                while len(buf) >= 8:
                    req, buf = buf[:8], buf[8:]
                    if crc16_modbus(req[:6]) != req[6:] or req[1] != 3:
                        continue
                    start, count = struct.unpack(">HH", req[2:6])
                    data = b"".join(struct.pack(">H", 200 + 5 * i) for i in range(start, start + count))
                    answer = bytes([req[0], 3, len(data)]) + data
                    answer += crc16_modbus(answer)
                    answered += 1
                    if corrupt and answered % corrupt == 0:
                        answer = answer[:-1] + bytes([answer[-1] ^ 0x5A])
                    time.sleep(delay)
                    conn.sendall(answer)
        except OSError:
            pass
        conn.close()


if __name__ == "__main__":
    main()
