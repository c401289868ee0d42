"""AST + schema cache -> one parameterised SQL statement per request.

Identifiers come from the catalog (quoted); every user value is a bound parameter, bound as text
and cast to the column's type in SQL, so the statement text depends only on the request's shape
and can be prepared once. Each statement returns one row `(total, n, body)`: the optional total
count, the number of rows, and the JSON body built by PostgreSQL (`json_agg`), sent as text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from localbase.rest.catalog import Catalog, Column, Function, Table, quote_ident, quote_literal
from localbase.rest.errors import RestError, undefined_column
from localbase.rest.query import (
    FTS,
    Condition,
    Embed,
    EmbedPath,
    Field,
    Filter,
    Logic,
    OrderTerm,
    Query,
    SelectItem,
    Slot,
    Star,
    Value,
    parse_list,
)
from localbase.rest.query import (
    Column as SelectColumn,
)

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
_INDEX = re.compile(r"-?\d+")


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


@dataclass
class _Relationship:
    target: Table
    pairs: tuple[tuple[str, str], ...]  # (parent column, child or junction column)
    to_one: bool
    junction: Table | None = None  # many-to-many: `pairs` lead to it, `through` from it to the target
    through: tuple[tuple[str, str], ...] = ()  # (junction column, target column)


@dataclass
class _Node:
    """A compiled level of the select tree: its select list, lateral joins and row conditions."""

    select: list[str]
    joins: list[str]
    where: list[str]
    order: str


class Compiler:
    """Compiles one request; holds the parameter list while it grows."""

    def __init__(self, catalog: Catalog, query: Query, *, strip: bool = False, explicit_star: bool = False) -> None:
        self.catalog = catalog
        self.query = query
        self.strip = strip  # json_strip_nulls on the body (Accept ...;nulls=stripped)
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
        """SQL for a column or JSON path, and its type."""
        column = table.columns.get(field.name)
        if column is None:
            raise undefined_column(table.name, field.name)
        sql = f"{alias}.{quote_ident(column.name)}"
        kind = column.type
        for arrow, key in field.path:
            if kind not in ("json", "jsonb") and not (kind == "text" and arrow):
                raise RestError(400, "42883", f"operator does not exist: {kind} {arrow} unknown")
            if _INDEX.fullmatch(key):
                sql = f"({sql}{arrow}{int(key)})"
            else:
                sql = f"({sql}{arrow}{self.param(Param('const', key))}::text)"
            kind = "text" if arrow == "->>" else kind
        return sql, kind

    def cast(self, name: str) -> str:
        target = self.catalog.cast_type(name)
        if target is None:
            raise RestError(400, "42704", f'type "{name}" does not exist')
        return target

    # --- select tree --------------------------------------------------------------------------

    def node(
        self, table: Table, alias: str, items: tuple[SelectItem, ...], path: EmbedPath, filtered: bool = True
    ) -> _Node:
        """One level of the select tree; `filtered=False` for rows a write already chose."""
        self._used_paths.add(path)
        node = _Node([], [], [], "")
        embeds: dict[str, tuple[str, bool]] = {}
        for item in items:
            if isinstance(item, Star) and self.explicit_star:
                node.select.extend(f"{alias}.{quote_ident(name)}" for name in table.columns)
            elif isinstance(item, Star):
                node.select.append(f"{alias}.*")
            elif isinstance(item, SelectColumn):
                sql, _ = self.column(table, alias, item.field)
                if item.cast:
                    sql = f"({sql})::{self.cast(item.cast)}"
                node.select.append(f"{sql} as {quote_ident(item.alias or item.field.output_name)}")
            elif item.spread:
                node.select.append(f"{self.spread(table, alias, item, path, node)}.*")
            else:
                body, to_one = self.embed(table, alias, item, path, node)
                embeds[item.key] = (body, to_one)
                node.select.append(f"{body} as {quote_ident(item.key)}")
        for condition in self.query.conditions.get(path, []) if filtered else []:
            node.where.append(self.condition(condition, table, alias, embeds))
        node.order = self.order(table, alias, self.query.order.get(path, ()), items)
        return node

    def _child(self, parent: Table, parent_alias: str, embed: Embed, path: EmbedPath) -> tuple[_Relationship, str]:
        """The embedded relation's rows for one parent row, as a SELECT (filtered, ordered, paged)."""
        relation = self.relationship(parent, embed)
        child_alias = self.alias()
        child_path = (*path, embed.key)
        child = self.node(relation.target, child_alias, embed.items, child_path)
        source = f"{relation.target.qualified} as {child_alias}"
        if relation.junction is None:
            join = [f"{child_alias}.{quote_ident(c)} = {parent_alias}.{quote_ident(p)}" for p, c in relation.pairs]
        else:
            junction = self.alias()
            through = " and ".join(
                f"{junction}.{quote_ident(j)} = {child_alias}.{quote_ident(t)}" for j, t in relation.through
            )
            source += f" join {relation.junction.qualified} as {junction} on {through}"
            join = [f"{junction}.{quote_ident(j)} = {parent_alias}.{quote_ident(p)}" for p, j in relation.pairs]
        paging = ""
        if child_path in self.query.limit:
            paging += f" limit {self.value(self.query.limit[child_path])}::text::bigint"
        if child_path in self.query.offset:
            paging += f" offset {self.value(self.query.offset[child_path])}::text::bigint"
        where = " and ".join(join + child.where)
        inner = (
            f"select {', '.join(child.select)} from {source}{''.join(child.joins)} where {where}{child.order}{paging}"
        )
        return relation, inner

    def spread(self, parent: Table, parent_alias: str, embed: Embed, path: EmbedPath, into: _Node) -> str:
        """`...rel(cols)`: the to-one row's columns become the parent's (nulls when there is none)."""
        relation, inner = self._child(parent, parent_alias, embed, path)
        if not relation.to_one:
            raise RestError(
                400,
                "PGRST119",
                f"A spread operation on '{embed.name}' is not possible",
                f"'{parent.name}' and '{embed.name}' do not form a many-to-one or one-to-one relationship",
            )
        lateral = self.alias()
        into.joins.append(f" left join lateral ({inner} limit 1) as {lateral} on true")
        if embed.inner:
            into.where.append(f"exists ({inner})")
        return lateral

    def embed(self, parent: Table, parent_alias: str, embed: Embed, path: EmbedPath, into: _Node) -> tuple[str, bool]:
        relation, inner = self._child(parent, parent_alias, embed, path)
        lateral = self.alias()
        if relation.to_one:
            body = f"(select row_to_json(pgrst_e) as body from ({inner}) pgrst_e limit 1)"
            into.joins.append(f" left join lateral {body} as {lateral} on true")
            if embed.inner:
                into.where.append(f"{lateral}.body is not null")
        else:
            body = f"(select coalesce(json_agg(pgrst_e), '[]'::json) as body from ({inner}) pgrst_e)"
            into.joins.append(f" left join lateral {body} as {lateral} on true")
            if embed.inner:
                into.where.append(f"json_array_length({lateral}.body) > 0")
        return f"{lateral}.body", relation.to_one

    def relationship(self, parent: Table, embed: Embed) -> _Relationship:
        target = self.catalog.table(parent.schema, embed.name)
        found: list[tuple[str, _Relationship]] = []
        if target is not None:
            for fk in self.catalog.foreign_keys:
                hinted = embed.hint is None or embed.hint in (fk.name, *fk.columns, *fk.ref_columns)
                if not hinted:
                    continue
                if (fk.schema, fk.table) == (parent.schema, parent.name) and (fk.ref_schema, fk.ref_table) == (
                    target.schema,
                    target.name,
                ):
                    found.append(
                        (fk.name, _Relationship(target, tuple(zip(fk.columns, fk.ref_columns, strict=True)), True))
                    )
                if (fk.schema, fk.table) == (target.schema, target.name) and (fk.ref_schema, fk.ref_table) == (
                    parent.schema,
                    parent.name,
                ):
                    one = fk.columns in target.unique_keys
                    found.append(
                        (fk.name, _Relationship(target, tuple(zip(fk.ref_columns, fk.columns, strict=True)), one))
                    )
        if target is not None:
            found.extend(self._many_to_many(parent, target, embed.hint))
        if not found:
            raise RestError(
                400,
                "PGRST200",
                f"Could not find a relationship between '{parent.name}' and '{embed.name}' in the schema cache",
                f"Searched for a foreign key relationship between '{parent.name}' and '{embed.name}'"
                + (f" using the hint '{embed.hint}'" if embed.hint else "")
                + f" in the schema '{parent.schema}', but no matches were found.",
                "Perhaps you meant a different relationship or table.",
            )
        if len(found) > 1:
            raise RestError(
                300,
                "PGRST201",
                f"Could not embed because more than one relationship was found for '{parent.name}' and '{embed.name}'",
                ", ".join(name for name, _ in found),
                f"Try changing '{embed.name}' to one of: " + ", ".join(f"'{embed.name}!{name}'" for name, _ in found),
            )
        return found[0][1]

    def _many_to_many(self, parent: Table, target: Table, hint: str | None) -> list[tuple[str, _Relationship]]:
        """Junction tables: one FK to each side, both within the junction's primary key (PostgREST's rule)."""
        found: list[tuple[str, _Relationship]] = []
        by_table: dict[tuple[str, str], list[Any]] = {}
        for fk in self.catalog.foreign_keys:
            by_table.setdefault((fk.schema, fk.table), []).append(fk)
        for (schema, name), fks in by_table.items():
            junction = self.catalog.table(schema, name)
            if (
                junction is None
                or junction.kind not in ("r", "p")
                or (schema, name)
                in (
                    (parent.schema, parent.name),
                    (target.schema, target.name),
                )
            ):
                continue
            keyed = set(junction.primary_key)
            for left in fks:
                if (left.ref_schema, left.ref_table) != (parent.schema, parent.name) or not set(left.columns) <= keyed:
                    continue
                for right in fks:
                    if right is left or (right.ref_schema, right.ref_table) != (target.schema, target.name):
                        continue
                    if not set(right.columns) <= keyed:
                        continue
                    if hint is not None and hint not in (name, left.name, right.name):
                        continue
                    found.append(
                        (
                            f"{name} using {left.name} and {right.name}",
                            _Relationship(
                                target,
                                tuple(zip(left.ref_columns, left.columns, strict=True)),
                                False,
                                junction,
                                tuple(zip(right.columns, right.ref_columns, strict=True)),
                            ),
                        )
                    )
        return found

    # --- conditions ---------------------------------------------------------------------------

    def condition(self, condition: Condition, table: Table, alias: str, embeds: dict[str, tuple[str, bool]]) -> str:
        if isinstance(condition, Logic):
            joiner = f" {condition.op} "
            inner = joiner.join(self.condition(item, table, alias, embeds) for item in condition.items)
            return f"not ({inner})" if condition.negate else f"({inner})"
        return self.filter(condition, table, alias, embeds)

    def filter(self, f: Filter, table: Table, alias: str, embeds: dict[str, tuple[str, bool]]) -> str:
        if f.field.name not in table.columns and f.field.name in embeds and not f.field.path:
            sql = self._embed_filter(f, *embeds[f.field.name])
        else:
            sql = self._column_filter(f, table, alias)
        return f"not ({sql})" if f.negate else sql

    def _embed_filter(self, f: Filter, body: str, to_one: bool) -> str:
        if f.op != "is" or f.value not in ("null", "not_null"):
            raise RestError(
                400,
                "PGRST120",
                "Bad operator on the embedded resource",
                "Only is null or not is null filters are allowed on embedded resources",
            )
        empty = f"{body} is null" if to_one else f"coalesce(json_array_length({body}), 0) = 0"
        return empty if f.value == "null" else f"not ({empty})"

    def _column_filter(self, f: Filter, table: Table, alias: str) -> str:
        lhs, kind = self.column(table, alias, f.field)
        if kind == "json":
            lhs, kind = f"({lhs})::jsonb", "jsonb"
        op = f.op
        if op == "is":
            return f"{lhs} {_IS[str(f.value)]}"
        if f.quantifier:
            quant = f.quantifier
            if op in _PATTERN:
                patterns = self.value(f.value, "likelist" if "like" in op else "text")
                return f"{lhs}::text {_PATTERN[op]} {quant}({patterns}::text::text[])"
            return f"{lhs} {_COMPARE[op]} {quant}({self.value(f.value)}::text::{_array_of(kind)})"
        if op in _COMPARE:
            return f"{lhs} {_COMPARE[op]} {self.value(f.value)}::text::{kind}"
        if op in _PATTERN:
            return f"{lhs}::text {_PATTERN[op]} {self.value(f.value, 'like' if 'like' in op else 'text')}"
        if op == "isdistinct":
            return f"{lhs} is distinct from {self.value(f.value)}::text::{kind}"
        if op == "in":
            return f"{lhs} = any({self.value(f.value, 'list')}::text[]::{_array_of(kind)})"
        if op in _CONTAIN:
            return f"{lhs} {_CONTAIN[op]} {self.value(f.value)}::text::{kind}"
        if op in FTS:
            config = f"{self.param(Param('const', f.config))}::regconfig, " if f.config else ""
            vector = lhs if kind == "tsvector" else f"to_tsvector({config}{lhs}::text)"
            return f"{vector} @@ {_TSQUERY[op]}({config}{self.value(f.value)}::text)"
        raise RestError(400, "PGRST100", f"unknown operator {op}")

    def order(self, table: Table, alias: str, terms: tuple[OrderTerm, ...], items: tuple[SelectItem, ...] = ()) -> str:
        if not terms:
            return ""
        parts = []
        for term in terms:
            if term.relation is None:
                sql, _ = self.column(table, alias, term.field)
            else:
                sql = self.related_column(table, alias, term, items)
            part = f"{sql} {'desc' if term.desc else 'asc'}"
            if term.nulls:
                part += f" nulls {term.nulls}"
            parts.append(part)
        return " order by " + ", ".join(parts)

    def related_column(self, table: Table, alias: str, term: OrderTerm, items: tuple[SelectItem, ...]) -> str:
        """`order=rel(col)`: the column of the to-one related row (an embed's alias or a table name)."""
        assert term.relation is not None
        named = [i for i in items if isinstance(i, Embed) and term.relation in (i.alias, i.name)]
        embed = named[0] if named else Embed(term.relation, None, None, False, ())
        relation = self.relationship(table, embed)
        if not relation.to_one:
            raise RestError(
                400,
                "PGRST118",
                f"A related order on '{term.relation}' is not possible",
                f"'{table.name}' and '{term.relation}' do not form a many-to-one or one-to-one relationship",
            )
        child = self.alias()
        sql, _ = self.column(relation.target, child, term.field)
        join = " and ".join(f"{child}.{quote_ident(c)} = {alias}.{quote_ident(p)}" for p, c in relation.pairs)
        return f"(select {sql} from {relation.target.qualified} as {child} where {join} limit 1)"

    def check_scopes(self) -> None:
        """Filters, order or paging on an embed that is not in `select` is PGRST108."""
        for scoped in (self.query.conditions, self.query.order, self.query.limit, self.query.offset):
            for path in scoped:
                if path not in self._used_paths:
                    raise RestError(
                        400,
                        "PGRST108",
                        f"'{'.'.join(path)}' is not an embedded resource in this request",
                        None,
                        f"Verify that '{'.'.join(path)}' is included in the 'select' query parameter.",
                    )


def _array_of(kind: str) -> str:
    return kind if kind.endswith("[]") else f"{kind}[]"


def _body(compiler: Compiler) -> str:
    if compiler.strip:
        return "coalesce(json_strip_nulls(json_agg(pgrst_body)), '[]')::text"
    return "coalesce(json_agg(pgrst_body), '[]')::text"


# --- reads --------------------------------------------------------------------------------------


def compile_read(catalog: Catalog, table: Table, query: Query, count: bool, *, strip: bool = False) -> Plan:
    compiler = Compiler(catalog, query, strip=strip)
    alias = quote_ident(table.name)
    source = f"{table.qualified} as {alias}"
    return _read(
        compiler, table, alias, source, query, count=count, counter=lambda c: _read_count(c, table, alias, source)
    )


def _read(
    compiler: Compiler, table: Table, alias: str, source: str, query: Query, *, count: bool, counter: Any
) -> Plan:
    node = compiler.node(table, alias, query.select, ())
    compiler.check_scopes()
    filtered = f"from {source}{''.join(node.joins)}{_where(node.where)}"
    total = f"(select count(*) from (select 1 {filtered}) pgrst_c)" if count else "null::bigint"
    limit = compiler.external("limit")
    offset = compiler.external("offset")
    sql = (
        f"select {total} as total, count(*) as n, {_body(compiler)} as body from "
        f"(select {', '.join(node.select)} {filtered}{node.order} limit {limit}::int8 offset {offset}::int8)"
        " pgrst_body"
    )
    return Plan(compiler.statement(sql), counter(Compiler(compiler.catalog, query)) if counter else None)


def _read_count(compiler: Compiler, table: Table, alias: str, source: str) -> Statement:
    node = compiler.node(table, alias, compiler.query.select, ())
    return compiler.statement(f"select 1 from {source}{''.join(node.joins)}{_where(node.where)}")


def _where(conditions: list[str]) -> str:
    return f" where {' and '.join(conditions)}" if conditions else ""


# --- writes -------------------------------------------------------------------------------------


def _returning(
    compiler: Compiler, table: Table, alias: str, query: Query, *, represent: bool, write: str, upsert: bool = False
) -> str:
    """The write as a CTE, then `(total, n, body[, inserted])`; upserts count rows that were new (xmax = 0)."""
    inserted = ", (select count(*) from pgrst_w where pgrst_w.pgrst_inserted) as inserted" if upsert else ""
    flag = f", ({alias}.xmax = 0) as pgrst_inserted" if upsert else ""
    if not represent:
        return (
            f"with pgrst_w as ({write} returning 1{flag}) "
            f"select null::bigint as total, count(*) as n, null::text as body{inserted} from pgrst_w"
        )
    node = compiler.node(table, alias, query.select, (), filtered=False)
    compiler.check_scopes()
    return (
        f"with pgrst_w as ({write} returning {alias}.*{flag}) "
        f"select null::bigint as total, count(*) as n, {_body(compiler)} as body{inserted} from "
        f"(select {', '.join(node.select)} from pgrst_w as {alias}{''.join(node.joins)}{node.order}) pgrst_body"
    )


def compile_insert(
    catalog: Catalog,
    table: Table,
    query: Query,
    columns: tuple[str, ...],
    *,
    represent: bool,
    upsert: str | None,
    missing_default: bool,
    strip: bool = False,
    locate: bool = False,
    put: bool = False,
) -> Plan:
    """INSERT from the JSON body (bound as one text parameter); `upsert` is merge|ignore|None.

    `locate` returns only the primary key (for `return=headers-only`'s Location); `put` keeps only
    body rows whose key matches the URL's `eq` filters, so the caller can demand exactly one.
    """
    if locate:
        query = replace(query, select=tuple(SelectColumn(Field(name)) for name in table.primary_key))
        represent = True
    compiler = Compiler(catalog, query, strip=strip, explicit_star=upsert is not None)
    alias = quote_ident(table.name)
    cols = [_writable(table, name) for name in columns]
    if cols:
        body = compiler.external("body")
        values = []
        for column in cols:
            value = f"pgrst_r.{quote_ident(column.name)}"
            if missing_default:
                fallback = column.default_expr if column.default_expr is not None else "null"
                value = f"case when pgrst_j.v ? {quote_literal(column.name)} then {value} else {fallback} end"
            values.append(value)
        guard = _where(_root_conditions(compiler, table, "pgrst_r")) if put else ""
        write = (
            f"insert into {table.qualified} as {alias} ({', '.join(quote_ident(c.name) for c in cols)}) "
            f"select {', '.join(values)} from jsonb_array_elements("
            f"case when jsonb_typeof({body}::text::jsonb) = 'array' then {body}::text::jsonb"
            f" else jsonb_build_array({body}::text::jsonb) end) with ordinality as pgrst_j(v, i)"
            f" cross join lateral jsonb_populate_record(null::{table.qualified}, pgrst_j.v)"
            f" as pgrst_r{guard} order by pgrst_j.i"
        )
    else:
        write = f"insert into {table.qualified} as {alias} default values"
    if upsert is not None:
        targets = table.primary_key if put else query.on_conflict or table.primary_key
        for name in targets:
            if name not in table.columns:
                raise undefined_column(table.name, name)
        if not targets:
            raise RestError(400, "PGRST100", f"'{table.name}' has no primary key; give on_conflict")
        conflict = f" on conflict ({', '.join(quote_ident(n) for n in targets)})"
        updates = [c for c in cols if c.name not in targets] if upsert == "merge" else []
        if updates:
            sets = ", ".join(f"{quote_ident(c.name)} = excluded.{quote_ident(c.name)}" for c in updates)
            write += f"{conflict} do update set {sets}"
        else:
            write += f"{conflict} do nothing"
    sql = _returning(compiler, table, alias, query, represent=represent, write=write, upsert=upsert is not None)
    return Plan(compiler.statement(sql), readonly=False)


def _writable(table: Table, name: str) -> Column:
    column = table.columns.get(name)
    if column is None:
        raise RestError(400, "PGRST204", f"Could not find the '{name}' column of '{table.name}' in the schema cache")
    return column


def compile_update(
    catalog: Catalog, table: Table, query: Query, columns: tuple[str, ...], represent: bool, *, strip: bool = False
) -> Plan:
    compiler = Compiler(catalog, query, strip=strip)
    alias = quote_ident(table.name)
    cols = [_writable(table, name) for name in columns]
    body = compiler.external("body")
    sets = ", ".join(f"{quote_ident(c.name)} = pgrst_r.{quote_ident(c.name)}" for c in cols)
    where = _root_conditions(compiler, table, alias)
    write = (
        f"update {table.qualified} as {alias} set {sets} "
        f"from jsonb_populate_record(null::{table.qualified}, {body}::text::jsonb) as pgrst_r{_where(where)}"
    )
    return Plan(
        compiler.statement(_returning(compiler, table, alias, query, represent=represent, write=write)), readonly=False
    )


def compile_delete(catalog: Catalog, table: Table, query: Query, represent: bool, *, strip: bool = False) -> Plan:
    compiler = Compiler(catalog, query, strip=strip)
    alias = quote_ident(table.name)
    where = _root_conditions(compiler, table, alias)
    write = f"delete from {table.qualified} as {alias}{_where(where)}"
    return Plan(
        compiler.statement(_returning(compiler, table, alias, query, represent=represent, write=write)), readonly=False
    )


def _root_conditions(compiler: Compiler, table: Table, alias: str) -> list[str]:
    return [compiler.condition(c, table, alias, {}) for c in compiler.query.conditions.get((), [])]


# --- rpc ----------------------------------------------------------------------------------------


def compile_rpc(
    catalog: Catalog, function: Function, query: Query, arg_names: tuple[str, ...], *, count: bool, readonly: bool
) -> Plan:
    """Call `function` with the named arguments decoded from one JSON object (the body, or GET's query)."""
    compiler = Compiler(catalog, query)
    if function.single_unnamed_body:
        args_source = "(select) as pgrst_args"
        call = f"{function.qualified}({compiler.external('body')}::{function.args[0].type})"
    elif arg_names:
        by_name = {a.name: a for a in function.args}
        body = compiler.external("body")
        defs = ", ".join(f"{quote_ident(n)} {by_name[n].type}" for n in arg_names)
        args_source = f"jsonb_to_record({body}::text::jsonb) as pgrst_args({defs})"
        call = (
            f"{function.qualified}({', '.join(f'{quote_ident(n)} => pgrst_args.{quote_ident(n)}' for n in arg_names)})"
        )
    else:
        args_source = "(select) as pgrst_args"
        call = f"{function.qualified}()"
    if function.return_kind == "void":
        sql = (
            "select null::bigint as total, 0 as n, null::text as body"
            f" from {args_source}, lateral (select {call}) pgrst_v"
        )
        return Plan(compiler.statement(sql), readonly=readonly, result="void")
    if function.return_kind == "scalar":
        if function.returns_set:
            sql = (
                f"select null::bigint as total, count(*) as n, coalesce(json_agg(pgrst_v), '[]')::text as body "
                f"from {args_source} cross join lateral {call} as pgrst_v"
            )
            return Plan(compiler.statement(sql), readonly=readonly)
        sql = f"select null::bigint as total, 1 as n, to_json({call})::text as body from {args_source}"
        return Plan(compiler.statement(sql), readonly=readonly, result="scalar")
    table = function.as_table()
    alias = quote_ident(function.name)
    source = f"{args_source} cross join lateral {call} as {alias}"
    plan = _read(compiler, table, alias, source, query, count=count, counter=None)
    return Plan(plan.main, None, readonly, "rows" if function.returns_set else "object")
