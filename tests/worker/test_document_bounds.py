"""A PDF's reading is bounded in pages and time as its text is in bytes: a small file can hold
thousands of pages that each draw hundreds of thousands of lines (one content stream, compressed,
shared by every page), and pypdf reads it in pure Python, in a thread of the worker's (and holding
the interpreter half the time): before this, such a file kept its question unanswered and a thread
busy for as long as it took (minutes), whatever the turn's timeout."""

from __future__ import annotations

import zlib

import asyncpg
import pytest
from pypdf import apply_configuration

from core.settings import LlmSettings
from tests.conftest import LocalStack
from tests.worker.checks import counted_checks
from tests.worker.conftest import Owner, RecordingFakeScope, Workers, final_answer, worker_settings
from tests.worker.pdfbytes import pdf_file
from tests.worker.test_attachments import ask_with, upload
from tests.worker.test_document_formats import inflated_docx, pdf_pages
from worker.documents import DOCX, extract
from worker.errors import USER_MESSAGES, AttachmentError

PDF = "application/pdf"


def heavy_pdf(pages: int, lines: int, text: str = "Quarterly figures") -> bytes:
    """A PDF of `pages` pages, each the same content stream: `lines` drawn lines and then `text`.
    A few KB whatever its size: the stream is one object, compressed, and every page names it."""
    stream = b"0 0 m 1 1 l S\n" * lines + f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    packed = zlib.compress(stream, 9)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(b"%d 0 R" % (5 + n) for n in range(pages)), pages),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream" % (len(packed), packed),
    ]
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
    page += b" /Resources << /Font << /F1 3 0 R >> >> >>"
    objects += [page] * pages
    return pdf_file(objects)


def test_a_pdf_whose_reading_passes_its_time_is_refused_at_it() -> None:
    """100 pages of 20,000 lines each: about 90 s of pypdf here, in 24 KB."""
    heavy = heavy_pdf(100, 20_000)
    assert len(heavy) < 64 << 10
    with counted_checks() as checks:
        assert extract(PDF, heavy_pdf(2, 20_000)) == "Quarterly figures\n\nQuarterly figures"
    assert checks.made >= 2 * (20_000 * 3 // 1024)  # each page's 60,000 operators looked at every 1,024
    with counted_checks(expire_at=10) as checks, pytest.raises(AttachmentError) as refused:
        extract(PDF, heavy, "drawing.pdf", seconds=1.0)  # stopped within its first page
    assert refused.value.code == "DocumentTooComplex"
    assert checks.made == 10
    assert "drawing.pdf" in str(refused.value)


def test_a_pdf_with_more_pages_than_the_limit_is_refused_before_any_is_read() -> None:
    pages = pdf_pages([f"Page {n}" for n in range(51)])
    with pytest.raises(AttachmentError) as refused:
        extract(PDF, pages, "long.pdf", max_pages=50)
    assert refused.value.code == "DocumentTooComplex"
    assert "51 pages" in str(refused.value)
    assert "Page 49" in extract(PDF, pdf_pages([f"Page {n}" for n in range(50)]), max_pages=50)


def test_a_pdf_page_past_pypdfs_own_limits_is_too_complex_not_unreadable() -> None:
    """pypdf stops a content stream past its parsing budget (LimitReachedError): the file is not
    corrupt, it is too heavy, and the user is told so rather than that it cannot be read."""
    with apply_configuration(stream_parsing_work_maximum_count=1000), pytest.raises(AttachmentError) as refused:
        extract(PDF, heavy_pdf(1, 1000), "map.pdf")
    assert refused.value.code == "DocumentTooComplex"
    assert USER_MESSAGES["DocumentTooComplex"].count("/") == 1  # Chinese / English, as the others


async def test_a_question_whose_pdf_passes_the_workers_reading_time_ends_too_complex_unsent(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    """LLM_DOCUMENT_READ_SECONDS reaches the worker: the question ends DocumentTooComplex, nothing
    sent, where it waited on the PDF (the turn's timeout does not stop a document's reading)."""
    heavy = await upload(stack, owner, "drawing.pdf", heavy_pdf(100, 20_000), PDF)
    llm = LlmSettings(api_key="sk-test", dashscope_base_url=fake.native_url, document_read_seconds=1)
    await workers.start(worker_settings(stack, fake, llm=llm))
    row = await final_answer(pg, await ask_with(pg, owner, "Summarise it", [heavy]), within=15)
    assert (row["status"], row["error_code"]) == ("error", "DocumentTooComplex")
    assert fake.requests == []


def test_a_word_document_whose_reading_passes_its_time_is_refused_at_it() -> None:
    """A Word document is bounded in its unpacked bytes (LLM_DOCUMENT_MAX_MB), but within them 116
    KB of DOCX holding 800,000 one-letter paragraphs took 18 s of CPU to walk (61 s on this loaded
    machine) in the worker's thread: its reading has the same time as a PDF's."""
    heavy = inflated_docx(400_000, 1)
    assert len(heavy) < 128 << 10
    with counted_checks() as checks:
        assert extract(DOCX, inflated_docx(1_000, 1)) == "\n".join(["a"] * 1_000)
    assert checks.made >= 1_000  # the clock looked at before each paragraph, at least
    with counted_checks(expire_at=100) as checks, pytest.raises(AttachmentError) as refused:
        extract(DOCX, heavy, "form.docx", seconds=1.0)  # after python-docx has parsed the XML (C, about a second)
    assert refused.value.code == "DocumentTooComplex"
    assert checks.made == 100
