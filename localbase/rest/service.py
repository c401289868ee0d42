"""The REST service: PostgREST's HTTP interface over the product database, at /rest/v1.

Per request: verify the bearer (cached), pick the schema, split the query string into shape and
values, fetch or compile the plan for that shape, run it in one transaction as the JWT's role,
and shape the response (status, Content-Range, singular/CSV bodies). Plans are cached by shape,
so a repeated request costs a dictionary lookup plus three database round trips.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any
from urllib.parse import quote

import asyncpg
import msgspec

from localbase.db import with_user
from localbase.gateway import Context
from localbase.http import BodyTooLarge, Receive, Request, Scope, Send, respond
from localbase.rest import headers as hdr
from localbase.rest.catalog import Catalog, Function, Table, load_catalog, quote_ident
from localbase.rest.errors import RestError, not_found_table
from localbase.rest.execute import run, setup_sql
from localbase.rest.identity import Authenticator, Identity
from localbase.rest.output import content_range, csv_body, singular_violation
from localbase.rest.query import Filter, Query, Shape, parse, scan
from localbase.rest.sql import Plan, bind, compile_delete, compile_insert, compile_read, compile_rpc, compile_update

log = logging.getLogger(__name__)

_METHODS = frozenset({"GET", "HEAD", "POST", "PATCH", "PUT", "DELETE"})
# The database is out of reach: connecting refused or reset, the server starting up or shutting
# down, a pooled connection that died with it (asyncpg then reports interface/state errors).
_DATABASE_UNREACHABLE = (
    OSError,
    asyncpg.CannotConnectNowError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.InternalClientError,
)
_PLAN_CACHE_SIZE = 4096
_decoder = msgspec.json.Decoder()
_encoder = msgspec.json.Encoder()


async def _no_reset(conn: asyncpg.Connection) -> None:
    """Every request ends its transaction and sets only transaction-local settings: nothing to reset."""


class RestService:
    def __init__(self, context: Context) -> None:
        self.settings = context.settings
        self.database_url = context.settings.database.url
        self.exposed = context.settings.localbase.exposed_schemas
        self.max_rows = context.settings.localbase.max_rows
        self.max_body = context.settings.localbase.max_body_bytes
        tx_end = context.settings.localbase.rest_tx_end
        self.tx_override = tx_end.endswith("-allow-override")
        self.rollback_by_default = tx_end.startswith("rollback")
        self.auth = Authenticator(context.settings.supabase.jwt_secret)
        self.catalog = Catalog()
        self._plans: dict[tuple[Any, ...], Plan] = {}
        self._pool: asyncpg.Pool | None = None
        self._listener: asyncpg.Connection | None = None
        self._reload: asyncio.Task[None] | None = None
        self._reload_again = False

    # --- lifecycle and the schema cache -------------------------------------------------------

    async def startup(self) -> None:
        self._pool = await asyncpg.create_pool(
            with_user(self.database_url, "authenticator"),
            min_size=2,
            max_size=self.settings.database.pool_max,
            reset=_no_reset,
            server_settings={"standard_conforming_strings": "on", "application_name": "localbase-rest"},
        )
        self._listener = await asyncpg.connect(self.database_url)
        await self._listener.add_listener("pgrst", self._on_notify)
        self.catalog = await load_catalog(self._listener, self.exposed)

    async def shutdown(self) -> None:
        if self._reload is not None:
            self._reload.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reload
        if self._listener is not None:
            await self._listener.close()
        if self._pool is not None:
            await self._pool.close()

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        if payload not in ("", "reload schema"):
            return
        if self._reload is not None and not self._reload.done():
            self._reload_again = True
            return
        self._reload = asyncio.get_running_loop().create_task(self._reload_schema())

    async def _reload_schema(self) -> None:
        """Reload until no notification arrived meanwhile (DDL in bursts reloads once or twice)."""
        assert self._listener is not None
        while True:
            self._reload_again = False
            try:
                catalog = await load_catalog(self._listener, self.exposed)
            except (asyncpg.PostgresError, OSError):
                log.exception("schema cache reload failed")
                return
            self.catalog = catalog
            self._plans.clear()
            if not self._reload_again:
                return

    async def _settled_catalog(self) -> Catalog:
        if self._reload is not None and not self._reload.done():
            await asyncio.shield(self._reload)
        return self.catalog

    # --- HTTP ---------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        try:
            status, headers, body = await self._handle(request)
        except RestError as error:
            status, headers, body = error.status, error.response_headers(), error.body()
        except BodyTooLarge:
            too_large = RestError(
                413, "PGRST413", "Payload Too Large", f"The request body exceeds {self.max_body} bytes"
            )
            status, headers, body = too_large.status, too_large.response_headers(), too_large.body()
        except _DATABASE_UNREACHABLE as exc:
            # PostgREST answers a lost or refused connection with 503 PGRST001: the client may retry.
            log.warning("database unreachable", extra={"path": request.path}, exc_info=exc)
            gone = RestError(503, "PGRST001", "Database client error. Retrying the connection.", str(exc))
            status, headers, body = gone.status, gone.response_headers(), gone.body()
        except Exception:
            log.exception("REST request failed", extra={"path": request.path})
            internal = RestError(500, "XX000", "Internal server error")
            status, headers, body = internal.status, internal.response_headers(), internal.body()
        if request.method == "HEAD":
            body = b""
        await respond(send, status, body, headers)

    async def _handle(self, request: Request) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        method = request.method
        if method not in _METHODS:
            raise RestError(405, "PGRST117", f"Unsupported HTTP method: {method}")
        parts = request.path.strip("/").split("/")
        identity = self.auth.identify(request.bearer())
        headers = request.headers
        reading = method in ("GET", "HEAD")
        schema = hdr.profile(headers.get("accept-profile" if reading else "content-profile"), self.exposed)
        if parts == [""]:
            return 200, [(b"content-type", b"application/openapi+json; charset=utf-8")], _openapi(schema)
        if len(parts) == 2 and parts[0] == "rpc":
            return await self._rpc(request, identity, schema, parts[1])
        if len(parts) != 1:
            raise RestError(404, "PGRST125", f"Invalid path specified in request URL: {request.path}")
        table = await self._table(schema, parts[0])
        if reading:
            return await self._read(request, identity, schema, table)
        if method == "POST":
            return await self._insert(request, identity, schema, table)
        if method == "PUT":
            return await self._put(request, identity, schema, table)
        return await self._write(request, identity, schema, table)

    async def _table(self, schema: str, name: str) -> Table:
        table = self.catalog.table(schema, name)
        if table is None:
            table = (await self._settled_catalog()).table(schema, name)
        if table is None:
            raise not_found_table(schema, name)
        return table

    def _plan(self, key: tuple[Any, ...], build: Any) -> Plan:
        plan = self._plans.get(key)
        if plan is None:
            plan = build()
            if len(self._plans) >= _PLAN_CACHE_SIZE:
                self._plans.clear()
            self._plans[key] = plan
        return plan

    async def _execute(
        self,
        request: Request,
        identity: Identity,
        schema: str,
        plan: Plan,
        args: list[Any],
        *,
        check: Any = None,
        planned: list[Any] | None = None,
        prefer: hdr.Prefer | None = None,
    ) -> tuple[asyncpg.Record, Any]:
        assert self._pool is not None
        role_settings = self.catalog.role_settings.get(identity.role, [])
        if prefer is not None and prefer.timezone:
            role_settings = [*role_settings, ("timezone", prefer.timezone)]
        rollback = self.rollback_by_default if prefer is None or prefer.tx is None else prefer.tx == "rollback"
        setup = setup_sql(
            identity,
            readonly=plan.readonly,
            search_path=f"{quote_ident(schema)}, extensions",
            method=request.method,
            path=request.scope.get("root_path", "") + request.path,
            headers=request.headers,
            role_settings=role_settings,
        )
        extra = None
        if planned is not None and plan.count is not None:
            extra = (f"explain (format json) {plan.count.sql}", planned)
        return await run(self._pool, setup, plan.main.sql, args, identity, check=check, extra=extra, rollback=rollback)

    def _prefer(self, request: Request) -> hdr.Prefer:
        return hdr.prefer(request.headers.get("prefer"), timezones=self.catalog.timezones, tx_override=self.tx_override)

    def _negotiate(self, request: Request) -> tuple[str, bool, hdr.Prefer]:
        """What the client asked for: the body format, whether to strip nulls, its preferences."""
        accept = request.headers.get("accept")
        return hdr.accept(accept), hdr.strips_nulls(accept), self._prefer(request)

    # --- reads --------------------------------------------------------------------------------

    async def _read(
        self, request: Request, identity: Identity, schema: str, table: Table
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        fmt, strip, prefer = self._negotiate(request)
        shape, values = scan(request.query)
        exact = prefer.count in ("exact", "estimated")
        key = ("read", schema, table.name, shape, exact, strip)
        query = _parsed(shape)
        plan = self._plan(key, lambda: compile_read(self.catalog, table, query, exact, strip=strip))
        offset, limit = self._paging(request, query, values)
        args = bind(plan.main.params, values, {"limit": limit, "offset": offset})
        planned = (
            bind(plan.count.params, values, {}) if prefer.count in ("planned", "estimated") and plan.count else None
        )
        check = singular_violation if fmt == hdr.OBJECT else None
        row, explain = await self._execute(
            request, identity, schema, plan, args, check=check, planned=planned, prefer=prefer
        )
        total = _total(prefer.count, row["total"], explain, self.max_rows)
        return self._rows_response(fmt, prefer, n=row["n"], body=row["body"], total=total, offset=offset, strip=strip)

    def _paging(self, request: Request, query: Query, values: list[str]) -> tuple[int, int | None]:
        offset = _int_param(values, query.offset.get(()), "offset") or 0
        limit = _int_param(values, query.limit.get(()), "limit")
        ranged = hdr.range_header(request.headers.get("range"))
        if ranged is not None:
            if query.offset.get(()) is None:
                offset = ranged[0]
            if ranged[1] is not None:
                limit = ranged[1] if limit is None else min(limit, ranged[1])
        if self.max_rows and (limit is None or limit > self.max_rows):
            limit = self.max_rows
        return offset, limit

    def _rows_response(
        self,
        fmt: str,
        prefer: hdr.Prefer,
        *,
        n: int,
        body: str | None,
        total: int | None,
        offset: int,
        strip: bool = False,
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        if total is not None and offset > total and offset > 0:
            raise RestError(
                416,
                "PGRST103",
                "Requested range not satisfiable",
                f"An offset of {offset} was requested, but there are only {total} rows.",
            )
        status = 206 if total is not None and (offset > 0 or offset + n < total) and n < total else 200
        headers = [
            (b"content-type", hdr.content_type(fmt, strip)),
            (b"content-range", content_range(offset, n, total).encode()),
        ]
        if prefer.count or prefer.tx or prefer.timezone:
            headers.append((b"preference-applied", prefer.applied()))
        return status, headers, _format(fmt, body or "[]")

    # --- writes -------------------------------------------------------------------------------

    async def _json_body(self, request: Request) -> tuple[str, Any]:
        raw = await request.body(self.max_body)
        try:
            text = raw.decode("utf-8")
            payload = _decoder.decode(raw) if raw.strip() else None
        except (UnicodeDecodeError, msgspec.DecodeError) as exc:
            raise RestError(400, "PGRST102", "Empty or invalid json", str(exc)) from exc
        if "\x00" in text or "\\u0000" in text:
            raise RestError(400, "22P05", "unsupported Unicode escape sequence", "\\u0000 cannot be converted to text.")
        return text, payload

    async def _insert(
        self, request: Request, identity: Identity, schema: str, table: Table
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        fmt, strip, prefer = self._negotiate(request)
        text, payload = await self._json_body(request)
        rows = payload if isinstance(payload, list) else [payload]
        if not rows or not all(isinstance(row, dict) for row in rows) or payload is None:
            if payload == []:
                rows = []
            else:
                raise RestError(400, "PGRST102", "Empty or invalid json", "Expected an object or an array of objects")
        shape, values = scan(request.query)
        query = _parsed(shape)
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
        )
        plan = self._plan(
            key,
            lambda: compile_insert(
                self.catalog,
                table,
                query,
                columns,
                represent=prefer.representation,
                upsert=prefer.resolution,
                missing_default=prefer.missing_default,
                strip=strip,
                locate=locate,
            ),
        )
        status = 201
        if not rows and not columns:
            row_count, body = 0, "[]"
        else:
            args = bind(plan.main.params, values, {"body": text})
            check = singular_violation if fmt == hdr.OBJECT and prefer.representation else None
            row, _ = await self._execute(request, identity, schema, plan, args, check=check, prefer=prefer)
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
            return status, headers, _format(fmt, body or "[]")
        return status, headers, b""

    async def _put(
        self, request: Request, identity: Identity, schema: str, table: Table
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """Single-row upsert: the URL's `eq` filters name the whole primary key, the body the row."""
        fmt, strip, prefer = self._negotiate(request)
        shape, values = scan(request.query)
        query = _parsed(shape)
        _check_put_filters(query, table)
        if query.limit or query.offset or request.headers.get("range"):
            raise RestError(
                400, "PGRST114", "Range header and limit/offset querystring parameters are not allowed for PUT"
            )
        text, payload = await self._json_body(request)
        rows = payload if isinstance(payload, list) else [payload]
        if len(rows) != 1 or not isinstance(rows[0], dict):
            raise _put_mismatch()
        columns = query.columns if query.columns is not None else tuple(rows[0])
        key = ("put", schema, table.name, shape, columns, prefer.representation, strip)
        plan = self._plan(
            key,
            lambda: compile_insert(
                self.catalog,
                table,
                query,
                columns,
                represent=prefer.representation,
                upsert="merge",
                missing_default=False,
                strip=strip,
                put=True,
            ),
        )
        args = bind(plan.main.params, values, {"body": text})

        def check(row: asyncpg.Record) -> RestError | None:
            if row["n"] != 1:
                return _put_mismatch()
            return singular_violation(row) if fmt == hdr.OBJECT and prefer.representation else None

        row, _ = await self._execute(request, identity, schema, plan, args, check=check, prefer=prefer)
        headers = [(b"content-range", content_range(0, 1, 1 if prefer.count else None).encode())]
        if prefer.applied():
            headers.append((b"preference-applied", prefer.applied()))
        if prefer.representation:
            headers.append((b"content-type", hdr.content_type(fmt, strip)))
            return 200, headers, _format(fmt, row["body"] or "[]")
        return 204, headers, b""

    async def _write(
        self, request: Request, identity: Identity, schema: str, table: Table
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        fmt, strip, prefer = self._negotiate(request)
        shape, values = scan(request.query)
        query = _parsed(shape)
        if request.method == "PATCH":
            text, payload = await self._json_body(request)
            if not isinstance(payload, dict):
                raise RestError(400, "PGRST102", "Empty or invalid json", "PATCH expects a JSON object")
            columns = query.columns if query.columns is not None else tuple(payload)
            key: tuple[Any, ...] = ("update", schema, table.name, shape, columns, prefer.representation, strip)
            plan = self._plan(
                key, lambda: compile_update(self.catalog, table, query, columns, prefer.representation, strip=strip)
            )
            extras = {"body": text}
            if not columns:
                return 204, [(b"content-range", b"*/*")], b""
        else:
            key = ("delete", schema, table.name, shape, prefer.representation, strip)
            plan = self._plan(
                key, lambda: compile_delete(self.catalog, table, query, prefer.representation, strip=strip)
            )
            extras = {}
        args = bind(plan.main.params, values, extras)

        def check(row: asyncpg.Record) -> RestError | None:
            if fmt == hdr.OBJECT and prefer.representation:
                return singular_violation(row)
            return _max_affected_violation(prefer, row)

        row, _ = await self._execute(request, identity, schema, plan, args, check=check, prefer=prefer)
        n = row["n"]
        headers = [(b"content-range", content_range(0, n, n if prefer.count else None).encode())]
        if prefer.applied():
            headers.append((b"preference-applied", prefer.applied()))
        if prefer.representation:
            headers.append((b"content-type", hdr.content_type(fmt, strip)))
            return 200, headers, _format(fmt, row["body"] or "[]")
        return 204, headers, b""

    # --- rpc ----------------------------------------------------------------------------------

    async def _rpc(
        self, request: Request, identity: Identity, schema: str, name: str
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        if request.method not in ("GET", "HEAD", "POST"):
            raise RestError(405, "PGRST101", "Only GET, HEAD or POST are allowed for functions")
        fmt = hdr.accept(request.headers.get("accept"))
        prefer = self._prefer(request)
        candidates = self.catalog.functions.get((schema, name)) or (await self._settled_catalog()).functions.get(
            (schema, name), []
        )
        shape, values = scan(request.query)
        if request.method == "POST":
            text, payload = await self._json_body(request)
            query = _parsed(shape)
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
        plan = self._plan(
            key, lambda: compile_rpc(self.catalog, function, query, arg_names, count=exact, readonly=readonly)
        )
        offset, limit = self._paging(request, query, values)
        args = bind(plan.main.params, values, {"limit": limit, "offset": offset, "body": body})

        def check(row: asyncpg.Record) -> RestError | None:
            if fmt == hdr.OBJECT and plan.result == "rows":
                return singular_violation(row)
            return _max_affected_violation(prefer, row) if plan.result == "rows" else None

        row, _ = await self._execute(request, identity, schema, plan, args, check=check, prefer=prefer)
        if plan.result == "void":
            return 204, [], b""
        if plan.result == "scalar":
            return 200, [(b"content-type", hdr.CONTENT_TYPES[hdr.JSON])], (row["body"] or "null").encode()
        if plan.result == "object":
            content = row["body"] or "[]"
            obj = content[1:-1].strip() if row["n"] == 1 else "null"
            return 200, [(b"content-type", hdr.CONTENT_TYPES[hdr.JSON])], obj.encode()
        return self._rows_response(fmt, prefer, n=row["n"], body=row["body"], total=row["total"], offset=offset)


def _parsed(shape: Shape) -> Query:
    return _parse_cached(shape)


_parse_memo: dict[Shape, Query] = {}


def _parse_cached(shape: Shape) -> Query:
    query = _parse_memo.get(shape)
    if query is None:
        query = parse(shape)
        if len(_parse_memo) >= _PLAN_CACHE_SIZE:
            _parse_memo.clear()
        _parse_memo[shape] = query
    return query


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


def _max_affected_violation(prefer: hdr.Prefer, row: asyncpg.Record) -> RestError | None:
    """`Prefer: handling=strict, max-affected=n` fails (and rolls back) a write or call touching more rows."""
    if prefer.max_affected is None or not prefer.strict or row["n"] <= prefer.max_affected:
        return None
    return RestError(
        400, "PGRST124", "Query result exceeds max-affected preference constraint", f"The query affects {row['n']} rows"
    )


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


def _int_param(values: list[str], slot: Any, what: str) -> int | None:
    if slot is None:
        return None
    text = values[slot.index]
    if not text.isdigit():
        raise RestError(400, "PGRST100", f'"failed to parse {what} parameter ({text})"')
    return int(text)


def _total(mode: str | None, exact: int | None, explain: Any, max_rows: int) -> int | None:
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


def _format(fmt: str, body: str) -> bytes:
    if fmt == hdr.CSV:
        return csv_body(body)
    if fmt == hdr.OBJECT:
        return body[1:-1].strip().encode()
    return body.encode()


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


def _openapi(schema: str) -> bytes:
    return _encoder.encode({"swagger": "2.0", "info": {"title": "localbase REST", "version": "14"}, "schema": schema})
