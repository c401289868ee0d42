"""The plain text of a document, by format (worker/documents.py keeps what is read here).

PDF through pypdf, page by page. DOCX through python-docx's package reader, its body walked in
document order: paragraphs, and tables a row a line with the cells tab-separated (a merged cell once,
a cell's own paragraphs and nested tables on its row), content controls' content in its place, so
the text in a table (a form, a schedule, figures) reaches the model as it does the reader's eyes.
Text and Markdown as UTF-8.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

from worker.errors import AttachmentError

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
DOCUMENT_TYPES = frozenset({"application/pdf", "text/plain", "text/markdown", DOCX})


def extract(mime_type: str, blob: bytes, name: str = "") -> str:
    """The plain text of a document; AttachmentError DocumentUnreadable when there is none to read."""
    try:
        if mime_type in ("text/plain", "text/markdown"):
            text = blob.decode("utf-8")
        elif mime_type == "application/pdf":
            text = _pdf(blob)
        elif mime_type == DOCX:
            text = _docx(blob)
        else:
            raise AttachmentError("DocumentUnreadable", f"{name}: {mime_type} is not a document type")
    except AttachmentError:
        raise
    except Exception as exc:  # a corrupt file: every parser has its own exceptions
        raise AttachmentError("DocumentUnreadable", f"{name}: {exc}") from exc
    if not text.strip():
        raise AttachmentError("DocumentUnreadable", f"{name}: no text in it (a scanned PDF?)")
    return text


def _pdf(blob: bytes) -> str:
    from pypdf import PdfReader  # noqa: PLC0415 - loaded by the first document only

    return "\n\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(blob)).pages)


def _docx(blob: bytes) -> str:
    from docx import Document  # noqa: PLC0415 - loaded by the first document only

    body = Document(io.BytesIO(blob)).element.body
    return "\n".join(_blocks(body))


def _blocks(container: Any) -> Iterator[str]:
    """The text of each block of a body or a cell: a paragraph's, each non-empty row of a table's."""
    from docx.oxml.ns import qn  # noqa: PLC0415

    for child in container.iterchildren():
        if child.tag == qn("w:p"):
            yield _paragraph(child)
        elif child.tag == qn("w:tbl"):
            for row in child.iterchildren(qn("w:tr")):
                cells = [" ".join(t for t in _blocks(tc) if t) for tc in row.iterchildren(qn("w:tc")) if _shown(tc)]
                if any(cells):
                    yield "\t".join(cells)
        elif child.tag == qn("w:sdt"):  # a content control: its content, in its place
            for content in child.iterchildren(qn("w:sdtContent")):
                yield from _blocks(content)


def _paragraph(p: Any) -> str:
    from docx.text.paragraph import Paragraph  # noqa: PLC0415

    return Paragraph(p, None).text  # type: ignore[arg-type]  # the text needs no parent


def _shown(tc: Any) -> bool:
    """False for a cell that continues a vertically merged one above (its text is the top cell's)."""
    return bool(tc.vMerge != "continue")
