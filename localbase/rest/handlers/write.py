"""POST (insert, upsert), PUT (single-row upsert by primary key), PATCH and DELETE on a table.

A write runs in one transaction; a response that turns into an error after execution (singular
Accept, `max-affected`, PUT's key mismatch) rolls it back, so a refused write changes nothing.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import asyncpg
import msgspec

from localbase.http import Request
from localbase.rest import headers as hdr
from localbase.rest.catalog import Table
from localbase.rest.engine import Engine
from localbase.rest.errors import RestError
from localbase.rest.identity import Identity
from localbase.rest.output import (
    Response,
    content_range,
    format_body,
    max_affected_violation,
    singular_error,
    singular_violation,
)
from localbase.rest.query.shape import scan
from localbase.rest.query.tree import Filter, Query
from localbase.rest.sql.plan import bind
from localbase.rest.sql.write import compile_delete, compile_insert, compile_update

_encoder = msgspec.json.Encoder()


async def insert(engine: Engine, request: Request, identity: Identity, schema: str, table: Table) -> Response:
    fmt, strip, prefer = engine.negotiate(request)
    text, payload = await engine.json_body(request)
    rows = payload if isinstance(payload, list) else [payload]
    if not rows or not all(isinstance(row, dict) for row in rows) or payload is None:
        if payload == []:
            rows = []
        else:
            raise RestError(400, "PGRST102", "Empty or invalid json", "Expected an object or an array of objects")
    shape, values = scan(request.query)
    query = engine.parsed(shape)
    columns = query.columns if query.columns is not None else _keys(rows)
    locate = prefer.headers_only and bool(table.primary_key)
    key = (
        "insert",
        schema,
        table.name,
        shape,
        columns,
        prefer.representation,
        prefer.resolution,
        prefer.missing_default,
        strip,
        locate,
        fmt == hdr.CSV,
    )
    plan = engine.plan(
        key,
        lambda: compile_insert(
            engine.catalog,
            table,
            query,
            columns,
            represent=prefer.representation,
            upsert=prefer.resolution,
            missing_default=prefer.missing_default,
            strip=strip,
            csv=fmt == hdr.CSV,
            locate=locate,
        ),
    )
    status = 201
    if not rows and not columns:
        row_count, body = 0, "[]"
    else:
        args = bind(plan.main.params, values, {"body": text})
        check = singular_violation if fmt == hdr.OBJECT and prefer.representation else None
        row, _ = await engine.execute(request, identity, schema, plan, args, check=check, prefer=prefer)
        row_count, body = row["n"], row["body"]
        if prefer.resolution == "merge" and row["inserted"] == 0:
            status = 200  # PostgREST: an upsert that only updated existing rows
    headers = [(b"content-range", f"*/{row_count if prefer.count else '*'}".encode())]
    if prefer.applied():
        headers.append((b"preference-applied", prefer.applied()))
    if locate and body and body != "[]":
        headers.append((b"location", _location(table, msgspec.json.decode(body)[0]).encode()))
    if prefer.representation:
        headers.append((b"content-type", hdr.content_type(fmt, strip)))
        return status, headers, format_body(fmt, body or "[]")
    return status, headers, b""


async def put(engine: Engine, request: Request, identity: Identity, schema: str, table: Table) -> Response:
    """Single-row upsert: the URL's `eq` filters name the whole primary key, the body the row."""
    fmt, strip, prefer = engine.negotiate(request)
    shape, values = scan(request.query)
    query = engine.parsed(shape)
    _check_put_filters(query, table)
    if query.limit or query.offset or request.headers.get("range"):
        raise RestError(400, "PGRST114", "limit/offset querystring parameters are not allowed for PUT")
    text, payload = await engine.json_body(request)
    rows = payload if isinstance(payload, list) else [payload]
    if len(rows) != 1 or not isinstance(rows[0], dict):
        raise _put_mismatch()
    columns = query.columns if query.columns is not None else tuple(rows[0])
    key = ("put", schema, table.name, shape, columns, prefer.representation, strip, fmt == hdr.CSV)
    plan = engine.plan(
        key,
        lambda: compile_insert(
            engine.catalog,
            table,
            query,
            columns,
            represent=prefer.representation,
            upsert="merge",
            missing_default=False,
            strip=strip,
            csv=fmt == hdr.CSV,
            put=True,
        ),
    )
    args = bind(plan.main.params, values, {"body": text})

    def check(row: asyncpg.Record) -> RestError | None:
        if row["n"] != 1:
            return _put_mismatch()
        return singular_violation(row) if fmt == hdr.OBJECT and prefer.representation else None

    row, _ = await engine.execute(request, identity, schema, plan, args, check=check, prefer=prefer)
    headers = [(b"content-range", content_range(0, 1, 1 if prefer.count else None).encode())]
    if prefer.applied():
        headers.append((b"preference-applied", prefer.applied()))
    if prefer.representation:
        headers.append((b"content-type", hdr.content_type(fmt, strip)))
        return 200, headers, format_body(fmt, row["body"] or "[]")
    return 204, headers, b""


async def update_or_delete(engine: Engine, request: Request, identity: Identity, schema: str, table: Table) -> Response:
    fmt, strip, prefer = engine.negotiate(request)
    shape, values = scan(request.query)
    query = engine.parsed(shape)
    if request.method == "PATCH":
        text, payload = await engine.json_body(request)
        if not isinstance(payload, dict):
            raise RestError(400, "PGRST102", "Empty or invalid json", "PATCH expects a JSON object")
        columns = query.columns if query.columns is not None else tuple(payload)
        key: tuple[Any, ...] = ("update", schema, table.name, shape, columns, prefer.representation, strip, fmt)
        plan = engine.plan(
            key,
            lambda: compile_update(
                engine.catalog, table, query, columns, prefer.representation, strip=strip, csv=fmt == hdr.CSV
            ),
        )
        extras = {"body": text}
        if not columns:
            # PostgREST runs `SELECT ... WHERE false`: nothing changes and no row comes back.
            if fmt == hdr.OBJECT and prefer.representation:
                raise singular_error(0)
            return _changed(prefer, fmt, strip, 0, "[]")
    else:
        key = ("delete", schema, table.name, shape, prefer.representation, strip, fmt)
        plan = engine.plan(
            key,
            lambda: compile_delete(
                engine.catalog, table, query, prefer.representation, strip=strip, csv=fmt == hdr.CSV
            ),
        )
        extras = {}
    args = bind(plan.main.params, values, extras)

    def check(row: asyncpg.Record) -> RestError | None:
        if fmt == hdr.OBJECT and prefer.representation:
            return singular_violation(row)
        return max_affected_violation(prefer, row)

    row, _ = await engine.execute(request, identity, schema, plan, args, check=check, prefer=prefer)
    return _changed(prefer, fmt, strip, row["n"], row["body"] or "[]")


def _changed(prefer: hdr.Prefer, fmt: str, strip: bool, n: int, body: str) -> Response:
    """An update's or delete's answer: the rows when asked for (200), else 204; the range counts them."""
    headers = [(b"content-range", content_range(0, n, n if prefer.count else None).encode())]
    if prefer.applied():
        headers.append((b"preference-applied", prefer.applied()))
    if prefer.representation:
        headers.append((b"content-type", hdr.content_type(fmt, strip)))
        return 200, headers, format_body(fmt, body)
    return 204, headers, b""


def _check_put_filters(query: Query, table: Table) -> None:
    """PUT's filters are exactly one unnegated `eq` per primary-key column (405 PGRST105)."""
    names: list[str] = []
    for condition in query.conditions.get((), []):
        if not isinstance(condition, Filter) or condition.op != "eq" or condition.negate or condition.quantifier:
            names = []
            break
        if condition.field.path:
            names = []
            break
        names.append(condition.field.name)
    if not table.primary_key or sorted(names) != sorted(table.primary_key):
        raise RestError(405, "PGRST105", "Filters must include all and only primary key columns with 'eq' operators")


def _put_mismatch() -> RestError:
    return RestError(400, "PGRST115", "Payload values do not match URL in primary key column(s)")


def _location(table: Table, key: dict[str, Any]) -> str:
    """PostgREST's Location for a created row: `/table?pk=eq.value&...`."""
    pairs = "&".join(f"{quote(name, safe='')}=eq.{quote(_text(key[name]), safe='')}" for name in table.primary_key)
    return f"/{quote(table.name, safe='')}?{pairs}"


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return _encoder.encode(value).decode()


def _keys(rows: list[Any]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for row in rows:
        for name in row:
            seen.setdefault(name, None)
    return tuple(seen)
