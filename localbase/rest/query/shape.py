"""PostgREST's query-string grammar, parsed into a small AST with no database knowledge.

Parsing happens in two steps so the hot path can skip it. `scan` splits the query string into a
*shape* (every key, every operator, every select/order/logic text, but no simple filter values)
and the list of those values; the shape is hashable and identical for requests that differ only
in values. `parse(shape)` turns a shape into the AST, where a value is a `Slot` (an index into
the values list) or, inside logic trees, the literal text. A compiled plan is therefore cacheable
by shape, and each request only binds its values.
"""

from __future__ import annotations

from localbase.rest.query.filters import parse_filter, parse_logic_items
from localbase.rest.query.select import parse_order, parse_select
from localbase.rest.query.text import OPERATOR_PREFIX, name_list, parse_field, split_dotted
from localbase.rest.query.tree import OPERATORS, EmbedPath, Field, Logic, Query, Shape, Slot, parse_error

RESERVED = frozenset({"select", "order", "limit", "offset", "on_conflict", "columns", "or", "and", "not.or", "not.and"})
_TEXT_PARAMS = frozenset({"select", "order", "on_conflict", "columns"})
_LOGIC = ("or", "and", "not.or", "not.and")
_PAGING = ("limit", "offset")


def scan(items: list[tuple[str, str]]) -> tuple[Shape, list[str]]:
    """Split query parameters into a value-free shape and the values, in slot order."""
    shape: list[tuple[str, str]] = []
    values: list[str] = []
    for key, value in items:
        last = key.rsplit(".", 1)[-1]
        if key in _TEXT_PARAMS or key.endswith(".order") or _is_logic_key(key):
            shape.append((key, value))
        elif last in _PAGING:
            shape.append((key, "\x00"))
            values.append(value)
        else:
            match = OPERATOR_PREFIX.match(value)
            if match is not None and match.group(2) == "is":
                shape.append((key, value))  # `is` takes keywords, which shape the SQL
            elif match is None or match.group(2) not in OPERATORS:
                shape.append((key, "\x00"))  # an RPC argument, or a bad filter that `parse` reports
                values.append(value)
            else:
                shape.append((key, value[: match.end()] + "\x00"))
                values.append(value[match.end() :])
    return tuple(shape), values


def _is_logic_key(key: str) -> bool:
    return key in _LOGIC or key.endswith((".or", ".and"))


# --- step 2: shape -> AST -----------------------------------------------------------------------


def parse(shape: Shape, rpc: bool = False) -> Query:
    """Build the AST; for a function read (`rpc`), a parameter whose value is not `op.value` is an
    argument, as in PostgREST (`?a=1` passes `a`; `?a=eq.1` filters the result)."""
    query = Query()
    slot = 0
    for key, text in shape:
        if key == "select":
            query.select = parse_select(text)
        elif key == "on_conflict":
            query.on_conflict = name_list(text, "on_conflict")
        elif key == "columns":
            query.columns = name_list(text, "columns")
        elif key == "order" or key.endswith(".order"):
            query.order[_embed_path(key, "order")] = parse_order(text)
        elif _is_logic_key(key):
            negate, op, path = _logic_key(key)
            tree = Logic(op, parse_logic_items(text), negate)
            query.conditions.setdefault(path, []).append(tree)
        elif key.rsplit(".", 1)[-1] in _PAGING and text == "\x00":
            kind = key.rsplit(".", 1)[-1]
            target = query.limit if kind == "limit" else query.offset
            target[_embed_path(key, kind)] = Slot(slot)
            slot += 1
        elif rpc and text == "\x00":
            query.args[key] = Slot(slot)
            slot += 1
        else:
            path, column = _split_filter_key(key)
            if text.endswith("\x00"):
                condition = parse_filter(column, text[:-1], Slot(slot))
                slot += 1
            else:
                condition = parse_filter(column, text, None)
            query.conditions.setdefault(path, []).append(condition)
    return query


def _embed_path(key: str, suffix: str) -> EmbedPath:
    if key == suffix:
        return ()
    return tuple(split_dotted(key[: -len(suffix) - 1]))


def _logic_key(key: str) -> tuple[bool, str, EmbedPath]:
    parts = split_dotted(key)
    op = parts.pop()
    negate = bool(parts) and parts[-1] == "not"
    if negate:
        parts.pop()
    return negate, op, tuple(parts)


def _split_filter_key(key: str) -> tuple[EmbedPath, Field]:
    """`embed.sub.col->x` -> (("embed","sub"), Field("col", ...)); quoted names may hold dots."""
    parts = split_dotted(key, keep_arrows=True)
    if not parts or not parts[-1]:
        raise parse_error(f'"failed to parse filter ({key})"')
    return tuple(parts[:-1]), parse_field(parts[-1])
