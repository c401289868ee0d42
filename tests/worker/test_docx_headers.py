"""A Word document's headers and footers are its text too: a letter's sender, a contract's parties
and reference number, a report's "Confidential: draft 3" all live there, in parts of their own
(word/header1.xml, word/footer1.xml), and none was read, so "whose letterhead is this?" or "which
draft is it?" was answered without them. Word shows them on every page; they are read once each,
marked as such, headers before the body and footers after it (its notes included), each section's
in the order its pages show them."""

from __future__ import annotations

import io
import re
import zipfile

from docx import Document
from docx.shared import Cm

from tests.worker.test_document_formats import docx_bytes
from worker.documents import DOCX, extract


def test_a_docx_header_and_footer_are_read_once_marked_around_its_body() -> None:
    document = Document()
    section = document.sections[0]
    section.header.paragraphs[0].text = "Acme Trading Ltd · Contract 2026-041"
    row = section.header.add_table(rows=1, cols=2, width=Cm(16)).rows[0]
    row.cells[0].text, row.cells[1].text = "Draft 3", "Confidential"
    section.footer.paragraphs[0].text = "Shanghai office, 88 Century Avenue"
    document.add_paragraph("The buyer pays within 30 days.")
    document.add_section()  # a new section: its header and footer are the first's (linked), shown, not repeated
    document.add_paragraph("Signed in Shanghai.")
    assert extract(DOCX, docx_bytes(document)) == (
        "[Header]: Acme Trading Ltd · Contract 2026-041 Draft 3\tConfidential\n\n"
        "The buyer pays within 30 days.\n\nSigned in Shanghai.\n\n"  # the section break is a paragraph
        "[Footer]: Shanghai office, 88 Century Avenue"
    )


def test_a_docx_first_page_even_page_and_later_sections_headers_are_read_in_the_order_shown() -> None:
    document = Document()
    document.settings.odd_and_even_pages_header_footer = True
    first = document.sections[0]
    first.different_first_page_header_footer = True
    first.first_page_header.paragraphs[0].text = "Annual report 2026"
    first.header.paragraphs[0].text = "Odd pages"
    first.even_page_header.paragraphs[0].text = "Even pages"
    first.first_page_footer.paragraphs[0].text = ""  # defined and empty: nothing to read, no empty mark
    document.add_paragraph("Summary.")
    second = document.add_section()
    second.header.is_linked_to_previous = False
    second.header.paragraphs[0].text = "Appendix"
    document.add_paragraph("Tables.")
    assert extract(DOCX, docx_bytes(document)) == (
        "[First page header]: Annual report 2026\n"
        "[Even page header]: Even pages\n"
        "[Header]: Odd pages\n"
        "[Header]: Appendix\n\n"
        "Summary.\n\nTables."
    )


def test_a_docx_header_defined_but_not_shown_is_not_read() -> None:
    """A first-page header Word keeps while the section no longer has a different first page (the
    option unticked) is not shown, so not read: it would read as the document's."""
    document = Document()
    section = document.sections[0]
    section.different_first_page_header_footer = True
    section.first_page_header.paragraphs[0].text = "Old cover header"
    section.different_first_page_header_footer = False
    section.header.paragraphs[0].text = "Current header"
    document.add_paragraph("Body.")
    assert extract(DOCX, docx_bytes(document)) == "[Header]: Current header\n\nBody."


def test_a_docx_header_two_sections_name_is_read_once() -> None:
    """Word gives each section's header a part of its own, or none (linked); other tools name one
    part from several sections, by relationships of their own: it is still one header, read once."""
    document = Document()
    document.sections[0].header.paragraphs[0].text = "Shared header"
    document.add_paragraph("One.")
    second = document.add_section()
    second.header.is_linked_to_previous = False  # a reference and a part of its own, pointed at the first's below
    second.header.paragraphs[0].text = "Never shown"
    document.add_paragraph("Two.")
    source = zipfile.ZipFile(io.BytesIO(docx_bytes(document)))
    rels = source.read("word/_rels/document.xml.rels")
    headers = sorted(set(re.findall(rb'Target="(header\d+\.xml)"', rels)))
    assert len(headers) == 2
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as packed:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "word/_rels/document.xml.rels":
                data = data.replace(b'Target="' + headers[1] + b'"', b'Target="' + headers[0] + b'"')
            packed.writestr(info, data)
    assert extract(DOCX, out.getvalue()) == "[Header]: Shared header\n\nOne.\n\nTwo."
