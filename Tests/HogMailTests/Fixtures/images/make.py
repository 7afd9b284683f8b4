#!/usr/bin/env python3
"""Makes the tiny test images in this folder with Python's standard library only:
a real PNG (zlib), a real baseline JPEG (one grey, two one-code Huffman tables), an SVG.
Run it here; the files are committed, so tests need no tool."""
import struct, zlib

def png(path, width, height):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    # One filter byte per row, then RGB pixels.
    raw = b"".join(b"\x00" + b"".join(bytes([29, 74, 255]) if (x // 10 + y // 10) % 2 else b"\xff\xff\xff" for x in range(width))
                   for y in range(height))
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    data += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    open(path, "wb").write(data)

def jpeg(path, width, height):
    # Greyscale baseline: every 8×8 block has DC difference 0 and ends at once (EOB), so each
    # block is two one-bit codes; the picture is uniform mid-grey.
    segment = lambda marker, body: b"\xff" + bytes([marker]) + struct.pack(">H", len(body) + 2) + body
    data = b"\xff\xd8"
    data += segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
    data += segment(0xDB, b"\x00" + b"\x01" * 64)
    data += segment(0xC0, struct.pack(">BHHB", 8, height, width, 1) + b"\x01\x11\x00")
    one_code = b"\x01" + b"\x00" * 15 + b"\x00"  # one code of length 1, for symbol 0
    data += segment(0xC4, b"\x00" + one_code + b"\x10" + one_code)
    data += segment(0xDA, b"\x01\x01\x00\x00\x3f\x00")
    blocks = ((width + 7) // 8) * ((height + 7) // 8)
    bits = "00" * blocks
    bits += "1" * (-len(bits) % 8)
    data += bytes(int(bits[i:i + 8], 2) for i in range(0, len(bits), 8))
    data += b"\xff\xd9"
    open(path, "wb").write(data)

png("signups.png", 300, 150)
jpeg("chart.jpg", 1040, 520)
open("diagram.svg", "w").write('<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 800 400">'
                               '<rect x="40" y="40" width="720" height="320" fill="#1d4aff"/></svg>\n')
