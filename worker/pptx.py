"""A PowerPoint presentation's (.pptx) text, for worker/extraction.py: each slide in the order the
presentation shows them, `[Slide <n>]` (`[Slide <n> (hidden)]` for one the slide show skips), its
title first, then its shapes' text in their order on the slide (a group's shapes in its place), a
table a row a line with its cells tab-separated (a merged cell once), then its speaker notes,
`[Notes]: <text>`; a numbered paragraph after its number (`1.`, `a)`, `IV.`: a:buAutoNum, as
PowerPoint counts it). A slide without text is left out; its number stays the one PowerPoint shows.

Read from the package's XML with lxml (python-docx's parser), as the DOCX and XLSX readers are
bounded: its unpacked parts from the zip's directory before any is unpacked, a part that declares
a DTD refused before it is parsed, each part streamed (iterparse, each element dropped once read:
a part's memory is one paragraph's, not its tree's), the clock checked every 1,024 parse events, the
text measured as it grows. python-pptx is not installed, and adds nothing to reading text but a
whole tree per slide. Not read: SmartArt's and charts' text (parts of their own), pictures' alt text.
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from worker.document_bounds import dtd_checked, too_long, unpacked_within
from worker.errors import AttachmentError

PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"

_A = "{http://schemas.openxmlformats.org/drawingml/2006/main}"
_P = "{http://schemas.openxmlformats.org/presentationml/2006/main}"
_R = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_MC = "{http://schemas.openxmlformats.org/markup-compatibility/2006}"
_RELS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_OFFICE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"
_SHAPES = (f"{_P}sp", f"{_P}graphicFrame")  # what holds a slide's text: a shape's text body, a table
_TITLES = ("title", "ctrTitle")
_MARGINS = ("dt", "ftr", "hdr", "sldNum", "sldImg")  # a date, footer, slide number, a note's slide picture


def read_pptx(blob: bytes, name: str, max_bytes: int, in_time: Callable[[], None]) -> str:
    """Each slide's text as the module's docstring says; DocumentTooLong past `max_bytes` of text
    (or of unpacked parts), DocumentTooComplex for a DTD or past the reading's time."""
    unpacked_within(blob, name, max_bytes)
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        reader = _Reader(archive, name, max_bytes, in_time)
        presentation = next((target for kind, _, target in reader.relations("") if kind == _OFFICE), None)
        if presentation is None:
            raise AttachmentError("DocumentUnreadable", f"{name}: not a presentation (no main part)")
        targets = {rid: target for _, rid, target in reader.relations(presentation)}
        slides = [targets.get(rid, "") for rid in reader.attributes(presentation, f"{_P}sldId", f"{_R}id")]
        texts = []
        for number, slide in enumerate(slides, 1):
            text = reader.slide(slide, number)
            if text:
                texts.append(text)
        return "\n\n".join(texts)


@dataclass
class _Shape:
    kind: str = ""  # its placeholder's type (title, body...), "" for none
    lines: list[str] = field(default_factory=list)
    counts: dict[int, tuple[str, int]] = field(default_factory=dict)  # a list's scheme and last number, by level

    def label(self, level: int, numbered: tuple[str, int] | None) -> str:
        """A paragraph's number (`numbered`: its a:buAutoNum's scheme and start) at its level: one
        more than the last at that level in its scheme, a deeper level's starting again; a
        paragraph without one, or of another scheme, ends the lists at its level and deeper."""
        scheme, start = numbered or ("", 0)
        for ended in [n for n in self.counts if n > level or (n == level and self.counts[n][0] != scheme)]:
            del self.counts[ended]
        if numbered is None:
            return ""
        self.counts[level] = (scheme, self.counts[level][1] + 1 if level in self.counts else start)
        return _autonumber(scheme, self.counts[level][1])


_SCHEME = re.compile(r"(arabic|alphaLc|alphaUc|romanLc|romanUc)(Period|ParenR|ParenBoth|Plain)")
_ROMAN = ((1000, "m"), (900, "cm"), (500, "d"), (400, "cd"), (100, "c"), (90, "xc"), (50, "l"), (40, "xl"))


def _autonumber(scheme: str, n: int) -> str:
    """`n` as PowerPoint's a:buAutoNum `scheme` writes it (arabicPeriod: 1., alphaLcParenR: a),
    romanUcPeriod: I., circleNumDbPlain: ①...); one not known here as arabicPeriod."""
    if scheme.startswith("circleNum") and 1 <= n <= 20:
        return chr(0x2460 + n - 1)
    if scheme.startswith("ea1Chs") and 1 <= n <= 10:  # 一. 二.
        return "〇一二三四五六七八九十"[n] + "."
    found = _SCHEME.fullmatch(scheme)
    kind, punctuation = found.groups() if found else ("arabic", "Period")
    digits = str(n)
    if kind.startswith("alpha") and n >= 1:
        digits = chr(ord("a") + (n - 1) % 26) * ((n - 1) // 26 + 1)
    elif kind.startswith("roman") and 1 <= n < 4000:
        digits = ""
        for value, numeral in (*_ROMAN, (10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i")):
            while n >= value:
                digits, n = digits + numeral, n - value
    digits = digits.upper() if kind.endswith("Uc") else digits
    return {"Period": f"{digits}.", "ParenR": f"{digits})", "ParenBoth": f"({digits})"}.get(punctuation, digits)


class _Reader:
    def __init__(self, archive: zipfile.ZipFile, name: str, max_bytes: int, in_time: Callable[[], None]) -> None:
        self._archive, self._name, self._max_bytes, self._in_time = archive, name, max_bytes, in_time
        self._size = 0  # the text's UTF-8 bytes so far
        self._parts = set(archive.namelist())

    def slide(self, part: str, number: int) -> str:
        """Slide `number`'s text: `[Slide <n>]`, its title, its shapes', its notes'; "" for none."""
        if not part:
            return ""
        shapes, hidden = self._shapes(part)
        titles = [line for shape in shapes if shape.kind in _TITLES for line in shape.lines]
        lines = titles + [line for shape in shapes if shape.kind not in _TITLES for line in shape.lines]
        for kind, _, target in self.relations(part):
            if kind.endswith("/notesSlide"):
                notes = [line for shape in self._shapes(target)[0] if shape.kind == "body" for line in shape.lines]
                if notes:
                    lines.append("[Notes]: " + "\n".join(notes))
        if not lines:
            return ""
        return f"[Slide {number}{' (hidden)' if hidden else ''}]\n" + "\n".join(lines)

    def relations(self, part: str) -> list[tuple[str, str, str]]:
        """The part's internal relationships, (type, id, target part), by its `_rels` part (none
        when it has none); the package's own for part ""."""
        folder, base = posixpath.split(part)
        rels = posixpath.join(folder, "_rels", f"{base}.rels")
        if rels not in self._parts:
            return []
        found = []
        for _, node in self._events(rels, ("start",)):
            if node.tag == f"{_RELS}Relationship" and node.get("TargetMode") != "External":
                target = node.get("Target", "")
                path = target[1:] if target.startswith("/") else posixpath.join(folder, target)
                found.append((node.get("Type", ""), node.get("Id", ""), posixpath.normpath(path)))
        return found

    def attributes(self, part: str, tag: str, attribute: str) -> list[str]:
        """The `attribute` of each `tag` element in the part, in order."""
        return [
            str(node.get(attribute))
            for _, node in self._events(part, ("start",))
            if node.tag == tag and node.get(attribute) is not None
        ]

    def _shapes(self, part: str) -> tuple[list[_Shape], bool]:
        """The part's shapes that hold text, in their order, each with its lines: its paragraphs, a
        table's rows (cells tab-separated, a merged one's continuation left out); and whether the
        part is a slide the show skips (hidden)."""
        shapes: list[_Shape] = []
        shape: _Shape | None = None
        runs: list[str] = []  # the paragraph's
        level, numbered = 0, None  # the paragraph's list level, and its a:buAutoNum's scheme and start
        cell: list[str] | None = None  # the table cell's paragraphs, within one
        row: list[str] | None = None
        fallback = 0  # depth within an mc:Fallback: a copy of its mc:Choice for older readers
        hidden = False
        for event, node in self._events(part, ("start", "end")):
            tag = node.tag
            if tag == f"{_MC}Fallback":
                fallback += 1 if event == "start" else -1
            if fallback:
                continue
            if event == "start":
                if tag == f"{_P}sld":
                    hidden = node.get("show") in ("0", "false")
                elif tag in _SHAPES and shape is None:
                    shape = _Shape()
                elif tag == f"{_A}tr":
                    row = []
                elif tag == f"{_A}tc":
                    continued = node.get("hMerge") in ("1", "true") or node.get("vMerge") in ("1", "true")
                    cell = None if continued else []
                elif tag == f"{_A}p":
                    level, numbered = 0, None
                elif tag == f"{_A}pPr":
                    level = int(node.get("lvl", "0")) if node.get("lvl", "0").isdigit() else 0
                elif tag == f"{_A}buAutoNum":
                    start = node.get("startAt", "1")
                    numbered = (node.get("type", ""), int(start) if start.isdigit() else 1)
                elif tag == f"{_A}buNone":
                    numbered = None
                continue
            if tag == f"{_A}t":
                runs.append(node.text or "")
            elif tag == f"{_A}br":
                runs.append("\n")
            elif tag == f"{_P}ph" and shape is not None:
                shape.kind = node.get("type", "body")
            elif tag == f"{_A}p":
                text = "".join(runs).strip()
                runs = []
                if text and shape is not None:  # PowerPoint numbers no empty paragraph
                    label = shape.label(level, numbered)
                    text = f"{label} {text}" if label else text
                if text and cell is not None:
                    cell.append(text)
                elif text and shape is not None and row is None:
                    self._add(shape, text)
            elif tag == f"{_A}tc":
                if cell is not None and row is not None:
                    row.append(" ".join(cell))
                cell = None
            elif tag == f"{_A}tr":
                if row is not None and any(row) and shape is not None:
                    self._add(shape, "\t".join(row))
                row = None
            elif tag in _SHAPES and shape is not None:
                if shape.lines and shape.kind not in _MARGINS:
                    shapes.append(shape)
                shape = None
        return shapes, hidden

    def _add(self, shape: _Shape, line: str) -> None:
        self._size += len(line.encode()) + 1
        if self._size > self._max_bytes:
            raise too_long(self._name, self._max_bytes)
        shape.lines.append(line)

    def _events(self, part: str, events: tuple[str, ...]) -> Iterator[tuple[str, Any]]:
        """The part's parse events, once its prolog is checked for a DTD; each element is dropped
        from its parent once its end is given (what a caller needs it takes then), the clock
        checked at its start and every 1,024 events."""
        from lxml import etree  # noqa: PLC0415 - loaded by the first document only

        dtd_checked(self._archive, part, self._name, self._in_time)
        with self._archive.open(part) as source:
            parsed = etree.iterparse(
                source, events=("start", "end"), resolve_entities=False, load_dtd=False, no_network=True
            )
            for n, (event, node) in enumerate(parsed):
                if not n & 1023:
                    self._in_time()
                if event in events:
                    yield event, node
                if event == "end":
                    node.clear()
                    while node.getprevious() is not None:
                        del node.getparent()[0]
