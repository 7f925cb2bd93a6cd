#!/usr/bin/env python3
"""Draws Sockscope's icon and writes assets/icon-{16,32,48,64,128,256}.png and
assets/sockscope.ico (the same images, PNG-compressed entries, for the Windows .exe).

The design: a round scope screen with a cross-hair and a green trace on a navy tile,
i.e. "look at what goes through the socket". Pure Python (zlib + struct), no packages,
so anyone can re-run it: `python3 scripts/make_icon.py`. Each size is drawn on its own
4x supersampled grid, with strokes kept at least about a pixel wide, so the small sizes
stay sharp.
"""

import math
import os
import struct
import zlib

SIZES = [16, 32, 48, 64, 128, 256]
SUPER = 4
WAVE_K = 2.0 * math.pi / 0.44
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "assets")

TILE_TOP = (0x23, 0x4E, 0x7D)
TILE_BOTTOM = (0x12, 0x2B, 0x4A)
SCREEN = (0x08, 0x16, 0x24)
RING = (0x7F, 0xD3, 0xFF)
GRID = (0x2C, 0x5A, 0x78)
TRACE = (0x5C, 0xF0, 0x8A)


def rounded_rect_sd(x, y, half, radius):
    """Signed distance to a square of half-size `half` centred at 0 with round corners."""
    qx = abs(x) - half + radius
    qy = abs(y) - half + radius
    outside = math.hypot(max(qx, 0.0), max(qy, 0.0))
    return outside + min(max(qx, qy), 0.0) - radius


def trace_y(x):
    """The trace: about one and a half periods of a sine across the screen."""
    return -0.12 * math.sin(x * WAVE_K)


def trace_dy(x):
    return -0.12 * WAVE_K * math.cos(x * WAVE_K)


def pixel(x, y, size):
    """Colour and alpha of one sample; x and y in [-0.5, 0.5], y down."""
    px = 1.0 / size  # one output pixel in unit coordinates
    if rounded_rect_sd(x, y, 0.47, 0.11) > 0:
        return None
    t = y + 0.5
    colour = tuple(round(a + (b - a) * t) for a, b in zip(TILE_TOP, TILE_BOTTOM))
    r = math.hypot(x, y)
    screen_r = 0.34
    ring_w = max(0.035, 1.1 * px)
    if r < screen_r - ring_w / 2:
        colour = SCREEN
        grid_w = max(0.012, 0.6 * px)
        if size >= 32 and (abs(x) < grid_w / 2 or abs(y) < grid_w / 2):
            colour = GRID
        trace_w = max(0.045, 1.6 * px)
        if abs(x) < screen_r - ring_w:
            d = abs(y - trace_y(x)) / math.sqrt(1.0 + trace_dy(x) ** 2)
            if d < trace_w / 2:
                colour = TRACE
    elif r < screen_r + ring_w / 2:
        colour = RING
    return colour


def render(size):
    """RGBA rows of the icon at `size`, averaged over SUPER x SUPER samples."""
    n = size * SUPER
    rows = []
    for py in range(size):
        row = bytearray()
        for px_ in range(size):
            acc = [0, 0, 0, 0]
            for sy in range(SUPER):
                for sx in range(SUPER):
                    x = (px_ * SUPER + sx + 0.5) / n - 0.5
                    y = (py * SUPER + sy + 0.5) / n - 0.5
                    c = pixel(x, y, size)
                    if c is not None:
                        acc[0] += c[0]
                        acc[1] += c[1]
                        acc[2] += c[2]
                        acc[3] += 1
            covered = acc[3]
            if covered:
                row += bytes(
                    [
                        round(acc[0] / covered),
                        round(acc[1] / covered),
                        round(acc[2] / covered),
                        round(255 * covered / (SUPER * SUPER)),
                    ]
                )
            else:
                row += bytes(4)
        rows.append(bytes(row))
    return rows


def png_bytes(size, rows):
    def chunk(kind, body):
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    raw = b"".join(b"\x00" + r for r in rows)
    ihdr = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def ico_bytes(images):
    """An .ico whose entries are PNG files (supported since Windows Vista)."""
    header = struct.pack("<HHH", 0, 1, len(images))
    offset = 6 + 16 * len(images)
    entries = b""
    data = b""
    for size, png in images:
        dim = 0 if size >= 256 else size
        entries += struct.pack("<BBBBHHII", dim, dim, 0, 0, 1, 32, len(png), offset)
        data += png
        offset += len(png)
    return header + entries + data


def main():
    images = []
    for size in SIZES:
        png = png_bytes(size, render(size))
        with open(os.path.join(ROOT, f"icon-{size}.png"), "wb") as f:
            f.write(png)
        images.append((size, png))
        print(f"assets/icon-{size}.png: {len(png)} bytes")
    with open(os.path.join(ROOT, "sockscope.ico"), "wb") as f:
        f.write(ico_bytes(images))
    print("assets/sockscope.ico written")


if __name__ == "__main__":
    main()
