"""Function calls as one statement, arguments bound as PostgREST binds them, results shaped like reads.

`Call` says how the arguments arrive: `positional` (the raw body, cast to the lone unnamed
parameter's type), `json` (named parameters read from the JSON body: its object, or an array's
first), `direct` (named parameters bound one by one from the query string or a form, each read as
the parameter's type), or `none`. `character`/`bit` parameters read values of any length.
"""

from __future__ import annotations

from dataclasses import dataclass

from localbase.rest.catalog import Catalog, Function, quote_ident
from localbase.rest.query.tree import Query
from localbase.rest.sql.compiler import Compiler
from localbase.rest.sql.plan import Param, Plan
from localbase.rest.sql.read import read_plan


@dataclass(frozen=True, slots=True)
class Call:
    kind: str  # positional | json | direct | none
    names: tuple[str, ...] = ()  # the parameters given (for positional: the parameter's type)


def compile_rpc(
    catalog: Catalog,
    function: Function,
    query: Query,
    call: Call,
    *,
    count: bool,
    readonly: bool,
    csv: bool = False,
    aggregates: bool = False,
) -> Plan:
    compiler = Compiler(catalog, query, csv=csv, aggregates=aggregates)
    args_source = "(select) as pgrst_args"
    by_name = {a.name: a for a in function.args}
    if call.kind == "positional":
        invoke = f"{function.qualified}({compiler.external('body')}::{call.names[0]})"
    elif call.kind == "json":
        body = compiler.external("body")
        defs = ", ".join(f"{quote_ident(n)} {by_name[n].record_type}" for n in call.names)
        rows = f"case when jsonb_typeof({body}::text::jsonb) = 'array' then {body}::text::jsonb"
        rows += f" else jsonb_build_array({body}::text::jsonb) end"
        args_source = f"(select * from jsonb_to_recordset({rows}) as pgrst_r({defs}) limit 1) as pgrst_args"
        named = ", ".join(f"{quote_ident(n)} => pgrst_args.{quote_ident(n)}" for n in call.names)
        invoke = f"{function.qualified}({named})"
    elif call.kind == "direct":
        named = ", ".join(
            f"{quote_ident(n)} => {compiler.param(Param('extra', f'arg:{n}'))}::text::{by_name[n].record_type}"
            for n in call.names
        )
        invoke = f"{function.qualified}({named})"
    else:
        invoke = f"{function.qualified}()"
    if function.return_kind == "void":
        sql = (
            "select null::bigint as total, 0 as n, null::text as body"
            f" from {args_source}, lateral (select {invoke}) pgrst_v"
        )
        return Plan(compiler.statement(sql), readonly=readonly, result="void")
    if function.return_kind == "scalar":
        if function.returns_set:
            return _scalar_set(compiler, args_source, invoke, count=count, readonly=readonly)
        sql = f"select null::bigint as total, 1 as n, to_json({invoke})::text as body from {args_source}"
        return Plan(compiler.statement(sql), readonly=readonly, result="scalar")
    # Rows of a table embed through that table's relationships (PostgREST's `funcTableName`).
    returned = catalog.table(*function.return_relation) if function.return_relation else None
    table = returned if returned is not None else function.as_table()
    alias = quote_ident(function.name)
    # The call is the `pgrst_source` CTE, as in PostgREST: the count reads the rows the one call
    # returned (a volatile function that writes is not run again to count).
    called = f"with pgrst_source as (select {alias}.* from {args_source} cross join lateral {invoke} as {alias}) "
    source = f"pgrst_source as {alias}"
    plan = read_plan(compiler, table, alias, source, query, count=count, counter=None, with_=called)
    return Plan(plan.main, None, readonly, "rows" if function.returns_set else "object")


def _scalar_set(compiler: Compiler, args_source: str, invoke: str, *, count: bool, readonly: bool) -> Plan:
    """`setof int`, `setof text`...: a JSON array of the values, paged and counted like rows."""
    total = "(select count(*) from pgrst_source)" if count else "null::bigint"
    limit = compiler.external("limit")
    offset = compiler.external("offset")
    sql = (
        "with pgrst_source as "
        f"(select pgrst_v as pgrst_scalar from {args_source} cross join lateral {invoke} as pgrst_v) "
        f"select {total} as total, count(*) as n, coalesce(json_agg(pgrst_body.pgrst_scalar), '[]')::text as body "
        f"from (select pgrst_scalar from pgrst_source limit {limit}::int8 offset {offset}::int8) pgrst_body"
    )
    return Plan(compiler.statement(sql), readonly=readonly)
