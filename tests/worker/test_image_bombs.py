"""An image is decoded by the worker only within the pixels its question may record: the database
refuses a question whose image records more than 36 megapixels, but the record is the client's
word, and the file behind it is read as it is. A PNG or GIF of one colour compresses to almost
nothing (12,000 x 12,000 pixels in 450 KB and 107 KB), and decoding one to scale it down took
588 and 725 MiB of the worker's memory (Pillow only refuses past 179 megapixels): eight on one
question were gigabytes, enough to have the worker killed with every turn it was answering.
Memory is measured in a fresh interpreter (as the DOCX and XLSX bombs' is, tests/worker/
test_xlsx_bounds.py): this process's peak (ru_maxrss) is a high-water mark the suite has raised
already, which decoding a bomb could stay under, so the check here could not fail."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import zlib

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


PEAK = """
import json, sys, time
from worker.images import acceptable
def status(field):
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith(field))
blob = sys.stdin.buffer.read()
before = status("VmRSS:")
with open("/proc/self/clear_refs", "w") as peak:
    peak.write("5")  # the peak (VmHWM) starts again from here: importing took more than reading may
started = time.monotonic()
try:
    scaled, mime = acceptable(blob, 1_310_720)
    outcome = f"{mime}: {len(scaled)} bytes"
except ValueError as exc:
    outcome = f"ValueError: {exc}"
print(json.dumps([outcome, (status("VmHWM:") - before) >> 10, time.monotonic() - started]))
"""


def accepted_in_a_process(blob: bytes) -> tuple[str, int, float]:
    """What `acceptable` makes of `blob` in a fresh interpreter, how many MiB its peak grew by, and
    the seconds it took."""
    run = subprocess.run([sys.executable, "-c", PEAK], input=blob, capture_output=True, check=True, timeout=600)
    outcome, grew, took = json.loads(run.stdout)
    return str(outcome), int(grew), float(took)


def test_an_image_past_the_pixels_a_question_may_record_is_not_decoded() -> None:
    bomb = grey_png(12_000, 12_000)  # 144 megapixels in about 150 KB
    assert len(bomb) < 1 << 20
    assert 12_000 * 12_000 > MAX_PIXELS == 36_000_000
    outcome, grew, took = accepted_in_a_process(bomb)
    # sent as stored: the model takes it, or refuses its owner
    assert outcome == "ValueError: 12000x12000 is more than 36 megapixels", (outcome, grew)
    assert took < 1, took
    assert grew < 32, grew  # 588 MiB decoded
    scaled, mime = acceptable(grey_png(6_000, 6_000), 1_310_720)  # 36 megapixels: as recorded, scaled
    assert mime == "image/png"
    assert len(scaled) < 1 << 20
