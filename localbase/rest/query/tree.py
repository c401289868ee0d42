"""The parsed request: the AST PostgREST's query-string grammar produces, with no database knowledge.

A value is a `Slot` (an index into the request's values list) or, inside logic trees, literal
text; everything else is the request's *shape*, so a plan compiled from it is cacheable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from localbase.rest.errors import RestError

AGGREGATES = frozenset({"count", "sum", "avg", "max", "min"})
OPERATORS = frozenset(
    {
        "eq", "neq", "gt", "gte", "lt", "lte", "like", "ilike", "match", "imatch", "is", "isdistinct", "in",
        "cs", "cd", "ov", "sl", "sr", "nxr", "nxl", "adj", "fts", "plfts", "phfts", "wfts",
    }
)  # fmt: skip
QUANTIFIABLE = frozenset({"eq", "neq", "gt", "gte", "lt", "lte", "like", "ilike", "match", "imatch"})
FTS = frozenset({"fts", "plfts", "phfts", "wfts"})
IS_VALUES = frozenset({"null", "not_null", "true", "false", "unknown"})

Shape = tuple[tuple[str, str], ...]
INDEX = re.compile(r"-?\d+")  # a JSON path step that is an array index (`->0`, `->>-1`), not a key


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
        """The key a selected path is shown under: its last key, as PostgREST names it (`Plan.hs`,
        `lastJsonKey`), or the column's name when the path has only indexes (`tags->0` is `tags`)."""
        keys = [key for _, key in self.path if not INDEX.fullmatch(key)]
        return keys[-1] if keys else self.name


@dataclass(frozen=True, slots=True)
class Column:
    field: Field
    alias: str | None = None
    cast: str | None = None  # of the output (of the aggregate, when there is one)
    aggregate: str | None = None  # count | sum | avg | max | min (`col.sum()`, `count()`)
    input_cast: str | None = None  # `col::int.sum()`: the column cast before aggregating

    @property
    def counts_rows(self) -> bool:
        """`count()`: count(*), not a column."""
        return self.aggregate == "count" and self.field.name == "*"


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
    args: dict[str, Slot] = field(default_factory=dict)  # a function read's arguments


def parse_error(message: str, details: str | None = None) -> RestError:
    return RestError(400, "PGRST100", message, details)
