"""A Word document's list numbers (`1.`, `1.1`, `(a)`, `IV.`, `一、`, a bullet), for
worker/extraction.py: Word keeps them out of the paragraphs' text, in word/numbering.xml, named by
a paragraph's numbering properties or its style's (a heading style linked to a multilevel list),
and counts them as it lays the document out. Here they are counted the same way, in document
order: a level's number goes up with each of its paragraphs, a deeper level starts again under
each higher one, a list instance with a start override (Word's "restart numbering") counts on its
own, others of one abstract list continue it. A format not known here counts in decimal; a
numbering the document names but does not define gives no number.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_CHINESE = "〇一二三四五六七八九"
_STEMS = "甲乙丙丁戊己庚辛壬癸"  # ideographTraditional
_ROMAN: tuple[tuple[int, str], ...] = (
    *((1000, "m"), (900, "cm"), (500, "d"), (400, "cd"), (100, "c"), (90, "xc"), (50, "l")),
    *((40, "xl"), (10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i")),
)


@dataclass(frozen=True, slots=True)
class _Level:
    start: int
    fmt: str
    text: str
    legal: bool  # w:isLgl: every number of the label in decimal (`1.1`, under a level of `I.`)


class Numbering:
    """The list label of each paragraph, asked in document order (`label` counts as it answers)."""

    def __init__(self, numbering: Any, styles: Any) -> None:
        """`numbering` is word/numbering.xml's root element (None without one), `styles` word/styles.xml's."""
        self._abstracts: dict[str, Any] = {}
        self._nums: dict[str, tuple[str, dict[int, Any]]] = {}  # numId: abstract id, overrides by level
        if numbering is not None:
            for abstract in numbering.iterchildren(f"{_W}abstractNum"):
                self._abstracts[_val(abstract, "abstractNumId")] = abstract
            for num in numbering.iterchildren(f"{_W}num"):
                overrides = {int(_val(o, "ilvl") or 0): o for o in num.iterchildren(f"{_W}lvlOverride")}
                self._nums[_val(num, "numId")] = (_child_val(num, "abstractNumId"), overrides)
        self._styles: dict[str, Any] = {}
        self._default_style = ""
        if styles is not None:
            for style in styles.iterchildren(f"{_W}style"):
                if style.get(f"{_W}type") == "paragraph":
                    self._styles[_val(style, "styleId")] = style
                    if style.get(f"{_W}default") in ("1", "true"):
                        self._default_style = _val(style, "styleId")
        self._counts: dict[str, dict[int, int]] = {}  # by list: each level's last number
        self._levels: dict[str, dict[int, _Level | None]] = {}  # by numId, its nine levels, read once

    def label(self, p: Any) -> str:
        """Paragraph `p`'s label, "" for none; the count of its level goes up."""
        ppr = p.find(f"{_W}pPr")
        style = _child_val(ppr, "pStyle") if ppr is not None else ""
        num_id, ilvl = self._num_pr(ppr.find(f"{_W}numPr") if ppr is not None else None)
        if not num_id:
            num_id, style_ilvl = self._style_num_pr(style or self._default_style)
            ilvl = ilvl if ilvl is not None else style_ilvl
        if not num_id or num_id == "0" or num_id not in self._nums:
            return ""
        abstract_id, overrides = self._nums[num_id]
        abstract = self._abstract(abstract_id)
        if abstract is None:
            return ""
        if ilvl is None:  # a style linked to a level (a heading): the level that names it
            linked = [lvl for lvl in abstract.iterchildren(f"{_W}lvl") if _child_val(lvl, "pStyle") == style]
            ilvl = int(_val(linked[0], "ilvl") or 0) if linked else 0
        if num_id not in self._levels:
            self._levels[num_id] = {n: self._level(abstract, overrides, n) for n in range(9)}
        levels = self._levels[num_id]
        level = levels.get(ilvl)
        if level is None:
            return ""
        restarted = any(o.find(f"{_W}startOverride") is not None for o in overrides.values())
        counts = self._counts.setdefault(num_id if restarted else f"a{abstract_id}", {})
        counts[ilvl] = counts[ilvl] + 1 if ilvl in counts else level.start
        for deeper in [n for n in counts if n > ilvl]:
            del counts[deeper]
        if level.fmt == "bullet":
            return "".join("•" if 0xE000 <= ord(c) <= 0xF8FF else c for c in level.text)  # a symbol font's
        text = level.text
        for n in range(8, -1, -1):  # %9 before %1
            if f"%{n + 1}" in text:
                of = levels[n]
                number = counts.get(n, of.start if of else 1)
                fmt = "decimal" if level.legal or of is None else of.fmt
                text = text.replace(f"%{n + 1}", _formatted(number, fmt))
        return text

    def _num_pr(self, num_pr: Any) -> tuple[str, int | None]:
        if num_pr is None:
            return "", None
        ilvl = _child_val(num_pr, "ilvl")
        return _child_val(num_pr, "numId"), int(ilvl) if ilvl.isdigit() else None

    def _style_num_pr(self, style_id: str) -> tuple[str, int | None]:
        """The numbering a paragraph style gives, its own or that of the style it is based on."""
        seen: set[str] = set()
        while style_id and style_id not in seen and style_id in self._styles:
            seen.add(style_id)
            style = self._styles[style_id]
            ppr = style.find(f"{_W}pPr")
            num_id, ilvl = self._num_pr(ppr.find(f"{_W}numPr") if ppr is not None else None)
            if num_id:
                return num_id, ilvl
            style_id = _child_val(style, "basedOn")
        return "", None

    def _abstract(self, abstract_id: str) -> Any:
        """The abstract list, through its numStyleLink (a list style naming another list) once."""
        abstract = self._abstracts.get(abstract_id)
        link = _child_val(abstract, "numStyleLink") if abstract is not None else ""
        if link:
            num_id, _ = self._style_num_pr(link)
            linked = self._abstracts.get(self._nums.get(num_id, ("", {}))[0])
            return linked if linked is not None and not _child_val(linked, "numStyleLink") else None
        return abstract

    def _level(self, abstract: Any, overrides: dict[int, Any], n: int) -> _Level | None:
        override = overrides.get(n)
        lvl = override.find(f"{_W}lvl") if override is not None else None
        if lvl is None:
            lvl = next((x for x in abstract.iterchildren(f"{_W}lvl") if (_val(x, "ilvl") or "0") == str(n)), None)
        if lvl is None:
            return None
        start = _child_val(override, "startOverride") if override is not None else ""
        start = start or _child_val(lvl, "start")
        fmt = _child_val(lvl, "numFmt") or "decimal"
        legal = lvl.find(f"{_W}isLgl") is not None and lvl.find(f"{_W}isLgl").get(f"{_W}val") not in ("0", "false")
        return _Level(int(start) if start.isdigit() else 0, fmt, _child_val(lvl, "lvlText"), legal)


def _val(node: Any, attribute: str) -> str:
    return str(node.get(f"{_W}{attribute}") or "")


def _child_val(node: Any, tag: str) -> str:
    child = node.find(f"{_W}{tag}") if node is not None else None
    return _val(child, "val") if child is not None else ""


def _formatted(n: int, fmt: str) -> str:
    """`n` in a numbering format of Word's; decimal for one not known here or a number it cannot write."""
    if fmt == "none":
        return ""
    if fmt == "decimalZero":
        return f"{n:02d}"
    if n < 1:
        return str(n)
    if fmt in ("lowerLetter", "upperLetter"):
        letters = chr(ord("a") + (n - 1) % 26) * ((n - 1) // 26 + 1)  # Word's z, aa, bb
        return letters.upper() if fmt == "upperLetter" else letters
    if fmt in ("lowerRoman", "upperRoman") and n < 4000:
        roman = ""
        for value, numeral in _ROMAN:
            while n >= value:
                roman, n = roman + numeral, n - value
        return roman.upper() if fmt == "upperRoman" else roman
    if fmt in ("chineseCounting", "chineseCountingThousand", "japaneseCounting") and n < 100:
        tens, units = divmod(n, 10)
        return (_CHINESE[tens] if tens > 1 else "") + ("十" if tens else "") + (_CHINESE[units] if units else "")
    if fmt == "ideographTraditional" and n <= 10:
        return _STEMS[n - 1]
    if fmt == "decimalEnclosedCircle" and n <= 20:
        return chr(0x2460 + n - 1)
    return str(n)
