"""A completion's question put into the user's history, on the API's own Postgres door as the key's
user: `api_open_turn` checks the model or role, finds the session (the header's, else the key's
session of the day, opened on first use) and inserts the question, with the request's earlier
messages as its context when it names no session (a root of its own, answered from that context
alone), in one call sent with its role switch and commit as one simple-protocol string: one round
trip, values quoted by `literal` (standard_conforming_strings is on for the pool).

Everything runs as `authenticated` with the key's claims (`CallerDatabase.as_caller`; the
function is SECURITY INVOKER), so RLS decides which roles, models and sessions the user may
name, and the admission trigger reserves the turn against the plan: a refusal (`QuotaExceeded`,
`ModelNotAllowed`, ...) rolls the whole transaction back, so a refused request leaves no
session and no question behind.

A request with an `Idempotency-Key` header stores its question under an id made of the user and
the key: sent again (the SDK's own retry after a timeout or a dropped connection), the stored
question is answered and nothing is inserted or charged twice; the key of a different question is
refused (400 idempotency_key_reused), as is the key of a request that differs in anything else
(model or role, earlier messages, parameters, files, search, session).

`likely_session` says which session a request will land in before the database does (the
header's, or the key's session of the day as this process last saw it), so the answer stream's
join can start before the question is stored; the relay checks it against the question's row
(`read_answer` returns the session) and joins the right one when the guess was wrong.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import msgspec
from storage3 import AsyncStorageClient

from api import rules
from api.compat.errors import OpenAIError, model_not_found
from api.compat.keys import KeyCaller
from api.compat.uploads import RequestFile, content_path, store_files
from api.database import CallerDatabase, database_error, literal
from api.errors import RoleNotFound

log = logging.getLogger(__name__)

SESSION_HEADER = "x-chatgalaxy-session"
IDEMPOTENCY_HEADER = "idempotency-key"
_IDEMPOTENCY_KEY_MAX = 255
_KEYED_QUESTIONS = uuid.UUID("f501d942-1df3-4a27-ad8e-f5f9579bca4e")  # uuid5 namespace: (user, key) -> question
ANSWER_COLUMNS = (
    "id, content, reasoning, status, model, input_tokens, output_tokens, reasoning_tokens, cached_tokens,"
    " finish_reason, error_code, error_message, sources"
)
_DAILY_KNOWN_MAX = 10_000
_STORE_TRIES = 3  # a file found stored and deleted before the question could list it: stored again
_daily_known: dict[tuple[str, date], str] = {}  # (key id, UTC day) -> the key's session of that day
_encoder = msgspec.json.Encoder()


def session_not_found() -> OpenAIError:
    return OpenAIError(404, "No such chat session.", "invalid_request_error", "session_not_found", SESSION_HEADER)


def persona_switched_off(message: str) -> OpenAIError:
    """A request naming no role, into a session whose persona is switched off (the session's role would
    answer it): refused as the web app refuses it, not answered by the assistant in its place."""
    return OpenAIError(
        404,
        f"{message} This chat session's persona answers nothing until it is switched on again or the session"
        " is bound to another role; or name the role (model role:<slug>).",
        "invalid_request_error",
        "role_not_found",
        SESSION_HEADER,
    )


def idempotency_key(headers: Any) -> str | None:
    """The request's `Idempotency-Key` (1-255 characters), or None when it sends none."""
    key = headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    if not 0 < len(key) <= _IDEMPOTENCY_KEY_MAX:
        raise OpenAIError(
            400,
            f"The Idempotency-Key header must be 1 to {_IDEMPOTENCY_KEY_MAX} characters.",
            "invalid_request_error",
            "invalid_idempotency_key",
        )
    return str(key)


def _key_reused() -> OpenAIError:
    return OpenAIError(
        400,
        "This Idempotency-Key was used for a different request; use a new key for a new question.",
        "invalid_request_error",
        "idempotency_key_reused",
    )


# The request a stored question was asked with, compared with the one sent again under its key:
# the words, the model or role, the search switch, the earlier messages, the parameters, the
# files (name, type, size) and the session named. $1 the question, then `_request`'s values.
_SAME_REQUEST = """
select q.content = $2
       and q.model is not distinct from $3
       and q.role_id is not distinct from (case when $5 then (select r.slug from public.ai_roles r
                                                               where r.id::text = lower($4)) else $4 end)
       and q.web_search = $6
       and c.messages is not distinct from $7::jsonb
       and coalesce(c.parameters, '{}') = $8::jsonb
       and (select coalesce(jsonb_agg(jsonb_build_array(a ->> 'name', a ->> 'mime_type', (a ->> 'size')::bigint)
                                      order by n), '[]')
              from jsonb_array_elements(q.attachments) with ordinality f(a, n)) = $9::jsonb
       and ($10::uuid is null or q.session_id = $10::uuid)
  from public.chat_messages q left join public.question_contexts c on c.message_id = q.id
 where q.id = $1::uuid and q.message_type = 'user'
"""


async def _asked_before(database: CallerDatabase, caller: KeyCaller, question_id: str, request: Sequence[Any]) -> bool:
    """True when the user's question `question_id` is stored and was asked with `request` (`_request`);
    the key of a different request (or of one deleted since: its charge keeps the id) is refused."""
    async with database.as_caller(caller.user, readonly=True) as conn:
        same = await conn.fetchval(_SAME_REQUEST, question_id, *request)
    if same is None:
        return False
    if not same:
        raise _key_reused()
    return True


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


def _json(value: Any) -> str:
    return "null" if value is None else literal(_encoder.encode(value).decode()) + "::jsonb"


async def open_turn(
    database: CallerDatabase,
    caller: KeyCaller,
    *,
    question: str,
    model: str,
    requested_model: str | None,
    role_slug: str | None,
    named_session: str | None,
    context: Sequence[dict[str, str]] | None = None,
    parameters: dict[str, Any] | None = None,
    files: Sequence[RequestFile] = (),
    storage: AsyncStorageClient | None = None,
    key: str | None = None,
    web_search: bool = False,
    default_model: str | None = None,
    vision_model: str | None = None,
) -> str:
    """Check, find or open the session and insert the question, committed, in one round trip;
    the question's id (chosen here; with an idempotency `key`, the one that key stands for, and a
    question already stored under it is not stored again). `context`: the messages the question
    is answered from ({role, content}), for a request that names no session; None to continue the
    session's stored conversation. `parameters`: the request's sampling parameters. `files` are
    stored (in `storage`, as the user) and attached to the question, and removed if it is not stored.
    `web_search`: the question's switch (the plan decides at admission). `default_model`: the model
    that answers a question naming none (LLM_MODEL), and `vision_model` the one that answers images on a
    model without vision (LLM_VISION_MODEL), told to admission for the token-limit and budget checks."""
    if named_session is not None and not rules.is_uuid(named_session):
        raise session_not_found()
    if role_slug is not None and (not role_slug or (len(role_slug) > 64 and not rules.is_uuid(role_slug))):
        raise model_not_found(model)
    by_id = role_slug is not None and rules.is_uuid(role_slug)
    request = (
        question,
        requested_model,
        role_slug,
        by_id,
        web_search,
        None if context is None else _encoder.encode(list(context)).decode(),
        _encoder.encode(parameters or {}).decode(),
        _encoder.encode([[f.name, f.mime_type, len(f.data)] for f in files]).decode(),
        named_session,
    )
    if key is None:
        question_id = str(uuid.uuid4())
    else:
        question_id = str(uuid.uuid5(_KEYED_QUESTIONS, f"{caller.user_id}:{key}"))
        if await _asked_before(database, caller, question_id, request):
            return question_id  # checked first: a retry must not meet the quota its first attempt used
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
    untranslated = (
        asyncpg.exceptions.NoDataFoundError,
        asyncpg.exceptions.UniqueViolationError,
        asyncpg.exceptions.ForeignKeyViolationError,
    )
    for tries in range(1, _STORE_TRIES + 1):
        uploaded: list[str] = []
        try:
            try:
                attachments = []
                if files and storage is not None:
                    stored = await _stored_objects(database, caller, files)
                    attachments = await store_files(
                        storage, caller.user_id, question_id, files, stored=stored, uploaded=uploaded
                    )
                extra = (None if context is None else list(context), parameters or {}, attachments)
                args = [*map(_value, values), *map(_json, extra), _value(web_search)]
                # the request's own thinking switch, which admission reads over the chat's (usage_admit)
                thinks = (parameters or {}).get("thinking")
                asked = None if not isinstance(thinks, bool) else str(thinks).lower()
                told = "".join(
                    f"select set_config('chatgalaxy.{name}', {literal(value)}, true); "
                    for name, value in (
                        ("default_model", default_model),
                        ("vision_model", vision_model),
                        ("request_thinking", asked),
                    )
                    if value
                )
                await database.run_as(
                    caller.user, f"{told}select public.api_open_turn({', '.join(args)})", untranslated=untranslated
                )
            except BaseException:
                await _release(database, caller, uploaded)
                raise
        except asyncpg.exceptions.ForeignKeyViolationError as exc:
            # A file found stored was deleted before the question's check locked it (its message
            # deleted, or the stray sweep): stored again.
            if files and _file_gone(exc) and tries < _STORE_TRIES:
                continue
            raise database_error(exc) from exc
        except RoleNotFound as exc:
            if role_slug is not None:
                raise  # the role the request named: model_not_found
            raise persona_switched_off(exc.message) from exc
        except asyncpg.exceptions.NoDataFoundError as exc:  # P0002, raised by api_open_turn
            if getattr(exc, "message", None) == "session_not_found":
                raise session_not_found() from exc
            raise model_not_found(model) from exc
        except asyncpg.exceptions.UniqueViolationError as exc:  # a keyed id: stored meanwhile, or reused
            if key is None:
                raise
            if await _asked_before(database, caller, question_id, request):
                return question_id
            raise _key_reused() from exc
        return question_id
    raise AssertionError("unreachable: the last try returns or raises")


def _file_gone(exc: asyncpg.PostgresError) -> bool:
    """The attachment check's refusal of a listed file that is not stored (chat_messages_check_attachments)."""
    message = str(getattr(exc, "message", "") or "")
    return message.startswith("attachment ") and message.endswith(" does not exist")


async def _stored_objects(
    database: CallerDatabase, caller: KeyCaller, files: Sequence[RequestFile]
) -> dict[str, tuple[int, str]]:
    """Which of the files' own paths (`content_path`) hold an object already, with its size and
    type, as the user reads them (RLS: their own folder only)."""
    paths = sorted({content_path(caller.user_id, f) for f in files})
    async with database.as_caller(caller.user, readonly=True) as conn:
        rows = await conn.fetch(_STORED, paths)
    return {str(r["name"]): (int(r["size"] or -1), str(r["mime"])) for r in rows}


_STORED = (
    "select name, (metadata ->> 'size')::bigint as size, metadata ->> 'mimetype' as mime from storage.objects"
    " where bucket_id = 'attachments' and name = any($1::text[])"
)


async def _release(database: CallerDatabase, caller: KeyCaller, paths: Sequence[str]) -> None:
    """Delete the uploads of a question that was not stored (refused, or failed), those no message of
    the user lists: a concurrent request of theirs may have found one stored and listed it. Each is
    locked first, so a question still being stored that lists it (its check holds it FOR SHARE) is
    waited for, and the delete, a statement of its own, sees it. Best effort: what is left is an
    unreferenced upload, which `python -m ops stray-uploads` deletes."""
    if not paths:
        return
    listed = f"array[{', '.join(literal(p) for p in paths)}]::text[]"
    own = f"o.bucket_id = 'attachments' and o.name = any ({listed})"
    try:
        await database.run_as(
            caller.user,
            f"select 1 from storage.objects o where {own} order by o.name for update;"
            " select set_config('storage.allow_delete_query', 'true', true);"
            f" delete from storage.objects o where {own} and not public.attachment_listed_by_own_message(o.name)",
        )
    except Exception as exc:  # the refusal is what the client must hear
        log.warning("uploaded files of a refused question not removed", extra={"error": repr(exc)})


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
