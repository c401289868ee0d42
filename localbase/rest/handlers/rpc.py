"""Function calls at /rpc/name: GET/HEAD with arguments in the query, POST with a JSON body.

Overloads are resolved by the argument names given (PGRST202 when none fits, PGRST203 when
several do); the result is shaped by the function's return type: rows, one object, a scalar, or
nothing (204).
"""

from __future__ import annotations

from typing import Any

import asyncpg
import msgspec

from localbase.http import Request
from localbase.rest import headers as hdr
from localbase.rest.catalog import Function
from localbase.rest.engine import Engine
from localbase.rest.errors import RestError
from localbase.rest.identity import Identity
from localbase.rest.output import Response, max_affected_violation, rows_response, singular_violation
from localbase.rest.query.shape import parse, scan
from localbase.rest.sql.plan import bind
from localbase.rest.sql.rpc import compile_rpc

_encoder = msgspec.json.Encoder()


async def rpc(engine: Engine, request: Request, identity: Identity, schema: str, name: str) -> Response:
    if request.method not in ("GET", "HEAD", "POST"):
        raise RestError(405, "PGRST101", "Only GET, HEAD or POST are allowed for functions")
    fmt = hdr.accept(request.headers.get("accept"))
    prefer = engine.prefer(request)
    candidates = await engine.functions(schema, name)
    shape, values = scan(request.query)
    if request.method == "POST":
        text, payload = await engine.json_body(request)
        query = engine.parsed(shape)
        function = _choose(candidates, schema, name, payload)
        arg_names = () if function.single_unnamed_body else tuple(payload or {})
        body = text if text.strip() else "{}"
        readonly = function.volatility in ("s", "i")
    else:
        known = frozenset(a.name for f in candidates for a in f.args)
        query = parse(shape, known)
        arguments = {k: prefix + (values[slot.index] if slot else "") for k, (prefix, slot) in query.args.items()}
        function = _choose(candidates, schema, name, arguments)
        arg_names = tuple(arguments)
        body = _encoder.encode(arguments).decode()
        readonly = True
    exact = prefer.count in ("exact", "estimated")
    key = ("rpc", schema, name, shape, _signature(function), arg_names, exact, readonly, request.method == "POST")
    plan = engine.plan(
        key, lambda: compile_rpc(engine.catalog, function, query, arg_names, count=exact, readonly=readonly)
    )
    offset, limit = engine.paging(request, query, values)
    args = bind(plan.main.params, values, {"limit": limit, "offset": offset, "body": body})

    def check(row: asyncpg.Record) -> RestError | None:
        if fmt == hdr.OBJECT and plan.result == "rows":
            return singular_violation(row)
        return max_affected_violation(prefer, row) if plan.result == "rows" else None

    row, _ = await engine.execute(request, identity, schema, plan, args, check=check, prefer=prefer)
    if plan.result == "void":
        return 204, [], b""
    if plan.result == "scalar":
        return 200, [(b"content-type", hdr.CONTENT_TYPES[hdr.JSON])], (row["body"] or "null").encode()
    if plan.result == "object":
        content = row["body"] or "[]"
        obj = content[1:-1].strip() if row["n"] == 1 else "null"
        return 200, [(b"content-type", hdr.CONTENT_TYPES[hdr.JSON])], obj.encode()
    return rows_response(fmt, prefer, n=row["n"], body=row["body"], total=row["total"], offset=offset)


def _choose(candidates: list[Function], schema: str, name: str, payload: Any) -> Function:
    names = set(payload) if isinstance(payload, dict) else set()
    matching = [f for f in candidates if f.single_unnamed_body or f.accepts(names)]
    if len(matching) > 1:
        named = [f for f in matching if not f.single_unnamed_body]
        matching = named or matching
    if not matching:
        listed = ", ".join(sorted(names))
        raise RestError(
            404,
            "PGRST202",
            f"Could not find the function {schema}.{name}({listed}) in the schema cache",
            f"Searched for the function {schema}.{name} with parameters {listed or 'none'} or with a single "
            "unnamed json/jsonb parameter, but no matches were found in the schema cache.",
        )
    if len(matching) > 1:
        raise RestError(
            300,
            "PGRST203",
            "Could not choose the best candidate function between: "
            + ", ".join(f"{f.qualified}({', '.join(a.name + ' => ' + a.type for a in f.args)})" for f in matching),
            None,
            "Try renaming the parameters or the function itself in the database so function overloading can be "
            "resolved",
        )
    return matching[0]


def _signature(function: Function) -> tuple[str, ...]:
    return tuple(f"{a.name}:{a.type}" for a in function.args)
