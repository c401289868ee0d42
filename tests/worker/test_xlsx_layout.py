"""What an Excel workbook's layout says of its values reaches the model: a merged range's value is
every cell's of the range (a region named once beside its three rows is each row's region), and a
hidden sheet is read, marked hidden (it often holds what the visible sheets' figures come from)."""

from __future__ import annotations

import io
import zipfile

import pytest
from openpyxl import Workbook

from tests.worker.test_xlsx_documents import xlsx_bytes
from worker.documents import XLSX, extract
from worker.errors import AttachmentError
from worker.xlsx import MAX_MERGED


def with_merges(blob: bytes, merges: bytes) -> bytes:
    """The workbook `blob` with `merges` (its `<mergeCell>`s) after its first sheet's rows."""
    patched = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(blob)) as source, zipfile.ZipFile(patched, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"</sheetData>", b"</sheetData><mergeCells>" + merges + b"</mergeCells>")
            out.writestr(info, data)
    return patched.getvalue()


def test_a_merged_ranges_value_is_each_of_its_cells() -> None:
    """openpyxl's read-only mode gives a merged range's value in its top-left cell alone, so the
    model read '华东' on the first of its three rows and nothing on the next two."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["Region", "Month", "Sales"])
    sheet.append(["华东", "Jan", 10])
    sheet.append([None, "Feb", 12])
    sheet.append([None, "Mar", 15])
    sheet.append(["Total across", None, None])
    sheet.merge_cells("A2:A4")
    sheet.merge_cells("A5:C5")
    assert extract(XLSX, xlsx_bytes(workbook), "regions.xlsx") == (
        "[Sheet: Sheet]\n"
        "Region,Month,Sales\n"
        "华东,Jan,10\n"
        "华东,Feb,12\n"
        "华东,Mar,15\n"
        "Total across,Total across,Total across"
    )


def test_a_merged_range_past_the_sheets_rows_adds_no_row() -> None:
    """A range as wide and tall as a sheet (a few bytes of XML) fills the rows the sheet has, no more."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["a", "b"])
    sheet.append(["c", "d"])
    blob = with_merges(xlsx_bytes(workbook), b'<mergeCell ref="B2:D1048576"/>')
    assert extract(XLSX, blob, "wide.xlsx") == "[Sheet: Sheet]\na,b\nc,d,d,d"


def test_a_hidden_sheet_is_read_marked_hidden() -> None:
    workbook = Workbook()
    shown = workbook.active
    assert shown is not None
    shown.title = "Prices"
    shown.append(["Tea", "=VLOOKUP(A1,Rates!A:B,2)"])
    rates = workbook.create_sheet("Rates")
    rates.append(["Tea", 12.5])
    rates.sheet_state = "hidden"
    secret = workbook.create_sheet("Macro data")
    secret.append(["key", 1])
    secret.sheet_state = "veryHidden"
    text = extract(XLSX, xlsx_bytes(workbook, {"VLOOKUP(A1,Rates!A:B,2)": "12.5"}), "prices.xlsx")
    assert text == (
        "[Sheet: Prices]\nTea,12.5\n\n[Sheet: Rates (hidden)]\nTea,12.5\n\n[Sheet: Macro data (hidden)]\nkey,1"
    )


def test_a_sheet_of_more_merged_ranges_than_the_bound_is_too_complex() -> None:
    """Each range is kept while its sheet is read: 2.4 MB of them would be 100,000s, refused at the bound."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["a"])
    merges = b"".join(b'<mergeCell ref="A%d:B%d"/>' % (n, n) for n in range(2, MAX_MERGED + 3))
    with pytest.raises(AttachmentError) as refused:
        extract(XLSX, with_merges(xlsx_bytes(workbook), merges), "merged.xlsx")
    assert refused.value.code == "DocumentTooComplex"
    assert f"more than {MAX_MERGED:,} merged ranges" in str(refused.value)


def test_a_percentage_is_read_as_excel_shows_it() -> None:
    """Excel keeps 12.5% as 0.125 and shows it by the cell's format: the model was sent '0.125' under
    'Discount', a rate it could read as a twelfth of a percent or as 0.125 of a yuan."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["Item", "Discount", "Share", "Plain"])
    sheet.append(["Tea", 0.125, 0.5, 0.125])
    sheet["B2"].number_format = "0.0%"
    sheet["C2"].number_format = "0%;[Red]-0%"
    assert extract(XLSX, xlsx_bytes(workbook), "rates.xlsx") == (
        "[Sheet: Sheet]\nItem,Discount,Share,Plain\nTea,12.5%,50%,0.125"
    )
