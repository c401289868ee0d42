"""The REST service: PostgREST's HTTP interface over the product database, at /rest/v1.

Per request: verify the bearer (cached), pick the schema, route to the read, write or RPC
handler, and turn every failure into PostgREST's error shape: a lost database is 503 PGRST001,
anything unexpected 500 (our bug, logged). HEAD answers GET's headers without the body.
"""

from __future__ import annotations

import logging

import asyncpg
import msgspec

from localbase.db import with_user
from localbase.gateway import Context
from localbase.http import BodyTooLarge, Receive, Request, Scope, Send, respond
from localbase.rest import headers as hdr
from localbase.rest.engine import Engine, ExplainAnswer
from localbase.rest.errors import RestError
from localbase.rest.handlers.read import read
from localbase.rest.handlers.rpc import rpc
from localbase.rest.handlers.write import insert, put, update_or_delete
from localbase.rest.identity import Authenticator
from localbase.rest.output import Response

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
_encoder = msgspec.json.Encoder()


async def _no_reset(conn: asyncpg.Connection) -> None:
    """Every request ends its transaction and sets only transaction-local settings: nothing to reset."""


class RestService:
    def __init__(self, context: Context) -> None:
        self.settings = context.settings
        self.exposed = context.settings.localbase.exposed_schemas
        self.auth = Authenticator(context.settings.supabase.keys)
        self.engine = Engine(context.settings, context.notifications)

    async def startup(self) -> None:
        self.engine.pool = await asyncpg.create_pool(
            with_user(self.settings.database.url, "authenticator"),
            min_size=2,
            max_size=self.settings.database.pool_max,
            reset=_no_reset,
            server_settings={"standard_conforming_strings": "on", "application_name": "localbase-rest"},
        )
        await self.engine.schema.start()

    async def shutdown(self) -> None:
        await self.engine.schema.stop()
        if self.engine.pool is not None:
            await self.engine.pool.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        try:
            status, headers, body = await self._handle(request)
        except ExplainAnswer as answer:
            status, headers, body = answer.response
        except RestError as error:
            status, headers, body = error.status, error.response_headers(), error.body()
        except BodyTooLarge:
            too_large = RestError(
                413, "PGRST413", "Payload Too Large", f"The request body exceeds {self.engine.max_body} bytes"
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

    async def _handle(self, request: Request) -> Response:
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
            return await rpc(self.engine, request, identity, schema, parts[1])
        if len(parts) != 1:
            raise RestError(404, "PGRST125", "Invalid path specified in request URL")
        table = await self.engine.table(schema, parts[0])
        if reading:
            return await read(self.engine, request, identity, schema, table)
        if method == "POST":
            return await insert(self.engine, request, identity, schema, table)
        if method == "PUT":
            return await put(self.engine, request, identity, schema, table)
        return await update_or_delete(self.engine, request, identity, schema, table)


def _openapi(schema: str) -> bytes:
    return _encoder.encode({"swagger": "2.0", "info": {"title": "localbase REST", "version": "14"}, "schema": schema})
