"""An Excel cell's number reaches the model as Excel shows it, by the cell's number format: money
with its currency and thousands separators, fixed decimals, a negative as its section shows it.
openpyxl gives the value Excel keeps (1234.5), and the model was sent '1234.5' where the sheet
shows '¥1,234.50' (which currency? how many decimals the table means?). A format not understood
here (a fraction, scientific notation, a condition, digits between literals) keeps the raw value."""

from __future__ import annotations

import pytest
from openpyxl import Workbook

from tests.worker.test_xlsx_documents import xlsx_bytes
from worker.documents import XLSX, extract
from worker.number_formats import shown


def test_money_and_separators_are_read_as_excel_shows_them() -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["Item", "USD", "CNY", "EUR", "Count", "Fixed", "Plain"])
    sheet.append(["Tea", 1234.5, 1234.5, 1234.5, 1234567, 3.14159, 1234.5])
    sheet.append(["Refund", -1234.5, -1234.5, -1234.5, -1234567, -3.14159, -1234.5])
    for row in (2, 3):
        sheet[f"B{row}"].number_format = '"$"#,##0.00_);[Red]("$"#,##0.00)'  # Excel's built-in 8
        sheet[f"C{row}"].number_format = "[$¥-804]#,##0.00;[$¥-804]-#,##0.00"  # Excel's ¥ for Chinese (PRC)
        sheet[f"D{row}"].number_format = '#,##0.00 "€"'
        sheet[f"E{row}"].number_format = "#,##0"
        sheet[f"F{row}"].number_format = "0.00"
    assert extract(XLSX, xlsx_bytes(workbook), "money.xlsx") == (
        "[Sheet: Sheet]\n"
        "Item,USD,CNY,EUR,Count,Fixed,Plain\n"
        'Tea,"$1,234.50","¥1,234.50","1,234.50 €","1,234,567",3.14,1234.5\n'
        'Refund,"($1,234.50)","¥-1,234.50","-1,234.50 €","-1,234,567",-3.14,-1234.5'
    )


@pytest.mark.parametrize(
    ("value", "number_format", "text"),
    [
        (1234.5, "#,##0.00", "1,234.50"),
        (1234.5, "#,##0", "1,235"),  # rounded half away from zero, as Excel does
        (2.5, "0", "3"),
        (-2.5, "0", "-3"),
        (1.005, "0.00", "1.01"),  # 1.005 as Excel's 15 digits, not the binary 1.00499...
        (0.5, "#,##0.00", "0.50"),
        (0.5, "#.00", ".50"),
        (7, "000", "007"),
        (1.5, "0.0#", "1.5"),
        (1.234, "0.0#", "1.23"),
        (1234.5, "$#,##0.00", "$1,234.50"),
        (-1234.5, "$#,##0.00", "-$1,234.50"),  # one section: a minus before all of it
        (-1234.5, "#,##0.00;(#,##0.00)", "(1,234.50)"),
        (-5, "0;-0", "-5"),
        # Excel's "1,234.10 in red": the model sees no colour, so a negative section without a
        # minus or parentheses keeps the number's minus (it was '1,234.10', a loss read as a gain)
        (-1234.1, "#,##0.00;[Red]#,##0.00", "-1,234.10"),
        (-5, "0;0", "-5"),
        (-5, '0;"CR "0', "CR 5"),  # a negative's own words for it: as Excel shows it
        (0, '#,##0.00;(#,##0.00);"-"', "-"),
        (0, '_("$"* #,##0.00_);_("$"* \\(#,##0.00\\);_("$"* "-"??_);_(@_)', "$-"),
        (1234.5, '_("$"* #,##0.00_);_("$"* \\(#,##0.00\\);_("$"* "-"??_);_(@_)', "$1,234.50"),
        (-1234.5, '_("$"* #,##0.00_);_("$"* \\(#,##0.00\\);_("$"* "-"??_);_(@_)', "$(1,234.50)"),
        (1234.5, "[$€-2] #,##0.00", "€ 1,234.50"),
        (1234.5, "[$-409]#,##0.00", "1,234.50"),  # a locale without a symbol
        (1234.5, "\\€#,##0.00", "€1,234.50"),
        (1234.5, "€#,##0.00", "€1,234.50"),
        (1234.5, '#,##0.00"元"', "1,234.50元"),
        (1234.5, "[Blue]#,##0.00", "1,234.50"),
        (1234567, "#,##0,", "1,235"),  # a comma after the digits: thousands
        (1234567, '0.0,,"M"', "1.2M"),
        (0.125, "0.0%", "12.5%"),
        (-0.5, "0%;[Red]-0%", "-50%"),
        (-0.001, "0.00", "0.00"),  # no minus on a number shown as zero
        (1e20, "#,##0", "100,000,000,000,000,000,000"),
        (True, "0.00", None),  # a boolean is not a number here
        # not understood here: the raw value
        (1234.5, "0.00E+00", None),
        (1.5, "# ?/?", None),
        (1234.5, "[>1000]#,##0;0", None),
        (1234.5, "000-00-0000", None),
        (1234.5, "General", None),
        (1234.5, "@", None),
        (1234.5, "[DBNum1]0", None),
        (45000.5, "h:mm", None),
    ],
)
def test_a_number_format_is_rendered_as_excel_shows_it(value: float, number_format: str, text: str | None) -> None:
    assert shown(value, number_format) == text


def test_an_elapsed_time_is_read_as_excel_shows_it() -> None:
    """A timesheet's total hours, `[h]:mm:ss`: openpyxl gives a timedelta, which was sent as
    '1 day, 2:00:00' where the sheet shows 26:00:00 (and quoted, for its comma)."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["Who", "Hours", "Break", "Short", "Seconds"])
    sheet.append(["Li", 26 / 24, 0.5 / 24, 7.5 / 24, 90 / 86400])
    sheet["B2"].number_format = "[h]:mm:ss"
    sheet["C2"].number_format = "[mm]:ss"
    sheet["D2"].number_format = "[h]:mm"
    sheet["E2"].number_format = "[ss]"
    assert extract(XLSX, xlsx_bytes(workbook), "hours.xlsx") == (
        "[Sheet: Sheet]\nWho,Hours,Break,Short,Seconds\nLi,26:00:00,30:00,7:30,90"
    )
