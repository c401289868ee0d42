"""An Excel workbook (.xlsx) is a document: a table is what users most often ask a model about, and
most tables are kept in Excel, not exported to CSV. The bucket, the web app, /v1 and the worker
refused it as a type they do not take. Each sheet is read as CSV rows under its name, the values
Excel shows (a formula's last result, not the formula), bounded as a Word document is: its unpacked
parts by the text's limit, its reading by LLM_DOCUMENT_READ_SECONDS."""

from __future__ import annotations

import datetime
import io
import zipfile

import asyncpg
import pytest
from openpyxl import Workbook

from tests.conftest import LocalStack
from tests.worker.checks import counted_checks
from tests.worker.conftest import Owner, RecordingFakeScope, Workers, final_answer, worker_settings
from tests.worker.test_attachments import ask_with, upload
from worker.document_bounds import timer
from worker.documents import DOCUMENT_TYPES, XLSX, extract
from worker.errors import AttachmentError
from worker.xlsx import ROW_XML


def xlsx_bytes(workbook: Workbook, results: dict[str, str] | None = None) -> bytes:
    """The workbook as Excel saves it: each formula (`results`: formula -> value) with the result
    Excel computed last, which openpyxl, computing nothing, leaves out."""
    out = io.BytesIO()
    workbook.save(out)
    if not results:
        return out.getvalue()
    source = zipfile.ZipFile(out)
    patched = io.BytesIO()
    with zipfile.ZipFile(patched, "w", zipfile.ZIP_DEFLATED) as packed:
        for info in source.infolist():
            data = source.read(info.filename)
            for formula, value in results.items():
                data = data.replace(f"<f>{formula}</f><v></v>".encode(), f"<f>{formula}</f><v>{value}</v>".encode())
            packed.writestr(info, data)
    return patched.getvalue()


def sales() -> Workbook:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "销售"
    sheet.append(["地区", "第一季度", "第二季度", "合计"])
    sheet.append(["华东", 120, 135.5, "=B2+C2"])
    sheet.append(["North, upper", 98, 101, "=B3+C3"])
    sheet.append([])  # an empty row between the table and its note: left out
    sheet.append(["Checked", True, datetime.date(2026, 12, 1)])
    notes = workbook.create_sheet("Notes")
    notes["B2"] = "Figures in thousands of yuan"
    workbook.create_sheet("Empty")
    return workbook


def test_each_sheet_of_a_workbook_is_read_as_csv_rows_under_its_name_with_formulas_results() -> None:
    assert XLSX in DOCUMENT_TYPES
    blob = xlsx_bytes(sales(), {"B2+C2": "255.5", "B3+C3": "199"})
    assert extract(XLSX, blob, "sales.xlsx") == (
        "[Sheet: 销售]\n"
        "地区,第一季度,第二季度,合计\n"
        "华东,120,135.5,255.5\n"
        '"North, upper",98,101,199\n'
        "Checked,TRUE,2026-12-01\n\n"
        "[Sheet: Notes]\n"
        ",Figures in thousands of yuan"
    )


def test_a_workbook_that_unpacks_past_the_limit_is_refused_before_it_is_unpacked() -> None:
    """1 MiB of zip can unpack to 1 GiB (a sheet of one repeated cell): refused from the archive's
    directory, as a Word document is."""
    out = io.BytesIO()
    workbook = xlsx_bytes(sales())
    with zipfile.ZipFile(io.BytesIO(workbook)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as packed:
        for info in source.infolist():
            packed.writestr(info, source.read(info.filename))
        packed.writestr("xl/sharedStrings.xml", b" " * (64 << 20))
    assert len(out.getvalue()) < 1 << 20
    with pytest.raises(AttachmentError) as refused:
        extract(XLSX, out.getvalue(), "bomb.xlsx", max_bytes=32 << 20)
    assert refused.value.code == "DocumentTooLong"


def test_a_workbook_whose_reading_passes_its_time_is_refused_at_it() -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for n in range(20_000):
        sheet.append([n, "a"])
    blob = xlsx_bytes(workbook)
    with counted_checks() as checks:
        assert extract(XLSX, blob).count("\n") == 20_000  # its heading and its rows
    assert checks.made >= 20_000  # the clock is looked at for each row, at least: a reading stops within one
    with counted_checks(expire_at=500) as checks, pytest.raises(AttachmentError) as refused:
        extract(XLSX, blob, "big.xlsx", seconds=0.01)
    assert refused.value.code == "DocumentTooComplex"
    assert checks.made == 500  # refused at the check that found the time passed
    timer("big.xlsx", 60)()  # the real clock: in time
    with pytest.raises(AttachmentError) as refused:
        timer("big.xlsx", -1)()  # past
    assert refused.value.code == "DocumentTooComplex"


def shared_string_bomb(text: str, cells: int) -> bytes:
    """A workbook whose one sheet names one shared string `cells` times: its text is `cells` times
    the string's, its parts a cell's XML each."""
    rels = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    row = "".join('<c t="s"><v>0</v></c>' for _ in range(10))
    rows = "".join(f'<row r="{n + 1}">{row}</row>' for n in range(cells // 10))
    source = zipfile.ZipFile(io.BytesIO(xlsx_bytes(Workbook())))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as packed:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = f'<worksheet xmlns="{main}"><sheetData>{rows}</sheetData></worksheet>'.encode()
            elif info.filename == "xl/_rels/workbook.xml.rels":
                shared = f'<Relationship Id="rIdShared" Type="{rels}" Target="sharedStrings.xml"/>'
                data = data.replace(b"</Relationships>", shared.encode() + b"</Relationships>")
            elif info.filename == "[Content_Types].xml":
                kind = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
                override = f'<Override PartName="/xl/sharedStrings.xml" ContentType="{kind}"/>'
                data = data.replace(b"</Types>", override.encode() + b"</Types>")
            packed.writestr(info, data)
        packed.writestr("xl/sharedStrings.xml", f'<sst xmlns="{main}"><si><t>{text}</t></si></sst>')
    return out.getvalue()


def test_a_workbooks_text_past_the_limit_is_refused_as_it_is_read() -> None:
    """Its parts are within the limit, but one shared string named in every cell makes a text a
    thousand times their size (200 KB of parts, 400 MB of text): refused once it passes, not built."""
    blob = shared_string_bomb("x" * 20_000, 20_000)
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        assert sum(part.file_size for part in archive.infolist()) < 1 << 20
    with counted_checks() as checks, pytest.raises(AttachmentError) as refused:
        extract(XLSX, blob, "bomb.xlsx", max_bytes=1 << 20)
    assert refused.value.code == "DocumentTooLong"
    assert checks.made < 64  # its parts' few reads and the six rows (200 KB of text each) that pass 1 MiB: not 2,000
    assert extract(XLSX, shared_string_bomb("ab", 20), "small.xlsx") == "[Sheet: Sheet]\n" + "\n".join(
        [",".join(["ab"] * 10)] * 2
    )


def one_row(cells: int) -> bytes:
    """A workbook whose one sheet is one row of `cells` cells."""
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    source = zipfile.ZipFile(io.BytesIO(xlsx_bytes(Workbook())))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as packed:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                row = "<c><v>1</v></c>" * cells
                data = f'<worksheet xmlns="{main}"><sheetData><row>{row}</row></sheetData></worksheet>'.encode()
            packed.writestr(info, data)
    return out.getvalue()


def test_a_row_past_what_excel_writes_is_refused_before_openpyxl_builds_it() -> None:
    """openpyxl builds a row whole, then its cells one by one in Python, with no clock between:
    62 KB of XLSX holding one row of 2,000,000 cells (30 MB unpacked, within the limit) took 31 s
    and 962 MiB of the worker's memory. Excel writes at most 16,384 cells a row (under 1 MB of
    XML): a sheet's XML is read at most 4 MiB a row, and its clock checked at each read."""
    with counted_checks() as checks, pytest.raises(AttachmentError) as refused:
        extract(XLSX, one_row(600_000), "row.xlsx")
    assert refused.value.code == "DocumentTooComplex"
    assert "row" in str(refused.value)
    assert checks.made < (ROW_XML >> 14) + 64  # a check a read of 16 KiB: stopped 4 MiB into its 9 MB row
    assert extract(XLSX, one_row(16_384)) == "[Sheet: Sheet]\n" + ",".join(["1"] * 16_384)


def test_what_is_not_a_workbook_is_unreadable() -> None:
    with pytest.raises(AttachmentError) as refused:
        extract(XLSX, b"PK\x03\x04 not really a zip", "broken.xlsx")
    assert refused.value.code == "DocumentUnreadable"
    empty = Workbook()
    with pytest.raises(AttachmentError) as refused:
        extract(XLSX, xlsx_bytes(empty), "empty.xlsx")
    assert refused.value.code == "DocumentUnreadable"


async def test_a_question_with_a_workbook_is_answered_with_its_sheets(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    blob = xlsx_bytes(sales(), {"B2+C2": "255.5", "B3+C3": "199"})
    item = await upload(stack, owner, "sales.xlsx", blob, XLSX)  # the bucket takes it
    await workers.start(worker_settings(stack, fake))
    row = await final_answer(pg, await ask_with(pg, owner, "Which region sold most?", [item]))
    assert row["status"] == "completed", row["error_code"]
    question = fake.requests[-1]["input"]["messages"][-1]["content"]
    assert question.startswith('<document name="sales.xlsx">\n[Sheet: 销售]\n地区,第一季度,第二季度,合计\n华东,120')
