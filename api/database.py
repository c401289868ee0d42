"""The API's direct door to Postgres: everything runs as the caller, so RLS decides.

A transaction (`as_caller`), on one pooled connection:
1. a simple-protocol string: `BEGIN` and one `SELECT set_config(...)` that switches to the role
   `authenticated` and sets `request.jwt.claims` to the verified token's claims, exactly what
   Supabase's REST does, so `auth.uid()` and every policy see the same caller;
2. the route's statements, prepared and bound;
3. `COMMIT` (or `ROLLBACK` when anything failed).

A read (`read_as`: history pages, sessions, roles, the profile, search) is one statement instead:
a call of a function of the schema `facade` (migrations/20261202051029_facade_reads_in_one_statement.sql)
with the claims as its first argument, which makes the same switch before it reads (and asks for
generic plans, one plan for every caller: Postgres otherwise re-plans a `limit $n` read each time,
0.2-0.3 ms); one round trip instead of three. Only the login role may call those functions.

Guarantees: no statement reads before the role switch, the settings are transaction-local (the
connection returns to the pool clean, and Supabase's poolers may hand it to anyone next), and the
login role itself can read nothing: at startup the API refuses a login role that is superuser,
has BYPASSRLS, or cannot become `authenticated`. Refuses: callers without a verified identity
(there is no anonymous or service path here). One narrow exception, `as_login`: a statement
run as the login role itself, which reads no table; its only grants are the API-key door
(`api_key_identity`), the send-rate counters and the `facade` functions, what the API needs
before it knows who calls. Database failures become the API's error codes through
`database_error`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncpg
import msgspec

from api.errors import ApiError, BadRequest, Conflict, Forbidden, NotFound, UpstreamUnavailable
from api.refusals import missing_account, refusal_from_raise
from api.security import CurrentUser

# The database cannot be reached: refused or reset, starting or stopping, a pooled connection lost.
_UNREACHABLE = (
    OSError,
    asyncpg.CannotConnectNowError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.InternalClientError,
)
T = TypeVar("T")


class UnfitLoginRole(RuntimeError):
    """The configured login role could read data without RLS, or lacks the grants the API's reads
    need; the API will not start with it."""


def literal(text: str) -> str:
    """A SQL string literal (the pool sets standard_conforming_strings, so only quotes double)."""
    if "\x00" in text:
        raise BadRequest("The request carries a NUL character.")
    return "'" + text.replace("'", "''") + "'"


def setup_sql(user: CurrentUser, *, readonly: bool) -> str:
    """`BEGIN` and the caller's role and claims, as one simple-protocol string."""
    claims = literal(user.claims_json)
    mode = " read only" if readonly else ""
    return (
        f"begin isolation level read committed{mode}; "
        f"select set_config('request.jwt.claims', {claims}, true), set_config('role', 'authenticated', true)"
    )


class CallerDatabase:
    """A pool of connections to Postgres, lent out one transaction at a time as a caller."""

    def __init__(self, dsn: str, size: int) -> None:
        self._dsn = dsn
        self._size = size
        self._pool: asyncpg.Pool | None = None

    async def start(self) -> None:
        self._pool = await asyncpg.create_pool(
            self._dsn,
            min_size=min(2, self._size),
            max_size=self._size,
            reset=_no_reset,
            server_settings={"standard_conforming_strings": "on", "application_name": "chatgalaxy-api"},
        )
        await self._refuse_unfit_login()

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()

    async def _refuse_unfit_login(self) -> None:
        assert self._pool is not None
        row = await self._pool.fetchrow(
            """select current_user as name, r.rolsuper or r.rolbypassrls as bypasses,
                      pg_has_role(current_user, 'authenticated', 'MEMBER') as can_switch,
                      case when to_regnamespace('facade') is null then false
                           else has_schema_privilege('facade', 'usage')
                                and coalesce((select bool_and(has_function_privilege(p.oid, 'execute'))
                                                from pg_proc p where p.pronamespace = to_regnamespace('facade')),
                                             false) end as reads
                 from pg_roles r where r.rolname = current_user"""
        )
        if row is None or row["bypasses"] or not row["can_switch"]:
            name = row["name"] if row is not None else "?"
            await self.close()
            raise UnfitLoginRole(
                f"API_DATABASE_URL logs in as {name!r}: the API needs a role that is neither superuser nor "
                "BYPASSRLS and may `set role authenticated` (see README, 'The API's data path')."
            )
        if not row["reads"]:
            await self.close()
            raise UnfitLoginRole(
                f"API_DATABASE_URL logs in as {row['name']!r}, which may not call the `facade` functions the "
                "API reads through: grant it usage on schema facade and execute on its functions (see README, "
                "'The API's data path'), or apply the migrations."
            )

    @asynccontextmanager
    async def as_caller(self, user: CurrentUser, *, readonly: bool = False) -> AsyncIterator[asyncpg.Connection]:
        """A connection inside a transaction running as `user`; committed when the block ends."""
        if self._pool is None:
            raise UpstreamUnavailable()
        try:
            async with self._pool.acquire() as conn:
                await conn.execute(setup_sql(user, readonly=readonly))
                try:
                    yield conn
                except BaseException:
                    if not conn.is_closed() and conn.is_in_transaction():
                        await conn.execute("rollback")
                    raise
                await conn.execute("commit")
        except asyncpg.PostgresError as exc:
            raise database_error(exc) from exc
        except _UNREACHABLE as exc:
            raise UpstreamUnavailable() from exc

    async def run_as(
        self, user: CurrentUser, statements: str, *, untranslated: tuple[type[asyncpg.PostgresError], ...] = ()
    ) -> None:
        """`statements` (SQL text whose values went through `literal`) in one transaction as `user`:
        BEGIN, the role switch, the statements and COMMIT sent as ONE simple-protocol string, so a
        write whose result the caller does not need costs one round trip. Nothing is returned;
        errors of the `untranslated` classes reach the caller as asyncpg raised them."""
        if self._pool is None:
            raise UpstreamUnavailable()
        try:
            async with self._pool.acquire() as conn:
                try:
                    await conn.execute(f"{setup_sql(user, readonly=False)}; {statements}; commit")
                except BaseException:
                    if not conn.is_closed() and conn.is_in_transaction():
                        await conn.execute("rollback")
                    raise
        except untranslated:
            raise
        except asyncpg.PostgresError as exc:
            raise database_error(exc) from exc
        except _UNREACHABLE as exc:
            raise UpstreamUnavailable() from exc

    async def read_as(self, user: CurrentUser, query: str, *args: Any) -> asyncpg.Record:
        """The one row of `query`, a call of a `facade` function with `$1` the caller's claims
        (migrations/20261202051029_facade_reads_in_one_statement.sql): the function becomes the
        caller before it reads, so the read is one statement, its own transaction, one round trip
        instead of three. The statement runs as the login role, which reads nothing by itself."""
        if self._pool is None:
            raise UpstreamUnavailable()
        try:
            async with self._pool.acquire() as conn:
                row: asyncpg.Record | None = await conn.fetchrow(query, user.claims_json, *args)
        except asyncpg.PostgresError as exc:
            raise database_error(exc) from exc
        except _UNREACHABLE as exc:
            raise UpstreamUnavailable() from exc
        assert row is not None  # a function call returns a row
        return row

    async def as_login(self, query: str, *args: Any) -> list[asyncpg.Record]:
        """One statement as the login role (autocommit): the definer functions granted to it alone."""
        if self._pool is None:
            raise UpstreamUnavailable()
        try:
            async with self._pool.acquire() as conn:
                found: list[asyncpg.Record] = await conn.fetch(query, *args)
                return found
        except asyncpg.PostgresError as exc:
            raise database_error(exc) from exc
        except _UNREACHABLE as exc:
            raise UpstreamUnavailable() from exc


@dataclass(frozen=True)
class Caller:
    """The signed-in caller and the door to Postgres as them: what a data route needs, injected as
    one dependency (Litestar resolves several in a task group, which costs more than the read)."""

    user: CurrentUser
    database: CallerDatabase

    async def read(self, query: str, *args: Any) -> asyncpg.Record:
        """A `facade` function's row, in one round trip as the caller (`CallerDatabase.read_as`)."""
        return await self.database.read_as(self.user, query, *args)

    async def read_rows(self, kind: type[T], query: str, *args: Any) -> list[T]:
        """The JSON array a `facade` function returns, decoded straight into `kind` structs."""
        raw = (await self.read(query, *args))[0]
        found: list[T] = msgspec.json.decode(raw, type=list[kind])  # type: ignore[valid-type]
        return found


async def _no_reset(conn: asyncpg.Connection) -> None:
    """Each use ends its transaction and sets only transaction-local settings: nothing to reset."""


def database_error(exc: asyncpg.PostgresError) -> ApiError:
    """PostgreSQL's SQLSTATE as the API's errors, as `upstream.rest_error` does for REST's codes."""
    code: str = getattr(exc, "sqlstate", None) or ""
    message = getattr(exc, "message", None) or None
    if code == "PGRST":  # a refusal raised for PostgREST (plans and quotas): the message is its JSON body
        refused = refusal_from_raise(message)
        if refused is not None:
            return refused
    if code == "42501":
        return Forbidden()
    if code == "23505":
        return Conflict()
    if code == "23503":
        return missing_account(code, getattr(exc, "detail", None)) or NotFound()
    # 22P05 and 22021: a NUL (in jsonb, in text) or a character the encoding lacks
    if code in {"22P02", "23514", "22001", "23502", "22007", "22008", "22P05", "22021"}:
        return BadRequest(message)
    if code.startswith(("08", "53", "57")):
        return UpstreamUnavailable()
    return ApiError(f"Database error {code}".strip())
