"""One request, one transaction, three round trips.

1. A simple-protocol string: `BEGIN` plus one `SELECT set_config(...)` that switches role and sets
   the request settings. It must be its own statement: set in the same SELECT as the query, the
   planner would run the query before the role switch (see the spec's pitfall).
2. The main statement, prepared (asyncpg's per-connection statement cache) with bound values.
3. `COMMIT`, or `ROLLBACK` when the response turned into an error after execution or the request
   asked for it (`Prefer: tx=rollback` where the server allows that).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg
import msgspec

from localbase.rest.catalog import quote_literal
from localbase.rest.errors import RestError, from_postgres
from localbase.rest.identity import Identity

_RETRYABLE = (asyncpg.exceptions.InvalidCachedStatementError, asyncpg.exceptions.OutdatedSchemaCacheError)
_encoder = msgspec.json.Encoder()


def setup_sql(
    identity: Identity,
    *,
    readonly: bool,
    search_path: str,
    method: str,
    path: str,
    headers: dict[str, str],
    role_settings: list[tuple[str, str]],
) -> str:
    """`BEGIN` and the request's settings; every value is a quoted literal (claims come verified)."""
    settings = [
        ("search_path", quote_literal(search_path)),
        ("request.method", quote_literal(method)),
        ("request.path", quote_literal(path)),
        ("request.headers", quote_literal(_encoder.encode(headers).decode())),
        ("request.cookies", "'{}'"),
        ("request.jwt.claims", identity.claims_literal),
        *((name, quote_literal(value)) for name, value in role_settings),
        ("role", identity.role_literal),
    ]
    calls = ", ".join(f"set_config('{name}', {value}, true)" for name, value in settings)
    mode = " read only" if readonly else ""
    return f"begin isolation level read committed{mode}; select {calls}"


Check = Callable[[asyncpg.Record], RestError | None]


async def run(
    pool: asyncpg.Pool,
    setup: str,
    sql: str,
    args: list[Any],
    identity: Identity,
    *,
    check: Check | None = None,
    extra: tuple[str, list[Any]] | None = None,
    rollback: bool = False,
    explain: str | None = None,
) -> tuple[asyncpg.Record, Any]:
    """Run the statement in its own transaction; `check` may veto the result (then roll back).

    `extra` is a second statement (a planned-count EXPLAIN) whose first value is returned too.
    A prepared statement invalidated by DDL is retried once with a fresh plan. With `explain`
    (EXPLAIN's options) the statement is explained instead: the plan's lines come back as `extra`.
    """
    for attempt in (1, 2):
        async with pool.acquire() as conn:
            try:
                await conn.execute(setup)
                if explain is not None:
                    lines = await conn.fetch(f"explain ({explain}) {sql}", *args)
                    await conn.execute("rollback" if rollback else "commit")
                    return None, "".join(f"{line[0]}\n" for line in lines)
                row = await conn.fetchrow(sql, *args)
                extra_value = await conn.fetchval(extra[0], *extra[1]) if extra is not None else None
                assert row is not None
                error = check(row) if check is not None else None
                if error is not None:
                    await conn.execute("rollback")
                    raise error
                await conn.execute("rollback" if rollback else "commit")
                return row, extra_value
            except _RETRYABLE:
                await _rollback(conn)
                if attempt == 2:
                    raise
            except asyncpg.PostgresError as exc:
                await _rollback(conn)
                raise from_postgres(exc, identity.role) from exc
            except BaseException:
                await _rollback(conn)
                raise
    raise AssertionError("unreachable")


async def _rollback(conn: asyncpg.Connection) -> None:
    if not conn.is_closed() and conn.is_in_transaction():
        await conn.execute("rollback")
