"""A user's whole history as one JSON document, streamed page by page with their own JWT.

    {"exported_at", "user": {profile}, "roles": [their custom roles],
     "sessions": [every session, archived ones too], "messages": [every message, oldest first],
     "plan": {allowance now}, "usage": [every ledger row, oldest first], "api_keys": [names, prefixes, dates],
     "shares": [every share link: its session, title, flags, date and the messages it shows]}

A question asked through the OpenAI-compatible API carries `context`: {"messages": [the request's
messages before it] (null when it named its session), "parameters": {its sampling parameters}};
every other message `context: null`. An answer that continued the words a request ended with (its
`parameters.prefix`; the answer's `content` is the continuation) carries them as `continued_words`,
every other message `continued_words: null`.
Conversations are trees and the export keeps them whole: every branch's messages, each with its
`parent_id` (null for a root: a first question, or an edit of it), an answer's `reply_to` and
`answer_no` (regenerations are 2, 3, ...), an edit's `edited_from`; each session says whether it
`branched` and where the user stood (`current_leaf_id`: the path the app shows runs from a root to
it and on down its newest children), with its model, thinking, pin and archive. An answer carries
its `reasoning` (with `reasoning_ms`), its web `sources` and its usage details. Worker bookkeeping
(leases, attempts, the search vector) is not the user's data and is left out. A share is exported
as anyone holding its link reads it (its frozen `messages`), never with its token (only its hash
is stored, and the owner may not read it).
Each message's `attachments` carry their stored metadata (bucket, path, name, MIME type, size,
width/height) and a `signed_url` valid for `API_EXPORT_LINK_SECONDS`, signed by Storage as the
caller (so only their own objects can be signed); a file gone since is exported with
`signed_url: null`.

Rows are read in keyset pages of PAGE_ROWS (sessions by id; messages by (created_at, id) on the
user's index) and each page is encoded and sent before the next is fetched, so memory holds one
page whatever the history's size. RLS decides what is read: the document can only contain the
caller's rows. A failure after the first byte cannot become an error envelope; the stream is cut
and the document does not parse, so a client cannot mistake it for a complete export.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import msgspec
from postgrest import AsyncPostgrestClient
from storage3 import AsyncStorageClient

from api.upstream import call, rows

PAGE_ROWS = 1000

PROFILE_COLUMNS = "id,username,email,avatar_url,is_active,last_login_at,created_at,updated_at"
ROLE_COLUMNS = (
    "id,slug,name,description,system_prompt,avatar_url,personality,translations,is_active,sort_order,created_at"
)
SESSION_COLUMNS = (
    "id,title,role_id,model,thinking,is_active,archived_at,pinned_at,branched,current_leaf_id,api_key_id,"
    "message_count,last_message_at,created_at,updated_at"
)
MESSAGE_COLUMNS = (
    "id,session_id,parent_id,message_type,reply_to,answer_no,edited_from,content,role_id,status,model,web_search,"
    "reasoning,reasoning_ms,sources,input_tokens,output_tokens,reasoning_tokens,cached_tokens,image_tokens,"
    "search_calls,tokens_used,response_time,finish_reason,error_code,error_message,attachments,created_at,"
    "updated_at,context:question_contexts(messages,parameters),"  # an OpenAI-compatible request's, else null
    "continued_words"  # the request's words an answer continued (its content is the continuation), else null
)

USAGE_COLUMNS = (
    "id,message_id,session_id,api_key_id,model,reserved,charged,state,input_tokens,output_tokens,reasoning_tokens,"
    "image_tokens,search_calls,created_at,settled_at"
)
KEY_COLUMNS = "id,name,prefix,expires_at,last_used_at,revoked_at,created_at"
SHARE_COLUMNS = "id,session_id,title,include_reasoning,include_attachments,created_at,messages"
SHARE_PAGE_ROWS = 50  # each carries its conversation's snapshot

_encode = msgspec.json.Encoder().encode


async def export_document(
    rest: AsyncPostgrestClient, storage: AsyncStorageClient, user_id: str, link_seconds: int
) -> AsyncIterator[bytes]:
    """The export as a sequence of byte chunks, at most one page of rows each."""
    profile = rows((await call(rest.from_("profiles").select(PROFILE_COLUMNS).eq("id", user_id).execute())).data)
    roles = rows(
        (await call(rest.from_("ai_roles").select(ROLE_COLUMNS).eq("created_by", user_id).order("id").execute())).data
    )
    stamp = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    yield b'{"exported_at":' + _encode(stamp) + b',"user":' + _encode(profile[0] if profile else None)
    yield b',"roles":' + _encode(roles) + b',"sessions":['
    first = True
    async for page in _sessions(rest, user_id):
        yield _items(page, first)
        first = False
    yield b'],"messages":['
    first = True
    async for page in _messages(rest, user_id):
        await _sign_attachments(storage, page, link_seconds)
        yield _items(page, first)
        first = False
    allowance = (await call(rest.rpc("usage_allowance", {}).execute())).data
    yield b'],"plan":' + _encode(allowance if isinstance(allowance, dict) else None) + b',"usage":['
    first = True
    async for page in _usage(rest, user_id):
        yield _items(page, first)
        first = False
    keys = await call(rest.from_("api_keys").select(KEY_COLUMNS).eq("user_id", user_id).order("created_at").execute())
    yield b'],"api_keys":' + _encode(rows(keys.data)) + b',"shares":['
    first = True
    async for page in _shares(rest, user_id):
        yield _items(page, first)
        first = False
    yield b"]}"


async def _sign_attachments(storage: AsyncStorageClient, page: list[dict[str, Any]], seconds: int) -> None:
    """Add a signed download link to every attachment of the page (one Storage call per page)."""
    items = [a for m in page for a in (m.get("attachments") or []) if isinstance(a, dict)]
    paths = sorted({str(a.get("path")) for a in items if a.get("bucket") == "attachments"})
    links: dict[str, str | None] = {}
    for start in range(0, len(paths), 1000):
        signed = await storage.from_("attachments").create_signed_urls(paths[start : start + 1000], seconds)
        links.update({str(s["path"]): s["signedURL"] for s in signed})
    for item in items:
        item["signed_url"] = links.get(str(item.get("path")))


def _items(page: list[dict[str, Any]], first: bool) -> bytes:
    """A page as array elements: `a,b,c`, with a leading comma unless it is the first page."""
    body = _encode(page)[1:-1]
    return body if first else b"," + body


async def _sessions(rest: AsyncPostgrestClient, user_id: str) -> AsyncIterator[list[dict[str, Any]]]:
    after: str | None = None
    while True:
        query = rest.from_("chat_sessions").select(SESSION_COLUMNS).eq("user_id", user_id)
        if after is not None:
            query = query.gt("id", after)
        page = rows((await call(query.order("id").limit(PAGE_ROWS).execute())).data)
        if page:
            yield page
        if len(page) < PAGE_ROWS:
            return
        after = str(page[-1]["id"])


async def _shares(rest: AsyncPostgrestClient, user_id: str) -> AsyncIterator[list[dict[str, Any]]]:
    after: str | None = None
    while True:
        query = rest.from_("chat_shares").select(SHARE_COLUMNS).eq("user_id", user_id)
        if after is not None:
            query = query.gt("id", after)
        page = rows((await call(query.order("id").limit(SHARE_PAGE_ROWS).execute())).data)
        if page:
            yield page
        if len(page) < SHARE_PAGE_ROWS:
            return
        after = str(page[-1]["id"])


async def _messages(rest: AsyncPostgrestClient, user_id: str) -> AsyncIterator[list[dict[str, Any]]]:
    last: dict[str, Any] | None = None
    while True:
        query = rest.from_("chat_messages").select(MESSAGE_COLUMNS).eq("user_id", user_id)
        if last is not None:
            stamp = f'"{last["created_at"]}"'
            query = query.gte("created_at", str(last["created_at"])).or_(
                f"created_at.gt.{stamp},and(created_at.eq.{stamp},id.gt.{last['id']})"
            )
        query = query.order("created_at").order("id")
        page = rows((await call(query.limit(PAGE_ROWS).execute())).data)
        if page:
            yield page
        if len(page) < PAGE_ROWS:
            return
        last = page[-1]


async def _usage(rest: AsyncPostgrestClient, user_id: str) -> AsyncIterator[list[dict[str, Any]]]:
    after = 0
    while True:
        query = rest.from_("usage_ledger").select(USAGE_COLUMNS).eq("user_id", user_id).gt("id", after)
        page = rows((await call(query.order("id").limit(PAGE_ROWS).execute())).data)
        if page:
            yield page
        if len(page) < PAGE_ROWS:
            return
        after = int(page[-1]["id"])
