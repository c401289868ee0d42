"""Listing objects under the caller's SELECT policy: v1 (one folder level, offset paging) and v2
(full keys, opaque cursors, optional delimiter).

v1: the prefix gets a trailing `/`; `prefix + search` matches case-insensitively; each sub-folder
appears once as a row with `id` and timestamps null; names are relative to the prefix.
v2: `name LIKE prefix%` case-sensitively; with a delimiter, sub-folders come back in `folders`.
The cursor is the last name returned (base64), so paging is stable under concurrent writes.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from localbase.storage import rules
from localbase.storage.access import Caller
from localbase.storage.context import Storage, bucket_as_admin, record
from localbase.storage.errors import invalid_request

_ITEM_KEYS = ("name", "id", "updated_at", "created_at", "last_accessed_at", "metadata")
_V1_SORT = {"name", "updated_at", "created_at", "last_accessed_at"}
_BAD_CURSOR = "body/cursor is not a valid cursor"
_V1 = """
with matched as (
  select substr(name, char_length($2) + 1) as rel, id, updated_at, created_at, last_accessed_at, metadata
    from storage.objects
   where bucket_id = $1 and lower(name) like lower($3) escape '\\'
), level as (
  select distinct split_part(rel, '/', 1) as name, null::uuid as id, null::timestamptz as updated_at,
         null::timestamptz as created_at, null::timestamptz as last_accessed_at, null::jsonb as metadata,
         true as folder
    from matched where strpos(rel, '/') > 0
  union all
  select rel, id, updated_at, created_at, last_accessed_at, metadata, false from matched where strpos(rel, '/') = 0
)
select name, id, updated_at, created_at, last_accessed_at, metadata from level
"""


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _int(body: dict[str, Any], name: str, default: int, minimum: int, maximum: int) -> int:
    value = body.get(name, default)
    try:
        number = int(value if value is not None else default)
    except (TypeError, ValueError) as exc:
        raise invalid_request(f"body/{name} must be integer") from exc
    if number < minimum:
        raise invalid_request(f"body/{name} must be >= {minimum}")
    return min(number, maximum)


async def list_v1(storage: Storage, caller: Caller, bucket_id: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    prefix = body.get("prefix")
    if not isinstance(prefix, str):
        raise invalid_request("body must have required property 'prefix'")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    search = body.get("search") or ""
    limit = _int(body, "limit", 100, 1, 1500)
    offset = _int(body, "offset", 0, 0, 1 << 31)
    sort = _sort(body)
    column = sort.get("column", "name")
    if column not in _V1_SORT:
        raise invalid_request("body/sortBy/column must be equal to one of the allowed values")
    order = _order(sort)
    if column == "name":
        order_by = f'lower(name) collate "C" {order}, name collate "C" {order}'
    else:
        order_by = f'folder desc, case when folder then lower(name) end collate "C" {order}, {column} {order}, name'
    sql = _V1.replace("select name, id, updated_at", "select folder, name, id, updated_at") if column != "name" else _V1
    sql = f"{sql} order by {order_by} limit $4 offset $5"
    await bucket_as_admin(storage, bucket_id)
    async with storage.access.as_caller(caller, "storage.object.list") as conn:
        rows = await conn.fetch(sql, bucket_id, prefix, _like(prefix + str(search)) + "%", limit, offset)
    return [record(row, _ITEM_KEYS) for row in rows]


def _sort(body: dict[str, Any]) -> dict[str, Any]:
    """`sortBy` as storage-api's schemas take it: absent, or an object naming its `column` (a sort
    without one used to be read as by name)."""
    value = body.get("sortBy")
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid_request("body/sortBy must be object")
    if "column" not in value:
        raise invalid_request("body/sortBy must have required property 'column'")
    return value


def _order(sort: dict[str, Any]) -> str:
    """`sortBy.order`: `asc` (absent) or `desc`, exactly as storage-api's schema enumerates them
    (`DESC` or `up` used to be read as asc or desc instead of refused)."""
    order = sort.get("order")
    if order is None:
        return "asc"
    if order not in ("asc", "desc"):
        raise invalid_request("body/sortBy/order must be equal to one of the allowed values")
    return str(order)


def _cursor_decode(cursor: object) -> str | None:
    if not cursor:
        return None
    try:
        name = base64.urlsafe_b64decode(str(cursor).encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise invalid_request(_BAD_CURSOR) from exc
    if "\x00" in name:  # no key holds a NUL (Postgres text cannot), so no listing gave this cursor
        raise invalid_request(_BAD_CURSOR)
    return name


def _cursor(name: str) -> str:
    return base64.urlsafe_b64encode(name.encode()).decode()


async def list_v2(storage: Storage, caller: Caller, bucket_id: str, body: dict[str, Any]) -> dict[str, Any]:
    prefix = body.get("prefix") or ""
    if not isinstance(prefix, str):
        raise invalid_request("body/prefix must be string")
    limit = _int(body, "limit", 1000, 1, 1000)
    after = _cursor_decode(body.get("cursor"))
    sort = _sort(body)
    order = _order(sort)
    column = sort.get("column", "name")
    if column not in ("name", "updated_at", "created_at"):
        raise invalid_request("body/sortBy/column must be equal to one of the allowed values")
    delimiter = rules.boolean(body.get("with_delimiter"), "body/with_delimiter")
    cut = prefix.rfind("/") + 1  # keys and folder names are cut at the delimiter after the prefix
    await bucket_as_admin(storage, bucket_id)
    args: list[Any] = [bucket_id, _like(prefix) + "%", limit + 1]
    if delimiter:
        # Each entry is an object at this level or the folder (prefix up to the next `/`) it is in.
        entry_sql = (
            "case when strpos(substr(name, $4), '/') > 0"
            " then left(name, $4 + strpos(substr(name, $4), '/') - 2) else name end"
        )
        args.append(len(prefix) + 1)
        key_sql = entry_sql
        cmp = "<" if order == "desc" else ">"
        where = f" and {key_sql} {cmp} $5" if after is not None else ""
        if after is not None:
            args.append(after)
        sql = (
            f'select distinct on (({entry_sql}) collate "C") {entry_sql} as entry, name, id, updated_at, created_at,'
            f" last_accessed_at, metadata from storage.objects where bucket_id = $1 and name like $2 escape '\\'{where}"
            f' order by ({entry_sql}) collate "C" {order}, name collate "C" limit $3'
        )
    else:
        value = "name" if column == "name" else f"{column}::text || '/' || name"
        cmp = "<" if order == "desc" else ">"
        where = ""
        if after is not None:
            args.append(after)
            where = f' and {value} collate "C" {cmp} $4'
        sql = (
            f"select {value} as entry, name, id, updated_at, created_at, last_accessed_at, metadata"
            f" from storage.objects where bucket_id = $1 and name like $2 escape '\\'{where}"
            f' order by ({value}) collate "C" {order} limit $3'
        )
    async with storage.access.as_caller(caller, "storage.object.list") as conn:
        rows = await conn.fetch(sql, *args)
    has_next = len(rows) > limit
    rows = rows[:limit]
    folders: list[dict[str, Any]] = []
    objects: list[dict[str, Any]] = []
    for row in rows:
        found: str = row["entry"]
        if delimiter and found != row["name"]:
            folders.append(
                {
                    "key": found[cut:],
                    "name": found + "/",
                    "id": None,
                    "updated_at": None,
                    "created_at": None,
                    "last_accessed_at": None,
                    "metadata": None,
                }
            )
        else:
            item = record(row, _ITEM_KEYS)
            if delimiter:
                item["key"] = row["name"][cut:]
            objects.append(item)
    out: dict[str, Any] = {"hasNext": has_next, "folders": folders, "objects": objects}
    if has_next and rows:
        out["nextCursor"] = _cursor(rows[-1]["entry"])
    return out
