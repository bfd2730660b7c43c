#!/usr/bin/env python3
"""Check a screenshot is a real page: `png_stats.py FILE [MIN_INK]`.

Decodes an 8-bit RGB/RGBA PNG with the standard library only (zlib and the
five PNG filters), prints its size, the share of non-white pixels ("ink")
and the number of distinct colours, and exits 1 if the image is tiny, blank
(ink below MIN_INK, default 0.01) or nearly one colour.
"""
import struct
import sys
import zlib


def decode(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise SystemExit(f"{path}: not a PNG")
    pos, idat, width, height, ctype, depth = 8, b"", 0, 0, 0, 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, ctype = struct.unpack(">IIBB", body[:10])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    if depth != 8 or ctype not in (2, 6):
        raise SystemExit(f"{path}: unsupported PNG (depth {depth}, colour type {ctype})")
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev, i = [], bytearray(stride), 0
    for _ in range(height):
        f, line = raw[i], bytearray(raw[i + 1 : i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[x] = (line[x] + pred) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, bpp, rows


def main():
    path = sys.argv[1]
    min_ink = float(sys.argv[2]) if len(sys.argv) > 2 else 0.01
    width, height, bpp, rows = decode(path)
    ink, colours, total = 0, set(), 0
    for row in rows[::4]:
        for x in range(0, width * bpp, bpp * 4):
            px = row[x : x + 3]
            total += 1
            colours.add(px)
            if min(px) < 235:
                ink += 1
    share = ink / max(total, 1)
    print(f"{path}: {width}x{height}, ink {share:.3f}, {len(colours)} colours (sampled)")
    if width < 600 or height < 600:
        raise SystemExit("screenshot is tiny")
    if share < min_ink or len(colours) < 16:
        raise SystemExit("screenshot is blank")


if __name__ == "__main__":
    main()
