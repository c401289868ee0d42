"""The plain text of a document, by format (worker/documents.py keeps what is read here).

PDF through pypdf, page by page, then a filled form's fields (`[Form fields]`, worker/pdf_form.py).
DOCX through python-docx's package reader, its body walked in
document order: paragraphs (a list's after its number as Word counts it, worker/docx_numbering.py;
each run in one, a tracked insertion's, an inline content control's or a
field's too, but not a tracked deletion's; then its text boxes' paragraphs), and tables a row a line
with the cells tab-separated (a merged cell once, a cell's own paragraphs and nested tables on its
row), content controls' content in its place, then its footnotes, endnotes and comments (`[^1]: ...`, marked
`[^1]` where the body references them); its headers before all that and its footers after, each
once though Word shows it on every page (`[Header]: ...`, a section's in the order its pages show
them), so the text in a table (a form, a schedule, figures) reaches the model as it does the
reader's eyes. XLSX through openpyxl's read-only mode (worker/xlsx.py): each sheet as `[Sheet: <name>]` then its rows
as CSV, the values Excel shows (a formula's last result). PPTX (worker/pptx.py, its XML streamed by
lxml): each slide as `[Slide <n>]`, its title, its shapes' text and tables, its speaker notes.
Text, Markdown and CSV in the encoding their editor saved them in (core/textfiles.py: a byte order
mark's, else UTF-8, else the least garbled of GB18030, Big5, Shift-JIS, EUC-JP, EUC-KR and
Windows-1252).

A document's text may take at most `max_bytes` (LLM_DOCUMENT_MAX_MB, in UTF-8), more than any model's
context window takes: past it the document is DocumentTooLong, and read no further. A DOCX is a zip
archive whose parts python-docx reads whole into memory: one whose parts unpack past the limit is
refused from the archive's directory before any is unpacked (1 MiB of zip can unpack to 1 GiB; the
sizes the directory gives are the most zipfile reads, a part that unpacks to more fails its CRC); so
is an XLSX, whose text is also measured as it is read (a shared string every cell names). A
PDF is read page by page and stops at the page that passes it (pypdf bounds each stream itself).

A PDF's reading is bounded too, since a few KB can hold thousands of pages that each draw hundreds
of thousands of lines (one compressed content stream that every page names), and pypdf reads them
in pure Python, in a worker thread that no turn timeout stops: more than `max_pages` pages
(LLM_DOCUMENT_MAX_PAGES) is refused before any page is read, and the reading stops once it has
taken `seconds` (LLM_DOCUMENT_READ_SECONDS), checked before each page and between a page's
operators (a page's content is parsed whole first: pypdf stops one past 2,000,000 tokens, a few
seconds). Either, or a stream past pypdf's own limits, is DocumentTooComplex. A DOCX's walk has the
same time, checked before each block (its XML is parsed first, by lxml, in C: about a second at the
most its parts may unpack to): 116 KB of DOCX holding 800,000 one-letter paragraphs took 18 s of CPU.
An XLSX's reading too, checked before each row. A DOCX or XLSX any of whose XML parts declares a
DTD (external entities, entity expansion) is DocumentTooComplex before any parser reads it
(worker/document_bounds.py without_dtd).
"""

from __future__ import annotations

import functools
import io
import re
import threading
from collections.abc import Callable, Iterator
from typing import Any

from core.textfiles import decode_text
from worker.document_bounds import timer, too_complex, too_long, unpacked_within, without_dtd
from worker.docx_numbering import Numbering
from worker.errors import AttachmentError
from worker.pdf_form import form_fields
from worker.pptx import PPTX, read_pptx
from worker.xlsx import XLSX, read_xlsx

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
TEXTS = ("text/plain", "text/markdown", "text/csv")  # read as text, in the encoding they were saved in
DOCUMENT_TYPES = frozenset({"application/pdf", *TEXTS, DOCX, XLSX, PPTX})
# A compound file's signature: Word's, Excel's and PowerPoint's 97-2003 formats (.doc, .xls, .ppt), and a
# password-protected .docx, .xlsx or .pptx (encrypted inside one): no well-kept reader of either is installed
OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
MAX_BYTES = 32 << 20  # LLM_DOCUMENT_MAX_MB's default
MAX_PAGES = 2000  # LLM_DOCUMENT_MAX_PAGES's
SECONDS = 30.0  # LLM_DOCUMENT_READ_SECONDS's


def extract(
    mime_type: str,
    blob: bytes,
    name: str = "",
    *,
    max_bytes: int = MAX_BYTES,
    max_pages: int = MAX_PAGES,
    seconds: float = SECONDS,
    stop: threading.Event | None = None,
) -> str:
    """The plain text of a document; AttachmentError DocumentUnreadable when there is none to read,
    DocumentUnsupported for a DOCX, XLSX or PPTX that is an Office 97-2003 or password-protected file, or
    a PDF that opens with a password,
    DocumentTooLong when it (or a DOCX's unpacked parts) would take more than `max_bytes`,
    DocumentTooComplex when a PDF has more than `max_pages` pages, a PDF, DOCX, XLSX or PPTX takes
    more than `seconds` to read, or a DOCX's, XLSX's or PPTX's XML declares a DTD; ReadingStopped once
    `stop` is set (checked where the time is)."""
    try:
        if mime_type in TEXTS:
            text = decode_text(blob)
            if text is None:
                raise AttachmentError("DocumentUnreadable", f"{name}: not text in an encoding we read")
        elif mime_type == "application/pdf":
            text = _pdf(blob, name, max_bytes, max_pages, timer(name, seconds, stop))
        elif mime_type in (DOCX, XLSX, PPTX) and blob.startswith(OLE2):
            raise AttachmentError("DocumentUnsupported", f"{name}: an Office 97-2003 or password-protected file")
        elif mime_type == DOCX:
            text = _docx(blob, name, max_bytes, timer(name, seconds, stop))
        elif mime_type == XLSX:
            text = read_xlsx(blob, name, max_bytes, timer(name, seconds, stop))
        elif mime_type == PPTX:
            text = read_pptx(blob, name, max_bytes, timer(name, seconds, stop))
        else:
            raise AttachmentError("DocumentUnreadable", f"{name}: {mime_type} is not a document type")
    except AttachmentError:
        raise
    except Exception as exc:  # a corrupt file: every parser has its own exceptions
        raise AttachmentError("DocumentUnreadable", f"{name}: {exc}") from exc
    if not text.strip():
        raise AttachmentError("DocumentUnreadable", f"{name}: no text in it (a scanned PDF?)")
    if len(text) > max_bytes // 4 and len(text.encode()) > max_bytes:  # 4 bytes a character at most
        raise too_long(name, max_bytes)
    return text


def _pdf(blob: bytes, name: str, max_bytes: int, max_pages: int, in_time: Callable[[], None]) -> str:
    from pypdf import PdfReader  # noqa: PLC0415 - loaded by the first document only
    from pypdf.errors import FileNotDecryptedError, LimitReachedError  # noqa: PLC0415

    operators = 0

    def each_operator(*_: Any) -> None:  # before each operator of a page's content: the clock every 1024
        nonlocal operators
        operators += 1
        if not operators & 1023:
            in_time()

    texts: list[str] = []
    size = 0
    try:
        reader = PdfReader(io.BytesIO(blob))
        pages = reader.pages
        if len(pages) > max_pages:
            raise too_complex(name, f"{len(pages)} pages, more than {max_pages}")
        for page in pages:
            in_time()
            texts.append(_text(page.extract_text(visitor_operand_before=each_operator) or ""))
            size += len(texts[-1].encode()) + 2
            if size > max_bytes:
                raise too_long(name, max_bytes)
        fields = ["[Form fields]"]  # a filled form's values, which no page's content holds
        for field in form_fields(reader, in_time):
            fields.append(_text(field))
            size += len(fields[-1].encode()) + 1
            if size > max_bytes:
                raise too_long(name, max_bytes)
        if len(fields) > 1:
            if not "".join(texts).strip():
                texts = []  # pages without text (a form's labels scanned): its fields alone
            texts.append("\n".join(fields))
    except LimitReachedError as exc:  # a stream past pypdf's own bounds: heavy, not corrupt
        raise too_complex(name, str(exc)) from exc
    except FileNotDecryptedError as exc:  # one without a password to open it pypdf opens itself
        raise AttachmentError("DocumentUnsupported", f"{name}: a PDF that opens with a password") from exc
    return "\n\n".join(texts)


_SURROGATE = re.compile("[\ud800-\udfff]")


def _text(read: str) -> str:
    """pypdf's text as text: a font's ToUnicode map (written by whatever made the file) can map a glyph
    to half of a UTF-16 pair, which pypdf passes through (two halves in two glyphs make their
    character, one alone is U+FFFD, not the whole document unreadable), or to U+0000 (left out)."""
    if _SURROGATE.search(read):
        read = read.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return read.replace("\x00", "")


def _docx(blob: bytes, name: str, max_bytes: int, in_time: Callable[[], None]) -> str:
    from docx import Document  # noqa: PLC0415 - loaded by the first document only

    unpacked_within(blob, name, max_bytes)
    without_dtd(blob, name, in_time)
    document = Document(io.BytesIO(blob))
    headers = "\n".join(_margins(document, "header", in_time))
    body = "\n".join(_blocks(document.element.body, in_time, _numbering(document)))
    notes = "\n".join(_notes(document.part, in_time))
    footers = "\n".join(_margins(document, "footer", in_time))
    return "\n\n".join(part for part in (headers, body, notes, footers) if part)


def _margins(document: Any, kind: str, in_time: Callable[[], None]) -> Iterator[str]:
    """The document's headers (or footers), each once, `[Header]: <text>` (`[First page header]`,
    `[Even page header]`), by section, in the order its pages show them: Word shows one on every
    page, and a section that shows its previous one's (linked) has no reference of its own. One the
    section does not show (a first page's without its "different first page", an even page's
    without the document's "different odd and even pages") is not read."""
    from docx.enum.section import WD_HEADER_FOOTER  # noqa: PLC0415

    first, even, odd = WD_HEADER_FOOTER.FIRST_PAGE, WD_HEADER_FOOTER.EVEN_PAGE, WD_HEADER_FOOTER.PRIMARY
    labels = {first: f"First page {kind}", even: f"Even page {kind}", odd: kind.capitalize()}
    evens = bool(document.settings.odd_and_even_pages_header_footer)
    read: set[str] = set()  # a part two sections name (not Word's way, another tool's), by any relationship: once
    for section in document.element.sectPr_lst:  # each section's properties, in document order
        shown = [first, even, odd] if section.titlePg_val else [odd, even]  # pages 1, 2, 3...
        for type_ in shown:
            ref = getattr(section, f"get_{kind}Reference")(type_)
            if (type_ == even and not evens) or ref is None:
                continue
            part = document.part.related_parts[ref.rId]
            if part.partname in read:
                continue
            read.add(part.partname)
            text = " ".join(t for t in _blocks(part.element, in_time) if t).strip()
            if text:
                yield f"[{labels[type_]}]: {text}"


# part: its notes' tag, their mark (a comment's as a note's, its author named: a reviewer's question)
_NOTES = {"footnotes": ("w:footnote", ""), "endnotes": ("w:endnote", "e"), "comments": ("w:comment", "c")}


def _notes(part: Any, in_time: Callable[[], None]) -> Iterator[str]:
    """The document's footnotes, then its endnotes, then its comments, each `[^<mark><id>]: <text>`
    (a comment's `Comment by <author>: <text>`) as referenced in the body (Word's separators, which
    are not notes, left out)."""
    from docx.oxml import parse_xml  # noqa: PLC0415
    from docx.oxml.ns import qn  # noqa: PLC0415

    for kind, (tag, mark) in _NOTES.items():
        for rel in part.rels.values():
            if rel.is_external or not rel.reltype.endswith(f"/{kind}"):
                continue
            if rel.target_part.content_type.lower().startswith("image/"):
                continue  # not XML to Word, nor checked for a DTD (worker/document_bounds.py without_dtd)
            for note in parse_xml(rel.target_part.blob).iterchildren(qn(tag)):
                if note.get(qn("w:type"), "normal") == "normal":
                    text = " ".join(t for t in _blocks(note, in_time) if t).strip()
                    author = note.get(qn("w:author")) if kind == "comments" else None
                    yield f"[^{mark}{note.get(qn('w:id'))}]: {f'Comment by {author}: ' if author else ''}{text}"


def _numbering(document: Any) -> Numbering:
    """The document's list numbering (worker/docx_numbering.py), from its numbering and styles parts."""
    from docx.oxml import parse_xml  # noqa: PLC0415

    parts = {}
    for rel in document.part.rels.values():
        kind = rel.reltype.rsplit("/", 1)[-1]
        if not rel.is_external and kind in ("numbering", "styles") and kind not in parts:
            part = rel.target_part
            if not part.content_type.lower().startswith("image/"):  # not checked for a DTD
                parts[kind] = getattr(part, "element", None)  # python-docx's parsed part
                parts[kind] = parts[kind] if parts[kind] is not None else parse_xml(part.blob)
    return Numbering(parts.get("numbering"), parts.get("styles"))


def _blocks(container: Any, in_time: Callable[[], None], numbering: Numbering | None = None) -> Iterator[str]:
    """The text of each block of a body or a cell: a paragraph's (after its list label, when
    `numbering` is given: the body's), each non-empty row of a table's."""
    from docx.oxml.ns import qn  # noqa: PLC0415

    for child in container.iterchildren():
        in_time()
        if child.tag == qn("w:p"):
            label = numbering.label(child) if numbering is not None else ""
            yield f"{label} {_paragraph(child)}".strip() if label else _paragraph(child)
            for box in _in(child, _boxes()):  # its text boxes' paragraphs, after its own text
                yield from _blocks(box, in_time, numbering)
        elif child.tag == qn("w:tbl"):
            for row in child.iterchildren(qn("w:tr")):
                cells = [
                    " ".join(t for t in _blocks(tc, in_time, numbering) if t)
                    for tc in row.iterchildren(qn("w:tc"))
                    if _shown(tc)
                ]
                if any(cells):
                    yield "\t".join(cells)
        elif child.tag == qn("w:sdt"):  # a content control: its content, in its place
            for content in child.iterchildren(qn("w:sdtContent")):
                yield from _blocks(content, in_time, numbering)


# A paragraph's runs, wherever they sit in it (a tracked insertion, an inline content control, a
# field, a smart tag, a link...), but those deleted (tracked) and a drawing's fallback copy
@functools.cache
def _runs() -> Any:
    return _xpath(".//w:r[not(ancestor::w:del or ancestor::w:moveFrom or ancestor::mc:Fallback)]")


@functools.cache
def _boxes() -> Any:
    """A paragraph's text boxes, but the VML copy Word keeps of each for older readers."""
    return _xpath(".//w:txbxContent[not(ancestor::mc:Fallback)]")


def _xpath(path: str) -> Any:
    from lxml import etree  # noqa: PLC0415 - python-docx's own

    namespaces = {
        "w": "http://schemas.openxmlformats.org/wordprocessingml/2006/main",
        "mc": "http://schemas.openxmlformats.org/markup-compatibility/2006",
    }
    return etree.XPath(path, namespaces=namespaces)


def _in(p: Any, xpath: Any) -> list[Any]:
    """What `xpath` finds in paragraph `p` itself, not in a paragraph of a text box of it."""
    from docx.oxml.ns import qn  # noqa: PLC0415

    tag = qn("w:p")
    return [found for found in xpath(p) if next(found.iterancestors(tag)) is p]


def _paragraph(p: Any) -> str:
    """The text of a paragraph as Word shows it: its runs' (its text boxes are read after it), a
    footnote's, endnote's or comment's reference marked `[^<id>]`, `[^e<id>]`, `[^c<id>]` (the
    note follows the body)."""
    from docx.oxml.ns import qn  # noqa: PLC0415

    marks = {qn("w:footnoteReference"): "", qn("w:endnoteReference"): "e", qn("w:commentReference"): "c"}
    texts = []
    for r in _in(p, _runs()):
        texts.append(r.text)
        texts.extend(f"[^{marks[ref.tag]}{ref.get(qn('w:id'))}]" for ref in r.iterchildren(*marks))
    return "".join(texts)


def _shown(tc: Any) -> bool:
    """False for a cell that continues a vertically merged one above (its text is the top cell's)."""
    return bool(tc.vMerge != "continue")
