"""Writes as one statement: the INSERT/UPDATE/DELETE in a CTE, then `(total, n, body[, inserted])`."""

from __future__ import annotations

from dataclasses import replace

from localbase.rest.catalog import Catalog, Column, Table, quote_ident, quote_literal
from localbase.rest.errors import RestError, undefined_column
from localbase.rest.query.tree import Column as SelectColumn
from localbase.rest.query.tree import Field, Query
from localbase.rest.sql.base import body_agg, where_clause
from localbase.rest.sql.compiler import Compiler
from localbase.rest.sql.plan import Plan


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
        f"select null::bigint as total, count(*) as n, {body_agg(compiler)} as body{inserted} from "
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
    csv: bool = False,
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
    compiler = Compiler(catalog, query, strip=strip, csv=csv, explicit_star=upsert is not None)
    alias = quote_ident(table.name)
    cols = [writable(table, name) for name in columns]
    if cols:
        body = compiler.external("body")
        values = []
        for column in cols:
            value = f"pgrst_r.{quote_ident(column.name)}"
            if missing_default:
                fallback = column.default_expr if column.default_expr is not None else "null"
                value = f"case when pgrst_j.v ? {quote_literal(column.name)} then {value} else {fallback} end"
            values.append(value)
        guard = where_clause(root_conditions(compiler, table, "pgrst_r")) if put else ""
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
        # As PostgREST: every payload column, the conflict columns too, so a payload of only the
        # key still updates (triggers run, the row is returned) rather than doing nothing.
        updates = cols if upsert == "merge" else []
        if updates:
            sets = ", ".join(f"{quote_ident(c.name)} = excluded.{quote_ident(c.name)}" for c in updates)
            write += f"{conflict} do update set {sets}"
        else:
            write += f"{conflict} do nothing"
    sql = _returning(compiler, table, alias, query, represent=represent, write=write, upsert=upsert is not None)
    return Plan(compiler.statement(sql), readonly=False)


def writable(table: Table, name: str) -> Column:
    column = table.columns.get(name)
    if column is None:
        raise RestError(400, "PGRST204", f"Could not find the '{name}' column of '{table.name}' in the schema cache")
    return column


def compile_update(
    catalog: Catalog,
    table: Table,
    query: Query,
    columns: tuple[str, ...],
    represent: bool,
    *,
    strip: bool = False,
    csv: bool = False,
) -> Plan:
    compiler = Compiler(catalog, query, strip=strip, csv=csv)
    alias = quote_ident(table.name)
    cols = [writable(table, name) for name in columns]
    body = compiler.external("body")
    sets = ", ".join(f"{quote_ident(c.name)} = pgrst_r.{quote_ident(c.name)}" for c in cols)
    where = root_conditions(compiler, table, alias)
    write = (
        f"update {table.qualified} as {alias} set {sets} "
        f"from jsonb_populate_record(null::{table.qualified}, {body}::text::jsonb) as pgrst_r{where_clause(where)}"
    )
    return Plan(
        compiler.statement(_returning(compiler, table, alias, query, represent=represent, write=write)), readonly=False
    )


def compile_delete(
    catalog: Catalog, table: Table, query: Query, represent: bool, *, strip: bool = False, csv: bool = False
) -> Plan:
    compiler = Compiler(catalog, query, strip=strip, csv=csv)
    alias = quote_ident(table.name)
    where = root_conditions(compiler, table, alias)
    write = f"delete from {table.qualified} as {alias}{where_clause(where)}"
    return Plan(
        compiler.statement(_returning(compiler, table, alias, query, represent=represent, write=write)), readonly=False
    )


def root_conditions(compiler: Compiler, table: Table, alias: str) -> list[str]:
    return [compiler.condition(c, table, alias, {}) for c in compiler.query.conditions.get((), [])]
