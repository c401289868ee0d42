"""`RAISE SQLSTATE 'PGRST'` as PostgREST answers it: the message is the JSON body, the detail the
status and headers (how the plans' refusals reach REST clients as 429 QuotaExceeded)."""

from __future__ import annotations

import json

import asyncpg

from localbase.rest.errors import from_postgres


async def raised(db: asyncpg.Connection, message: str, detail: str) -> asyncpg.PostgresError:
    try:
        await db.execute(
            f"do $$ begin raise sqlstate 'PGRST' using message = $m${message}$m$, detail = $d${detail}$d$; end $$"
        )
    except asyncpg.PostgresError as exc:
        return exc
    raise AssertionError("nothing was raised")


async def test_the_body_status_and_headers_come_from_the_raise(db: asyncpg.Connection) -> None:
    body = {"code": "QuotaExceeded", "message": "used up", "details": '{"period": "day"}', "hint": None}
    error = from_postgres(
        await raised(db, json.dumps(body), json.dumps({"status": 429, "headers": {"Retry-After": "60"}})),
        "authenticated",
    )
    assert error.status == 429
    assert json.loads(error.body()) == body
    assert (b"retry-after", b"60") in error.response_headers()


async def test_a_raise_that_is_not_json_is_pgrst121(db: asyncpg.Connection) -> None:
    error = from_postgres(await raised(db, "not json", "{}"), "authenticated")
    assert (error.status, error.code) == (500, "PGRST121")
    error = from_postgres(await raised(db, '{"code": "X", "message": "m"}', '{"status": 99}'), "authenticated")
    assert (error.status, error.code) == (500, "PGRST121")
