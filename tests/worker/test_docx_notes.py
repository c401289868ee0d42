"""A Word document's footnotes and endnotes are its text too: a paper's sources, a contract's
conditions. They live in parts of their own (word/footnotes.xml, word/endnotes.xml), and none was
read, nor was the mark where each is referenced, so "what does footnote 2 say?" was answered
without it."""

from __future__ import annotations

import io
import zipfile

from docx import Document
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls

from tests.worker.test_document_formats import docx_bytes
from worker.documents import DOCX, extract

W = nsdecls("w")
RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
KINDS = {"footnote": "footnotes", "endnote": "endnotes"}


def _notes(kind: str, notes: dict[int, str]) -> bytes:
    separators = (  # Word's own, before the notes: not text
        f'<w:{kind} w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p></w:{kind}>'
        f'<w:{kind} w:type="continuationSeparator" w:id="0"><w:p><w:r><w:continuationSeparator/></w:r></w:p></w:{kind}>'
    )
    body = "".join(
        f'<w:{kind} w:id="{number}"><w:p><w:r><w:{kind}Ref/></w:r>'
        f'<w:r><w:t xml:space="preserve"> {text}</w:t></w:r></w:p></w:{kind}>'
        for number, text in notes.items()
    )
    return f'<?xml version="1.0" encoding="UTF-8"?><w:{KINDS[kind]} {W}>{separators}{body}</w:{KINDS[kind]}>'.encode()


def with_notes(blob: bytes, footnotes: dict[int, str], endnotes: dict[int, str]) -> bytes:
    """The DOCX `blob` with these footnotes and endnotes parts, as Word writes them."""
    source = zipfile.ZipFile(io.BytesIO(blob))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as packed:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "[Content_Types].xml":
                overrides = "".join(
                    f'<Override PartName="/word/{part}.xml" ContentType="application/'
                    f'vnd.openxmlformats-officedocument.wordprocessingml.{part}+xml"/>'
                    for part in KINDS.values()
                )
                data = data.replace(b"</Types>", overrides.encode() + b"</Types>")
            elif info.filename == "word/_rels/document.xml.rels":
                rels = "".join(
                    f'<Relationship Id="rIdNotes{n}" Type="{RELS}/{part}" Target="{part}.xml"/>'
                    for n, part in enumerate(KINDS.values())
                )
                data = data.replace(b"</Relationships>", rels.encode() + b"</Relationships>")
            packed.writestr(info, data)
        packed.writestr("word/footnotes.xml", _notes("footnote", footnotes))
        packed.writestr("word/endnotes.xml", _notes("endnote", endnotes))
    return out.getvalue()


def test_a_docx_footnotes_and_endnotes_are_read_after_its_body_and_marked_where_referenced() -> None:
    document = Document()
    p = document.add_paragraph("Revenue grew by 42%")._p
    p.append(parse_xml(f'<w:r {W}><w:footnoteReference w:id="1"/></w:r>'))
    p.append(parse_xml(f'<w:r {W}><w:t xml:space="preserve"> in the east</w:t></w:r>'))
    p.append(parse_xml(f'<w:r {W}><w:endnoteReference w:id="1"/></w:r>'))
    p.append(parse_xml(f"<w:r {W}><w:t>.</w:t></w:r>"))
    blob = with_notes(docx_bytes(document), {1: "Audited figures, 2026 annual report."}, {1: "See appendix B."})
    assert extract(DOCX, blob) == (
        "Revenue grew by 42%[^1] in the east[^e1].\n\n"
        "[^1]: Audited figures, 2026 annual report.\n"
        "[^e1]: See appendix B."
    )
