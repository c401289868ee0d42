"""A number as Excel shows it by its cell's number format (worker/xlsx.py): money with its currency
and thousands separators, fixed decimals, a percentage, a negative as its section shows it, where
openpyxl gives the value Excel keeps (1234.5 for '¥1,234.50').

What is understood: up to four `;` sections (positive; negative, shown without its minus unless it
reads as the positive one, told apart by its colour alone; zero; text, unused), digit placeholders
`0 # ?` with `.` and `,` (a thousands separator between them, thousands or millions after them),
`%`, literals (`"..."`, `\\x`, `$ - + ( ) : ! ^ & ' ~ { } < > =` and space, any non-ASCII character
such as € ¥ £), a currency's `[$¥-804]`, colours (`[Red]`), and `_x` and `*x` (a space or a fill,
which make no text here). Anything else (a date or time, a fraction, scientific notation, a
condition, `[DBNum1]`, digits between literals as in 000-00-0000,
General, text) gives None: the caller keeps the raw value.
"""

from __future__ import annotations

import datetime
import functools
import re
from decimal import ROUND_HALF_UP, Decimal, localcontext

_LITERALS = set("$-+():!^&'~{}<>= ")
_COLOURS = re.compile(r"(?i)(black|blue|cyan|green|magenta|red|white|yellow|color\s*\d{1,2})")
_DIGITS = set("0#?.,")


class _NotUnderstood(Exception):
    pass


def shown(value: object, number_format: str) -> str | None:
    """`value` as Excel shows it by `number_format`; None when the value is not a number or the
    format is not one understood here."""
    if isinstance(value, bool) or not isinstance(value, int | float) or number_format == "General":
        return None
    try:
        sections = _sections(number_format)
        if len(sections) >= 2 and value < 0:  # its own minus, parentheses or words; else the number's minus
            return _render(sections[1], abs(value), "" if _words(sections[1]) != _words(sections[0]) else "-")
        if len(sections) >= 3 and value == 0:
            return _render(sections[2], 0, "")
        return _render(sections[0], abs(value), "-" if value < 0 else "")
    except _NotUnderstood:
        return None


@functools.lru_cache(maxsize=256)  # a workbook's few formats, each parsed once (read-only, never changed)
def _sections(number_format: str) -> list[list[tuple[str, str]]]:
    """The format's sections, each as its tokens: ("literal", text), ("digits", placeholders), ("%", "%"),
    ("@", "@")."""
    sections: list[list[tuple[str, str]]] = [[]]
    tokens = sections[0]
    i, n = 0, len(number_format)
    while i < n:
        char = number_format[i]
        if char == ";":
            tokens = []
            sections.append(tokens)
        elif char == '"':
            end = number_format.find('"', i + 1)
            if end < 0:
                raise _NotUnderstood
            tokens.append(("literal", number_format[i + 1 : end]))
            i = end
        elif char == "\\" and i + 1 < n:
            tokens.append(("literal", number_format[i + 1]))
            i += 1
        elif char in "_*":
            i += 1  # a space as wide as the next character, or the next repeated to fill the cell
        elif char == "[":
            end = number_format.find("]", i)
            if end < 0:
                raise _NotUnderstood
            tokens.append(("literal", _bracket(number_format[i + 1 : end])))
            i = end
        elif char in "%@":
            tokens.append((char, char))  # @, text's place: in the text's section, never a number's
        elif char in _DIGITS:
            if tokens and tokens[-1][0] == "digits":
                tokens[-1] = ("digits", tokens[-1][1] + char)
            else:
                tokens.append(("digits", char))
        elif char in _LITERALS or not char.isascii():
            tokens.append(("literal", char))
        else:  # a date's or time's letter, General, E+, a fraction's /, text's @
            raise _NotUnderstood
        i += 1
    if len(sections) > 4:
        raise _NotUnderstood
    return sections


def _words(tokens: list[tuple[str, str]]) -> str:
    """A section's literal text, spaces left out: a negative's section that reads as the positive's
    (Excel's "1,234.10 in red", `0.00;[Red]0.00`) tells a negative by its colour alone, which the
    model does not see."""
    return "".join(text for kind, text in tokens if kind == "literal").replace(" ", "")


def _bracket(inside: str) -> str:
    """What a `[...]` shows: a currency's symbol (`$¥-804`: ¥; `$-409`, a locale alone: nothing), a
    colour nothing; a condition, an elapsed time or another locale's numerals are not understood."""
    if inside.startswith("$"):
        return inside[1:].split("-", 1)[0]
    if _COLOURS.fullmatch(inside):
        return ""
    raise _NotUnderstood


def _render(tokens: list[tuple[str, str]], value: float, sign: str) -> str:
    runs = [text for kind, text in tokens if kind == "digits"]
    if len(runs) > 1 or ("@", "@") in tokens:
        raise _NotUnderstood  # digits between literals (a phone number's, a code's)
    number = Decimal(f"{value:.15g}")  # Excel's 15 significant digits: 1.005 is 1.005
    number *= 100 ** sum(kind == "%" for kind, _ in tokens)
    digits = ""
    if runs:
        digits, shows_nonzero = _digits(runs[0], number)
        sign = sign if shows_nonzero else ""
    text = "".join(digits if kind == "digits" else text for kind, text in tokens)
    return sign + text.strip()


def _digits(run: str, number: Decimal) -> tuple[str, bool]:
    """The number by a run of digit placeholders, and whether what it shows is not zero."""
    scaled = len(run) - len(run.rstrip(","))  # commas after the digits: thousands each
    whole, point, fraction = run.rstrip(",").partition(".")
    fraction = fraction.replace(",", "")
    if "." in fraction:
        raise _NotUnderstood
    with localcontext() as context:
        context.prec = 400  # Excel's largest number, 1E+308, in whole digits
        rounded = (number / Decimal(1000) ** scaled).quantize(Decimal(1).scaleb(-len(fraction)), ROUND_HALF_UP)
        integer, _, decimals = f"{rounded:f}".partition(".")
    placeholders = whole.replace(",", "")
    if integer == "0" and "0" not in placeholders:
        integer = ""  # '#.00' shows 0.5 as .50
    integer = integer.rjust(placeholders.count("0"), "0")
    if "," in whole and integer:  # a comma between the digits: thousands separated
        integer = f"{int(integer):,}"
    return integer + point + _trimmed(fraction, decimals), rounded != 0


def _trimmed(placeholders: str, decimals: str) -> str:
    """Trailing zeros in `#` places left out, in `?` places shown as spaces."""
    chars = list(decimals)
    for i in range(len(chars) - 1, -1, -1):
        if chars[i] != "0" or placeholders[i] == "0":
            break
        chars[i] = "" if placeholders[i] == "#" else " "
    return "".join(chars)


def elapsed(value: datetime.timedelta, number_format: str) -> str:
    """An elapsed time as Excel shows it by its format (`[h]:mm:ss`, `[h]:mm`, `[mm]:ss`, `[ss]`):
    its largest unit counts past a day or an hour (26:00:00, not '1 day, 2:00:00'), to the second."""
    seconds = round(value.total_seconds())
    sign, seconds = ("-" if seconds < 0 else ""), abs(seconds)
    section = number_format.split(";", maxsplit=1)[0].lower()
    with_seconds = "s" in section.replace("[s", "")  # seconds after the largest unit
    if "[h" in section:
        hours, rest = divmod(seconds, 3600)
        text = f"{hours}:{rest // 60:02d}" + (f":{rest % 60:02d}" if with_seconds else "")
    elif "[m" in section:
        text = f"{seconds // 60}" + (f":{seconds % 60:02d}" if with_seconds else "")
    elif "[s" in section:
        text = str(seconds)
    else:
        text = f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    return sign + text
