"""Pages of chat history, newest first, by page number or by keyset cursor, in one statement.

Both walk the (session_id | user_id, created_at desc, id desc) indexes. A page number becomes an
OFFSET, which PostgreSQL must count through, so deep pages slow down linearly; a cursor is the
(created_at, id) of the last row already seen, and the next page starts right there in the index
(`created_at <= t` bounds the scan, the `or` breaks ties), flat at any depth. `total` comes from
chat_sessions.message_count (kept by statement triggers), never from count(*).

The page, the session check and the total are one statement run as the caller (api/database.py):
RLS filters all three, a session the caller cannot see reads as no session (404), and Postgres
builds the page's JSON, which decodes straight into `MessageOut`.

A session that has branched (an edit or a regenerated answer, migrations/..._conversation_trees.sql)
is paged over its conversation instead, the path `chat_path` returns, with the path's length as
the total: a second statement, only for such sessions. Until a session branches its path is all
of its messages, so the seed's contract holds unchanged.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime

import asyncpg
import msgspec

from api import rules
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


# The columns of MessageOut, with its defaults for the nullable ones.
_PAGE_COLUMNS = """id, session_id, message_type, content, role_id, status, reply_to, tokens_used,
       response_time, model, finish_reason, error_code, created_at"""
_AFTER_CURSOR = "and created_at <= $3 and (created_at < $3 or (created_at = $3 and id < $4))"


def _page_sql(scope: str, total: str, after_cursor: bool) -> str:
    return f"""
with page as (
  select {_PAGE_COLUMNS}
    from public.chat_messages
   where {scope} = $1 {_AFTER_CURSOR if after_cursor else ""}
   order by created_at desc, id desc
   limit $2 offset {"$5" if after_cursor else "$3"}
)
select ({total}) as total,
       (select coalesce(json_agg(page order by page.created_at desc, page.id desc), '[]') from page)::text as page"""


_SESSION_TOTAL = "select case when branched then -1 else message_count end from public.chat_sessions where id = $1"
_USER_TOTAL = "select coalesce(sum(message_count), 0)::int from public.chat_sessions where user_id = $1"
_SQL = {
    (True, False): _page_sql("session_id", _SESSION_TOTAL, False),
    (True, True): _page_sql("session_id", _SESSION_TOTAL, True),
    (False, False): _page_sql("user_id", _USER_TOTAL, False),
    (False, True): _page_sql("user_id", _USER_TOTAL, True),
}
_PATH_SQL = {
    after_cursor: f"""
with path as (select {_PAGE_COLUMNS} from public.chat_path($1)),
page as (
  select * from path
   where true {_AFTER_CURSOR if after_cursor else ""}
   order by created_at desc, id desc
   limit $2 offset {"$5" if after_cursor else "$3"}
)
select (select count(*) from path)::int as total,
       (select coalesce(json_agg(page order by page.created_at desc, page.id desc), '[]') from page)::text as page"""
    for after_cursor in (False, True)
}
_page_decoder = msgspec.json.Decoder(list[MessageOut])


async def page_of_history(
    conn: asyncpg.Connection,
    *,
    user_id: str,
    session_id: str | None,
    limit: int,
    offset: int,
    cursor: Cursor | None,
) -> tuple[list[MessageOut], int, str | None]:
    """`limit` messages newest first, the total, and the cursor for the next page (None at the end).

    SessionNotFound when `session_id` names no session the caller can see."""
    owner = uuid.UUID(session_id or user_id)
    args: tuple[object, ...] = (owner, limit + 1, offset)
    if cursor is not None:
        args = (owner, limit + 1, datetime.fromisoformat(cursor.created_at), uuid.UUID(cursor.id), offset)
    row = await conn.fetchrow(_SQL[(session_id is not None, cursor is not None)], *args)
    assert row is not None
    if row["total"] is None:
        raise SessionNotFound(session_id=session_id)  # the id lets the audit tell a probe from a typo
    if row["total"] == -1:  # a branched session: page its conversation
        row = await conn.fetchrow(_PATH_SQL[cursor is not None], *args)
        assert row is not None
    found = _page_decoder.decode(row["page"])
    page, more = found[:limit], len(found) > limit
    return page, int(row["total"]), encode_cursor(page[-1]) if more and page else None
