"""PostgREST's query-string grammar, parsed into a small AST with no database knowledge.

Parsing happens in two steps so the hot path can skip it. `scan` splits the query string into a
*shape* (every key, every operator, every select/order/logic text, but no simple filter values)
and the list of those values; the shape is hashable and identical for requests that differ only
in values. `parse(shape)` turns a shape into the AST, where a value is a `Slot` (an index into
the values list) or, inside logic trees, the literal text. A compiled plan is therefore cacheable
by shape, and each request only binds its values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from localbase.rest.errors import RestError

RESERVED = frozenset({"select", "order", "limit", "offset", "on_conflict", "columns", "or", "and", "not.or", "not.and"})
_TEXT_PARAMS = frozenset({"select", "order", "on_conflict", "columns"})
_LOGIC = ("or", "and", "not.or", "not.and")
_PAGING = ("limit", "offset")

OPERATORS = frozenset(
    {
        "eq", "neq", "gt", "gte", "lt", "lte", "like", "ilike", "match", "imatch", "is", "isdistinct", "in",
        "cs", "cd", "ov", "sl", "sr", "nxr", "nxl", "adj", "fts", "plfts", "phfts", "wfts",
    }
)  # fmt: skip
QUANTIFIABLE = frozenset({"eq", "neq", "gt", "gte", "lt", "lte", "like", "ilike", "match", "imatch"})
FTS = frozenset({"fts", "plfts", "phfts", "wfts"})
IS_VALUES = frozenset({"null", "not_null", "true", "false", "unknown"})

_OPERATOR_PREFIX = re.compile(r"(not\.)?([a-z]+)(?:\((any|all)\)|\(([^()]*)\))?\.")

Shape = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Slot:
    """A value taken from the request's values list at `index`."""

    index: int


Value = Slot | str


@dataclass(frozen=True, slots=True)
class Field:
    """A column, optionally followed by a JSON path: `data->a->>b` is ("data", (("->","a"),("->>","b")))."""

    name: str
    path: tuple[tuple[str, str], ...] = ()

    @property
    def output_name(self) -> str:
        return self.path[-1][1] if self.path else self.name


@dataclass(frozen=True, slots=True)
class Column:
    field: Field
    alias: str | None = None
    cast: str | None = None


@dataclass(frozen=True, slots=True)
class Star:
    pass


@dataclass(frozen=True, slots=True)
class Embed:
    name: str
    alias: str | None
    hint: str | None
    inner: bool
    items: tuple[SelectItem, ...]
    spread: bool = False  # `...rel(cols)`: a to-one relation's columns merged into the parent

    @property
    def key(self) -> str:
        return self.alias or self.name


SelectItem = Column | Star | Embed


@dataclass(frozen=True, slots=True)
class Filter:
    field: Field
    op: str
    value: Value
    negate: bool = False
    quantifier: str | None = None  # "any" | "all"
    config: str | None = None  # text-search configuration for the fts family


@dataclass(frozen=True, slots=True)
class Logic:
    op: str  # "and" | "or"
    items: tuple[Condition, ...]
    negate: bool = False


Condition = Filter | Logic


@dataclass(frozen=True, slots=True)
class OrderTerm:
    field: Field
    desc: bool = False
    nulls: str | None = None  # "first" | "last"
    relation: str | None = None  # `rel(col)`: a column of a to-one related row


EmbedPath = tuple[str, ...]


@dataclass
class Query:
    """Everything a request's query string says, grouped by the embed it applies to (() = root)."""

    select: tuple[SelectItem, ...] = (Star(),)
    conditions: dict[EmbedPath, list[Condition]] = field(default_factory=dict)
    order: dict[EmbedPath, tuple[OrderTerm, ...]] = field(default_factory=dict)
    limit: dict[EmbedPath, Slot] = field(default_factory=dict)
    offset: dict[EmbedPath, Slot] = field(default_factory=dict)
    on_conflict: tuple[str, ...] | None = None
    columns: tuple[str, ...] | None = None
    args: dict[str, tuple[str, Slot | None]] = field(default_factory=dict)  # name -> (leading text, rest)


def parse_error(message: str, details: str | None = None) -> RestError:
    return RestError(400, "PGRST100", message, details)


# --- step 1: shape and values --------------------------------------------------------------------


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
            match = _OPERATOR_PREFIX.match(value)
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


def parse(shape: Shape, arg_names: frozenset[str] = frozenset()) -> Query:
    """Build the AST; keys in `arg_names` are RPC arguments rather than filters."""
    query = Query()
    slot = 0
    for key, text in shape:
        if key == "select":
            query.select = parse_select(text)
        elif key == "on_conflict":
            query.on_conflict = _name_list(text, "on_conflict")
        elif key == "columns":
            query.columns = _name_list(text, "columns")
        elif key == "order" or key.endswith(".order"):
            query.order[_embed_path(key, "order")] = parse_order(text)
        elif _is_logic_key(key):
            negate, op, path = _logic_key(key)
            tree = Logic(op, _parse_logic_items(text), negate)
            query.conditions.setdefault(path, []).append(tree)
        elif key.rsplit(".", 1)[-1] in _PAGING and text == "\x00":
            kind = key.rsplit(".", 1)[-1]
            target = query.limit if kind == "limit" else query.offset
            target[_embed_path(key, kind)] = Slot(slot)
            slot += 1
        elif key in arg_names:
            # An argument whose value happened to look like `op.x` was split by `scan`; rejoin it.
            if text.endswith("\x00"):
                query.args[key] = (text[:-1], Slot(slot))
                slot += 1
            else:
                query.args[key] = (text, None)
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
    return tuple(_split_dotted(key[: -len(suffix) - 1]))


def _logic_key(key: str) -> tuple[bool, str, EmbedPath]:
    parts = _split_dotted(key)
    op = parts.pop()
    negate = bool(parts) and parts[-1] == "not"
    if negate:
        parts.pop()
    return negate, op, tuple(parts)


def _split_filter_key(key: str) -> tuple[EmbedPath, Field]:
    """`embed.sub.col->x` -> (("embed","sub"), Field("col", ...)); quoted names may hold dots."""
    parts = _split_dotted(key, keep_arrows=True)
    if not parts or not parts[-1]:
        raise parse_error(f'"failed to parse filter ({key})"')
    return tuple(parts[:-1]), parse_field(parts[-1])


def _split_dotted(text: str, keep_arrows: bool = False) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
            current.append(char)
        elif char == "." and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    if keep_arrows:
        return parts
    return [_unquote_name(part) for part in parts]


def _unquote_name(text: str) -> str:
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        return text[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return text


def _name_list(text: str, what: str) -> tuple[str, ...]:
    names = tuple(_unquote_name(part) for part in _split_top(text, ","))
    if not names or any(not name for name in names):
        raise parse_error(f"failed to parse {what} parameter ({text})")
    return names


# --- fields -------------------------------------------------------------------------------------


class _Cursor:
    """A position in a text being parsed by hand."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def peek(self, literal: str) -> bool:
        return self.text.startswith(literal, self.pos)

    def take(self, literal: str) -> bool:
        if self.peek(literal):
            self.pos += len(literal)
            return True
        return False

    @property
    def done(self) -> bool:
        return self.pos >= len(self.text)

    def name(self) -> str:
        """An identifier: double-quoted, or a run of characters that are not syntax."""
        if self.take('"'):
            out: list[str] = []
            while not self.done:
                char = self.text[self.pos]
                if char == "\\" and self.pos + 1 < len(self.text):
                    out.append(self.text[self.pos + 1])
                    self.pos += 2
                    continue
                self.pos += 1
                if char == '"':
                    return "".join(out)
                out.append(char)
            raise parse_error(f"unclosed quote in ({self.text})")
        start = self.pos
        while not self.done:
            char = self.text[self.pos]
            if char in ',.:()!"' or char.isspace() or (char == "-" and self.peek("->")):
                break
            self.pos += 1
        return self.text[start : self.pos]


def parse_field(text: str) -> Field:
    cursor = _Cursor(text)
    field = _field(cursor)
    if not cursor.done:
        raise parse_error(f"failed to parse field ({text})", f"unexpected {text[cursor.pos :]!r}")
    return field


def _field(cursor: _Cursor) -> Field:
    name = cursor.name()
    if not name:
        raise parse_error(f"failed to parse field ({cursor.text})")
    path: list[tuple[str, str]] = []
    while True:
        if cursor.take("->>"):
            arrow = "->>"
        elif cursor.take("->"):
            arrow = "->"
        else:
            break
        key = cursor.name()
        if not key:
            raise parse_error(f"failed to parse JSON path ({cursor.text})")
        path.append((arrow, key))
    return Field(name, tuple(path))


# --- select -------------------------------------------------------------------------------------


def parse_select(text: str) -> tuple[SelectItem, ...]:
    cursor = _Cursor(text)
    items = _select_items(cursor)
    if not cursor.done:
        raise parse_error(f'"failed to parse select parameter ({text})"', f"unexpected {text[cursor.pos :]!r}")
    return items


def _select_items(cursor: _Cursor) -> tuple[SelectItem, ...]:
    items: list[SelectItem] = []
    while True:
        if cursor.done or cursor.peek(")"):
            break
        items.append(_select_item(cursor))
        if not cursor.take(","):
            break
    return tuple(items) or (Star(),)


def _select_item(cursor: _Cursor) -> SelectItem:
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
    if first == "count" and cursor.peek("()"):
        raise _aggregates_disabled()
    if cursor.peek("!") or cursor.peek("("):
        return _embed(cursor, first, alias)
    cursor.pos = start
    field = _field(cursor)
    if cursor.peek("(") or cursor.peek("."):
        raise _aggregates_disabled()
    cast = None
    if cursor.take("::"):
        cast = cursor.name()
        if not cast:
            raise parse_error(f"failed to parse cast in ({cursor.text})")
    return Column(field, alias, cast)


def _aggregates_disabled() -> RestError:
    return RestError(400, "PGRST123", "Use of aggregate functions is not allowed")


def _embed(cursor: _Cursor, name: str, alias: str | None) -> Embed:
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
    items = _select_items(cursor)
    if not cursor.take(")"):
        raise parse_error(f"unclosed ( in ({cursor.text})")
    return Embed(name, alias, hint, inner, items)


# --- order --------------------------------------------------------------------------------------


def parse_order(text: str) -> tuple[OrderTerm, ...]:
    terms: list[OrderTerm] = []
    for term in _split_top(text, ","):
        relation: str | None = None
        part = term
        cursor = _Cursor(term)
        head = cursor.name()
        if head and cursor.take("("):
            close = term.find(")", cursor.pos)
            if close < 0:
                raise parse_error(f"failed to parse order ({text})", "unclosed (")
            relation, part = head, term[cursor.pos : close] + term[close + 1 :]
        pieces = _split_dotted(part, keep_arrows=True)
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


# --- filters ------------------------------------------------------------------------------------


def parse_filter(field: Field, operator_text: str, value: Slot | None) -> Filter:
    """`operator_text` is `[not.]op[(any|all)|(config)].` when `value` is a slot, else the whole `is.x`."""
    negate = operator_text.startswith("not.")
    rest = operator_text[4:] if negate else operator_text
    match = _OPERATOR_PREFIX.fullmatch(rest) if value is not None else _OPERATOR_PREFIX.match(rest)
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
    if op == "is" and literal not in IS_VALUES:
        raise parse_error(f'"failed to parse filter (is.{literal})"', "is takes null, not_null, true, false or unknown")
    return Filter(field, op, literal, negate, quantifier, config)


def _parse_logic_items(text: str) -> tuple[Condition, ...]:
    if not (text.startswith("(") and text.endswith(")")):
        raise parse_error(f'"failed to parse logic tree ({text})"', "expected (...)")
    items: list[Condition] = []
    for part in _split_top(text[1:-1], ","):
        items.append(_logic_item(part))
    if not items:
        raise parse_error(f'"failed to parse logic tree ({text})"')
    return tuple(items)


def _logic_item(text: str) -> Condition:
    negate = text.startswith("not.")
    body = text[4:] if negate else text
    for op in ("and", "or"):
        if body.startswith(op + "("):
            return Logic(op, _parse_logic_items(body[len(op) :]), negate)
    # col.op.value: the column ends at the first dot outside quotes.
    pieces = _split_dotted(text, keep_arrows=True)
    if len(pieces) < 3:
        raise parse_error(f'"failed to parse logic tree ({text})"')
    field = parse_field(pieces[0])
    rest = text[len(pieces[0]) + 1 :]
    negate = rest.startswith("not.")
    operator_rest = rest[4:] if negate else rest
    match = _OPERATOR_PREFIX.match(operator_rest)
    if match is None or match.group(1) or match.group(2) not in OPERATORS:
        raise parse_error(f'"failed to parse logic tree ({text})"')
    raw = _unquote_value(operator_rest[match.end() :])
    prefix = ("not." if negate else "") + operator_rest[: match.end()]
    filter_ = (
        parse_filter(field, prefix + raw, None) if match.group(2) == "is" else parse_filter(field, prefix, Slot(0))
    )
    if match.group(2) == "is":
        return filter_
    return Filter(field, filter_.op, raw, filter_.negate, filter_.quantifier, filter_.config)


def _unquote_value(text: str) -> str:
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        return re.sub(r"\\(.)", r"\1", text[1:-1])
    return text


def _split_top(text: str, sep: str) -> list[str]:
    """Split on `sep` outside double quotes, parentheses and braces."""
    parts: list[str] = []
    depth = 0
    quoted = False
    start = 0
    i = 0
    while i < len(text):
        char = text[i]
        if quoted:
            if char == "\\":
                i += 1
            elif char == '"':
                quoted = False
        elif char == '"':
            quoted = True
        elif char in "({[":
            depth += 1
        elif char in ")}]":
            depth -= 1
        elif char == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    if quoted or depth != 0:
        raise parse_error(f'"failed to parse ({text})"', "unbalanced quotes or brackets")
    parts.append(text[start:])
    return [part for part in parts if part != ""]


def parse_list(text: str) -> list[str]:
    """The `in` operator's `(a,b,"c,d")` list; double-quoted items may escape with backslashes."""
    if not (text.startswith("(") and text.endswith(")")):
        raise parse_error(f'"failed to parse filter (in.{text})"', "in expects (a,b,...)")
    return [_unquote_value(part) for part in _split_top(text[1:-1], ",")]
