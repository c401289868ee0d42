"""Reading objects: download (authenticated, optional-JWT, public), info, HEAD and the render routes.

Who may read (storage-api's rule): a public bucket's objects are read as admin by anyone; a
private bucket's only through the caller's SELECT policy on storage.objects, and not at all
without a JWT. A row the caller cannot see is `NoSuchKey`, exactly like a missing one, so
probing reveals nothing.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import asyncpg

from localbase.http import Request, Send, respond_json
from localbase.storage import rules, serve
from localbase.storage.access import Caller
from localbase.storage.context import Storage, iso
from localbase.storage.errors import invalid_request, no_such_bucket, no_such_key

BYTES_GONE = serve.BYTES_GONE
_ROW = "select id, bucket_id, name, version, metadata, user_metadata, created_at, updated_at from storage.objects"
_WITH_BUCKET = (
    "select b.public, o.id, b.id as bucket_id, o.name, o.version, o.metadata, o.user_metadata, o.created_at,"
    " o.updated_at from storage.buckets b left join storage.objects o on o.bucket_id = b.id and o.name = $2"
    " where b.id = $1"
)


async def find(
    storage: Storage, caller: Caller | None, bucket_id: str, key: str, *, public_only: bool = False
) -> asyncpg.Record:
    """The object row `caller` may read (None: a public or signed route, read as admin).

    The bucket and the object come back in one query (a download's only round trip when the
    bucket is public); a private bucket then reads the row again as the caller, under RLS.
    """
    rules.object_key(key)
    cached = storage.cached_public(bucket_id, key)
    if cached is not None:
        return cached
    async with storage.access.admin.acquire() as conn:
        row = await conn.fetchrow(_WITH_BUCKET, rules.bucket_ref(bucket_id), key)
    if row is None or (public_only and not row["public"]):
        raise no_such_bucket()
    if row["public"] and row["version"] is not None:
        storage.remember_public(bucket_id, key, row)
    if caller is not None and not row["public"]:
        async with storage.access.as_caller(caller, "storage.object.get") as conn:
            row = await conn.fetchrow(f"{_ROW} where bucket_id = $1 and name = $2", bucket_id, key)
    if row is None or row["version"] is None:
        raise no_such_key()
    return row


async def send_object(
    storage: Storage,
    request: Request,
    send: Send,
    row: asyncpg.Record,
    *,
    head: bool,
    expires: datetime | None = None,
    transformations: str | None = None,
) -> None:
    metadata: dict[str, Any] = row["metadata"] or {}
    extra = serve.disposition(request.query_value("download"))
    if expires is not None:
        extra.append((b"expires", serve.http_date(expires).encode()))
    if transformations is not None:
        extra.append((b"x-transformations", transformations.encode()))
    await serve.send_file(
        send,
        request,
        storage.store.path(row["version"]),
        metadata,
        row["updated_at"],
        cache_control=None if expires is not None else str(metadata.get("cacheControl") or "no-cache"),
        extra=extra,
        head=head,
    )


async def info(send: Send, row: asyncpg.Record) -> None:
    metadata: dict[str, Any] = row["metadata"] or {}
    await respond_json(
        send,
        200,
        {
            "id": str(row["id"]),
            "name": row["name"],
            "version": row["version"],
            "bucket_id": row["bucket_id"],
            "size": metadata.get("size"),
            "content_type": metadata.get("mimetype"),
            "cache_control": metadata.get("cacheControl"),
            "etag": metadata.get("eTag"),
            "metadata": row["user_metadata"] or {},
            "last_modified": iso(row["updated_at"]),
            "created_at": iso(row["created_at"]),
        },
    )


def transformations(request: Request) -> str:
    """storage-api's `X-Transformations` for the query, though the bytes are sent untransformed;
    the parameters are checked as its schema checks them (integers, enums) before that."""
    height, width = _integer(request, "height", 0), _integer(request, "width", 0)
    quality = _integer(request, "quality", 20, 100)
    resize, image_format = _choice(request, "resize", _RESIZES), _choice(request, "format", _FORMATS)
    parts: list[str] = []
    if height is not None:
        parts.append(f"height:{height}")
    if width is not None:
        parts.append(f"width:{width}")
    if height is not None or width is not None:
        parts.append("resizing_type:" + {"contain": "fit", "fill": "force"}.get(resize or "", "fill"))
    if quality is not None:
        parts.append(f"quality:{quality}")
    if image_format and image_format != "origin":
        parts.append(f"format:{image_format}")
    return ",".join(parts)


_RESIZES = ("cover", "contain", "fill")
_FORMATS = ("origin", "avif")


def _integer(request: Request, name: str, minimum: int, maximum: int | None = None) -> int | None:
    """An integer query parameter (absent or empty: None), refused as storage-api's schema refuses it."""
    raw = request.query_value(name)
    if not raw:
        return None
    try:
        number = float(raw)
    except ValueError:
        number = math.nan
    if not number.is_integer():  # also inf and nan
        raise invalid_request(f"querystring/{name} must be integer")
    value = int(number)
    if value < minimum:
        raise invalid_request(f"querystring/{name} must be >= {minimum}")
    if maximum is not None and value > maximum:
        raise invalid_request(f"querystring/{name} must be <= {maximum}")
    return value


def _choice(request: Request, name: str, allowed: tuple[str, ...]) -> str | None:
    raw = request.query_value(name)
    if not raw:
        return None
    if raw not in allowed:
        raise invalid_request(f"querystring/{name} must be equal to one of the allowed values")
    return raw
