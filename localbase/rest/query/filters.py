"""Filters: `[not.]op[(any|all)|(config)].value`, logic trees `or=(...)` and `in` lists."""

from __future__ import annotations

from localbase.rest.query.text import OPERATOR_PREFIX, parse_field, split_dotted, split_top, unquote_value
from localbase.rest.query.tree import (
    FTS,
    IS_VALUES,
    OPERATORS,
    QUANTIFIABLE,
    Condition,
    Field,
    Filter,
    Logic,
    Slot,
    Value,
    parse_error,
)


def parse_filter(field: Field, operator_text: str, value: Slot | None) -> Filter:
    """`operator_text` is `[not.]op[(any|all)|(config)].` when `value` is a slot, else the whole `is.x`."""
    negate = operator_text.startswith("not.")
    rest = operator_text[4:] if negate else operator_text
    match = OPERATOR_PREFIX.fullmatch(rest) if value is not None else OPERATOR_PREFIX.match(rest)
    if match is None or match.group(1) or match.group(2) not in OPERATORS:
        raise parse_error(f'"failed to parse filter ({operator_text.rstrip(chr(0))})"')
    op, quantifier, config = match.group(2), match.group(3), match.group(4)
    if quantifier and op not in QUANTIFIABLE:
        raise parse_error(f"operator {op} does not take (any)/(all)")
    if config is not None and op not in FTS:
        raise parse_error(f"operator {op} does not take a configuration")
    literal: Value
    if value is None:
        literal = rest[match.end() :]
        if op != "is":
            raise parse_error(f'"failed to parse filter ({operator_text})"')
    else:
        literal = value
    if op == "is" and isinstance(literal, str):
        literal = literal.lower()  # PostgREST reads is.NULL, is.True... (`ciString`)
    if op == "is" and literal not in IS_VALUES:
        raise parse_error(f'"failed to parse filter (is.{literal})"', "is takes null, not_null, true, false or unknown")
    return Filter(field, op, literal, negate, quantifier, config)


def parse_logic_items(text: str) -> tuple[Condition, ...]:
    if not (text.startswith("(") and text.endswith(")")):
        raise parse_error(f'"failed to parse logic tree ({text})"', "expected (...)")
    items: list[Condition] = []
    for part in split_top(text[1:-1], ","):
        items.append(_logic_item(part))
    if not items:
        raise parse_error(f'"failed to parse logic tree ({text})"')
    return tuple(items)


def _logic_item(text: str) -> Condition:
    negate = text.startswith("not.")
    body = text[4:] if negate else text
    for op in ("and", "or"):
        if body.startswith(op + "("):
            return Logic(op, parse_logic_items(body[len(op) :]), negate)
    # col.op.value: the column ends at the first dot outside quotes.
    pieces = split_dotted(text, keep_arrows=True)
    if len(pieces) < 3:
        raise parse_error(f'"failed to parse logic tree ({text})"')
    field = parse_field(pieces[0])
    rest = text[len(pieces[0]) + 1 :]
    negate = rest.startswith("not.")
    operator_rest = rest[4:] if negate else rest
    match = OPERATOR_PREFIX.match(operator_rest)
    if match is None or match.group(1) or match.group(2) not in OPERATORS:
        raise parse_error(f'"failed to parse logic tree ({text})"')
    raw = unquote_value(operator_rest[match.end() :])
    prefix = ("not." if negate else "") + operator_rest[: match.end()]
    filter_ = (
        parse_filter(field, prefix + raw, None) if match.group(2) == "is" else parse_filter(field, prefix, Slot(0))
    )
    if match.group(2) == "is":
        return filter_
    return Filter(field, filter_.op, raw, filter_.negate, filter_.quantifier, filter_.config)


def parse_list(text: str) -> list[str]:
    """The `in` operator's `(a,b,"c,d")` list, read as PostgREST's `pListVal` reads it.

    An item runs to the next `,` or `)` and may be empty (the empty string); it is a quoted value
    (`"c,d"`, backslash escapes) only when the closing quote ends it, else its quotes are
    characters of it (`5" screen`). `()` and `("")` are the empty list, which matches nothing.
    """
    pos = _blanks(text, 0)
    if not text.startswith("(", pos):
        raise parse_error(f'"failed to parse filter (in.{text})"', "in expects (a,b,...)")
    items: list[str] = []
    pos = _blanks(text, pos + 1)
    while True:
        item, pos = _list_item(text, pos)
        items.append(item)
        if not text.startswith(",", pos):
            break
        pos += 1
    if not text.startswith(")", _blanks(text, pos)):
        raise parse_error(f'"failed to parse filter (in.{text})"', "in expects (a,b,...)")
    return [] if items == [""] else items


def _blanks(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t":
        pos += 1
    return pos


def _list_item(text: str, pos: int) -> tuple[str, int]:
    if text.startswith('"', pos):
        out: list[str] = []
        end = pos + 1
        while end < len(text) and text[end] != '"':
            if text[end] == "\\" and end + 1 < len(text):
                end += 1
            out.append(text[end])
            end += 1
        if end < len(text) and (end + 1 == len(text) or text[end + 1] in ",)"):
            return "".join(out), end + 1
    end = pos
    while end < len(text) and text[end] not in ",)":
        end += 1
    return text[pos:end], end
