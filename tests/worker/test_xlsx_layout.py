"""What an Excel workbook's layout says of its values reaches the model: a hidden sheet is read,
marked hidden (it often holds what the visible sheets' figures come from)."""

from __future__ import annotations

from openpyxl import Workbook

from tests.worker.test_xlsx_documents import xlsx_bytes
from worker.documents import XLSX, extract


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
