"""The gateway on 127.0.0.1:54321: what Kong does for the Supabase CLI, in one ASGI app.

It routes `/auth/v1`, `/rest/v1`, `/realtime/v1` and `/storage/v1` to the services (prefix stripped), answers CORS
as Supabase does for a browser SPA, and maps the `apikey` to the bearer the services see: an
opaque `sb_secret_…`/`sb_publishable_…` key becomes the service_role/anon JWT, a legacy JWT key is
passed on as is. Like the CLI it accepts any key unless strict mode is on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import unquote

from core import collector
from core.jwt import JwtError, decode
from core.settings import Settings
from localbase.db import Database
from localbase.http import Message, Receive, Scope, Send, respond_json
from localbase.notify import Notifications

log = logging.getLogger(__name__)

PUBLISHABLE_KEY = "sb_publishable_ACJWlzQHlZjBrEguHvfOxg_3BJgxAaH"
SECRET_KEY = "sb_secret_N7UND0UgjKTVK-Uodkm0Hg_xSvEMPvz"  # noqa: S105 - the CLI's public demo key

_ALLOW_HEADERS = (
    b"authorization, apikey, x-client-info, content-type, accept, accept-profile, content-profile, prefer, "
    b"range, range-unit, x-supabase-api-version, x-retry-count, x-upsert, cache-control, x-region, x-metadata, "
    b"if-none-match, if-modified-since"
)
_EXPOSE_HEADERS = (
    b"Content-Range, Range-Unit, Content-Location, Location, Content-Profile, Preference-Applied, "
    b"Proxy-Status, X-Total-Count, Link, X-Supabase-Api-Version, ETag, Content-Disposition, Content-Length, "
    b"Last-Modified, Accept-Ranges, X-Transformations"
)
_OPEN_AUTH_PATHS = ("/verify", "/callback", "/authorize", "/.well-known/jwks.json", "/health")


class Service(Protocol):
    """One mounted service: an ASGI app with a lifecycle."""

    async def startup(self) -> None: ...
    async def shutdown(self) -> None: ...
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None: ...


@dataclass
class Context:
    """What every service is built from."""

    settings: Settings
    db: Database
    notifications: Notifications  # the one LISTEN connection


ServiceFactory = Callable[[Context], Service]


class Gateway:
    def __init__(self, settings: Settings, mounts: dict[str, ServiceFactory]) -> None:
        self.settings = settings
        self.context = Context(
            settings=settings,
            db=Database(settings.database.url, settings.database.pool_min, settings.database.pool_max),
            notifications=Notifications(settings.database.url),
        )
        self._factories = mounts
        self.services: dict[str, Service] = {}
        self._keys = {
            SECRET_KEY: settings.supabase.service_role_key,
            PUBLISHABLE_KEY: settings.supabase.anon_key,
        }

    async def startup(self) -> None:
        await self.context.db.connect()
        for prefix, factory in self._factories.items():
            service = factory(self.context)
            await service.startup()
            self.services[prefix] = service
        # Everything alive now (modules, pools, schema caches) lives as long as the process
        # (core/collector.py: full passes stalled every request in flight).
        collector.settle()

    async def shutdown(self) -> None:
        for service in reversed(list(self.services.values())):
            await service.shutdown()
        await self.context.notifications.close()
        await self.context.db.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(receive, send)
            return
        if kind not in ("http", "websocket"):
            return
        path: str = scope["path"]
        prefix, service = self._route(path)
        if kind == "http":
            headers = dict((k.lower(), v) for k, v in scope["headers"])
            origin = headers.get(b"origin")
            if scope["method"] == "OPTIONS":
                await self._preflight(send, origin, headers.get(b"access-control-request-headers"))
                return
            send = _with_cors(send, origin)
        if service is None:
            await self._not_found(scope, send)
            return
        sub_path = path[len(prefix) :] or "/"
        if not self._authorize_key(scope, prefix, sub_path):
            if kind == "http":
                await respond_json(send, 401, {"message": "Invalid authentication credentials"})
            else:
                await send({"type": "websocket.close", "code": 4001})
            return
        # The scope is this connection's own, so it is rewritten in place: a copy would live as
        # long as each realtime socket does.
        scope["path"] = sub_path
        scope["root_path"] = scope.get("root_path", "") + prefix
        await service(scope, receive, send)

    def _route(self, path: str) -> tuple[str, Service | None]:
        for prefix, service in self.services.items():
            if path == prefix or path.startswith(prefix + "/"):
                return prefix, service
        return "", None

    def _authorize_key(self, scope: Scope, prefix: str, sub_path: str) -> bool:
        """Map the apikey onto the bearer; in strict mode refuse unknown keys."""
        headers: list[tuple[bytes, bytes]] = list(scope["headers"])
        apikey = next((v.decode("latin-1") for k, v in headers if k.lower() == b"apikey"), None)
        if apikey is None:
            apikey = _query_apikey(scope.get("query_string", b""))
        if apikey is not None:
            mapped = self._keys.get(apikey, apikey)
            auth = next((v for k, v in headers if k.lower() == b"authorization"), None)
            if auth is None or auth.startswith(b"Bearer sb_"):
                headers = [(k, v) for k, v in headers if k.lower() != b"authorization"]
                headers.append((b"authorization", b"Bearer " + mapped.encode()))
            scope["headers"] = headers
            scope["localbase.apikey"] = mapped
        if not self.settings.localbase.strict_apikey:
            return True
        if prefix == "/auth/v1" and sub_path.startswith(_OPEN_AUTH_PATHS):
            return True
        if apikey is None:
            return False
        try:
            decode(self._keys.get(apikey, apikey), self.settings.supabase.keys)
        except JwtError:
            return False
        return True

    async def _preflight(self, send: Send, origin: bytes | None, requested: bytes | None) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 204,
                "headers": [
                    (b"access-control-allow-origin", origin or b"*"),
                    (b"access-control-allow-methods", b"GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"),
                    (b"access-control-allow-headers", requested or _ALLOW_HEADERS),
                    (b"access-control-max-age", b"86400"),
                    (b"vary", b"Origin"),
                    (b"content-length", b"0"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b""})

    async def _not_found(self, scope: Scope, send: Send) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 4004})
            return
        await respond_json(send, 404, {"message": "no Route matched with those values"})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:
                    log.exception("gateway failed to start")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return


def _query_apikey(query: bytes) -> str | None:
    for part in query.split(b"&"):
        if part.startswith(b"apikey="):
            return unquote(part[len(b"apikey=") :].decode("latin-1"))
    return None


def _with_cors(send: Send, origin: bytes | None) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [
                *message.get("headers", []),
                (b"access-control-allow-origin", origin or b"*"),
                (b"access-control-expose-headers", _EXPOSE_HEADERS),
                (b"vary", b"Origin"),
            ]
        await send(message)

    return wrapped
