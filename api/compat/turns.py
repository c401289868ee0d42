"""A completion's question put into the user's history, on the API's own Postgres door as the key's
user: the model or role checked, the session found (the header's, else the key's session of the
day, created on first use) and the question inserted, in one transaction and three statements.

Everything runs as `authenticated` with the key's claims (`CallerDatabase.as_caller`), so RLS
decides which roles, models and sessions the user may name, and the admission trigger reserves
the turn against the plan: a refusal (`QuotaExceeded`, `ModelNotAllowed`, ...) rolls the whole
transaction back, so a refused request leaves no session and no question behind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from api import rules
from api.compat.errors import OpenAIError, model_not_found
from api.compat.keys import KeyCaller

SESSION_HEADER = "x-chatgalaxy-session"
ANSWER_COLUMNS = "id, content, status, model, input_tokens, output_tokens, finish_reason, error_code, error_message"

# The role (by slug or by id) and the model the request names, the header's session and the key's
# session of the day, as RLS lets the caller see them.
_LOOKUP = """
select (select r.slug from public.ai_roles r where r.{role_column} = $1 limit 1) as role_slug,
       exists (select 1 from public.models m where m.id = $2) as model_ok,
       (select s.id from public.chat_sessions s where s.id = $3::uuid) as named_id,
       (select s.id from public.chat_sessions s where s.api_key_id = $4::uuid and s.api_day = $5::date) as daily_id
"""
_OPEN_DAILY = """
insert into public.chat_sessions (title, api_key_id, api_day) values ($1, $2::uuid, $3::date)
on conflict (api_key_id, api_day) do nothing returning id
"""
_DAILY = "select id from public.chat_sessions where api_key_id = $1::uuid and api_day = $2::date"
_ASK = """
insert into public.chat_messages (session_id, message_type, content, role_id, model)
values ($1::uuid, 'user', $2, $3, $4) returning id
"""


@dataclass(frozen=True)
class Turn:
    session_id: str
    question_id: str


def session_not_found() -> OpenAIError:
    return OpenAIError(404, "No such chat session.", "invalid_request_error", "session_not_found", SESSION_HEADER)


async def open_turn(
    conn: asyncpg.Connection,
    caller: KeyCaller,
    *,
    question: str,
    model: str,
    requested_model: str | None,
    role_slug: str | None,
    named_session: str | None,
    on_session: Callable[[str], None],
) -> Turn:
    """Check, find or open the session, insert the question; on `conn`, inside the caller's
    transaction. `on_session` hears an existing session's id before the insert (so the answer
    stream's join can overlap it); a session opened here is not reported (it is not committed)."""
    if named_session is not None and not rules.is_uuid(named_session):
        raise session_not_found()
    if role_slug is not None and (not role_slug or (len(role_slug) > 64 and not rules.is_uuid(role_slug))):
        raise model_not_found(model)
    role_column = "id" if role_slug is not None and rules.is_uuid(role_slug) else "slug"
    day = datetime.now(UTC).date()
    found = await conn.fetchrow(
        _LOOKUP.format(role_column=role_column), role_slug, requested_model, named_session, caller.key_id, day
    )
    assert found is not None
    stored_role: str | None = None
    if role_slug is not None:
        if found["role_slug"] is None:
            raise model_not_found(model)
        stored_role = str(found["role_slug"])
    elif not found["model_ok"]:
        raise model_not_found(model)
    session_id: Any
    if named_session is not None:
        session_id = found["named_id"]
        if session_id is None:
            raise session_not_found()
        on_session(str(session_id))
    else:
        session_id = found["daily_id"]
        if session_id is not None:
            on_session(str(session_id))
        else:
            title = f"API · {caller.key_name} · {day.isoformat()}"[:200]
            session_id = await conn.fetchval(_OPEN_DAILY, title, caller.key_id, day)
            if session_id is None:  # a concurrent request of the same key opened it first
                session_id = await conn.fetchval(_DAILY, caller.key_id, day)
        if session_id is None:
            raise OpenAIError(500, "Could not open the API session.", "server_error", None)
    question_id = await conn.fetchval(_ASK, str(session_id), question, stored_role, requested_model)
    return Turn(str(session_id), str(question_id))


async def read_answer(conn: asyncpg.Connection, question_id: str) -> dict[str, Any] | None:
    """The request's answer (answer 1 to its question), as the caller sees it."""
    row = await conn.fetchrow(
        f"select {ANSWER_COLUMNS}, attempts from public.chat_messages where reply_to = $1::uuid "
        "order by answer_no limit 1",
        question_id,
    )
    return dict(row) if row is not None else None
