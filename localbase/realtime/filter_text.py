"""A postgres_changes filter's text read as Realtime reads it (Extensions.PostgresCdcRls.Subscriptions
parse_filters): conditions split at top-level commas, a value double-quoted when it holds `,()"\\`
or blanks at either end (realtime-js's filter builder quotes exactly those), `\\` escaping inside
quotes; an `in` list is a Postgres array literal between parentheses. A LIKE pattern is Postgres's:
`%` and `_` are wildcards, `\\` escapes the next character, everything else (`*` too) is itself.
"""

from __future__ import annotations

import regex


class BindingError(ValueError):
    """A binding the server cannot honour (reported in the `system` message after join)."""


OPERATORS = frozenset(
    {"eq", "neq", "lt", "lte", "gt", "gte", "in", "like", "ilike", "is", "match", "imatch", "isdistinct"}
)


def segments(text: str) -> list[str]:
    """The filter's conditions: split at commas outside parentheses and quotes. A quote opens only
    after `.`, `(` or `,` (a value's or an element's first character), as Realtime's splitter."""
    parts: list[str] = []
    current: list[str] = []
    depth, quoted, previous, index = 0, False, "", 0
    while index < len(text):
        char = text[index]
        if quoted:
            if char == "\\" and index + 1 < len(text):
                current.append(text[index : index + 2])
                index += 2
                previous = text[index - 1]
                continue
            quoted = char != '"'
        elif char == '"' and previous in (".", "(", ","):
            quoted = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth = max(0, depth - 1)
        elif char == "," and depth == 0:
            parts.append("".join(current))
            current, previous, index = [], "", index + 1
            continue
        current.append(char)
        previous = char
        index += 1
    parts.append("".join(current))
    return parts


def condition(segment: str) -> tuple[str, bool, str, str]:
    """(column, negated, operator, value) of one condition `col=[not.]op.value`; a quoted value is
    unquoted, an `in` list is kept whole (see `in_values`)."""
    trimmed = segment.strip()
    if not trimmed:
        raise BindingError("filter must not contain empty segments (check for extra commas)")
    column, equals, rest = trimmed.partition("=")
    negated = rest.startswith("not.")
    op, dot, value = rest.removeprefix("not.").partition(".")
    if not equals or not dot or op not in OPERATORS:
        raise BindingError(f"Error parsing `filter` params: {trimmed!r}")
    if op == "in":
        if len(value) < 2 or not (value.startswith("(") and value.endswith(")")):
            raise BindingError("`in` filter value must be wrapped by parentheses")
        return column, negated, op, value
    return column, negated, op, unquote(value)


def unquote(value: str) -> str:
    """A value in double quotes without them (`\\x` is x); anything else, or a quote that does not
    close at the end, as it is."""
    if not value.startswith('"'):
        return value
    out: list[str] = []
    index = 1
    while index < len(value):
        char = value[index]
        if char == "\\" and index + 1 < len(value):
            out.append(value[index + 1])
            index += 2
        elif char == '"':
            return "".join(out) if index == len(value) - 1 else value
        else:
            out.append(char)
            index += 1
    return value


def in_values(listed: str) -> list[str | None]:
    """The elements of `(a,"b,c",NULL)` as the Postgres array literal `{a,"b,c",NULL}` holds them:
    quoted ones unquoted (`\\` escapes), unquoted ones trimmed, an unquoted NULL is None."""
    inner, values, index = listed[1:-1], [], 0
    if not inner.strip():
        return []
    while True:
        while index < len(inner) and inner[index] in " \t\n":
            index += 1
        if index < len(inner) and inner[index] == '"':
            out: list[str] = []
            index += 1
            while index < len(inner) and inner[index] != '"':
                if inner[index] == "\\":
                    index += 1
                if index < len(inner):
                    out.append(inner[index])
                    index += 1
            if index >= len(inner):
                raise BindingError(f"malformed array literal: {listed!r}")
            index += 1
            element: str | None = "".join(out)
            while index < len(inner) and inner[index] in " \t\n":
                index += 1
        else:
            end = inner.find(",", index)
            end = len(inner) if end < 0 else end
            raw = inner[index:end].strip()
            if not raw or '"' in raw:
                raise BindingError(f"malformed array literal: {listed!r}")
            element = None if raw.upper() == "NULL" else raw
            index = end
        values.append(element)
        if index >= len(inner):
            return values
        if inner[index] != ",":
            raise BindingError(f"malformed array literal: {listed!r}")
        index += 1


def like_regex(pattern: str) -> str:
    """A LIKE pattern as a regular expression matching the whole value."""
    out: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            if index + 1 == len(pattern):
                raise BindingError("LIKE pattern must not end with escape character")
            out.append(regex.escape(pattern[index + 1]))
            index += 2
            continue
        out.append(".*" if char == "%" else "." if char == "_" else regex.escape(char))
        index += 1
    return "".join(out)
