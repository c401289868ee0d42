"""Pages of chat history, newest first, by page number or by keyset cursor, in one statement.

Both walk the (session_id | user_id, created_at desc, id desc) indexes. A page number becomes an
OFFSET, which PostgreSQL must count through, so deep pages slow down linearly; a cursor is the
(created_at, id) of the last row already seen, and the next page starts right there in the index
(`created_at <= t` bounds the scan, the `or` breaks ties), flat at any depth. `total` comes from
chat_sessions.message_count (kept by statement triggers), never from count(*).

The page, the session check and the total are one call of `facade.history`
(migrations/20261202051029_facade_reads_in_one_statement.sql), one statement and one round trip
that first becomes the caller (api/database.py `read_as`): RLS filters all three, a session the
caller cannot see reads as no session (404), and Postgres builds the page's JSON, which decodes
straight into `MessageOut`. Without a cursor the page starts after a cursor past everything, so
each scope has one plan.

A session that has branched (an edit or a regenerated answer, migrations/..._conversation_trees.sql)
is paged over its conversation instead, the path `chat_path` returns, with the path's length as
the total, in the same call. Until a session branches its path is all of its messages, so the
seed's contract holds unchanged. Without a session (all of the caller's sessions) each session
counts as its own history does: a branched session's path, merged newest first with the other
sessions' messages (migrations/20261205140000_history_of_all_sessions_follows_each_conversation.sql);
a caller with no branched session keeps the single user-index scan.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime

import msgspec

from api import rules
from api.database import Caller
from api.errors import SessionNotFound, Unprocessable
from api.schemas import MessageOut


class Cursor(msgspec.Struct, array_like=True):
    created_at: str
    id: str


def encode_cursor(row: MessageOut | dict[str, str]) -> str:
    created_at, id_ = (row.created_at, row.id) if isinstance(row, MessageOut) else (row["created_at"], row["id"])
    raw = msgspec.json.encode(Cursor(str(created_at), str(id_)))
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(value: str) -> Cursor:
    invalid = Unprocessable("The cursor is not one this API issued.", field="cursor", code="InvalidCursor")
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        cursor = msgspec.json.decode(raw, type=Cursor)
    except (binascii.Error, ValueError, msgspec.DecodeError) as exc:
        raise invalid from exc
    if not rules.is_uuid(cursor.id) or not 10 <= len(cursor.created_at) <= 40 or "," in cursor.created_at:
        raise invalid
    try:
        stamp = datetime.fromisoformat(cursor.created_at)
    except ValueError as exc:
        raise invalid from exc
    if stamp.tzinfo is None:
        raise invalid
    return cursor


_PAGE = "select total, page from facade.history($1, $2, $3, $4, $5, $6, $7)"
_page_decoder = msgspec.json.Decoder(list[MessageOut])


async def page_of_history(
    caller: Caller,
    *,
    session_id: str | None,
    limit: int,
    offset: int,
    cursor: Cursor | None,
) -> tuple[list[MessageOut], int, str | None]:
    """`limit` messages newest first, the total, and the cursor for the next page (None at the end).

    SessionNotFound when `session_id` names no session the caller can see."""
    row = await caller.read(
        _PAGE,
        session_id is not None,
        uuid.UUID(session_id or caller.user.id),
        limit + 1,
        offset,
        datetime.fromisoformat(cursor.created_at) if cursor else None,
        uuid.UUID(cursor.id) if cursor else None,
    )
    if row["total"] is None:
        raise SessionNotFound(session_id=session_id)  # the id lets the audit tell a probe from a typo
    found = _page_decoder.decode(row["page"])
    page, more = found[:limit], len(found) > limit
    return page, int(row["total"]), encode_cursor(page[-1]) if more and page else None
