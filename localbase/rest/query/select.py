"""The `select` and `order` parameters: columns, aliases, casts, embeds, spreads and sort terms."""

from __future__ import annotations

from localbase.rest.query.text import Cursor, parse_field, read_field, split_dotted, split_top
from localbase.rest.query.tree import AGGREGATES, Column, Embed, Field, OrderTerm, SelectItem, Star, parse_error


def parse_select(text: str) -> tuple[SelectItem, ...]:
    cursor = Cursor(text)
    items = _select_items(cursor)
    if not cursor.done:
        raise parse_error(f'"failed to parse select parameter ({text})"', f"unexpected {text[cursor.pos :]!r}")
    return items


def _select_items(cursor: Cursor) -> tuple[SelectItem, ...]:
    items: list[SelectItem] = []
    while True:
        if cursor.done or cursor.peek(")"):
            break
        items.append(_select_item(cursor))
        if not cursor.take(","):
            break
    return tuple(items) or (Star(),)


def _select_item(cursor: Cursor) -> SelectItem:
    if cursor.take("*"):
        return Star()
    if cursor.take("..."):
        name = cursor.name()
        if not name or not (cursor.peek("!") or cursor.peek("(")):
            raise parse_error(f'"failed to parse select parameter ({cursor.text})"', "a spread needs rel(...)")
        spread = _embed(cursor, name, None)
        return Embed(spread.name, None, spread.hint, spread.inner, spread.items, spread=True)
    start = cursor.pos
    first = cursor.name()
    alias: str | None = None
    if cursor.peek(":") and not cursor.peek("::"):
        cursor.take(":")
        alias = first
        start = cursor.pos
        first = cursor.name()
    if not first:
        raise parse_error(f'"failed to parse select parameter ({cursor.text})"')
    if first == "count" and cursor.take("()"):
        return Column(Field("*"), alias, _cast(cursor), "count")
    if cursor.peek("!") or cursor.peek("("):
        return _embed(cursor, first, alias)
    cursor.pos = start
    field = read_field(cursor)
    cast = _cast(cursor)
    if cursor.take("."):
        function = cursor.name()
        if function not in AGGREGATES or not cursor.take("()"):
            raise parse_error(f'"failed to parse select parameter ({cursor.text})"', f"unknown aggregate {function!r}")
        return Column(field, alias, _cast(cursor), function, cast)
    if cursor.peek("("):
        raise parse_error(f'"failed to parse select parameter ({cursor.text})"')
    return Column(field, alias, cast)


def _cast(cursor: Cursor) -> str | None:
    if not cursor.take("::"):
        return None
    cast = cursor.name()
    if not cast:
        raise parse_error(f"failed to parse cast in ({cursor.text})")
    return cast


def _embed(cursor: Cursor, name: str, alias: str | None) -> Embed:
    hint: str | None = None
    inner = False
    while cursor.take("!"):
        word = cursor.name()
        if word == "inner":
            inner = True
        elif word == "left":
            inner = False
        elif word:
            hint = word
        else:
            raise parse_error(f"failed to parse embed hint in ({cursor.text})")
    if not cursor.take("("):
        raise parse_error(f"expected ( after {name} in ({cursor.text})")
    # `rel()` selects nothing: an embed only to filter on (PostgREST's empty embed).
    items = () if cursor.peek(")") else _select_items(cursor)
    if not cursor.take(")"):
        raise parse_error(f"unclosed ( in ({cursor.text})")
    return Embed(name, alias, hint, inner, items)


# --- order --------------------------------------------------------------------------------------


def parse_order(text: str) -> tuple[OrderTerm, ...]:
    terms: list[OrderTerm] = []
    for term in split_top(text, ","):
        relation: str | None = None
        part = term
        cursor = Cursor(term)
        head = cursor.name()
        if head and cursor.take("("):
            close = term.find(")", cursor.pos)
            if close < 0:
                raise parse_error(f"failed to parse order ({text})", "unclosed (")
            relation, part = head, term[cursor.pos : close] + term[close + 1 :]
        pieces = split_dotted(part, keep_arrows=True)
        field = parse_field(pieces[0]) if pieces[0] else None
        if field is None:
            raise parse_error(f"failed to parse order ({text})")
        desc = False
        nulls: str | None = None
        for modifier in pieces[1:]:
            if modifier in ("asc", "desc"):
                desc = modifier == "desc"
            elif modifier in ("nullsfirst", "nullslast"):
                nulls = modifier[5:]
            else:
                raise parse_error(f"failed to parse order ({text})", f"unexpected {modifier!r}")
        terms.append(OrderTerm(field, desc, nulls, relation))
    return tuple(terms)
