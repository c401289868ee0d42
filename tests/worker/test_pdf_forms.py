"""A filled PDF form's values are read: they live in the form's fields (drawn by each field's own
appearance, not in the page's content), so pypdf's page text has the labels ("Name:", "Plan:")
and none of what the user filled in, and a form whose labels are a scanned image was
DocumentUnreadable. They follow the pages as `[Form fields]`, a field a line, `<name>: <value>`."""

from __future__ import annotations

import pytest

from tests.worker.pdfbytes import pdf_file
from worker.documents import extract
from worker.errors import AttachmentError

PDF = "application/pdf"


def form_pdf(page_text: str | None, fields: list[bytes], refs: bytes) -> bytes:
    """A one-page PDF (showing `page_text`, or nothing) whose AcroForm names `refs` of `fields`
    (objects 6 on), or whose catalog names no form when `refs` is empty."""
    stream = f"BT /F1 12 Tf 72 720 Td ({page_text}) Tj ET".encode() if page_text else b""
    form = b" /AcroForm << /Fields [%s] >>" % refs if refs else b""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R%s >>" % form,
        b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 5 0 R"
        b" /Resources << /Font << /F1 3 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        *fields,
    ]
    return pdf_file(objects)


def utf16(text: str) -> bytes:
    return b"<FEFF" + text.encode("utf-16-be").hex().upper().encode() + b">"


FIELDS = [
    b"<< /FT /Tx /T (name) /V " + utf16("李雷") + b" >>",  # 6
    b"<< /T (address) /Kids [8 0 R] >>",  # 7: a field of fields
    b"<< /FT /Tx /T (city) /Parent 7 0 R /V (Shanghai) >>",  # 8
    b"<< /FT /Btn /T (agree) /V /Yes >>",  # 9: a checked box
    b"<< /FT /Ch /T (plan) /V (Pro) /Opt [(Free) (Pro)] >>",  # 10
    b"<< /FT /Tx /T (phone) >>",  # 11: left empty
    b"<< /T (loop) /Kids [12 0 R] >>",  # 12: a field that is its own kid (a broken file), read once
]


def test_a_filled_forms_values_follow_its_pages_text() -> None:
    blob = form_pdf("Application form", FIELDS, b"6 0 R 7 0 R 9 0 R 10 0 R 11 0 R 12 0 R")
    assert extract(PDF, blob, "form.pdf") == (
        "Application form\n\n[Form fields]\nname: 李雷\naddress.city: Shanghai\nagree: Yes\nplan: Pro"
    )


def test_a_form_whose_only_text_is_its_fields_is_read_and_one_without_either_is_not() -> None:
    assert extract(PDF, form_pdf(None, FIELDS[:1], b"6 0 R")) == "[Form fields]\nname: 李雷"
    with pytest.raises(AttachmentError) as refused:
        extract(PDF, form_pdf(None, FIELDS[5:6], b"6 0 R"), "blank.pdf")
    assert refused.value.code == "DocumentUnreadable"
    assert extract(PDF, form_pdf("No form here", [], b"")) == "No form here"
