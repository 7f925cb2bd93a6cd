"""Fails unless the PNG exists, decodes, and is not one flat colour (the window drew)."""
import struct
import sys
import zlib


def main(path: str) -> None:
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        sys.exit(f"{path}: not a PNG")
    pos, idat, width, height, ctype = 8, b"", 0, 0, 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, _depth, ctype = struct.unpack(">IIBB", body[:10])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    channels = {6: 4, 2: 3}.get(ctype, 4)
    stride = width * channels + 1
    colours = set()
    for y in range(0, height, 7):
        row = raw[y * stride + 1 : (y + 1) * stride]
        for x in range(0, width * channels, channels * 5):
            colours.add(bytes(row[x : x + 3]))
    if width < 200 or height < 200 or len(colours) < 8:
        sys.exit(f"{path}: {width}x{height}, {len(colours)} colours: looks blank")
    print(f"smoke: {path} is {width}x{height} with {len(colours)} sampled colours: OK")


if __name__ == "__main__":
    main(sys.argv[1])
