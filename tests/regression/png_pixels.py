"""Read the pixels of a PNG (8-bit RGB/RGBA, not interlaced — what Chromium's --screenshot writes) with
zlib and NumPy alone, so a test can look at a screenshot: is it blank, is there red in it?"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {2: 3, 6: 4}  # colour type -> channels (truecolour, truecolour + alpha)


def _chunks(data: bytes):
    offset = len(_SIGNATURE)
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        yield kind, data[offset + 8 : offset + 8 + length]
        offset += 12 + length


def _unfilter_row(kind: int, line: bytes, previous: bytes, channels: int) -> bytes:
    """Undo one row's filter (PNG spec: None, Sub, Up, Average, Paeth); plain ints, as fast as it gets here."""
    if kind == 0:
        return line
    if kind == 2:
        return bytes((a + b) & 0xFF for a, b in zip(line, previous))
    row = bytearray(len(line))
    for x, value in enumerate(line):
        left = row[x - channels] if x >= channels else 0
        if kind == 1:
            predictor = left
        elif kind == 3:
            predictor = (left + previous[x]) >> 1
        else:
            up, up_left = previous[x], previous[x - channels] if x >= channels else 0
            estimate = left + up - up_left
            pa, pb, pc = abs(estimate - left), abs(estimate - up), abs(estimate - up_left)
            predictor = left if pa <= pb and pa <= pc else up if pb <= pc else up_left
        row[x] = (value + predictor) & 0xFF
    return bytes(row)


def read_rgb(path: Path) -> np.ndarray:
    """(height, width, 3) uint8 pixels."""
    data = Path(path).read_bytes()
    if not data.startswith(_SIGNATURE):
        raise ValueError(f"{path}: not a PNG file")
    header, compressed = None, b""
    for kind, body in _chunks(data):
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            compressed += body
    width, height, depth, colour, _, _, interlace = header
    if depth != 8 or colour not in _CHANNELS or interlace:
        raise ValueError(f"{path}: only 8-bit RGB/RGBA non-interlaced PNGs are read here")
    channels = _CHANNELS[colour]
    stride = width * channels
    raw = zlib.decompress(compressed)
    rows, previous = [], bytes(stride)
    for y in range(height):
        start = y * (stride + 1)
        previous = _unfilter_row(raw[start], raw[start + 1 : start + 1 + stride], previous, channels)
        rows.append(previous)
    out = np.frombuffer(b"".join(rows), dtype=np.uint8).reshape(height, stride)
    return out.reshape(height, width, channels)[:, :, :3].copy()


def share_of(pixels: np.ndarray, rgb: tuple[int, int, int], tolerance: int = 12) -> float:
    """Fraction of the pixels within ``tolerance`` of a colour."""
    distance = np.abs(pixels.astype(np.int32) - np.array(rgb, dtype=np.int32)).max(axis=2)
    return float((distance <= tolerance).mean())
