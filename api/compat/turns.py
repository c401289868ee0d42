"""A completion's question put into the user's history, on the API's own Postgres door as the key's
user: `api_open_turn` checks the model or role, finds the session (the header's, else the key's
session of the day, opened on first use) and inserts the question, in one call sent with its
role switch and commit as one simple-protocol string: one round trip, values quoted by
`literal` (standard_conforming_strings is on for the pool).

Everything runs as `authenticated` with the key's claims (`CallerDatabase.as_caller`; the
function is SECURITY INVOKER), so RLS decides which roles, models and sessions the user may
name, and the admission trigger reserves the turn against the plan: a refusal (`QuotaExceeded`,
`ModelNotAllowed`, ...) rolls the whole transaction back, so a refused request leaves no
session and no question behind.

`likely_session` says which session a request will land in before the database does (the
header's, or the key's session of the day as this process last saw it), so the answer stream's
join can start before the question is stored; the relay checks it against the question's row
(`read_answer` returns the session) and joins the right one when the guess was wrong.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import asyncpg

from api import rules
from api.compat.errors import OpenAIError, model_not_found
from api.compat.keys import KeyCaller
from api.database import CallerDatabase, literal

SESSION_HEADER = "x-chatgalaxy-session"
ANSWER_COLUMNS = "id, content, status, model, input_tokens, output_tokens, finish_reason, error_code, error_message"
_DAILY_KNOWN_MAX = 10_000
_daily_known: dict[tuple[str, date], str] = {}  # (key id, UTC day) -> the key's session of that day


def session_not_found() -> OpenAIError:
    return OpenAIError(404, "No such chat session.", "invalid_request_error", "session_not_found", SESSION_HEADER)


def likely_session(caller: KeyCaller, named_session: str | None) -> str | None:
    """The session the question will most likely be stored in, when it is known without asking."""
    if named_session is not None:  # as the database writes it: a channel's topic is the id in lower case
        return named_session.lower() if rules.is_uuid(named_session) else None
    return _daily_known.get((caller.key_id, datetime.now(UTC).date()))


def learned_session(caller: KeyCaller, named_session: str | None, session_id: str) -> None:
    """Remember the key's session of the day, as the question's row showed it."""
    if named_session is None:
        if len(_daily_known) >= _DAILY_KNOWN_MAX:
            _daily_known.clear()
        _daily_known[(caller.key_id, datetime.now(UTC).date())] = session_id


def _value(value: str | bool | None) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return literal(value)


async def open_turn(
    database: CallerDatabase,
    caller: KeyCaller,
    *,
    question: str,
    model: str,
    requested_model: str | None,
    role_slug: str | None,
    named_session: str | None,
) -> str:
    """Check, find or open the session and insert the question, committed, in one round trip;
    the question's id (chosen here)."""
    if named_session is not None and not rules.is_uuid(named_session):
        raise session_not_found()
    if role_slug is not None and (not role_slug or (len(role_slug) > 64 and not rules.is_uuid(role_slug))):
        raise model_not_found(model)
    question_id = str(uuid.uuid4())
    by_id = role_slug is not None and rules.is_uuid(role_slug)
    day = datetime.now(UTC).date().isoformat()
    values = (
        question_id,
        question,
        requested_model,
        role_slug,
        by_id,
        named_session,
        caller.key_id,
        caller.key_name,
        day,
    )
    call = f"select public.api_open_turn({', '.join(map(_value, values))})"
    try:
        await database.run_as(caller.user, call, untranslated=(asyncpg.exceptions.NoDataFoundError,))
    except asyncpg.exceptions.NoDataFoundError as exc:  # P0002, raised by api_open_turn
        if getattr(exc, "message", None) == "session_not_found":
            raise session_not_found() from exc
        raise model_not_found(model) from exc
    return question_id


async def read_answer(conn: asyncpg.Connection, question_id: str) -> dict[str, Any]:
    """The question's session and the request's answer (answer 1 to it), as the caller sees them:
    `session_id` always, the answer's columns null until the worker has claimed it."""
    row = await conn.fetchrow(
        f"select q.session_id::text as session_id, a.* from public.chat_messages q left join lateral ("
        f"select {ANSWER_COLUMNS}, attempts from public.chat_messages a where a.reply_to = q.id "
        "order by a.answer_no limit 1) a on true where q.id = $1::uuid",
        question_id,
    )
    return dict(row) if row is not None else {}
