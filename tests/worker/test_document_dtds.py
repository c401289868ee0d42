"""A Word document's or workbook's XML may not declare a DTD: Word and Excel never write one (the
Open Packaging Conventions forbid it), and it is what an external entity (a server file's content
or a URL fetched, put into the text the model sees) and entity expansion ("billion laughs", a
quadratic blowup: a few KB that expand to gigabytes) need. Until 12-05 each parser met it on its
own: python-docx's lxml dropped an external entity and read the rest, openpyxl's ElementTree
refused one as an "undefined entity", and both stopped an expansion at their own amplification
limits as `DocumentUnreadable` with the parser's message (ElementTree's after 150 MiB of the
worker's memory), and a DTD in any other part was read past. Now a part that declares one is
refused before any parser reads it, whatever its encoding, as `DocumentTooComplex`."""

from __future__ import annotations

import functools
import http.server
import io
import re
import threading
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import asyncpg
import pytest
from docx import Document
from openpyxl import Workbook

from tests.conftest import LocalStack
from tests.worker.conftest import Owner, RecordingFakeScope, Workers, final_answer, worker_settings
from tests.worker.test_attachments import ask_with, upload
from tests.worker.test_document_formats import docx_bytes
from tests.worker.test_xlsx_bounds import many_strings, read_in_a_process
from tests.worker.test_xlsx_documents import xlsx_bytes
from worker.documents import DOCX, extract
from worker.errors import AttachmentError
from worker.xlsx import XLSX

MARK = "MARKED"  # the text an entity's reference replaces


def rewritten(blob: bytes, part: str, change: Callable[[str], str]) -> bytes:
    """The archive `blob` with `part`'s XML changed by `change`."""
    source = zipfile.ZipFile(io.BytesIO(blob))
    assert part in source.namelist(), part
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as packed:
        for info in source.infolist():
            data = source.read(info.filename)
            packed.writestr(info, change(data.decode()).encode() if info.filename == part else data)
    return out.getvalue()


def with_dtd(xml: str, subset: str, reference: str) -> str:
    """`xml` with a DTD of `subset` after its declaration, and `reference` where MARK was (in
    [Content_Types].xml, which holds no text, in a new Default's content type; in xl/workbook.xml,
    in a defined name)."""
    root = re.search(r"<(?![?!])([\w:]+)", xml)
    assert root is not None
    xml = f"{xml[: root.start()]}<!DOCTYPE {root.group(1)} [{subset}]>{xml[root.start() :]}"
    if xml.rstrip().endswith("</Types>"):
        return xml.replace("</Types>", f'<Default Extension="zz" ContentType="{reference}"/></Types>')
    if "<definedNames/>" in xml:  # xl/workbook.xml: a defined name's formula
        return xml.replace(
            "<definedNames/>", f'<definedNames><definedName name="x">{reference}</definedName></definedNames>'
        )
    if not reference:
        return xml
    assert MARK in xml
    return xml.replace(MARK, reference)


def crafted(build: Callable[[], bytes], part: str, subset: str, reference: str) -> bytes:
    """The document `build` makes, `part` declaring a DTD of `subset` and naming `reference` in it."""
    return rewritten(build(), part, lambda xml: with_dtd(xml, subset, reference))


def word() -> bytes:
    document = Document()
    document.add_paragraph(f"Hello {MARK}")
    return docx_bytes(document)


def sheet() -> bytes:
    workbook = Workbook()
    workbook.active["A1"] = f"Hello {MARK}"  # an inline string, in the sheet's XML
    return xlsx_bytes(workbook)


def shared() -> bytes:
    return many_strings(1, f"<si><t>Hello {MARK}</t></si>")


PARTS = {  # the parts a parser reads: the body, a sheet, the shared strings, the package's types
    "document.xml": (DOCX, word, "word/document.xml"),
    "sheet1.xml": (XLSX, sheet, "xl/worksheets/sheet1.xml"),
    "sharedStrings.xml": (XLSX, shared, "xl/sharedStrings.xml"),
    "docx [Content_Types].xml": (DOCX, word, "[Content_Types].xml"),
    "xlsx [Content_Types].xml": (XLSX, sheet, "[Content_Types].xml"),
    "workbook.xml": (XLSX, sheet, "xl/workbook.xml"),
}


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "hostname"
    path.write_text("SERVER-SECRET-4417\n")
    return path


@pytest.fixture
def fetched() -> Iterator[tuple[str, list[str]]]:
    """A URL on this machine, and the paths anything fetched from it."""
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            body = b'<!ENTITY leak "FETCHED-CONTENT">'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", hits
    finally:
        server.shutdown()
        server.server_close()


def refused(mime: str, blob: bytes, name: str = "crafted") -> AttachmentError:
    with pytest.raises(AttachmentError) as refusal:
        extract(mime, blob, name)
    return refusal.value


@pytest.mark.parametrize("where", [where for where in PARTS if "Content_Types" not in where])
def test_an_external_entity_is_refused_and_neither_a_file_nor_a_url_is_read(
    where: str, secret: Path, fetched: tuple[str, list[str]]
) -> None:
    mime, build, part = PARTS[where]
    url, hits = fetched
    for subset, reference in (
        (f'<!ENTITY x SYSTEM "file://{secret}">', "&x;"),
        (f'<!ENTITY x SYSTEM "{url}/entity">', "&x;"),
        (f'<!ENTITY % p SYSTEM "{url}/parameter"> %p;', "&leak;"),  # a DTD fetched that declares `leak`
    ):
        refusal = refused(mime, crafted(build, part, subset, reference), "x.docx")
        assert refusal.code == "DocumentTooComplex", (subset, str(refusal))
        assert f"x.docx: {part} declares a DTD" in str(refusal)
        assert "SERVER-SECRET" not in str(refusal)
    assert hits == []


def test_a_dtd_is_refused_whatever_the_parts_encoding() -> None:
    """A part in UTF-16 (which both parsers read, told by its byte order mark) hides no DTD from
    the check, as a search for `<!DOCTYPE`'s bytes would."""

    def utf16(xml: str) -> str:  # returned as text that encodes back to UTF-16's bytes
        declared = with_dtd(xml, '<!ENTITY x "expanded">', "&x;").replace('encoding="UTF-8"', 'encoding="UTF-16"')
        return ("\ufeff" + declared).encode("utf-16-le").decode("latin-1")

    blob = word()
    source = zipfile.ZipFile(io.BytesIO(blob))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as packed:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "word/document.xml":
                data = utf16(data.decode()).encode("latin-1")
            packed.writestr(info, data)
    refusal = refused(DOCX, out.getvalue())
    assert (refusal.code, "word/document.xml declares a DTD" in str(refusal)) == ("DocumentTooComplex", True)


def test_a_documents_text_about_a_doctype_is_read() -> None:
    """The check reads each part's prolog as XML, not its bytes: text that names a DTD is text."""
    document = Document()
    document.add_paragraph('Start the page with <!DOCTYPE html> and <!ENTITY x "y">.')
    assert extract(DOCX, docx_bytes(document)) == 'Start the page with <!DOCTYPE html> and <!ENTITY x "y">.'
    workbook = Workbook()
    workbook.active["A1"] = "<!DOCTYPE html>"
    assert extract(XLSX, xlsx_bytes(workbook)) == "[Sheet: Sheet]\n<!DOCTYPE html>"


LAUGHS = '<!ENTITY a0 "lol">' + "".join(f'<!ENTITY a{n} "{f"&a{n - 1};" * 10}">' for n in range(1, 10))
QUADRATIC = '<!ENTITY a "' + "x" * 100_000 + '">'  # 100 KB, referenced 100,000 times: 10 GB


@pytest.mark.parametrize("where", [where for where in PARTS if where != "workbook.xml"])
@pytest.mark.parametrize(
    ("subset", "reference"), [(LAUGHS, "&a9;"), (QUADRATIC, "&a;" * 100_000)], ids=["laughs", "quadratic"]
)
def test_entity_expansion_is_refused_in_little_memory(where: str, subset: str, reference: str) -> None:
    mime, build, part = PARTS[where]
    blob = crafted(build, part, subset, reference)
    assert len(blob) < 64 << 10
    outcome, grew = read_in_a_process(blob, mime)
    assert outcome.startswith(f"DocumentTooComplex: many.xlsx: {part} declares a DTD"), (outcome, grew)
    assert grew < plain_growth(mime) + 8, (grew, plain_growth(mime))  # sheet1.xml's laughs: +155 MiB before


@functools.cache
def plain_growth(mime: str) -> int:
    """How many MiB reading a plain document of `mime`'s grows a process's peak by (loading its reader)."""
    outcome, grew = read_in_a_process(word() if mime == DOCX else sheet(), mime)
    assert outcome.endswith(f"Hello {MARK}")
    return grew


async def test_a_question_on_a_document_with_an_external_entity_ends_too_complex_and_sends_nothing(
    stack: LocalStack,
    pg: asyncpg.Connection,
    fake: RecordingFakeScope,
    workers: Workers,
    owner: Owner,
    *,
    secret: Path,
) -> None:
    blob = rewritten(
        word(), "word/document.xml", lambda xml: with_dtd(xml, f'<!ENTITY x SYSTEM "file://{secret}">', "&x;")
    )
    attachment = await upload(stack, owner, "report.docx", blob, DOCX)
    await workers.start(worker_settings(stack, fake))
    row = await final_answer(pg, await ask_with(pg, owner, "Summarise it", [attachment]), within=15)
    assert (row["status"], row["error_code"]) == ("error", "DocumentTooComplex")
    assert "SERVER-SECRET" not in str(fake.requests)
    assert fake.requests == []


SVG = (  # as Illustrator saves one: a DTD, entities and all, which no reader of ours parses
    '<?xml version="1.0" encoding="utf-8"?><!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN"'
    ' "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd" [<!ENTITY ns_svg "http://www.w3.org/2000/svg">]>'
    '<svg xmlns="&ns_svg;" width="10" height="10"><rect width="10" height="10"/></svg>'
)


def with_svg(blob: bytes, media: str) -> bytes:
    """`blob` holding an SVG image at `media`, typed image/svg+xml (Word keeps an inserted SVG as it was)."""
    svg_type = '<Default Extension="svg" ContentType="image/svg+xml"/>'
    blob = rewritten(blob, "[Content_Types].xml", lambda xml: xml.replace("</Types>", f"{svg_type}</Types>"))
    out = io.BytesIO(blob)
    with zipfile.ZipFile(out, "a") as packed:
        packed.writestr(media, SVG)
    return out.getvalue()


def test_an_svg_images_dtd_does_not_refuse_its_document() -> None:
    """A part typed as an image is not read as XML by python-docx or openpyxl: its DTD is the image's."""
    assert extract(DOCX, with_svg(word(), "word/media/image1.svg")) == f"Hello {MARK}"
    assert extract(XLSX, with_svg(sheet(), "xl/media/image1.svg")) == f"[Sheet: Sheet]\nHello {MARK}"


@pytest.mark.parametrize(
    ("mime", "build", "part"),
    [
        (DOCX, word, "word/_rels/document.xml.rels"),  # python-docx reads a part's relationships by name
        (XLSX, sheet, "xl/worksheets/sheet1.xml"),  # openpyxl reads a sheet its workbook names, whatever its type
        (XLSX, sheet, "xl/_rels/workbook.xml.rels"),
    ],
)
def test_a_part_a_reader_parses_is_checked_though_typed_as_an_image(
    mime: str, build: Callable[[], bytes], part: str
) -> None:
    def typed_as_image(xml: str) -> str:
        return xml.replace("</Types>", f'<Override PartName="/{part}" ContentType="image/svg+xml"/></Types>')

    blob = rewritten(crafted(build, part, LAUGHS, ""), "[Content_Types].xml", typed_as_image)
    refusal = refused(mime, blob)
    assert (refusal.code, f"{part} declares a DTD" in str(refusal)) == ("DocumentTooComplex", True), str(refusal)


def test_notes_typed_as_an_image_are_not_parsed() -> None:
    """The footnotes, endnotes and comments read here (worker/extraction.py, from the document's
    relationships) skip a part typed as an image, as the check does: it is not XML to Word."""
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/footnotes"
    notes = f'<!DOCTYPE w:footnotes [{LAUGHS}]><w:footnotes xmlns:w="urn:w">&a9;</w:footnotes>'
    blob = with_svg(word(), "word/media/notes.svg")
    blob = rewritten(blob, "word/media/notes.svg", lambda _: notes)
    blob = rewritten(
        blob,
        "word/_rels/document.xml.rels",
        lambda xml: xml.replace(
            "</Relationships>", f'<Relationship Id="rIdNotes" Type="{rel}" Target="media/notes.svg"/></Relationships>'
        ),
    )
    assert extract(DOCX, blob) == f"Hello {MARK}"
