"""GET and HEAD on a table or view: filters, embeds, paging, counts (exact, planned, estimated)."""

from __future__ import annotations

from typing import Any

import msgspec

from localbase.http import Request
from localbase.rest import headers as hdr
from localbase.rest.catalog import Table
from localbase.rest.engine import Engine
from localbase.rest.identity import Identity
from localbase.rest.output import Response, rows_response, singular_violation
from localbase.rest.query.shape import scan
from localbase.rest.sql.plan import bind
from localbase.rest.sql.read import compile_read


async def read(engine: Engine, request: Request, identity: Identity, schema: str, table: Table) -> Response:
    fmt, strip, prefer = engine.negotiate(request)
    shape, values = scan(request.query)
    exact = prefer.count in ("exact", "estimated")
    csv = fmt == hdr.CSV
    aggregates = engine.config.aggregates_enabled
    key = ("read", schema, table.name, shape, exact, strip, csv, aggregates)
    query = engine.parsed(shape)
    plan = engine.plan(
        key, lambda: compile_read(engine.catalog, table, query, exact, strip=strip, csv=csv, aggregates=aggregates)
    )
    offset, limit = engine.paging(request, query, values)
    args = bind(plan.main.params, values, {"limit": limit, "offset": offset})
    planned = bind(plan.count.params, values, {}) if prefer.count in ("planned", "estimated") and plan.count else None
    check = singular_violation if fmt == hdr.OBJECT else None
    row, explain = await engine.execute(
        request, identity, schema, plan, args, check=check, planned=planned, prefer=prefer
    )
    total = _total(prefer.count, row["total"], explain, engine.config.max_rows)
    return rows_response(fmt, prefer, n=row["n"], body=row["body"], total=total, offset=offset, strip=strip)


def _total(mode: str | None, exact: int | None, explain: Any, max_rows: int) -> int | None:
    """`count=planned` is the planner's estimate; `estimated` is exact up to max rows, then planned."""
    if mode is None:
        return None
    planned = None
    if explain is not None:
        plan = msgspec.json.decode(explain) if isinstance(explain, str | bytes) else explain
        planned = int(plan[0]["Plan"]["Plan Rows"])
    if mode == "planned":
        return planned
    if mode == "estimated" and exact is not None and exact > max_rows and planned is not None:
        return planned
    return exact
