"""What pypdf reads out of a PDF is made text before it reaches the prompt: a font's ToUnicode map
(the table from a PDF's glyph codes to characters, written by whatever made the file) can map a
glyph to half of a UTF-16 pair or to U+0000, and pypdf passes both through, so one such glyph made
the whole document DocumentUnreadable ("surrogates not allowed", when its text was measured), and
a NUL went into the prompt."""

from __future__ import annotations

from tests.worker.pdfbytes import pdf_file
from worker.documents import extract


def pdf_with_map(shown: bytes, mapping: dict[str, str]) -> bytes:
    """A one-page PDF showing `shown` in a font whose ToUnicode map is `mapping` (hex code -> hex UTF-16)."""
    pairs = " ".join(f"<{code}> <{to}>" for code, to in mapping.items())
    cmap = (
        "/CIDInit /ProcSet findresource begin 12 dict begin begincmap /CMapName /X def"
        f" 1 begincodespacerange <00> <FF> endcodespacerange {len(mapping)} beginbfchar {pairs} endbfchar"
        " endcmap CMapName currentdict /CMap defineresource pop end end"
    ).encode()
    stream = b"BT /F1 12 Tf 72 720 Td (" + shown + b") Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /ToUnicode 6 0 R >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 5 0 R"
        b" /Resources << /Font << /F1 3 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(cmap), cmap),
    ]
    return pdf_file(objects)


def test_a_pdf_glyph_mapped_to_half_a_character_or_to_nul_does_not_spoil_its_text() -> None:
    mapping = {"48": "0048", "49": "0069", "41": "D800", "4E": "0000", "58": "D835", "59": "DC9C"}
    text = extract("application/pdf", pdf_with_map(b"HiANHiXY", mapping), "paper.pdf")
    assert text == "Hi\ufffdHi\U0001d49c"  # half a pair: the replacement character; NUL: nothing; a pair split
    text.encode()  # in two glyphs: the character it makes
