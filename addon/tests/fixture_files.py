"""Tiny valid asset files for the fixture server. Plain Python."""

import struct
import zlib


def radiance_hdr_2x2():
    """A 2x2 Radiance .hdr: header, resolution line, 4 flat RGBE pixels (16 bytes)."""
    header = b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 2 +X 2\n"
    return header + bytes([128, 64, 32, 129, 200, 100, 50, 128, 10, 20, 30, 130, 255, 255, 255, 128])


def png_rgb(width, height, rgb):
    """A solid-colour RGB PNG."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
