"""Writing objects: upload (POST/PUT, upsert), signed-URL uploads, move, copy and remove.

Every upload path applies the bucket's size limit and MIME list (and the global limit) before
a row can exist. RLS is asked first with a rolled-back probe of the very insert/upsert (as
storage-api's canUpload), so a refused caller never gets a byte written; the final row is then
written as the caller again (RLS checked at commit too), or as admin for signed-URL uploads
whose token is the authorization (the product's triggers on storage.objects still decide, as for
every writer). Byte ordering and crash safety: see blobs.py.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg

from localbase.storage import rules, uploads
from localbase.storage.access import Caller, probe
from localbase.storage.context import Bucket, Storage, bucket_as_admin, iso, record
from localbase.storage.errors import (
    access_denied,
    invalid_request,
    key_exists,
    no_such_bucket,
    no_such_key,
    resource_exists,
)

ROW_KEYS = (
    "name",
    "bucket_id",
    "owner",
    "owner_id",
    "version",
    "id",
    "updated_at",
    "created_at",
    "last_accessed_at",
    "metadata",
    "user_metadata",
)
_COLUMNS = ", ".join(ROW_KEYS)
INSERT = (
    "insert into storage.objects (bucket_id, name, owner, owner_id, metadata, user_metadata, version)"
    " values ($1, $2, $3, $4, $5, $6, $7)"
)
UPSERT = (
    INSERT + " on conflict (bucket_id, name) do update set owner = excluded.owner, owner_id = excluded.owner_id,"
    " metadata = excluded.metadata, user_metadata = excluded.user_metadata, version = excluded.version,"
    " last_accessed_at = now()"
)


async def discard_unless_committed(storage: Storage, version: str) -> None:
    """After a failed row write, remove the placed bytes unless a row names them after all (a
    connection lost during COMMIT may still have committed); if that cannot be known, the sweep
    decides later."""
    try:
        async with storage.access.admin.acquire() as conn:
            named = await conn.fetchval("select 1 from storage.objects where version = $1", version)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
        return
    if not named:
        storage.store.remove(version)


def object_metadata(etag: str, size: int, mimetype: str, cache_control: str) -> dict[str, Any]:
    now = datetime.now(UTC).replace(microsecond=0)
    return {
        "eTag": etag,
        "size": size,
        "mimetype": mimetype,
        "cacheControl": cache_control,
        "lastModified": iso(now),
        "contentLength": size,
        "httpStatusCode": 200,
    }


async def upload(
    storage: Storage, request: Any, caller: Caller | None, bucket_id: str, key: str, *, upsert: bool, owner: str | None
) -> dict[str, str]:
    """Receive, check and store one object; `caller` None means a signed-URL upload (as admin)."""
    rules.object_key(key)
    bucket = await bucket_as_admin(storage, bucket_id)
    limit = rules.effective_limit(bucket.file_size_limit, storage.global_limit)
    owner_uuid = uuid_or_none(owner)
    statement = UPSERT if upsert else INSERT
    if caller is not None:
        await probe_write(storage, caller, statement, bucket_id, key)
    incoming = await uploads.receive(request, storage.store, limit, bucket.allowed_mime_types)
    version = await asyncio.to_thread(storage.store.place, incoming.written)
    metadata = object_metadata(incoming.written.etag, incoming.written.size, incoming.mimetype, incoming.cache_control)
    args = (bucket_id, key, owner_uuid, owner, metadata, incoming.user_metadata or {}, version)
    try:
        if caller is None:
            async with storage.access.as_admin("storage.object.upload_signed") as conn:
                object_id = await conn.fetchval(statement + " returning id", *args)
        else:
            async with storage.access.as_caller(caller, "storage.object.upload") as conn:
                object_id = await conn.fetchval(statement + " returning id", *args)
    except BaseException as exc:
        await discard_unless_committed(storage, version)
        if isinstance(exc, asyncpg.UniqueViolationError):
            raise key_exists() from exc
        if isinstance(exc, asyncpg.ForeignKeyViolationError):
            raise no_such_bucket() from exc
        raise
    if upsert:
        await storage.drain()
    return {"Id": str(object_id), "Key": f"{bucket_id}/{key}"}


async def probe_write(storage: Storage, caller: Caller, statement: str, bucket_id: str, key: str) -> None:
    """The insert/upsert as the caller, rolled back: RLS's verdict before any byte is written."""
    try:
        await probe(
            storage.access,
            caller,
            "storage.object.upload",
            statement,
            bucket_id,
            key,
            caller.owner_uuid,
            caller.sub,
            {},
            {},
            str(uuid.uuid4()),
        )
    except asyncpg.UniqueViolationError as exc:
        raise key_exists() from exc


def limits_allow(bucket: Bucket, metadata: dict[str, Any] | None, global_limit: int) -> None:
    """A copy or move into `bucket` obeys its limits as an upload would."""
    meta = metadata or {}
    rules.check_size(int(meta.get("size") or 0), rules.effective_limit(bucket.file_size_limit, global_limit))
    rules.check_mime(str(meta.get("mimetype") or "application/octet-stream"), bucket.allowed_mime_types)


def uuid_or_none(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise invalid_request(f"body must have required property '{name}'")
    return value


async def move(storage: Storage, caller: Caller, body: dict[str, Any]) -> dict[str, str]:
    source_bucket = _text(body, "bucketId")
    source, destination = rules.object_key(_text(body, "sourceKey")), rules.object_key(_text(body, "destinationKey"))
    target_bucket = body.get("destinationBucket") or source_bucket
    await bucket_as_admin(storage, source_bucket)
    target = await bucket_as_admin(storage, str(target_bucket))
    try:
        async with storage.access.as_caller(caller, "storage.object.move") as conn:
            meta = await conn.fetchval(
                "select metadata from storage.objects where bucket_id = $1 and name = $2", source_bucket, source
            )
            if meta is None:
                raise no_such_key()
            limits_allow(target, meta, storage.global_limit)
            moved = await conn.fetchval(
                "update storage.objects set bucket_id = $3, name = $4, owner = coalesce($5::uuid, owner),"
                " owner_id = coalesce($6, owner_id), last_accessed_at = now()"
                " where bucket_id = $1 and name = $2 returning id",
                source_bucket,
                source,
                target.id,
                destination,
                uuid_or_none(caller.sub),
                caller.sub,
            )
            if moved is None:
                raise no_such_key()
    except asyncpg.UniqueViolationError as exc:
        raise resource_exists() from exc
    return {"message": "Successfully moved"}


async def copy(storage: Storage, caller: Caller, body: dict[str, Any], *, upsert: bool) -> dict[str, Any]:
    source_bucket = _text(body, "bucketId")
    source, destination = rules.object_key(_text(body, "sourceKey")), rules.object_key(_text(body, "destinationKey"))
    target = await bucket_as_admin(storage, str(body.get("destinationBucket") or source_bucket))
    await bucket_as_admin(storage, source_bucket)
    async with storage.access.as_caller(caller, "storage.object.copy") as conn:
        row = await conn.fetchrow(
            "select version, metadata, user_metadata from storage.objects where bucket_id = $1 and name = $2",
            source_bucket,
            source,
        )
    if row is None or row["version"] is None:
        raise no_such_key()
    metadata = dict(row["metadata"] or {})
    override = body.get("metadata")
    if isinstance(override, dict):
        if isinstance(override.get("mimetype"), str):
            metadata["mimetype"] = rules.header_value(override["mimetype"], "metadata.mimetype")
        if isinstance(override.get("cacheControl"), str):
            metadata["cacheControl"] = rules.header_value(override["cacheControl"], "metadata.cacheControl")
    limits_allow(target, metadata, storage.global_limit)
    keep_metadata = rules.boolean(body.get("copyMetadata", True), "body/copyMetadata")
    user_metadata = (row["user_metadata"] or {}) if keep_metadata else {}
    try:
        version = await asyncio.to_thread(storage.store.link_copy, row["version"])
    except FileNotFoundError as exc:  # the source was deleted (and its bytes removed) since it was read
        raise no_such_key() from exc
    statement = UPSERT if upsert else INSERT
    try:
        async with storage.access.as_caller(caller, "storage.object.copy") as conn:
            written = await conn.fetchrow(
                f"{statement} returning {_COLUMNS}",
                target.id,
                destination,
                uuid_or_none(caller.sub),
                caller.sub,
                metadata,
                user_metadata,
                version,
            )
    except BaseException as exc:
        await discard_unless_committed(storage, version)
        if isinstance(exc, asyncpg.UniqueViolationError):
            raise key_exists() from exc
        raise
    if upsert:
        await storage.drain()
    return {"Id": str(written["id"]), "Key": f"{target.id}/{destination}", **record(written, ROW_KEYS)}


async def remove_many(storage: Storage, caller: Caller, bucket_id: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    prefixes = body.get("prefixes")
    if (
        not isinstance(prefixes, list)
        or not 1 <= len(prefixes) <= 1000
        or not all(isinstance(p, str) for p in prefixes)
    ):
        raise invalid_request("body/prefixes must be an array of 1 to 1000 strings")
    await bucket_as_admin(storage, bucket_id)
    async with storage.access.as_caller(caller, "storage.object.delete_many") as conn:
        rows = await conn.fetch(
            f"delete from storage.objects where bucket_id = $1 and name = any($2::text[]) returning {_COLUMNS}",
            bucket_id,
            prefixes,
        )
    await storage.drain()
    return [record(row, ROW_KEYS) for row in rows]


async def remove_one(storage: Storage, caller: Caller, bucket_id: str, key: str) -> dict[str, str]:
    rules.object_key(key)
    await bucket_as_admin(storage, bucket_id)
    async with storage.access.as_caller(caller, "storage.object.delete") as conn:
        deleted = await conn.fetchval(
            "delete from storage.objects where bucket_id = $1 and name = $2 returning id", bucket_id, key
        )
    if deleted is None:
        async with storage.access.as_caller(caller, "storage.object.delete") as conn:
            visible = await conn.fetchval(
                "select 1 from storage.objects where bucket_id = $1 and name = $2", bucket_id, key
            )
        if visible:
            raise access_denied("Access denied")
        raise no_such_key()
    await storage.drain()
    return {"message": "Successfully deleted"}
