"""GET/HEAD as one statement: `(total, n, body)` with the optional exact count and the JSON body."""

from __future__ import annotations

from typing import Any

from localbase.rest.catalog import Catalog, Table, quote_ident
from localbase.rest.query.tree import Query
from localbase.rest.sql.base import body_agg, where_clause
from localbase.rest.sql.compiler import Compiler
from localbase.rest.sql.plan import Plan, Statement


def compile_read(
    catalog: Catalog,
    table: Table,
    query: Query,
    count: bool,
    *,
    strip: bool = False,
    csv: bool = False,
    aggregates: bool = False,
) -> Plan:
    compiler = Compiler(catalog, query, strip=strip, csv=csv, aggregates=aggregates)
    alias = quote_ident(table.name)
    source = f"{table.qualified} as {alias}"
    return read_plan(
        compiler, table, alias, source, query, count=count, counter=lambda c: _read_count(c, table, alias, source)
    )


def read_plan(
    compiler: Compiler,
    table: Table,
    alias: str,
    source: str,
    query: Query,
    *,
    count: bool,
    counter: Any,
    with_: str = "",
) -> Plan:
    """The page of `source`'s rows (filtered, ordered, embedded) with the optional exact count;
    `with_` is a WITH clause `source` reads (a function call's `pgrst_source`, run once)."""
    node = compiler.node(table, alias, query.select, ())
    compiler.check_scopes()
    filtered = f"from {source}{''.join(node.joins)}{where_clause(node.where)}"
    total = f"(select count(*) from (select 1 {filtered}) pgrst_c)" if count else "null::bigint"
    limit = compiler.external("limit")
    offset = compiler.external("offset")
    sql = (
        f"{with_}select {total} as total, count(*) as n, {body_agg(compiler)} as body from "
        f"(select {', '.join(node.select)} {filtered}{node.tail} limit {limit}::int8 offset {offset}::int8)"
        " pgrst_body"
    )
    counted = counter(Compiler(compiler.catalog, query, aggregates=compiler.aggregates)) if counter else None
    return Plan(compiler.statement(sql), counted)


def _read_count(compiler: Compiler, table: Table, alias: str, source: str) -> Statement:
    node = compiler.node(table, alias, compiler.query.select, ())
    return compiler.statement(f"select 1 from {source}{''.join(node.joins)}{where_clause(node.where)}")
