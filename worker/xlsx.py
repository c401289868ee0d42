"""An Excel workbook's (.xlsx) text, for worker/extraction.py: through openpyxl's read-only mode,
each sheet as `[Sheet: <name>]` then its rows as CSV, the values Excel shows (a formula's last
result). Its unpacked parts are bounded from the zip's directory, its text measured as it is read
(a shared string every cell names), its reading checked against the clock at each read of a part
and each row, a sheet's rows read at most ROW_XML bytes of XML a row.
"""

from __future__ import annotations

import csv
import datetime
import functools
import io
import re
import zipfile
from collections.abc import Callable
from typing import Any

from worker.document_bounds import dtd_checked, too_complex, too_long, unpacked_within
from worker.number_formats import elapsed, shown

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# The most shared strings (the table of the workbook's cell texts, read whole before any sheet) a
# workbook may hold: a million strings are more text than any model's window takes, and at the most
# the unpacked bound allows they take about 100 MiB here (six million empty ones fit in 30 MB).
MAX_SHARED_STRINGS = 1_000_000


def read_xlsx(
    blob: bytes, name: str, max_bytes: int, in_time: Callable[[], None], *, max_strings: int = MAX_SHARED_STRINGS
) -> str:
    """Each worksheet, `[Sheet: <name>]` (`[Sheet: <name> (hidden)]` for one Excel hides: read, as
    it often holds what the others' figures come from) then its rows as CSV (the values Excel
    shows: a formula's last result, a number as its format shows it (money, separators, decimals,
    a percentage); a merged range's in each
    of its cells; empty rows and a row's trailing empty cells left out), an empty sheet left out.
    openpyxl's read-only mode streams a sheet's rows; its shared strings are read whole (within
    the unpacked bound, at most `max_strings` of them: DocumentTooComplex past it), and one of
    them named by every cell makes a text far past its parts' size, so the text is measured as it
    is read, and the clock checked at each row."""
    from openpyxl.reader.excel import ExcelReader  # noqa: PLC0415 - loaded by the first workbook only

    unpacked_within(blob, name, max_bytes)
    reader = ExcelReader(io.BytesIO(blob), read_only=True, data_only=True, keep_links=False)
    reader.archive = _Archive(blob, name, in_time)  # what openpyxl reads the parts from, bounded
    reader.read_strings = functools.partial(_read_strings, reader, name, max_strings)
    reader.read()  # in read-only mode, a sheet without its size is read through once here
    workbook = reader.wb
    sheets: list[str] = []
    size = 0
    try:
        for sheet in workbook.worksheets:
            sheet.reset_dimensions()  # a sheet's declared size (which may say 16,384 columns) pads no row
            out = io.StringIO()
            rows = csv.writer(out, lineterminator="\n")
            merged = _Merged(_merged_ranges(reader.archive, sheet._worksheet_path, name), in_time)
            for number, row in enumerate(sheet.iter_rows(), 1):
                in_time()
                cells = merged.fill(number, [_cell(cell.value, cell.number_format) for cell in row])
                while cells and not cells[-1]:
                    cells.pop()
                if cells:
                    rows.writerow(cells)
                    size += sum(len(cell) for cell in cells) + len(cells)  # characters: 4 bytes at most each
                    if size > max_bytes // 4 and len(out.getvalue().encode()) > max_bytes:
                        raise too_long(name, max_bytes)
            if out.tell():
                hidden = " (hidden)" if sheet.sheet_state != "visible" else ""  # hidden or veryHidden
                sheets.append(f"[Sheet: {sheet.title}{hidden}]\n{out.getvalue().rstrip()}")
    finally:
        workbook.close()  # read-only mode keeps the archive open for its sheets' streams
    return "\n\n".join(sheets)


def _read_strings(reader: Any, name: str, most: int) -> None:
    """openpyxl's ExcelReader.read_strings (its read_string_table: each `<si>`'s text, `_x005F_`
    unescaped), but each string's element dropped from the table's root once read, where openpyxl
    keeps every one (emptied) to the end: 48 KB of XLSX holding six million empty strings took 580
    MiB. Past `most` strings: DocumentTooComplex, before the next is kept."""
    from openpyxl.cell.text import Text  # noqa: PLC0415
    from openpyxl.xml.constants import SHARED_STRINGS, SHEET_MAIN_NS  # noqa: PLC0415
    from openpyxl.xml.functions import iterparse  # noqa: PLC0415 - the parser openpyxl itself uses

    part = reader.package.find(SHARED_STRINGS)
    if part is None:
        return
    tag = f"{{{SHEET_MAIN_NS}}}si"
    strings: list[str] = []
    root = None
    with reader.archive.open(part.PartName[1:]) as source:
        for event, node in iterparse(source, events=("start", "end")):
            if root is None:
                root = node  # the table, whose children are dropped as each is read
            elif event == "end" and node.tag == tag:
                if len(strings) == most:
                    raise too_complex(name, f"more than {most:,} shared strings (its cells' texts)")
                strings.append(Text.from_tree(node).content.replace("x005F_", ""))
                root.clear()
    reader.shared_strings = strings


_MERGE = re.compile(rb'<(?:\w+:)?mergeCell\b[^>]*?\bref="([A-Z]{1,3})([0-9]{1,7}):([A-Z]{1,3})([0-9]{1,7})"')
MAX_MERGED = 100_000  # merged ranges a sheet may have (DocumentTooComplex past it): a report's are hundreds


def _merged_ranges(archive: zipfile.ZipFile, path: str, name: str) -> list[tuple[int, int, int, int]]:
    """A sheet's merged ranges (first row, first column, last row, last column; 1-based), from its
    XML's `<mergeCells>`, which follows its rows: the part is read through once for them first
    (openpyxl's read-only mode reads none), a MiB at a time, the clock checked at each read."""
    from openpyxl.utils.cell import column_index_from_string as column  # noqa: PLC0415

    ranges: list[tuple[int, int, int, int]] = []
    tail = b""  # the end of the last read: a tag cut between two reads is whole in tail + the next
    with archive.open(path) as part:
        while chunk := part.read(1 << 20):
            data = tail + chunk
            for match in _MERGE.finditer(data):
                if match.end() <= len(tail):
                    continue  # found in the last read already
                if len(ranges) == MAX_MERGED:
                    raise too_complex(name, f"a sheet of more than {MAX_MERGED:,} merged ranges")
                first, top, last, bottom = match.groups()
                ranges.append((int(top), column(first.decode()), int(bottom), column(last.decode())))
            tail = data[-256:]
    return sorted(ranges)


class _Merged:
    """Fills each row's cells that a merged range covers with the value of the range's top-left
    cell (Excel shows it across the range, and keeps it in that cell alone)."""

    def __init__(self, ranges: list[tuple[int, int, int, int]], in_time: Callable[[], None]) -> None:
        self._waiting, self._in_time = ranges[::-1], in_time  # by first row, the next last
        self._open: list[tuple[int, int, int, str]] = []  # last row, first and last column, value

    def fill(self, number: int, cells: list[str]) -> list[str]:
        """Row `number`'s cells, its merged ones filled."""
        while self._waiting and self._waiting[-1][0] <= number:
            top, first, bottom, last = self._waiting.pop()
            value = cells[first - 1] if top == number and first <= len(cells) else ""  # the top-left's
            if value and first <= last <= 16_384 and bottom >= top:
                self._open.append((bottom, first, last, value))
        self._open = [merged for merged in self._open if merged[0] >= number]
        for n, (_, first, last, value) in enumerate(self._open):
            if not n & 1023:
                self._in_time()
            cells.extend([""] * (last - len(cells)))
            cells[first - 1 : last] = [value] * (last - first + 1)
        return cells


ROW_XML = 4 << 20  # the most of a sheet's XML read for one row: Excel's 16,384 cells take under 1 MiB
_ROW = re.compile(rb"(?s).*(</?)(?:\w+:)?(row|sheetData)\b")  # the last row or rows' tag in a read


class _Archive(zipfile.ZipFile):
    """An XLSX's parts as openpyxl reads them (ElementTree's iterparse, 16 KiB a read), bounded:
    openpyxl builds a row whole, then each of its cells in Python with no clock between (62 KB of
    XLSX holding one row of 2,000,000 cells took 31 s and 962 MiB of memory), and in read-only mode
    reads a sheet that does not give its size through once as it opens the workbook. So the clock
    is checked at each read of a part, and a sheet's rows (its sheetData) may not go on for more
    than ROW_XML bytes without a row's tag: DocumentTooComplex, before openpyxl has that row. A part
    that declares a DTD is DocumentTooComplex as it is opened, before openpyxl parses it."""

    def __init__(self, blob: bytes, name: str, in_time: Callable[[], None]) -> None:
        super().__init__(io.BytesIO(blob))
        self._document, self._in_time = name, in_time
        self._checked: set[str] = set()  # the parts checked for a DTD

    def open(self, *args: Any, **kwargs: Any) -> Any:
        """The part, once its prolog is checked for a DTD (each part openpyxl parses, whatever its
        type: a sheet is found from the workbook's relationships)."""
        part = args[0] if args else kwargs["name"]
        name = str(getattr(part, "filename", part))
        if name not in self._checked:
            dtd_checked(self, name, self._document, self._in_time)
            self._checked.add(name)
        return _Part(super().open(*args, **kwargs), self._document, self._in_time)


class _Part:
    def __init__(self, raw: Any, name: str, in_time: Callable[[], None]) -> None:
        self._raw, self._name, self._in_time = raw, name, in_time
        self._since: int | None = None  # bytes since a row's tag, within a sheet's rows

    def read(self, size: int = -1) -> bytes:
        self._in_time()
        data: bytes = self._raw.read(size)
        last = _ROW.match(data)
        if last is not None:
            rows_end = last.group(1) == b"</" and last.group(2) == b"sheetData"
            self._since = None if rows_end else len(data) - last.end()
        elif self._since is not None:
            self._since += len(data)
        if self._since is not None and self._since > ROW_XML:
            raise too_complex(self._name, f"a row of more than {ROW_XML >> 20} MiB of XML, past what Excel writes")
        return data

    def close(self) -> None:
        self._raw.close()

    def __enter__(self) -> _Part:
        return self

    def __exit__(self, *_: object) -> None:
        self._raw.close()


def _cell(value: Any, number_format: str | None = None) -> str:
    """A cell's value as Excel shows it: a number by its format (worker/number_formats.py: money,
    separators, decimals, a percentage), else as in General format."""
    if value is None:
        return ""
    if number_format and (formatted := shown(value, number_format)) is not None:
        return formatted
    if isinstance(value, datetime.timedelta):  # an elapsed time's format ([h]:mm:ss)
        return elapsed(value, number_format or "")
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return f"{value:.15g}"  # Excel's 15 digits: 0.1 + 0.2 is 0.3
    if isinstance(value, datetime.datetime) and value.time() == datetime.time():
        return value.date().isoformat()
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat(sep=" ") if isinstance(value, datetime.datetime) else value.isoformat()
    return str(value)
