"""An image is decoded by the worker only within the pixels its question may record: the database
refuses a question whose image records more than 36 megapixels, but the record is the client's
word, and the file behind it is read as it is. A PNG or GIF of one colour compresses to almost
nothing (12,000 x 12,000 pixels in 450 KB and 107 KB), and decoding one to scale it down took
588 and 725 MiB of the worker's memory (Pillow only refuses past 179 megapixels): eight on one
question were gigabytes, enough to have the worker killed with every turn it was answering."""

from __future__ import annotations

import resource
import struct
import time
import zlib

import pytest

from worker.images import MAX_PIXELS, acceptable


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def grey_png(width: int, height: int) -> bytes:
    """A grey PNG of width x height, compressed row by row (never held whole here)."""
    packer = zlib.compressobj(9)
    row = bytes(1 + width)  # filter byte 0, then black
    body = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", body) + _chunk(b"IEND", b"")


def _peak_mib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss >> 10


def test_an_image_past_the_pixels_a_question_may_record_is_not_decoded() -> None:
    bomb = grey_png(12_000, 12_000)  # 144 megapixels in about 150 KB
    assert len(bomb) < 1 << 20
    assert 12_000 * 12_000 > MAX_PIXELS == 36_000_000
    peak = _peak_mib()
    started = time.monotonic()
    with pytest.raises(ValueError, match="megapixels"):  # sent as stored: the model takes it, or refuses its owner
        acceptable(bomb, 1_310_720)
    assert time.monotonic() - started < 1
    assert _peak_mib() - peak < 32
    scaled, mime = acceptable(grey_png(6_000, 6_000), 1_310_720)  # 36 megapixels: as recorded, scaled
    assert mime == "image/png"
    assert len(scaled) < 1 << 20
