"""Function calls at /rpc/name: GET/HEAD with arguments in the query, POST with a body.

A POST body is read by its Content-Type, as PostgREST reads it: JSON (the object's keys name the
arguments; an array's first object is used; `columns=` names them instead), a form, or a raw
text/xml/bytes body for a function's single parameter. `localbase.rest.overloads` picks the
function; the result is shaped by its return type: rows, one object, a scalar, or nothing (204).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import asyncpg
import msgspec

from localbase.http import Request
from localbase.rest import headers as hdr
from localbase.rest.catalog import Function
from localbase.rest.engine import Engine
from localbase.rest.errors import RestError
from localbase.rest.identity import Identity
from localbase.rest.output import Response, max_affected_violation, rows_response, singular_violation
from localbase.rest.overloads import FORM, JSON, RAW_BODIES, find
from localbase.rest.query.shape import scan
from localbase.rest.query.tree import Query
from localbase.rest.sql.plan import bind
from localbase.rest.sql.rpc import Call, compile_rpc

_decoder = msgspec.json.Decoder()


async def rpc(engine: Engine, request: Request, identity: Identity, schema: str, name: str) -> Response:
    method = request.method
    if method not in ("GET", "HEAD", "POST"):
        raise RestError(405, "PGRST101", f"Cannot use the {method} method on RPC")
    fmt, _, prefer = engine.negotiate(request)
    shape, values = scan(request.query)
    post = method == "POST"
    query = engine.parsed(shape, rpc=not post)
    extras: dict[str, Any] = {}
    if post:
        media = _media(request.headers.get("content-type"))
        keys, direct, body = await _post_arguments(engine, request, media, query)
        extras["body"] = body
    else:
        media = JSON
        direct = {key: values[slot.index] for key, slot in query.args.items()}
        keys = frozenset(direct)
    catalog = engine.catalog if (schema, name) in engine.catalog.functions else await engine.schema.settled()
    function = find(catalog, schema, name, keys, media=media, post=post)
    call = _call(function, keys, direct is not None, post)
    if direct is not None:
        extras.update((f"arg:{key}", value) for key, value in direct.items())
    if call.kind == "positional" and direct is not None:
        extras["body"] = msgspec.json.encode(direct).decode()
    readonly = not post or function.volatility in ("s", "i")
    exact = prefer.count in ("exact", "estimated")
    csv = fmt == hdr.CSV
    aggregates = engine.config.aggregates_enabled
    key = ("rpc", schema, name, shape, _signature(function), call, exact, readonly, post, csv, aggregates)
    plan = engine.plan(
        key,
        lambda: compile_rpc(
            catalog, function, query, call, count=exact, readonly=readonly, csv=csv, aggregates=aggregates
        ),
    )
    offset, limit = engine.paging(request, query, values)
    args = bind(plan.main.params, values, {"limit": limit, "offset": offset, **extras})

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


def _media(header: str | None) -> str:
    """The body's media type; none given is JSON, as PostgREST assumes."""
    return (header or JSON).split(";", 1)[0].strip().lower() or JSON


async def _post_arguments(
    engine: Engine, request: Request, media: str, query: Query
) -> tuple[frozenset[str], dict[str, str] | None, str | bytes]:
    """(argument names, form values or None, the body to pass on) for a POST."""
    raw = await request.body(engine.max_body)
    if media in RAW_BODIES:
        return frozenset(), None, raw if media == "application/octet-stream" else _text(raw)
    if media == FORM:
        form = dict(parse_qsl(_text(raw), keep_blank_values=True))
        return frozenset(form), form, ""
    if media != JSON:
        raise RestError(400, "PGRST102", f"Content-Type not acceptable: {media}")
    text = _text(raw)
    if query.columns is not None:
        return frozenset(query.columns), None, text
    if not raw.strip():
        return frozenset(), None, "{}"
    try:
        payload = _decoder.decode(raw)
    except msgspec.DecodeError as exc:
        raise RestError(400, "PGRST102", "Empty or invalid json") from exc
    if isinstance(payload, dict):
        return frozenset(payload), None, text
    if isinstance(payload, list) and payload:
        keys = frozenset(payload[0]) if isinstance(payload[0], dict) else None
        if keys is None or any(not isinstance(item, dict) or frozenset(item) != keys for item in payload):
            raise RestError(400, "PGRST102", "All object keys must match")
        return keys, None, text
    return frozenset(), None, "[]"  # any other JSON value reads as an empty array, as in PostgREST


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RestError(400, "PGRST102", "Empty or invalid json", str(exc)) from exc


def _call(function: Function, keys: frozenset[str], direct: bool, post: bool) -> Call:
    """PostgREST's `callPlan`: a lone unnamed parameter takes the body positionally; otherwise the
    named parameters the call gives, from the JSON body or one by one (query or form)."""
    if function.single_unnamed is not None:
        return Call("positional", (function.args[0].type,))
    names = tuple(a.name for a in function.args if a.name in keys)
    if not names:
        return Call("none")
    return Call("direct" if direct or not post else "json", names)


def _signature(function: Function) -> tuple[str, ...]:
    return tuple(f"{a.name}:{a.type}" for a in function.args)
