"""postgres_changes bindings and their filters (`col=op.value`, comma-separated, ANDed).

Filters are evaluated in Python on the JSON row the trigger captured; the filter's text value is
read as the column's JSON type (number, boolean, string), as Realtime casts it to the column type.

A pattern (like, ilike, match, imatch) is the subscriber's own text run against every change of
the table, before RLS decides who sees it: with Python's `re`, `match.^(a+)+$` took a second on a
message of 25 characters and `like.%a%a%a%a%a%a%b` over a minute on one of 3,000, while the gateway's
whole fan-out (every user's streaming answers) waited. So patterns run on the `regex` module with a time limit
(`_PATTERN_SECONDS` per row): a row whose test takes longer does not match. A pattern that does
not compile is a binding error, as any other bad filter.

Compiling is the other cost, and `regex` has no time limit for it: it expands counted repeats, so
one join frame's `match.a{2000000}` held the event loop (every socket, and Auth, REST and Storage
behind the same gateway) for ~1 s and kept half a gigabyte. So a pattern is measured before it is
compiled (`measure`): at most `MAX_PATTERN_LENGTH` characters (a literal's search tables cost the
cube of its length, lazily, at its first search), repeat counts at most `MAX_REPEAT` (255, Postgres's
own limit: `a{256}` is an invalid regular expression there), and its size with every counted repeat
expanded, nested ones multiplied, at most what is left of the join's `PATTERN_BUDGET` (a few
milliseconds and megabytes of compiling per join). Verbose (`x`) and version 1 (`V1`) patterns are
refused: their comments and nested sets would be read differently here than by `regex`.
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

from localbase.realtime import filter_text
from localbase.realtime.filter_text import BindingError

EVENTS = ("*", "INSERT", "UPDATE", "DELETE")
_MAX_IN_VALUES = 100
_PATTERN_SECONDS = 0.002
MAX_PATTERN_LENGTH = 256
MAX_REPEAT = 255
PATTERN_BUDGET = 2_000
_REPEAT = re.compile(r"\{(\d*)(,?)(\d*)\}")
_POSIX_CLASS = re.compile(r"\[:\^?\w+:\]")
_FLAGS = re.compile(r"\(\?([-abefiLmprsuwxV01]+)[:)]")
_GROUP_HEADER = re.compile(r"\(\?(?:[:=!>|]|<[=!]|P?<\w+>|[-a-zA-Z]*:)")
_BRACED_ESCAPES = frozenset("pPN")


class PatternBudget:
    """What one join's patterns may still cost to compile, in `measure`'s units."""

    __slots__ = ("left",)

    def __init__(self, units: int = PATTERN_BUDGET) -> None:
        self.left = units

    def spend(self, text: str) -> None:
        """Take `text`'s size, or refuse it (BindingError) before it is compiled."""
        size = measure(text)
        if size > self.left:
            raise BindingError(f"pattern too large: {text[:40]!r} expands to {size} (left in this join: {self.left})")
        self.left -= size


@dataclass(frozen=True, slots=True)
class Condition:
    column: str
    test: Callable[[Any], bool]
    op: str = "eq"  # the operator and its text as sent, for the check against the table (bindcheck.py)
    value: str = ""


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


def parse_binding(spec: dict[str, Any], budget: PatternBudget | None = None) -> Binding:
    """A binding from a join's `postgres_changes` element; its id is a 27-bit hash, as Supabase's.
    Its patterns are paid for from `budget` (the join's), else from a budget of their own."""
    event = str(spec.get("event") or "*").upper()
    if event not in EVENTS:
        raise BindingError(f"invalid event {event}")
    schema = str(spec.get("schema") or "public")
    table = spec.get("table")
    table = None if table in (None, "", "*") else str(table)
    raw_filter = spec.get("filter")
    conditions = parse_filter(str(raw_filter), budget or PatternBudget()) if raw_filter else ()
    select = spec.get("select")
    if select and (table is None or schema == "*"):
        raise BindingError("Column selection is not supported for wildcard subscriptions")
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


def parse_filter(text: str, budget: PatternBudget) -> tuple[Condition, ...]:
    """The filter's conditions, read as Realtime reads them (filter_text.py)."""
    conditions: list[Condition] = []
    if not text.strip():
        return ()
    for segment in filter_text.segments(text):
        column, negated, op, value = filter_text.condition(segment)
        test = _test(op, value, budget)
        conditions.append(Condition(column, _negate(test) if negated else test, op, value))
    return tuple(conditions)


def _negate(test: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda v: not test(v)


def _test(op: str, value: str, budget: PatternBudget) -> Callable[[Any], bool]:
    if op == "in":
        options = [o for o in filter_text.in_values(value) if o is not None]  # `= any`: NULL never equals
        if len(options) > _MAX_IN_VALUES:
            raise BindingError("too many values for `in` filter. Maximum 100")
        return lambda v: v is not None and any(_equal(v, o) for o in options)
    if op == "is":
        wanted = {"null": None, "true": True, "false": False}.get(value.lower(), "unknown")
        return lambda v: v is wanted if wanted is not None else v is None
    if op in ("like", "ilike"):
        if len(value) > MAX_PATTERN_LENGTH:
            raise BindingError(f"pattern longer than {MAX_PATTERN_LENGTH} characters")
        text = filter_text.like_regex(value)
        budget.spend(text)
        return _pattern(text, regex.IGNORECASE if op == "ilike" else 0, whole=True)
    if op in ("match", "imatch"):
        budget.spend(value)
        return _pattern(value, regex.IGNORECASE if op == "imatch" else 0, whole=False)
    if op == "isdistinct":
        return lambda v: v is None or not _equal(v, value)
    compare = _COMPARISONS[op]
    return lambda v: v is not None and _compare(compare, _order(v), _order(_coerce(v, value)))


def measure(text: str) -> int:
    """The size of pattern `text` as compiling it costs: its atoms with every counted repeat
    expanded (nested ones multiplied, alternatives added), and never less than its length.

    BindingError for a pattern refused before compiling: longer than MAX_PATTERN_LENGTH, a repeat
    count above MAX_REPEAT, verbose or version 1. The reading errs on the large side (a `{n}` this
    does not take for a repeat is still held to MAX_REPEAT); what it cannot place is left to
    `regex`, which refuses such a pattern anyway.
    """
    if len(text) > MAX_PATTERN_LENGTH:
        raise BindingError(f"pattern longer than {MAX_PATTERN_LENGTH} characters")
    flags = next((m.group(1) for m in _FLAGS.finditer(text) if "x" in m.group(1) or "V1" in m.group(1)), None)
    if flags is not None:
        raise BindingError(f"pattern flags {flags!r}: verbose and version 1 patterns are not supported")
    for bound in _REPEAT.finditer(text):
        if any(count and int(count) > MAX_REPEAT for count in (bound.group(1), bound.group(3))):
            raise BindingError(f"pattern repeat {bound.group(0)} above {MAX_REPEAT}")
    groups: list[list[int]] = [[]]  # the sizes of the items of each open group, innermost last
    position, end = 0, len(text)
    while position < end:
        items = groups[-1]
        char = text[position]
        repeat = _REPEAT.match(text, position) if char == "{" else None
        if char in "*+?" and items:
            position += 1 + _lazy_or_possessive(text, position + 1)
        elif repeat is not None and (repeat.group(1) or repeat.group(2)) and items:
            items[-1] *= max(1, max((int(c) for c in (repeat.group(1), repeat.group(3)) if c), default=1))
            position = repeat.end() + _lazy_or_possessive(text, repeat.end())
        elif char == "\\":
            items.append(1)
            position = _escape_end(text, position)
        elif char == "[":
            items.append(1)
            position = _set_end(text, position)
        elif text.startswith("(?#", position):
            position = _escape_end(text, position, stop=")")
        elif char == "(":
            groups.append([])
            header = _GROUP_HEADER.match(text, position)
            position = position + 1 if header is None else header.end()
        elif char == ")" and len(groups) > 1:
            inner = groups.pop()
            groups[-1].append(1 + sum(inner))
            position += 1
        else:
            items.append(1)
            position += 1
    while len(groups) > 1:  # unbalanced: regex refuses it, but count it all the same
        inner = groups.pop()
        groups[-1].append(1 + sum(inner))
    return max(sum(groups[0]), len(text))


def _lazy_or_possessive(text: str, position: int) -> int:
    return 1 if text.startswith(("?", "+"), position) else 0


def _escape_end(text: str, position: int, stop: str = "") -> int:
    """Past the escape at `position` (`\\p{...}`, `\\N{...}` whole); with `stop`, past the first
    unescaped `stop` from there (a comment)."""
    end = len(text)
    if stop:
        while position < end and text[position] != stop:
            position += 2 if text[position] == "\\" else 1
        return position + 1
    if text[position + 1 : position + 2] in _BRACED_ESCAPES and text.startswith("{", position + 2):
        close = text.find("}", position + 3)
        return end if close < 0 else close + 1
    return position + 2


def _set_end(text: str, position: int) -> int:
    """Past the character set opening at `position` (version 0: `]` first is a member, sets do not
    nest, `[:alpha:]` is a class)."""
    end = len(text)
    position += 1
    if text.startswith("^", position):
        position += 1
    if text.startswith("]", position):
        position += 1
    while position < end and text[position] != "]":
        if text[position] == "\\":
            position = _escape_end(text, position)
        elif (posix := _POSIX_CLASS.match(text, position)) is not None:
            position = posix.end()
        else:
            position += 1
    return position + 1


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
