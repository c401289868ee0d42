"""Buckets: list, get, create, update, empty and delete, each under the caller's RLS as storage-api.

Emptying deletes the objects as admin once the caller has been shown to see the bucket (the
pre-1.70.1 rule the supabase-py suite relies on); `STORAGE_EMPTY_BUCKET_SERVICE_ONLY` turns on
v1.70.1's service_role-only rule.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from localbase.http import Request
from localbase.storage import rules
from localbase.storage.access import Caller
from localbase.storage.context import Storage, bucket_as_admin, record
from localbase.storage.errors import (
    StorageError,
    bucket_exists,
    bucket_not_empty,
    invalid_request,
    no_such_bucket,
)

_GET_KEYS = ("id", "name", "owner", "public", "created_at", "updated_at", "file_size_limit", "allowed_mime_types")
_LIST_KEYS = (
    "id",
    "name",
    "owner",
    "public",
    "type",
    "file_size_limit",
    "allowed_mime_types",
    "created_at",
    "updated_at",
)
_SORT = {"id", "name", "created_at", "updated_at"}
_BIGINT_MAX = 2**63 - 1  # what Postgres takes as LIMIT and OFFSET


def _bucket(row: asyncpg.Record, keys: tuple[str, ...]) -> dict[str, Any]:
    out = record(row, keys)
    out["owner"] = out.get("owner") or ""
    if "type" in out:
        out["type"] = str(out["type"])
    return out


async def list_buckets(storage: Storage, caller: Caller, request: Request) -> list[dict[str, Any]]:
    clauses: list[str] = []
    args: list[Any] = []
    search = request.query_value("search")
    if search:
        args.append(f"%{_like_escape(search)}%")
        clauses.append(f"name ilike ${len(args)}")
    sql = (
        "select id, name, owner, public, type::text as type, file_size_limit, allowed_mime_types, created_at,"
        " updated_at from storage.buckets"
    )
    sql += " where " + " and ".join(clauses) if clauses else ""
    column = request.query_value("sortColumn")
    if column:
        if column not in _SORT:
            raise invalid_request("querystring/sortColumn must be equal to one of the allowed values")
        order = "desc" if (request.query_value("sortOrder") or "asc").lower() == "desc" else "asc"
        sql += f" order by {column} {order}"
    for name, minimum in (("limit", 1), ("offset", 0)):
        value = request.query_value(name)
        if value is not None:
            # ASCII digits only: str.isdigit() also takes `²`, which int() refuses
            if not (value.isascii() and value.isdigit()) or int(value) < minimum:
                raise invalid_request(f"querystring/{name} must be >= {minimum}")
            number = int(value)
            if number > _BIGINT_MAX:
                raise invalid_request(f"querystring/{name} must be <= {_BIGINT_MAX}")
            args.append(number)
            sql += f" {name} ${len(args)}"
    async with storage.access.as_caller(caller, "storage.bucket.list") as conn:
        rows = await conn.fetch(sql, *args)
    return [_bucket(row, _LIST_KEYS) for row in rows]


async def get_bucket(storage: Storage, caller: Caller, bucket_id: str) -> dict[str, Any]:
    async with storage.access.as_caller(caller, "storage.bucket.get") as conn:
        row = await conn.fetchrow(
            "select id, name, owner, public, created_at, updated_at, file_size_limit, allowed_mime_types"
            " from storage.buckets where id = $1",
            rules.bucket_ref(bucket_id),
        )
    if row is None:
        raise no_such_bucket()
    return _bucket(row, _GET_KEYS)


async def create_bucket(storage: Storage, caller: Caller, body: dict[str, Any]) -> dict[str, str]:
    name = rules.bucket_name(body.get("name"))
    bucket_id = rules.bucket_name(body.get("id") or name)
    public = rules.boolean(body.get("public"), "body/public")
    limit = rules.size_limit(body.get("file_size_limit"), storage.global_limit)
    mimes = rules.mime_types(body.get("allowed_mime_types"))
    try:
        async with storage.access.as_caller(caller, "storage.bucket.create") as conn:
            await conn.execute(
                "insert into storage.buckets (id, name, owner, owner_id, public, file_size_limit, allowed_mime_types)"
                " values ($1, $2, $3, $4, $5, $6, $7)",
                bucket_id,
                name,
                caller.owner_uuid,
                caller.sub,
                public,
                limit,
                mimes,
            )
    except asyncpg.UniqueViolationError as exc:
        raise bucket_exists() from exc
    return {"name": name}


async def update_bucket(storage: Storage, caller: Caller, bucket_id: str, body: dict[str, Any]) -> dict[str, str]:
    sets: list[str] = []
    args: list[Any] = [rules.bucket_ref(bucket_id)]
    if "public" in body:
        args.append(rules.boolean(body["public"], "body/public"))
        sets.append(f"public = ${len(args)}")
    if "file_size_limit" in body:
        args.append(rules.size_limit(body["file_size_limit"], storage.global_limit))
        sets.append(f"file_size_limit = ${len(args)}")
    if "allowed_mime_types" in body:
        args.append(rules.mime_types(body["allowed_mime_types"]))
        sets.append(f"allowed_mime_types = ${len(args)}")
    if not sets:
        raise invalid_request("body must have at least one of public, file_size_limit, allowed_mime_types")
    async with storage.access.as_caller(caller, "storage.bucket.update") as conn:
        updated = await conn.fetchval(
            f"update storage.buckets set {', '.join(sets)}, updated_at = now() where id = $1 returning id", *args
        )
    if updated is None:
        raise no_such_bucket()
    return {"message": "Successfully updated"}


async def empty_bucket(storage: Storage, caller: Caller, bucket_id: str) -> dict[str, str]:
    if storage.empty_bucket_service_only and caller.role != "service_role":
        raise StorageError("403", "Unauthorized", "Access denied: Invalid role", "AccessDenied", http_status=403)
    async with storage.access.as_caller(caller, "storage.bucket.empty") as conn:
        if await conn.fetchval("select 1 from storage.buckets where id = $1", rules.bucket_ref(bucket_id)) is None:
            raise no_such_bucket()
    async with storage.access.as_admin("storage.bucket.empty") as conn:
        await conn.execute("delete from storage.objects where bucket_id = $1", bucket_id)
    await storage.drain()
    return {"message": "Empty bucket has been queued. Completion may take up to an hour."}


async def delete_bucket(storage: Storage, caller: Caller, bucket_id: str) -> dict[str, str]:
    await bucket_as_admin(storage, bucket_id)
    async with storage.access.as_admin("storage.bucket.delete") as conn:
        if await conn.fetchval("select 1 from storage.objects where bucket_id = $1 limit 1", bucket_id):
            raise bucket_not_empty()
    try:
        async with storage.access.as_caller(caller, "storage.bucket.delete") as conn:
            deleted = await conn.fetchval("delete from storage.buckets where id = $1 returning id", bucket_id)
    except asyncpg.ForeignKeyViolationError as exc:
        raise bucket_not_empty() from exc
    if deleted is None:
        raise no_such_bucket()
    return {"message": "Successfully deleted"}


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
