"""A Word document's list numbers are its text as the reader sees it: a contract's clauses are
'1.', '1.1', '2.', a Chinese one's '一、', and its text refers to them ("as in clause 2.1"). Word
keeps them out of the paragraphs (word/numbering.xml, named by a paragraph's or its style's
numbering), and none was read: the model saw the clauses without their numbers, so "what does
clause 2.1 say?" was answered by guessing which paragraph that is."""

from __future__ import annotations

from docx import Document
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls

from tests.worker.test_document_formats import docx_bytes
from worker.documents import DOCX, extract

W = nsdecls("w")


def _level(ilvl: int, fmt: str, text: str, start: int = 1) -> str:
    return (
        f'<w:lvl w:ilvl="{ilvl}"><w:start w:val="{start}"/><w:numFmt w:val="{fmt}"/><w:lvlText w:val="{text}"/></w:lvl>'
    )


def _numbered(document: object, text: str, num_id: int, ilvl: int = 0) -> None:
    paragraph = document.add_paragraph(text)  # type: ignore[attr-defined]
    paragraph._p.get_or_add_pPr().append(
        parse_xml(f'<w:numPr {W}><w:ilvl w:val="{ilvl}"/><w:numId w:val="{num_id}"/></w:numPr>')
    )


def test_list_numbers_are_read_before_their_paragraphs() -> None:
    document = Document()
    numbering = document.part.numbering_part.element
    clauses = _level(0, "decimal", "%1.") + _level(1, "decimal", "%1.%2") + _level(2, "lowerLetter", "(%3)")
    chinese = _level(0, "chineseCounting", "%1、") + _level(1, "upperRoman", "%2.", start=4)
    for abstract, levels in ((90, clauses), (91, chinese)):
        numbering.insert(0, parse_xml(f'<w:abstractNum {W} w:abstractNumId="{abstract}">{levels}</w:abstractNum>'))
        numbering.append(parse_xml(f'<w:num {W} w:numId="{abstract}"><w:abstractNumId w:val="{abstract}"/></w:num>'))
    document.add_paragraph("Terms of sale")
    _numbered(document, "Definitions", 90)
    _numbered(document, "Goods", 90, 1)
    _numbered(document, "perishable", 90, 2)
    _numbered(document, "Services", 90, 1)
    _numbered(document, "Payment", 90)
    _numbered(document, "Terms", 90, 1)  # a deeper level starts again under each higher one
    document.add_paragraph("Scope", style="List Number")  # numbered by its style (python-docx's template)
    document.add_paragraph("Price", style="List Number")
    document.add_paragraph("apples", style="List Bullet")
    _numbered(document, "总则", 91)
    _numbered(document, "适用范围", 91, 1)
    _numbered(document, "附则", 91)
    assert extract(DOCX, docx_bytes(document), "terms.docx") == "\n".join(
        [
            "Terms of sale",
            "1. Definitions",
            "1.1 Goods",
            "(a) perishable",
            "1.2 Services",
            "2. Payment",
            "2.1 Terms",
            "1. Scope",
            "2. Price",
            "• apples",
            "一、 总则",
            "IV. 适用范围",
            "二、 附则",
        ]
    )


def test_a_document_without_lists_reads_as_before() -> None:
    document = Document()
    document.add_paragraph("Plain")
    _numbered(document, "named by a numbering the document does not have", 77)
    assert extract(DOCX, docx_bytes(document)) == "Plain\nnamed by a numbering the document does not have"


def test_headings_numbered_by_their_styles_level_are_read_with_their_numbers() -> None:
    """A multilevel list linked to heading styles (a report's chapters and sections): the style names
    the list, the list's level names the style (no level on the paragraph or the style)."""
    document = Document()
    numbering = document.part.numbering_part.element
    levels = (
        '<w:lvl w:ilvl="0"><w:start w:val="1"/><w:numFmt w:val="chineseCounting"/><w:pStyle w:val="Heading1"/>'
        '<w:lvlText w:val="第%1章"/></w:lvl>'
        '<w:lvl w:ilvl="1"><w:start w:val="1"/><w:numFmt w:val="decimal"/><w:pStyle w:val="Heading2"/>'
        '<w:isLgl/><w:lvlText w:val="%1.%2"/></w:lvl>'
    )
    numbering.insert(0, parse_xml(f'<w:abstractNum {W} w:abstractNumId="92">{levels}</w:abstractNum>'))
    numbering.append(parse_xml(f'<w:num {W} w:numId="92"><w:abstractNumId w:val="92"/></w:num>'))
    for style in ("Heading 1", "Heading 2"):
        document.styles[style].element.get_or_add_pPr().append(
            parse_xml(f'<w:numPr {W}><w:numId w:val="92"/></w:numPr>')
        )
    document.add_heading("总论", 1)
    document.add_heading("目的", 2)
    document.add_heading("范围", 2)
    document.add_heading("方法", 1)
    document.add_heading("样本", 2)
    assert extract(DOCX, docx_bytes(document)) == "第一章 总论\n1.1 目的\n1.2 范围\n第二章 方法\n2.1 样本"
