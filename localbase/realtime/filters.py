"""postgres_changes bindings and their filters (`col=op.value`, comma-separated, ANDed).

Filters are evaluated in Python on the JSON row the trigger captured; the filter's text value is
read as the column's JSON type (number, boolean, string), as Realtime casts it to the column type.

A pattern (like, ilike, match, imatch) is the subscriber's own text run against every change of
the table, before RLS decides who sees it: with Python's `re`, `match.^(a+)+$` took a second on a
message of 25 characters and `like.%a%a%a%a%a%a%b` over a minute on one of 3,000, while the gateway's
whole fan-out (every user's streaming answers) waited. So patterns run on the `regex` module with a time limit
(`_PATTERN_SECONDS` per row): a row whose test takes longer does not match. A pattern that does
not compile is a binding error, as any other bad filter.
"""

from __future__ import annotations

import operator
import re
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import regex

EVENTS = ("*", "INSERT", "UPDATE", "DELETE")
_MAX_IN_VALUES = 100
_PATTERN_SECONDS = 0.002
_CONDITION = re.compile(
    r"\s*([^=,\s]+)=(not\.)?(eq|neq|lt|lte|gt|gte|in|like|ilike|is|match|imatch|isdistinct)\.(\([^)]*\)|[^,]*)\s*(,|$)"
)


class BindingError(ValueError):
    """A binding the server cannot honour (reported in the `system` message after join)."""


@dataclass(frozen=True, slots=True)
class Condition:
    column: str
    test: Callable[[Any], bool]


@dataclass(slots=True)
class Binding:
    id: int
    event: str
    schema: str
    table: str | None
    conditions: tuple[Condition, ...]
    select: tuple[str, ...] | None
    spec: dict[str, Any]
    key: str  # equal keys: equal bindings (same event, table, filter and select), hence the same id

    def describe(self) -> str:
        return f"[event: {self.event}, schema: {self.schema}, table: {self.table or '*'}, filters: []]"

    def matches(self, schema: str, table: str, op: str, row: dict[str, Any] | None) -> bool:
        if self.event not in ("*", op):
            return False
        if self.schema not in ("*", schema):
            return False
        if self.table is not None and self.table != table:
            return False
        if not self.conditions:
            return True
        if row is None:
            return False
        return all(c.column in row and c.test(row[c.column]) for c in self.conditions)


def parse_binding(spec: dict[str, Any]) -> Binding:
    """A binding from a join's `postgres_changes` element; its id is a 27-bit hash, as Supabase's."""
    event = str(spec.get("event") or "*").upper()
    if event not in EVENTS:
        raise BindingError(f"invalid event {event}")
    schema = str(spec.get("schema") or "public")
    table = spec.get("table")
    table = None if table in (None, "", "*") else str(table)
    raw_filter = spec.get("filter")
    conditions = parse_filter(str(raw_filter)) if raw_filter else ()
    select = spec.get("select")
    key = sys.intern(f"{event}|{schema}|{table}|{raw_filter}|{select}")
    return Binding(
        id=zlib.crc32(key.encode()) & 0x7FFFFFF,
        event=event,
        schema=schema,
        table=table,
        conditions=conditions,
        select=tuple(str(c) for c in select) if isinstance(select, list) else None,
        spec=spec,
        key=key,
    )


def parse_filter(text: str) -> tuple[Condition, ...]:
    conditions: list[Condition] = []
    position = 0
    while position < len(text):
        match = _CONDITION.match(text, position)
        if match is None:
            raise BindingError(f"invalid filter {text!r}")
        column, negated, op, value, _ = match.groups()
        test = _test(op, value)
        conditions.append(Condition(column, _negate(test) if negated else test))
        position = match.end()
    return tuple(conditions)


def _negate(test: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda v: not test(v)


def _test(op: str, value: str) -> Callable[[Any], bool]:
    if op == "in":
        if not (value.startswith("(") and value.endswith(")")):
            raise BindingError("in filter needs a parenthesised list")
        options = [v.strip().strip('"') for v in value[1:-1].split(",") if v.strip()]
        if len(options) > _MAX_IN_VALUES:
            raise BindingError("too many values in in filter")
        return lambda v: v is not None and any(_equal(v, o) for o in options)
    if op == "is":
        wanted = {"null": None, "true": True, "false": False}.get(value.lower(), "unknown")
        return lambda v: v is wanted if wanted is not None else v is None
    if op in ("like", "ilike"):
        text = "".join(".*" if c in "%*" else "." if c == "_" else regex.escape(c) for c in value)
        return _pattern(text, regex.IGNORECASE if op == "ilike" else 0, whole=True)
    if op in ("match", "imatch"):
        return _pattern(value, regex.IGNORECASE if op == "imatch" else 0, whole=False)
    if op == "isdistinct":
        return lambda v: v is None or not _equal(v, value)
    compare = _COMPARISONS[op]
    return lambda v: v is not None and _compare(compare, _order(v), _order(_coerce(v, value)))


def _pattern(text: str, flags: int, *, whole: bool) -> Callable[[Any], bool]:
    """A pattern test that gives up (no match) after _PATTERN_SECONDS on one value."""
    try:
        pattern = regex.compile(text, flags | regex.DOTALL)
    except (regex.error, ValueError, OverflowError) as exc:
        raise BindingError(f"invalid pattern {text!r}") from exc
    find = pattern.fullmatch if whole else pattern.search

    def test(value: Any) -> bool:
        if not isinstance(value, str):
            return False
        try:
            return find(value, timeout=_PATTERN_SECONDS) is not None
        except TimeoutError:
            return False

    return test


def _coerce(sample: Any, text: str) -> Any:
    """The filter text as the JSON type of the row's value."""
    if isinstance(sample, bool):
        return text.lower() in ("true", "t", "1", "yes", "on")
    if isinstance(sample, int | float):
        try:
            return int(text)
        except ValueError:
            try:
                return float(text)
            except ValueError:
                return text
    return text


def _order(value: Any) -> Any:
    return value if isinstance(value, int | float | str) else str(value)


def _equal(sample: Any, text: str) -> bool:
    coerced = _coerce(sample, text)
    return bool(sample == coerced) if type(coerced) is not str or isinstance(sample, str) else False


_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "neq": operator.ne,
    "lt": operator.lt,
    "lte": operator.le,
    "gt": operator.gt,
    "gte": operator.ge,
}


def _compare(compare: Callable[[Any, Any], bool], value: Any, wanted: Any) -> bool:
    """Values of different JSON types never match (as a failed cast would not)."""
    try:
        return bool(compare(value, wanted))
    except TypeError:
        return False
