"""An old (97-2003) Word, Excel or PowerPoint file, or a password-protected .docx, .xlsx or .pptx (all OLE2
compound files, not zip archives), is refused as DocumentUnsupported, whose message tells the user
to save it as .docx or .xlsx without a password: a .xls renamed .xlsx (the browser names a file's
type by its extension) reached the model's reader and ended DocumentUnreadable, "the document's
text could not be read", which says nothing of what to do. No well-kept reader of the old binary
formats is installed (xlrd reads .xls alone and is no longer maintained for anything but it)."""

from __future__ import annotations

import io

import asyncpg
import pytest

from tests.conftest import LocalStack
from tests.worker.conftest import Owner, RecordingFakeScope, Workers, final_answer, worker_settings
from tests.worker.test_attachments import ask_with, upload
from tests.worker.test_document_formats import pdf_pages
from worker.documents import DOCX, PPTX, XLSX, extract
from worker.errors import AttachmentError, user_message

OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)  # a compound file's header, as Office 97-2003 wrote


@pytest.mark.parametrize(("mime", "name"), [(XLSX, "budget.xlsx"), (DOCX, "letter.docx"), (PPTX, "deck.pptx")])
def test_an_old_or_password_protected_office_file_is_unsupported_and_says_how_to_save_it(mime: str, name: str) -> None:
    with pytest.raises(AttachmentError) as refused:
        extract(mime, OLE2, name)
    assert refused.value.code == "DocumentUnsupported"
    assert name in str(refused.value)
    shown = user_message("DocumentUnsupported")
    assert ".xlsx" in shown
    assert ".docx" in shown
    assert ".pptx" in shown
    assert "97-2003" in shown
    with pytest.raises(AttachmentError) as refused:
        extract(XLSX, b"PK\x03\x04 not really a zip", "broken.xlsx")
    assert refused.value.code == "DocumentUnreadable"  # a broken zip is still unreadable, not old


async def test_a_question_with_a_renamed_xls_ends_document_unsupported_unsent(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    item = await upload(stack, owner, "budget.xlsx", OLE2, XLSX)  # the bucket takes it by its declared type
    await workers.start(worker_settings(stack, fake))
    row = await final_answer(pg, await ask_with(pg, owner, "Sum column B", [item]))
    assert (row["status"], row["error_code"]) == ("error", "DocumentUnsupported")
    assert fake.requests == []


def test_a_pdf_that_opens_only_with_a_password_is_unsupported_and_one_any_reader_opens_is_read() -> None:
    """A PDF with a password to open it (a bank's statement, a payslip) was DocumentUnreadable, 'the
    text could not be read'; one encrypted only against copying (opened without a password) is read."""
    from pypdf import PdfReader, PdfWriter

    for user_password, algorithm in (("secret", "AES-256"), ("", "AES-128")):
        writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf_pages(["Net pay 8,000"]))))
        writer.encrypt(user_password=user_password, owner_password="owner", algorithm=algorithm)
        out = io.BytesIO()
        writer.write(out)
        if not user_password:
            assert extract("application/pdf", out.getvalue(), "open.pdf") == "Net pay 8,000"
            continue
        with pytest.raises(AttachmentError) as refused:
            extract("application/pdf", out.getvalue(), "payslip.pdf")
        assert refused.value.code == "DocumentUnsupported"
        assert "password" in str(refused.value)
    assert "without a password" in user_message("DocumentUnsupported")
