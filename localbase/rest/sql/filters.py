"""Row conditions as SQL: every PostgREST operator, logic trees, and `is null` on embeds.

The value is bound as text and cast to the column's type (`$n::text::type`), so PostgreSQL parses
it exactly as it would a literal of that column.
"""

from __future__ import annotations

from localbase.rest.catalog import Table
from localbase.rest.errors import RestError
from localbase.rest.query.tree import FTS, Condition, Filter, Logic
from localbase.rest.sql.base import CompilerBase
from localbase.rest.sql.plan import Param

_COMPARE = {"eq": "=", "neq": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_PATTERN = {"like": "like", "ilike": "ilike", "match": "~", "imatch": "~*"}
_CONTAIN = {"cs": "@>", "cd": "<@", "ov": "&&", "sl": "<<", "sr": ">>", "nxr": "&<", "nxl": "&>", "adj": "-|-"}
_TSQUERY = {
    "fts": "to_tsquery",
    "plfts": "plainto_tsquery",
    "phfts": "phraseto_tsquery",
    "wfts": "websearch_to_tsquery",
}
_IS = {"null": "is null", "not_null": "is not null", "true": "is true", "false": "is false", "unknown": "is unknown"}


class FilterCompiler(CompilerBase):
    def condition(self, condition: Condition, table: Table, alias: str, embeds: dict[str, tuple[str, bool]]) -> str:
        if isinstance(condition, Logic):
            joiner = f" {condition.op} "
            inner = joiner.join(self.condition(item, table, alias, embeds) for item in condition.items)
            return f"not ({inner})" if condition.negate else f"({inner})"
        return self.filter(condition, table, alias, embeds)

    def filter(self, f: Filter, table: Table, alias: str, embeds: dict[str, tuple[str, bool]]) -> str:
        if f.field.name not in table.columns and f.field.name in embeds and not f.field.path:
            sql = self._embed_filter(f, f.field.name, *embeds[f.field.name])
        else:
            sql = self._column_filter(f, table, alias)
        return f"not ({sql})" if f.negate else sql

    def _embed_filter(self, f: Filter, name: str, body: str, to_one: bool) -> str:
        if f.op != "is" or f.value not in ("null", "not_null"):
            raise RestError(
                400,
                "PGRST120",
                f"Bad operator on the '{name}' embedded resource",
                "Only is null or not is null filters are allowed on embedded resources",
            )
        empty = f"{body} is null" if to_one else f"coalesce(jsonb_array_length({body}), 0) = 0"
        return empty if f.value == "null" else f"not ({empty})"

    def _column_filter(self, f: Filter, table: Table, alias: str) -> str:
        """The value is read as the column's type, as PostgREST's untyped literal is (`value_type`)."""
        lhs, kind = self.column(table, alias, f.field)
        op = f.op
        if op == "is":
            return f"{lhs} {_IS[str(f.value)]}"
        if f.quantifier:
            quant = f.quantifier
            if op in _PATTERN:
                patterns = self.value(f.value, "likelist" if "like" in op else "text")
                return f"{lhs} {_PATTERN[op]} {quant}({patterns}::text::text[])"
            return f"{lhs} {_COMPARE[op]} {quant}({self.value(f.value)}::text::{array_of(kind)})"
        if op in _COMPARE:
            return f"{lhs} {_COMPARE[op]} {self.value(f.value)}::text::{kind}"
        if op in _PATTERN:
            # Untyped, as PostgREST's literal: PostgreSQL picks the operator (bpchar's own `like`
            # keeps the padding) and names a type without one (`numeric ~~ unknown`).
            pattern = self.value(f.value, "like" if "like" in op else "text")
            return f"{lhs} {_PATTERN[op]} {pattern}{'::text::bytea' if kind == 'bytea' else ''}"
        if op == "isdistinct":
            return f"{lhs} is distinct from {self.value(f.value)}::text::{kind}"
        if op == "in":
            return f"{lhs} = any({self.value(f.value, 'list')}::text[]::{array_of(kind)})"
        if op in _CONTAIN:
            return f"{lhs} {_CONTAIN[op]} {self.value(f.value)}::text::{kind}"
        if op in FTS:
            config = f"{self.param(Param('const', f.config))}::regconfig, " if f.config else ""
            vector = lhs if kind == "tsvector" else f"to_tsvector({config}{lhs})"
            return f"{vector} @@ {_TSQUERY[op]}({config}{self.value(f.value)}::text)"
        raise RestError(400, "PGRST100", f"unknown operator {op}")


def array_of(kind: str) -> str:
    return kind if kind.endswith("[]") else f"{kind}[]"
