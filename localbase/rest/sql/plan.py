"""A compiled plan: SQL text that depends only on the request's shape, and where each parameter comes from.

`bind` turns one request's values (and extras such as the body, limit and offset) into the
argument list, applying the per-parameter transform (`*` -> `%` for like, `in` lists).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from localbase.rest.query.filters import parse_list


@dataclass(frozen=True, slots=True)
class Param:
    """Where a statement parameter comes from: a request value (`slot`), a constant, or an extra."""

    source: str  # "slot" | "const" | "extra"
    key: Any
    transform: str = "text"  # text | like | list | likelist


@dataclass(frozen=True, slots=True)
class Statement:
    sql: str
    params: tuple[Param, ...]


@dataclass(frozen=True, slots=True)
class Plan:
    main: Statement
    count: Statement | None = None  # the filtered source alone, for planned counts
    readonly: bool = True
    result: str = "rows"  # rows | object (non-set composite RPC) | scalar | void


def transform(kind: str, value: str) -> Any:
    if kind == "like":
        return value.replace("*", "%")
    if kind == "list":
        return parse_list(value)
    if kind == "likelist":
        return value.replace("*", "%")
    return value


def bind(params: tuple[Param, ...], values: list[str], extras: dict[str, Any]) -> list[Any]:
    out: list[Any] = []
    for param in params:
        if param.source == "slot":
            out.append(transform(param.transform, values[param.key]))
        elif param.source == "const":
            out.append(param.key)
        else:
            out.append(extras[param.key])
    return out
