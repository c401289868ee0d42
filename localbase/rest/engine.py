"""What every REST handler shares: the pool, the plan cache, content negotiation and execution.

Plans are cached by request shape (cleared when the schema cache reloads), so a repeated request
costs a dictionary lookup plus three database round trips (see `execute`). Nothing here queries
the catalog per request: it is read from the schema cache.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg
import msgspec

from core.settings import Settings
from localbase.http import Request
from localbase.notify import Notifications
from localbase.rest import headers as hdr
from localbase.rest.catalog import Catalog, Table, quote_ident
from localbase.rest.config import RestConfig
from localbase.rest.errors import RestError, not_found_table
from localbase.rest.execute import Check, run, setup_sql
from localbase.rest.identity import Identity
from localbase.rest.query.shape import parse
from localbase.rest.query.tree import Query, Shape
from localbase.rest.schema_cache import SchemaCache
from localbase.rest.sql.plan import Plan

PLAN_CACHE_SIZE = 4096


class ExplainAnswer(Exception):
    """The response to an explain request, raised past the handler's row shaping to the service."""

    def __init__(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        super().__init__("explain")
        self.response = (status, headers, body)


_decoder = msgspec.json.Decoder()


class Engine:
    def __init__(self, settings: Settings, notifications: Notifications) -> None:
        local = settings.localbase
        self.max_body = local.max_body_bytes
        self._env_config = RestConfig.from_settings(local)
        self.config = self._env_config
        self.schema = SchemaCache(
            settings.database.url, notifications, local.exposed_schemas, self._plans_clear, self._configure
        )
        self.pool: asyncpg.Pool | None = None
        self._plans: dict[tuple[Any, ...], Plan] = {}
        self._queries: dict[tuple[Shape, bool], Query] = {}

    @property
    def catalog(self) -> Catalog:
        return self.schema.catalog

    def _plans_clear(self) -> None:
        self._plans.clear()

    def _configure(self, database_values: dict[str, str]) -> None:
        """The environment's settings with the database's `pgrst.*` on top (see `localbase.rest.config`)."""
        self.config = self._env_config.with_database(database_values)

    # --- the schema cache ---------------------------------------------------------------------

    async def table(self, schema: str, name: str) -> Table:
        table = self.catalog.table(schema, name)
        if table is None:
            table = (await self.schema.settled()).table(schema, name)
        if table is None:
            raise not_found_table(schema, name)
        return table

    def plan(self, key: tuple[Any, ...], build: Callable[[], Plan]) -> Plan:
        plan = self._plans.get(key)
        if plan is None:
            plan = build()
            if len(self._plans) >= PLAN_CACHE_SIZE:
                self._plans.clear()
            self._plans[key] = plan
        return plan

    def parsed(self, shape: Shape, *, rpc: bool = False) -> Query:
        """The AST of a shape (memoized: shapes repeat); `rpc` for a function read's arguments."""
        query = self._queries.get((shape, rpc))
        if query is None:
            query = parse(shape, rpc)
            if len(self._queries) >= PLAN_CACHE_SIZE:
                self._queries.clear()
            self._queries[(shape, rpc)] = query
        return query

    # --- what the client asked for ------------------------------------------------------------

    def prefer(self, request: Request) -> hdr.Prefer:
        return hdr.prefer(
            request.headers.get("prefer"), timezones=self.catalog.timezones, tx_override=self.config.tx_override
        )

    def negotiate(self, request: Request) -> tuple[str, bool, hdr.Prefer]:
        """The body format, whether to strip nulls, and the preferences. An explain request (when
        db-plan-enabled) negotiates the format it explains; without it, its media type is 406."""
        accept = request.headers.get("accept")
        plan = hdr.plan_media(accept)
        if plan is not None and self.config.plan_enabled:
            accept = plan.target
        return hdr.accept(accept), hdr.strips_nulls(accept), self.prefer(request)

    def explaining(self, request: Request) -> hdr.PlanMedia | None:
        plan = hdr.plan_media(request.headers.get("accept"))
        return plan if plan is not None and self.config.plan_enabled else None

    async def json_body(self, request: Request) -> tuple[str, Any]:
        raw = await request.body(self.max_body)
        try:
            text = raw.decode("utf-8")
            payload = _decoder.decode(raw) if raw.strip() else None
        except (UnicodeDecodeError, msgspec.DecodeError) as exc:
            raise RestError(400, "PGRST102", "Empty or invalid json", str(exc)) from exc
        if "\x00" in text or "\\u0000" in text:
            raise RestError(400, "22P05", "unsupported Unicode escape sequence", "\\u0000 cannot be converted to text.")
        return text, payload

    def paging(self, request: Request, query: Query, values: list[str]) -> tuple[int, int | None]:
        """Offset and limit from `offset=`/`limit=`, the Range header and the server's max rows."""
        offset = _int_param(values, query.offset.get(()), "offset") or 0
        limit = _int_param(values, query.limit.get(()), "limit")
        ranged = hdr.range_header(request.headers.get("range"))
        if ranged is not None:
            if query.offset.get(()) is None:
                offset = ranged[0]
            if ranged[1] is not None:
                limit = ranged[1] if limit is None else min(limit, ranged[1])
        if limit is not None and limit < 0:
            # PostgREST's NegativeLimit; a negative offset goes to OFFSET, which PostgreSQL refuses (2201X).
            raise RestError(
                416, "PGRST103", "Requested range not satisfiable", "Limit should be greater than or equal to zero."
            )
        max_rows = self.config.max_rows
        if max_rows and (limit is None or limit > max_rows):
            limit = max_rows
        return offset, limit

    # --- running a plan -----------------------------------------------------------------------

    async def execute(
        self,
        request: Request,
        identity: Identity,
        schema: str,
        plan: Plan,
        args: list[Any],
        *,
        check: Check | None = None,
        planned: list[Any] | None = None,
        prefer: hdr.Prefer | None = None,
    ) -> tuple[asyncpg.Record, Any]:
        """Run the plan in one transaction as the identity's role (see `localbase.rest.execute`).

        An explain request (`Accept: application/vnd.pgrst.plan...`) is answered here, before the
        caller shapes rows: `ExplainAnswer` carries PostgreSQL's plan of the same statement.
        """
        assert self.pool is not None
        role_settings = self.catalog.role_settings.get(identity.role, [])
        if prefer is not None and prefer.timezone:
            role_settings = [*role_settings, ("timezone", prefer.timezone)]
        rollback = self.config.rollback_by_default if prefer is None or prefer.tx is None else prefer.tx == "rollback"
        setup = setup_sql(
            identity,
            readonly=plan.readonly,
            search_path=f"{quote_ident(schema)}, extensions",
            method=request.method,
            path=request.scope.get("root_path", "") + request.path,
            headers=request.headers,
            role_settings=role_settings,
        )
        explain = self.explaining(request)
        if explain is not None:
            options = ", ".join((f"format {explain.format}", *explain.options))
            _, text = await run(self.pool, setup, plan.main.sql, args, identity, rollback=rollback, explain=options)
            raise ExplainAnswer(200, [(b"content-type", explain.content_type())], text.encode())
        extra = None
        if planned is not None and plan.count is not None:
            extra = (f"explain (format json) {plan.count.sql}", planned)
        return await run(self.pool, setup, plan.main.sql, args, identity, check=check, extra=extra, rollback=rollback)


def _int_param(values: list[str], slot: Any, what: str) -> int | None:
    if slot is None:
        return None
    text = values[slot.index]
    if not text.removeprefix("-").isdigit():
        raise RestError(400, "PGRST100", f'"failed to parse {what} parameter ({text})"')
    return int(text)
