"""Function calls as one statement: named arguments from one JSON object, results shaped like reads."""

from __future__ import annotations

from localbase.rest.catalog import Catalog, Function, quote_ident
from localbase.rest.query.tree import Query
from localbase.rest.sql.compiler import Compiler
from localbase.rest.sql.plan import Plan
from localbase.rest.sql.read import read_plan


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
    plan = read_plan(compiler, table, alias, source, query, count=count, counter=None)
    return Plan(plan.main, None, readonly, "rows" if function.returns_set else "object")
