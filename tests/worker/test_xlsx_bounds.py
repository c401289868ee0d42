"""An Excel workbook's shared strings (the table of every cell's text, which openpyxl reads whole
before any sheet) are bounded in number, not only in unpacked bytes: openpyxl keeps each string's
parsed element under the table's root until the end, so 48 KB of XLSX holding six million empty
strings (30 MB unpacked, within LLM_DOCUMENT_MAX_MB) took 580 MiB of the worker's memory and its
whole reading time before a row was read. Bounds here are proved by what was read (a count, a
subprocess's peak memory), not by how long it took."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile

import pytest
from openpyxl import Workbook

from tests.worker.test_xlsx_documents import xlsx_bytes
from worker.document_bounds import timer
from worker.errors import AttachmentError
from worker.xlsx import MAX_SHARED_STRINGS, XLSX, read_xlsx

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def many_strings(strings: int, si: str = "<si/>", row: str = '<row r="1"><c t="s"><v>0</v></c></row>') -> bytes:
    """A workbook whose shared strings are `strings` copies of `si` (a few KB zipped), its one sheet `row`."""
    rels = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"
    kind = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
    source = zipfile.ZipFile(io.BytesIO(xlsx_bytes(Workbook())))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as packed:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = f'<worksheet xmlns="{MAIN}"><sheetData>{row}</sheetData></worksheet>'.encode()
            elif info.filename == "xl/_rels/workbook.xml.rels":
                shared = f'<Relationship Id="rIdShared" Type="{rels}" Target="sharedStrings.xml"/>'
                data = data.replace(b"</Relationships>", shared.encode() + b"</Relationships>")
            elif info.filename == "[Content_Types].xml":
                override = f'<Override PartName="/xl/sharedStrings.xml" ContentType="{kind}"/>'
                data = data.replace(b"</Types>", override.encode() + b"</Types>")
            packed.writestr(info, data)
        with packed.open("xl/sharedStrings.xml", "w", force_zip64=True) as part:
            part.write(f'<sst xmlns="{MAIN}">'.encode())
            for done in range(0, strings, 10_000):
                part.write(si.encode() * min(10_000, strings - done))
            part.write(b"</sst>")
    return out.getvalue()


PEAK = """
import json, sys
from worker.extraction import extract
from worker.errors import AttachmentError
def status(field):
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith(field))
blob = sys.stdin.buffer.read()
before = status("VmRSS:")
with open("/proc/self/clear_refs", "w") as peak:
    peak.write("5")  # the peak (VmHWM) starts again from here: importing took more than reading may
try:
    outcome = extract({mime!r}, blob, "many.xlsx", seconds=600)[:60]
except AttachmentError as exc:
    outcome = str(exc)
print(json.dumps([outcome, (status("VmHWM:") - before) >> 10]))
"""


def read_in_a_process(blob: bytes, mime: str = XLSX) -> tuple[str, int]:
    """What extract makes of `blob` (of type `mime`) in a fresh interpreter, and how many MiB its peak grew by."""
    run = subprocess.run(
        [sys.executable, "-c", PEAK.format(mime=mime)], input=blob, capture_output=True, check=True, timeout=600
    )
    outcome, grew = json.loads(run.stdout)
    return str(outcome), int(grew)


def test_a_workbook_of_millions_of_shared_strings_is_refused_at_the_bound_in_little_memory() -> None:
    blob = many_strings(6_000_000)
    assert len(blob) < 64 << 10
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        assert sum(part.file_size for part in archive.infolist()) < 32 << 20  # within the unpacked bound
    outcome, grew = read_in_a_process(blob)
    assert outcome.startswith("DocumentTooComplex: many.xlsx: more than 1,000,000 shared strings"), (outcome, grew)
    assert grew < 64, grew  # 581 MiB before (37 now)


def test_shared_strings_up_to_the_bound_are_read_and_one_more_is_refused() -> None:
    """The bound is a count of strings read, not a time: at it the workbook reads, past it not."""
    cells = "".join(f'<c r="{col}1" t="s"><v>{n}</v></c>' for n, col in enumerate("ABC"))
    blob = many_strings(3, "<si><t>x</t></si>", f'<row r="1">{cells}</row>')
    assert read_xlsx(blob, "three.xlsx", 1 << 20, timer("three.xlsx", 60), max_strings=3) == "[Sheet: Sheet]\nx,x,x"
    with pytest.raises(AttachmentError) as refused:
        read_xlsx(blob, "three.xlsx", 1 << 20, timer("three.xlsx", 60), max_strings=2)
    assert refused.value.code == "DocumentTooComplex"
    assert "more than 2 shared strings" in str(refused.value)
    assert MAX_SHARED_STRINGS == 1_000_000


def test_a_workbook_at_the_shared_strings_bound_reads_in_little_memory() -> None:
    """A million distinct short strings, the most allowed: read, the table's elements dropped as read."""
    blob = many_strings(MAX_SHARED_STRINGS, "<si><t>abcdefgh</t></si>")
    outcome, grew = read_in_a_process(blob)
    assert outcome == "[Sheet: Sheet]\nabcdefgh", outcome
    assert grew < 140, grew  # 183 MiB before (98 now), the emptied elements kept
