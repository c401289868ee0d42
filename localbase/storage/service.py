"""Supabase Storage on /storage/v1: the routes of storage-api that storage3 and storage-js call.

Routing only: each route names who it runs as (JWT required, JWT optional, or none: public and
signed routes) and hands over to buckets/reads/writes/listing/signing. Errors are answered in
storage-api's shape (errors.py); anything unexpected is logged and answered as a 500 in it.
Background: a NOTIFY on `storage_blob_deletions` (heard on the gateway's LISTEN connection,
localbase/notify.py) drains the byte-deletion queue when SQL (a cascade, a product trigger)
deletes objects; a sweep at start-up and hourly removes leftovers of crashed uploads (blobs.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from typing import Any

import asyncpg
import msgspec

from localbase.db import init_connection, with_user
from localbase.gateway import Context
from localbase.http import Receive, Request, Scope, Send, json_holds_nul, respond, respond_json
from localbase.rest.identity import Authenticator
from localbase.storage import buckets, listing, reads, rules, signing, writes
from localbase.storage.access import Access, Caller
from localbase.storage.blobs import BlobStore
from localbase.storage.context import Storage
from localbase.storage.errors import StorageError, invalid_request, not_found_route
from localbase.storage.uploads import ClientGone

log = logging.getLogger(__name__)

_MAX_JSON = 1_048_576
_SWEEP_SECONDS = 3600.0
_VERSION = b"1.70.6-localbase"
# The last moment an HTTP date can name (its year has four digits); a signed link may outlive it.
_LAST_HTTP_DATE = int(datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp())


class StorageService:
    def __init__(self, context: Context) -> None:
        self.settings = context.settings
        self.db = context.db
        self.notifications = context.notifications
        self._tasks: list[asyncio.Task[None]] = []
        self._pools: list[asyncpg.Pool] = []
        self._wake = asyncio.Event()
        config = context.settings.storage
        self.storage = Storage(
            access=Access(Authenticator(context.settings.supabase.keys), context.db.api_pool, context.db.admin_pool),
            store=BlobStore(config.root, config.orphan_grace_seconds),
            global_limit=config.file_size_limit,
            url_secret=context.settings.supabase.jwt_secret,
            upload_url_expiry=config.upload_url_expiry,
            empty_bucket_service_only=config.empty_bucket_service_only,
            public_cache_seconds=config.public_cache_seconds,
        )

    async def startup(self) -> None:
        # Storage's own pools: every setting it makes is transaction-local (set_config(..., true)),
        # so a connection needs no reset on release, saving a round trip on every request.
        url, size = self.settings.database.url, self.settings.database.pool_max
        self._pools = [
            await asyncpg.create_pool(
                with_user(url, "authenticator"), min_size=1, max_size=size, init=init_connection, reset=_no_reset
            ),
            await asyncpg.create_pool(
                url, min_size=1, max_size=max(4, size // 2), init=init_connection, reset=_no_reset
            ),
        ]
        self.storage.access.api, self.storage.access.admin = self._pools
        await self.storage.store.sweep(self.db.admin_pool)
        await self.storage.drain()
        # a deletion missed while the gateway's LISTEN connection was down is drained all the same
        await self.notifications.listen("storage_blob_deletions", lambda _payload: self._wake.set(), self._wake.set)
        self._tasks = [asyncio.create_task(self._drainer()), asyncio.create_task(self._sweeper())]

    async def shutdown(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for pool in self._pools:
            await pool.close()

    async def _drainer(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self.storage.drain()
            except (OSError, asyncpg.PostgresError):
                log.exception("storage: draining deleted blobs failed; retried on the next deletion")

    async def _sweeper(self) -> None:
        while True:
            await asyncio.sleep(_SWEEP_SECONDS)
            try:
                await self.storage.store.sweep(self.db.admin_pool)
                await self.storage.drain()
            except (OSError, asyncpg.PostgresError):
                log.exception("storage: sweep failed")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        head = request.method == "HEAD"
        try:
            if request.method not in ("GET", "HEAD"):
                self.storage.forget_public()  # any write may change what a public URL serves
            await self._route(request, send)
        except StorageError as error:
            await error.send(send, head=head)
        except ClientGone:
            return
        except Exception:
            log.exception("storage request failed", extra={"path": request.path})
            await StorageError("500", "Internal", "Internal Server Error", "InternalError", http_status=500).send(
                send, head=head
            )

    def _caller(self, request: Request, *, optional: bool = False) -> Caller:
        return self.storage.access.caller(request.bearer(), optional=optional)

    async def _route(self, request: Request, send: Send) -> None:
        method, path = request.method, request.path
        parts = path.lstrip("/").split("/", 1)
        head, rest = parts[0], parts[1] if len(parts) > 1 else ""
        st = self.storage
        if head in ("status", "health") and method == "GET":
            await respond(send, 200, b"" if head == "status" else b'{"healthy":true}')
            return
        if head == "version" and method == "GET":
            await respond(send, 200, _VERSION, [(b"content-type", b"text/plain")])
            return
        if head == "bucket":
            await self._bucket(request, send, method, rest)
            return
        if head == "render" and method in ("GET", "HEAD") and rest.startswith("image/"):
            await self._read(request, send, rest[len("image/") :], transform=True)
            return
        if head != "object":
            raise not_found_route(method, path)
        first, _, tail = rest.partition("/")
        if method == "POST" and first in ("list", "list-v2") and tail:
            body = await _json(request)
            if first == "list":
                await respond_json(send, 200, await listing.list_v1(st, self._caller(request), tail, body))
            else:
                await respond_json(send, 200, await listing.list_v2(st, self._caller(request), tail, body))
            return
        if method == "POST" and rest == "move":
            await respond_json(send, 200, await writes.move(st, self._caller(request), await _json(request)))
            return
        if method == "POST" and rest == "copy":
            caller = self._caller(request)
            result = await writes.copy(st, caller, await _json(request), upsert=_upsert(request))
            await respond_json(send, 200, result)
            return
        if first == "sign" and method == "POST":
            bucket, _, key = tail.partition("/")
            if key:
                rules.object_key(key)
            body = await _json(request)
            if key:
                await respond_json(send, 200, await signing.sign_one(st, self._caller(request), bucket, key, body))
            else:
                await respond_json(send, 200, await signing.sign_many(st, self._caller(request), bucket, body))
            return
        if first == "upload" and tail.startswith("sign/"):
            bucket, _, key = tail[len("sign/") :].partition("/")
            if method == "POST":
                result = await signing.sign_upload(st, self._caller(request), bucket, key, upsert=_upsert(request))
                await respond_json(send, 200, result)
                return
            if method == "PUT":
                claims = signing.verify(st, request.query_value("token"), bucket, key, "upload")
                owner = claims.get("owner") if isinstance(claims.get("owner"), str) else None
                out = await writes.upload(
                    st, request, None, bucket, key, upsert=bool(claims.get("upsert")), owner=owner
                )
                await respond_json(send, 200, {"Key": out["Key"]})
                return
        if method in ("GET", "HEAD"):
            await self._read(request, send, rest, transform=False)
            return
        bucket, _, key = rest.partition("/")
        if method in ("POST", "PUT") and key:
            caller = self._caller(request)
            upsert = method == "PUT" or _upsert(request)
            await respond_json(
                send, 200, await writes.upload(st, request, caller, bucket, key, upsert=upsert, owner=caller.sub)
            )
            return
        if method == "DELETE" and bucket:
            if key:
                await respond_json(send, 200, await writes.remove_one(st, self._caller(request), bucket, key))
            else:
                body = await _json(request)
                await respond_json(send, 200, await writes.remove_many(st, self._caller(request), bucket, body))
            return
        raise not_found_route(method, path)

    async def _bucket(self, request: Request, send: Send, method: str, rest: str) -> None:
        st, caller = self.storage, self._caller(request)
        bucket_id, _, action = rest.partition("/")
        result: Any
        if not bucket_id and method == "GET":
            result = await buckets.list_buckets(st, caller, request)
        elif not bucket_id and method == "POST":
            result = await buckets.create_bucket(st, caller, await _json(request))
        elif bucket_id and not action and method == "GET":
            result = await buckets.get_bucket(st, caller, bucket_id)
        elif bucket_id and not action and method == "PUT":
            result = await buckets.update_bucket(st, caller, bucket_id, await _json(request))
        elif bucket_id and not action and method == "DELETE":
            result = await buckets.delete_bucket(st, caller, bucket_id)
        elif bucket_id and action == "empty" and method == "POST":
            result = await buckets.empty_bucket(st, caller, bucket_id)
        else:
            raise not_found_route(method, request.path)
        await respond_json(send, 200, result)

    async def _read(self, request: Request, send: Send, rest: str, *, transform: bool) -> None:
        """GET/HEAD of /object/{info/}{authenticated/|public/|sign/}<bucket>/<key> and the render routes."""
        st = self.storage
        want_info = rest.startswith("info/")
        if want_info:
            rest = rest[len("info/") :]
        mode, _, tail = rest.partition("/")
        if mode not in ("authenticated", "public", "sign"):
            mode, tail = "optional", rest
        bucket, _, key = tail.partition("/")
        if not bucket or not key:
            raise not_found_route(request.method, request.path)
        expires = None
        if mode == "sign":
            claims = signing.verify(st, request.query_value("token"), bucket, key, "download")
            row = await reads.find(st, None, bucket, key)
            expires = datetime.fromtimestamp(min(int(claims["exp"]), _LAST_HTTP_DATE), UTC)
        elif mode == "public":
            row = await reads.find(st, None, bucket, key, public_only=True)
        else:
            caller = self._caller(request, optional=mode == "optional")
            row = await reads.find(st, caller, bucket, key)
        if want_info:
            await reads.info(send, row)
            return
        transformations = reads.transformations(request) if transform else None
        head = request.method == "HEAD"
        try:
            await reads.send_object(st, request, send, row, head=head, expires=expires, transformations=transformations)
        except StorageError as error:
            if error.message != reads.BYTES_GONE or st.cached_public(bucket, key) is None:
                raise
            st.forget_public()  # the cached row names replaced or deleted bytes: read it again
            row = await reads.find(st, None, bucket, key, public_only=mode == "public")
            await reads.send_object(st, request, send, row, head=head, expires=expires, transformations=transformations)


async def _no_reset(conn: asyncpg.Connection) -> None:
    """Nothing to reset: storage leaves no session state behind (see startup)."""


def _upsert(request: Request) -> bool:
    return request.headers.get("x-upsert", "").lower() == "true"


async def _json(request: Request) -> dict[str, Any]:
    try:
        raw = await request.body(_MAX_JSON)
    except Exception as exc:
        raise invalid_request("body is too large") from exc
    if not raw.strip():
        return {}
    if json_holds_nul(raw):
        raise invalid_request("Body must not contain NUL characters")
    try:
        value = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise invalid_request(f"Body is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise invalid_request("body must be object")
    return value
