"""One turn of a conversation as the user performs it through REST: find the session, pick the
role, store the question, and read the answer row the worker writes.

Everything runs with the user's own token, so a session or role of another user is simply not
found (404, no existence leak) and the question is inserted under RLS like any client would.
"""

from __future__ import annotations

from typing import Any

from postgrest import AsyncPostgrestClient

from api import rules
from api.errors import Conflict, Forbidden, MessageIdTaken, RoleNotFound, SessionNotFound
from api.replies import ReplyFeed, wait_while_alive
from api.upstream import call, rows

SESSION_COLUMNS = "id,title,role_id,is_active,message_count,last_message_at,created_at,updated_at,pinned_at"
ROLE_COLUMNS = "id,slug,name,description,avatar_url,system_prompt,created_by,translations,is_active"
MESSAGE_COLUMNS = (
    "id,session_id,message_type,content,role_id,status,reply_to,tokens_used,response_time,"
    "model,finish_reason,error_code,error_message,created_at,sources,continues"
)


async def find_session(rest: AsyncPostgrestClient, session_id: str) -> dict[str, Any]:
    if not rules.is_uuid(session_id):
        raise SessionNotFound()
    response = await call(rest.from_("chat_sessions").select(SESSION_COLUMNS).eq("id", session_id).execute())
    found = rows(response.data)
    if not found:
        raise SessionNotFound(session_id=session_id)  # the id lets the audit tell a probe from a typo
    return found[0]


async def find_role(rest: AsyncPostgrestClient, role_id: str, *, active: bool = False) -> dict[str, Any]:
    """A role the user can see, by slug (`tech_expert`) or by uuid; with `active`, one a chat may use:
    the worker answers with active roles only, so an inactive one (its owner switched it off, or a
    built-in one an admin did, which admins still read) is not found for a chat."""
    column = "id" if rules.is_uuid(role_id) else "slug"
    if column == "slug" and (len(role_id) > 64 or "\x00" in role_id):
        raise RoleNotFound()  # no slug is so long or holds a NUL (which Postgres would refuse as text)
    response = await call(rest.from_("ai_roles").select(ROLE_COLUMNS).eq(column, role_id).execute())
    found = rows(response.data)
    if not found or (active and found[0].get("is_active") is False):
        raise RoleNotFound()
    # A user's custom role wins over nothing else: slugs of custom roles never equal a built-in's.
    return found[0]


async def role_for_turn(rest: AsyncPostgrestClient, session: dict[str, Any], role_id: str | None) -> dict[str, Any]:
    """The active role named in the request, else the session's, else the built-in assistant: the
    role the worker answers with (worker_claim_contexts). A session whose role is switched off
    answers nothing until another role is named (RoleNotFound, as the database and the web app
    say): it was answered by the assistant in the persona's place."""
    if role_id:
        return await find_role(rest, role_id, active=True)
    if session.get("role_id"):
        try:
            return await find_role(rest, str(session["role_id"]), active=True)
        except RoleNotFound:  # (a deleted role leaves none bound: on delete set null)
            raise RoleNotFound(
                "This chat's persona is switched off: name another role, or switch it on again.", field="role_id"
            ) from None
    return await find_role(rest, "assistant")


async def post_question(
    rest: AsyncPostgrestClient, session_id: str, content: str, role_slug: str, question_id: str | None = None
) -> dict[str, Any]:
    """Insert the user's message; the worker hears of it through Realtime and answers.

    With the client's own id for it (`question_id`, a UUID), sending again is safe: when that
    question is already stored (a retry after a lost response) its row is returned and nothing is
    inserted or charged twice; an id that is another message's is MessageIdTaken (409). A session
    deleted since it was found (another tab, or while a socket on it is open) is SessionNotFound."""
    payload = {"session_id": session_id, "message_type": "user", "content": content, "role_id": role_slug}
    if question_id is None:
        return await _insert_question(rest, payload)
    if (stored := await _same_question(rest, question_id, session_id, content)) is not None:
        return stored  # checked first: a retry must not meet the quota its first attempt used
    try:
        return await _insert_question(rest, {"id": question_id, **payload})
    except Conflict:  # stored meanwhile (two retries at once), or another message's id
        if (stored := await _same_question(rest, question_id, session_id, content)) is not None:
            return stored
        raise MessageIdTaken(field="message_id") from None


async def _insert_question(rest: AsyncPostgrestClient, payload: dict[str, Any]) -> dict[str, Any]:
    """The question's row. RLS refuses it (42501) when its session is not the caller's, which is
    what a session deleted since it was found has become: that is SessionNotFound, not Forbidden."""
    try:
        return rows((await call(rest.from_("chat_messages").insert(payload).execute())).data)[0]
    except Forbidden:
        await find_session(rest, str(payload["session_id"]))  # SessionNotFound when it is gone
        raise


async def _same_question(
    rest: AsyncPostgrestClient, question_id: str, session_id: str, content: str
) -> dict[str, Any] | None:
    """The stored question `question_id` when it is this one (same session, same text), None when
    there is none the caller can see; MessageIdTaken when the caller's message of that id differs."""
    query = rest.from_("chat_messages").select(MESSAGE_COLUMNS).eq("id", question_id)
    found = rows((await call(query.execute())).data)
    if not found:
        return None
    row = found[0]
    if (row.get("message_type"), row.get("session_id"), row.get("content")) != ("user", session_id, content):
        raise MessageIdTaken(field="message_id")
    return row


async def find_answer(rest: AsyncPostgrestClient, question_id: str) -> dict[str, Any] | None:
    """The answer to `question_id` as the caller sees it, with how far it has come (`reasoning`,
    `attempts`: `wait_while_alive`'s progress), None before a worker claims it."""
    query = rest.from_("chat_messages").select(f"{MESSAGE_COLUMNS},reasoning,attempts").eq("reply_to", question_id)
    found = rows((await call(query.execute())).data)
    return found[0] if found else None


async def wait_for_answer(
    rest: AsyncPostgrestClient, feed: ReplyFeed, question_id: str, *, wait: float, poll_interval: float
) -> dict[str, Any] | None:
    """The answer row once final, or None once `wait` seconds pass without the answer making
    progress (a chunk heard on the feed, or more of it in its row, re-read every `poll_interval`
    seconds in case a broadcast was lost: Realtime is best-effort), as /v1 waits."""

    async def read() -> dict[str, Any] | None:
        return await find_answer(rest, question_id)

    return await wait_while_alive(read, feed.next, question_id, wait=wait, poll=poll_interval)


async def stop_answers(rest: AsyncPostgrestClient, session_id: str | None, message_id: str | None) -> int:
    """`chat_stop`: the answer to `message_id` (a question's or the answer's id), or every one of the
    session's, asked to stop; a question still waiting for its claim is ended before any worker
    answers it. How many were stopped."""
    named = {"session": session_id, "message": message_id}
    response = await call(rest.rpc("chat_stop", {k: v for k, v in named.items() if v is not None}).execute())
    return response.data if isinstance(response.data, int) else 0
