"""Checks figures without an imaging library: a PNG must have a valid signature and IHDR, decode
(zlib + the five PNG row filters, done here with numpy) and not be blank (several colours, a fair
share of non-background pixels); an SVG must parse as XML with an <svg> root and drawn elements.
Prints "WIDTHxHEIGHT" per PNG; exits 1 on the first bad file.

usage: check_images.py FILE...
"""
import struct
import sys
import xml.etree.ElementTree as ET
import zlib

import numpy as np


def fail(path, message):
    print(f"check_images: {path}: {message}", file=sys.stderr)
    sys.exit(1)


def unfilter(raw, width, height, bpp):
    stride = width * bpp
    out = np.zeros((height, stride), dtype=np.uint8)
    prev = np.zeros(stride, dtype=np.int64)
    pos = 0
    for y in range(height):
        kind = raw[pos]
        line = np.frombuffer(raw, dtype=np.uint8, count=stride, offset=pos + 1).astype(np.int64)
        pos += 1 + stride
        if kind == 0:
            cur = line
        elif kind == 1:  # Sub: a running sum per channel
            cur = np.cumsum(line.reshape(-1, bpp), axis=0).reshape(-1) & 0xFF
        elif kind == 2:  # Up
            cur = (line + prev) & 0xFF
        elif kind in (3, 4):  # Average, Paeth: depend on the byte just decoded
            cur = [0] * stride
            lv, pv = line.tolist(), prev.tolist()
            for i in range(stride):
                a = cur[i - bpp] if i >= bpp else 0
                b = pv[i]
                if kind == 3:
                    cur[i] = (lv[i] + ((a + b) >> 1)) & 0xFF
                else:
                    c = pv[i - bpp] if i >= bpp else 0
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                    cur[i] = (lv[i] + pred) & 0xFF
            cur = np.array(cur, dtype=np.int64)
        else:
            raise ValueError(f"bad filter type {kind} in row {y}")
        out[y] = cur
        prev = cur
    return out


def check_png(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        fail(path, "no PNG signature")
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if zlib.crc32(kind + body) != struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0]:
            fail(path, f"bad CRC in {kind}")
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    if ihdr is None:
        fail(path, "no IHDR")
    width, height, depth, colour, _, _, interlace = ihdr
    if depth != 8 or colour not in (2, 6) or interlace != 0:
        fail(path, f"unexpected format depth={depth} colour={colour} interlace={interlace}")
    bpp = 3 if colour == 2 else 4
    pixels = unfilter(zlib.decompress(idat), width, height, bpp).reshape(height, width, bpp)[:, :, :3]
    flat = pixels.reshape(-1, 3)
    colours = np.unique(flat, axis=0)
    background = np.all(flat == flat[0], axis=1).mean()
    if len(colours) < 3 or background > 0.99:
        fail(path, f"looks blank: {len(colours)} colours, {background:.1%} background")
    print(f"{width}x{height}")


def check_svg(path):
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        fail(path, f"not valid XML: {e}")
    if not root.tag.endswith("svg"):
        fail(path, f"root element is {root.tag}")
    drawn = sum(1 for e in root.iter() if e.tag.split("}")[-1] in ("path", "use", "rect", "line", "polyline", "text"))
    if drawn < 10:
        fail(path, f"only {drawn} drawn elements")
    print(f"svg {root.get('width')} {root.get('height')}")


for name in sys.argv[1:]:
    (check_png if name.endswith(".png") else check_svg)(name)
