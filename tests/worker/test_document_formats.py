"""What worker/documents.py reads out of each document format: every piece of text a user sees in
the file, in its order, and a clear refusal (never a crash, never the worker's memory) for a file
that has none or that expands past what any model could read."""

from __future__ import annotations

import io
from typing import Any

from docx import Document

from worker.documents import DOCX, extract


def docx_bytes(document: Any) -> bytes:
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_a_docx_table_is_read_in_its_place_row_by_row() -> None:
    document = Document()
    document.add_paragraph("Quarterly figures:")
    table = document.add_table(rows=3, cols=3)
    for r, row in enumerate((("Region", "Q1", "Q2"), ("北区", "120", "135"), ("South", "98", "101"))):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    table.cell(2, 0).add_table(rows=1, cols=2).cell(0, 1).text = "nested note"
    document.add_paragraph("End of report.")
    text = extract(DOCX, docx_bytes(document))
    lines = text.split("\n")
    assert lines[0] == "Quarterly figures:"
    assert "Region\tQ1\tQ2" in lines
    assert "北区\t120\t135" in lines
    assert "nested note" in text
    assert text.index("South") < text.index("nested note") < text.index("End of report.")
    assert lines[-1] == "End of report."


def test_a_docx_whose_only_text_is_in_a_table_is_read_not_refused() -> None:
    document = Document()
    table = document.add_table(rows=1, cols=2)
    table.cell(0, 0).text = "Name"
    table.cell(0, 1).text = "Launch code AZURE-7731"
    assert extract(DOCX, docx_bytes(document)) == "Name\tLaunch code AZURE-7731"


def test_a_merged_docx_cell_is_read_once() -> None:
    document = Document()
    table = document.add_table(rows=2, cols=3)
    merged = table.cell(0, 0).merge(table.cell(0, 2))
    merged.text = "Title across"
    for c, value in enumerate(("a", "b", "c")):
        table.cell(1, c).text = value
    assert extract(DOCX, docx_bytes(document)) == "Title across\na\tb\tc"
