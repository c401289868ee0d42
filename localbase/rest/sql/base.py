"""The compiler's state: its growing parameter list, aliases, and columns resolved against the catalog.

Identifiers come from the catalog (quoted); every user value is a bound parameter, bound as text
and cast to the column's type in SQL, so the statement text depends only on the request's shape.
The select tree (`node`) is built by `localbase.rest.sql.compiler.Compiler`, which combines this
base with the embed and filter compilers.
"""

from __future__ import annotations

from dataclasses import dataclass

from localbase.rest.catalog import Catalog, Column, Function, Table, quote_ident, typmod_free
from localbase.rest.errors import RestError, undefined_column
from localbase.rest.query.tree import INDEX, Condition, EmbedPath, Field, Query, SelectItem, Slot, Value
from localbase.rest.sql.plan import Param, Statement, transform


@dataclass
class Node:
    """A compiled level of the select tree: its select list, lateral joins and row conditions."""

    select: list[str]
    joins: list[str]
    where: list[str]
    order: str
    group: str = ""  # ` group by ...` when the level aggregates

    @property
    def tail(self) -> str:
        """What follows the WHERE clause: grouping, then ordering."""
        return self.group + self.order


class CompilerBase:
    """Compiles one request; holds the parameter list while it grows."""

    def __init__(
        self,
        catalog: Catalog,
        query: Query,
        *,
        strip: bool = False,
        csv: bool = False,
        explicit_star: bool = False,
        aggregates: bool = False,
    ) -> None:
        self.catalog = catalog
        self.query = query
        self.strip = strip  # json_strip_nulls on the body (Accept ...;nulls=stripped)
        self.csv = csv  # the body as CSV, PostgreSQL formatting each row (Accept text/csv)
        self.aggregates = aggregates  # db-aggregates-enabled: `count()`, `col.sum()`... allowed
        self.explicit_star = explicit_star  # `*` as named columns: the source carries extra columns
        self.params: list[Param] = []
        self._aliases = 0
        self._used_paths: set[EmbedPath] = {()}

    # --- parameters ---------------------------------------------------------------------------

    def param(self, param: Param) -> str:
        self.params.append(param)
        return f"${len(self.params)}"

    def value(self, value: Value, kind: str = "text") -> str:
        if isinstance(value, Slot):
            return self.param(Param("slot", value.index, kind))
        return self.param(Param("const", transform(kind, value)))

    def external(self, name: str) -> str:
        return self.param(Param("extra", name))

    def alias(self) -> str:
        self._aliases += 1
        return f"pgrst_{self._aliases}"

    def statement(self, sql: str) -> Statement:
        return Statement(sql, tuple(self.params))

    # --- columns ------------------------------------------------------------------------------

    def column(self, table: Table, alias: str, field: Field) -> tuple[str, str]:
        """SQL for a column or JSON path, and the type a value compared with it is read as.

        As in PostgREST, a JSON path on a column that is not json/jsonb reads `to_jsonb(column)`.
        """
        column = table.columns.get(field.name)
        if column is None:
            computed = self.computed_field(table, field.name)
            if computed is None:
                raise undefined_column(table.name, field.name)
            # A computed field: a function of the row, called as PostgREST calls it.
            column = Column(field.name, computed.return_type, "", False, None, False, typmod_free(computed.return_type))
            sql = f"{computed.qualified}({alias})"
        else:
            sql = f"{alias}.{quote_ident(column.name)}"
        kind = column.value_type
        if field.path and column.type not in ("json", "jsonb"):
            sql, kind = f"to_jsonb({sql})", "jsonb"
        for arrow, key in field.path:
            if INDEX.fullmatch(key):
                sql = f"({sql}{arrow}{int(key)})"
            else:
                sql = f"({sql}{arrow}{self.param(Param('const', key))}::text)"
            kind = "text" if arrow == "->>" else kind
        return sql, kind

    def computed_field(self, table: Table, name: str) -> Function | None:
        found = self.catalog.computed.get((table.schema, table.name), {}).get(name)
        if found is None or found.return_kind != "scalar" or found.returns_set:
            return None
        return found

    def cast(self, name: str) -> str:
        target = self.catalog.cast_type(name)
        if target is None:
            raise RestError(400, "42704", f'type "{name}" does not exist')
        return target

    def node(
        self, table: Table, alias: str, items: tuple[SelectItem, ...], path: EmbedPath, filtered: bool = True
    ) -> Node:
        """One level of the select tree (see `Compiler.node`)."""
        raise NotImplementedError

    def condition(self, condition: Condition, table: Table, alias: str, embeds: dict[str, tuple[str, bool]]) -> str:
        """One row condition as SQL (see `FilterCompiler.condition`)."""
        raise NotImplementedError


# PostgREST's CSV (`asCsvF`): the first row's keys as the header, then each row as PostgreSQL
# prints a record, without its parentheses (its quoting, `t`/`f`, jsonb spacing, NULL as nothing).
_CSV_BODY = (
    "coalesce((select string_agg(k, ',') from json_object_keys((array_agg(row_to_json(pgrst_body)))[1]) as k), '')"
    " || chr(10) || coalesce(string_agg(substring(pgrst_body::text, 2, length(pgrst_body::text) - 2), chr(10)), '')"
)


def body_agg(compiler: CompilerBase) -> str:
    """The response body aggregated from the rows of `pgrst_body`: a JSON array, or CSV."""
    if compiler.csv:
        return _CSV_BODY
    if compiler.strip:
        return "coalesce(json_strip_nulls(json_agg(pgrst_body)), '[]')::text"
    return "coalesce(json_agg(pgrst_body), '[]')::text"


def where_clause(conditions: list[str]) -> str:
    return f" where {' and '.join(conditions)}" if conditions else ""
