"""Pages of chat history, newest first, by page number or by keyset cursor.

Both walk the (session_id | user_id, created_at desc, id desc) indexes. A page number becomes an
OFFSET, which PostgreSQL must count through, so deep pages slow down linearly; a cursor is the
(created_at, id) of the last row already seen, and the next page starts right there in the index
(`created_at <= t` bounds the scan, the `or` breaks ties), flat at any depth. `total` comes from
chat_sessions.message_count (kept by statement triggers), never from count(*).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import msgspec
from postgrest import AsyncPostgrestClient

from api import rules
from api.conversation import MESSAGE_COLUMNS
from api.errors import Unprocessable
from api.upstream import call, rows


class Cursor(msgspec.Struct, array_like=True):
    created_at: str
    id: str


def encode_cursor(row: dict[str, Any]) -> str:
    raw = msgspec.json.encode(Cursor(str(row["created_at"]), str(row["id"])))
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(value: str) -> Cursor:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        cursor = msgspec.json.decode(raw, type=Cursor)
    except (binascii.Error, ValueError, msgspec.DecodeError) as exc:
        raise Unprocessable("The cursor is not one this API issued.", field="cursor", code="InvalidCursor") from exc
    if not rules.is_uuid(cursor.id) or not 10 <= len(cursor.created_at) <= 40 or "," in cursor.created_at:
        raise Unprocessable("The cursor is not one this API issued.", field="cursor", code="InvalidCursor")
    return cursor


async def page_of_messages(
    rest: AsyncPostgrestClient,
    *,
    user_id: str,
    session_id: str | None,
    limit: int,
    offset: int,
    cursor: Cursor | None,
) -> tuple[list[dict[str, Any]], str | None]:
    """`limit` messages newest first, and the cursor for the page after them (None at the end)."""
    query = rest.from_("chat_messages").select(MESSAGE_COLUMNS)
    query = query.eq("session_id", session_id) if session_id else query.eq("user_id", user_id)
    if cursor is not None:
        stamp = f'"{cursor.created_at}"'
        query = query.lte("created_at", cursor.created_at).or_(
            f"created_at.lt.{stamp},and(created_at.eq.{stamp},id.lt.{cursor.id})"
        )
    query = query.order("created_at", desc=True).order("id", desc=True)
    response = await call(query.range(offset, offset + limit).execute())
    found = rows(response.data)
    page, more = found[:limit], len(found) > limit
    return page, encode_cursor(page[-1]) if more and page else None


async def message_total(rest: AsyncPostgrestClient, session: dict[str, Any] | None) -> int:
    """Messages in the session, or in all the user's sessions, from the maintained counters."""
    if session is not None:
        return int(session.get("message_count") or 0)
    total, start, size = 0, 0, 1000
    while True:
        response = await call(
            rest.from_("chat_sessions").select("message_count").order("id").range(start, start + size - 1).execute()
        )
        batch = rows(response.data)
        total += sum(int(row.get("message_count") or 0) for row in batch)
        if len(batch) < size:
            return total
        start += size
