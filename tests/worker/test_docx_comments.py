"""A Word document's comments are its text too: a contract or a draft sent for review carries its
reviewers' questions in them ("is this fee right?"), and none was read, so "what did the reviewers
ask?" was answered from the body alone. Each is marked where it is anchored, `[^c<id>]`, as a
footnote is, and read after the notes, `[^c<id>]: Comment by <author>: <text>`."""

from __future__ import annotations

from docx import Document

from tests.worker.test_document_formats import docx_bytes
from worker.documents import DOCX, extract


def test_a_comment_is_read_after_the_body_marked_where_it_is_anchored() -> None:
    document = Document()
    fee = document.add_paragraph("The fee is ").add_run("4,000 yuan")
    document.add_comment(fee, text="Is this fee right? 上次是 3,000。", author="Li Lei", initials="LL")
    document.add_paragraph("Signed in Shanghai.")
    assert extract(DOCX, docx_bytes(document)) == (
        "The fee is 4,000 yuan[^c0]\nSigned in Shanghai.\n\n[^c0]: Comment by Li Lei: Is this fee right? 上次是 3,000。"
    )
