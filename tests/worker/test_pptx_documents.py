"""A PowerPoint presentation (.pptx) is a document: users upload slides often, and the bucket, the
web app, /v1 and the worker refused it as a type they do not take. Its slides are read in the
order the presentation shows them, each labelled by its number: the title, the shapes' text (a
group's, a table's rows), the speaker notes; bounded as a Word document or a workbook is (its
unpacked parts, its text, a DTD, its reading's time)."""

from __future__ import annotations

import io
import zipfile
from unittest.mock import patch

import asyncpg
import pytest

from tests.conftest import LocalStack
from tests.worker.checks import counted_checks
from tests.worker.conftest import Owner, RecordingFakeScope, Workers, final_answer, worker_settings
from tests.worker.test_attachments import ask_with, upload
from tests.worker.test_xlsx_bounds import read_in_a_process
from worker.documents import DOCUMENT_TYPES, PPTX, extract
from worker.errors import AttachmentError

NS = (
    'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" '
    'xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main" '
    'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"'
)
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
CT = "application/vnd.openxmlformats-officedocument.presentationml"


def paragraphs(*texts: str) -> str:
    return "".join(
        f"<a:p><a:r><a:t>{text}</a:t></a:r></a:p>" if text else "<a:p><a:endParaRPr/></a:p>" for text in texts
    )


def shape(*texts: str, placeholder: str | None = None) -> str:
    """A shape holding `texts` as paragraphs, a placeholder of its type ("" for the body's, no type)."""
    ph = "" if placeholder is None else (f'<p:ph type="{placeholder}"/>' if placeholder else '<p:ph idx="1"/>')
    return (
        f'<p:sp><p:nvSpPr><p:cNvPr id="2" name="s"/><p:cNvSpPr/><p:nvPr>{ph}</p:nvPr></p:nvSpPr><p:spPr/>'
        f"<p:txBody><a:bodyPr/>{paragraphs(*texts)}</p:txBody></p:sp>"
    )


def table(rows: list[list[str | None]]) -> str:
    """A table shape; a None cell continues the merged one before it (hMerge)."""
    body = "".join(
        "<a:tr>"
        + "".join(
            '<a:tc hMerge="1"><a:txBody><a:bodyPr/><a:p/></a:txBody></a:tc>'
            if cell is None
            else f"<a:tc><a:txBody><a:bodyPr/>{paragraphs(cell)}</a:txBody></a:tc>"
            for cell in row
        )
        + "</a:tr>"
        for row in rows
    )
    return (
        '<p:graphicFrame><p:nvGraphicFramePr><p:cNvPr id="4" name="t"/><p:cNvGraphicFramePr/><p:nvPr/>'
        '</p:nvGraphicFramePr><p:xfrm/><a:graphic><a:graphicData uri="http://schemas.openxmlformats.org/drawingml/2006/table">'
        f"<a:tbl><a:tblGrid/>{body}</a:tbl></a:graphicData></a:graphic></p:graphicFrame>"
    )


def slide_xml(*shapes: str, hidden: bool = False) -> str:
    show = ' show="0"' if hidden else ""
    return (
        f"<p:sld {NS}{show}><p:cSld><p:spTree><p:nvGrpSpPr/><p:grpSpPr/>{''.join(shapes)}</p:spTree></p:cSld></p:sld>"
    )


def notes_xml(*texts: str) -> str:
    return (
        f"<p:notes {NS}><p:cSld><p:spTree><p:nvGrpSpPr/><p:grpSpPr/>{shape(placeholder='sldImg')}"
        f"{shape(*texts, placeholder='body')}{shape('3', placeholder='sldNum')}</p:spTree></p:cSld></p:notes>"
    )


def pptx_bytes(slides: list[str], notes: dict[int, str] | None = None, order: list[int] | None = None) -> bytes:
    """A presentation of `slides` (each a slide's XML; `notes`: a slide's index -> its notes' XML),
    shown in `order` (indexes of `slides`; as given by default), its parts named in reverse so the
    package's order is not the show's."""
    notes = notes or {}
    order = order if order is not None else list(range(len(slides)))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as packed:
        overrides = "".join(
            f'<Override PartName="/ppt/slides/slide{n + 1}.xml" ContentType="{CT}.slide+xml"/>'
            for n in range(len(slides))
        )
        packed.writestr(
            "[Content_Types].xml",
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/ppt/presentation.xml" ContentType="{CT}.presentation.main+xml"/>{overrides}</Types>',
        )
        packed.writestr(
            "_rels/.rels",
            f'<Relationships xmlns="{RELS}"><Relationship Id="rId1" Type="{REL}/officeDocument" '
            'Target="ppt/presentation.xml"/></Relationships>',
        )
        ids = "".join(f'<p:sldId id="{256 + n}" r:id="rId{n + 10}"/>' for n in order)
        packed.writestr("ppt/presentation.xml", f"<p:presentation {NS}><p:sldIdLst>{ids}</p:sldIdLst></p:presentation>")
        rels = "".join(
            f'<Relationship Id="rId{n + 10}" Type="{REL}/slide" Target="slides/slide{len(slides) - n}.xml"/>'
            for n in range(len(slides))
        )
        packed.writestr("ppt/_rels/presentation.xml.rels", f'<Relationships xmlns="{RELS}">{rels}</Relationships>')
        for n, xml in enumerate(slides):
            part = f"slide{len(slides) - n}.xml"
            packed.writestr(f"ppt/slides/{part}", xml)
            if n in notes:
                packed.writestr(f"ppt/notesSlides/notesSlide{n + 1}.xml", notes[n])
                packed.writestr(
                    f"ppt/slides/_rels/{part}.rels",
                    f'<Relationships xmlns="{RELS}"><Relationship Id="rId2" Type="{REL}/notesSlide" '
                    f'Target="../notesSlides/notesSlide{n + 1}.xml"/></Relationships>',
                )
    return out.getvalue()


def deck() -> bytes:
    """A quarter's review: a title slide, one of a body and a table, a grouped caption, a hidden one, an empty one."""
    group = f"<p:grpSp><p:nvGrpSpPr/><p:grpSpPr/>{shape('Source: finance')}</p:grpSp>"
    return pptx_bytes(
        [
            slide_xml(shape("Q3 review", placeholder="ctrTitle"), shape("Sales team", placeholder="subTitle")),
            slide_xml(
                shape("Revenue up 12%", "", "East led", placeholder=""),  # the body before the title in its tree
                shape("Results", placeholder="title"),
                table([["Region", "Sales"], ["华东", "120"], ["Total, all", None]]),
                group,
                shape("7", placeholder="sldNum"),  # the slide's number, as every slide shows it: left out
            ),
            slide_xml(shape("Backup figures", placeholder="title"), hidden=True),
            slide_xml(),
        ],
        notes={1: notes_xml("Mention the East's new store.", "Then take questions.")},
    )


def test_each_slide_is_read_in_order_labelled_with_its_title_body_tables_and_notes() -> None:
    assert PPTX in DOCUMENT_TYPES
    assert extract(PPTX, deck(), "review.pptx") == (
        "[Slide 1]\nQ3 review\nSales team\n\n"
        "[Slide 2]\nResults\nRevenue up 12%\nEast led\nRegion\tSales\n华东\t120\nTotal, all\n"
        "Source: finance\n[Notes]: Mention the East's new store.\nThen take questions.\n\n"
        "[Slide 3 (hidden)]\nBackup figures"
    )


def test_slides_are_read_in_the_order_the_presentation_shows_them() -> None:
    """The order is the presentation's list of slides, not the parts' names (slide3.xml may be shown first)."""
    slides = [slide_xml(shape(f"Part {n}", placeholder="title")) for n in range(3)]
    assert (
        extract(PPTX, pptx_bytes(slides, order=[2, 0, 1]))
        == "[Slide 1]\nPart 2\n\n[Slide 2]\nPart 0\n\n[Slide 3]\nPart 1"
    )


def test_a_shapes_fallback_copy_is_read_once() -> None:
    """PowerPoint writes a newer shape (an equation, a 3D model) as mc:AlternateContent: its choice
    and a fallback copy for older readers, which would have its text twice."""
    alternate = (
        f'<mc:AlternateContent><mc:Choice Requires="a14">{shape("E = mc²")}</mc:Choice>'
        f"<mc:Fallback>{shape('E = mc²')}</mc:Fallback></mc:AlternateContent>"
    )
    assert extract(PPTX, pptx_bytes([slide_xml(alternate)])) == "[Slide 1]\nE = mc²"


def test_a_presentation_without_text_or_that_is_not_one_is_unreadable() -> None:
    for blob in (pptx_bytes([slide_xml(), slide_xml()]), b"PK\x03\x04 not really a zip"):
        with pytest.raises(AttachmentError) as refused:
            extract(PPTX, blob, "empty.pptx")
        assert refused.value.code == "DocumentUnreadable"


def test_a_presentation_that_unpacks_past_the_limit_is_refused_before_it_is_unpacked() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(deck())) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as packed:
        for info in source.infolist():
            packed.writestr(info, source.read(info.filename))
        packed.writestr("ppt/media/padding.xml", b" " * (64 << 20))
    assert len(out.getvalue()) < 1 << 20
    unpacked = AssertionError("a part was unpacked")
    with patch.object(zipfile.ZipFile, "open", side_effect=unpacked), pytest.raises(AttachmentError) as refused:
        extract(PPTX, out.getvalue(), "bomb.pptx", max_bytes=32 << 20)
    assert refused.value.code == "DocumentTooLong"


def test_a_presentations_text_past_the_limit_is_refused_as_it_is_read() -> None:
    slides = [slide_xml(shape(*["x" * 1000] * 100)) for _ in range(20)]  # 2 MB of text
    with counted_checks() as checks, pytest.raises(AttachmentError) as refused:
        extract(PPTX, pptx_bytes(slides), "long.pptx", max_bytes=1 << 20)
    assert refused.value.code == "DocumentTooLong"
    assert checks.made < 64  # refused at the slide that passed 1 MiB, not after all 20


def test_a_presentation_whose_reading_passes_its_time_is_refused_at_it() -> None:
    slides = [slide_xml(shape(*[f"line {n}" for n in range(2000)])) for _ in range(10)]
    blob = pptx_bytes(slides)
    with counted_checks() as checks:
        assert extract(PPTX, blob).count("\n") == 10 * 2000 + 9 * 2  # each slide's label and lines
    assert checks.made >= 10 * 2000 * 3 // 1024  # the clock every 1,024 of its XML's elements
    with counted_checks(expire_at=20) as checks, pytest.raises(AttachmentError) as refused:
        extract(PPTX, blob, "big.pptx", seconds=0.01)
    assert refused.value.code == "DocumentTooComplex"
    assert checks.made == 20  # refused at the check that found the time passed


@pytest.mark.parametrize("part", ["ppt/presentation.xml", "ppt/slides/slide1.xml", "ppt/notesSlides/notesSlide2.xml"])
def test_a_part_that_declares_a_dtd_is_refused_before_it_is_parsed(part: str) -> None:
    laughs = '<!DOCTYPE p:sld [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(deck())) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as packed:
        for info in source.infolist():
            data = source.read(info.filename)
            packed.writestr(info, laughs.encode() + data if info.filename == part else data)
    with pytest.raises(AttachmentError) as refused:
        extract(PPTX, out.getvalue(), "laughs.pptx")
    assert refused.value.code == "DocumentTooComplex"
    assert f"{part} declares a DTD" in str(refused.value)


def test_a_slide_of_a_million_paragraphs_is_read_in_little_memory() -> None:
    """Each part is streamed, each element dropped once read: a tree of the whole slide (lxml's, as
    python-docx builds a document's) would take hundreds of MiB for 30 MB of empty paragraphs."""
    slide = slide_xml(shape("Kept", *[""] * 1_000_000))
    blob = pptx_bytes([slide])
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        assert sum(part.file_size for part in archive.infolist()) < 32 << 20  # within the unpacked bound
    outcome, grew = read_in_a_process(blob, PPTX)
    assert outcome == "[Slide 1]\nKept", (outcome, grew)
    assert grew < 64, grew


async def test_a_question_with_a_presentation_is_answered_with_its_slides(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    item = await upload(stack, owner, "review.pptx", deck(), PPTX)  # the bucket takes it
    await workers.start(worker_settings(stack, fake))
    row = await final_answer(pg, await ask_with(pg, owner, "What did the East do?", [item]))
    assert row["status"] == "completed", row["error_code"]
    question = fake.requests[-1]["input"]["messages"][-1]["content"]
    assert question.startswith('<document name="review.pptx">\n[Slide 1]\nQ3 review\nSales team\n\n[Slide 2]\nResults')


def numbered(text: str, scheme: str | None, level: int = 0, start: int | None = None) -> str:
    """A paragraph PowerPoint numbers by `scheme` (a:buAutoNum; None: a paragraph without a number)."""
    at = f' startAt="{start}"' if start else ""
    number = f'<a:buAutoNum type="{scheme}"{at}/>' if scheme else "<a:buNone/>"
    return f'<a:p><a:pPr lvl="{level}">{number}</a:pPr><a:r><a:t>{text}</a:t></a:r></a:p>'


def test_a_numbered_list_on_a_slide_is_read_with_its_numbers() -> None:
    """A slide's steps, numbered by PowerPoint (a:buAutoNum), were read without their numbers, so
    "what is step 3?" had nothing to count by."""
    body = "".join(
        [
            numbered("Plan", "arabicPeriod"),
            numbered("Budget", "alphaLcParenR", 1),
            numbered("Staff", "alphaLcParenR", 1),
            numbered("Build", "arabicPeriod"),
            numbered("Ship", "arabicPeriod"),
            numbered("Notes", None),  # a paragraph without a number ends the list
            numbered("Again", "romanUcPeriod", start=4),
            numbered("一步", "ea1ChsPeriod"),
        ]
    )
    steps = shape().replace("<a:p><a:endParaRPr/></a:p>", "").replace("<a:bodyPr/>", "<a:bodyPr/>" + body)
    assert extract(PPTX, pptx_bytes([slide_xml(steps)])) == (
        "[Slide 1]\n1. Plan\na) Budget\nb) Staff\n2. Build\n3. Ship\nNotes\nIV. Again\n一. 一步"
    )
