"""Chat over plain HTTP: send and wait for the answer, history pages, search, stop.

`POST /api/chat/send` subscribes to the session's answer stream *before* storing the question,
so the worker's final event cannot slip past, then waits at most `API_ANSWER_TIMEOUT` seconds.
On timeout it answers 504 AnswerTimeout with the question's id; the worker carries on and the
answer lands in the history all the same. The caller's token bounds the wait too: a token past its
`exp` is 401 TokenExpired before anything is stored (the stream is a Realtime channel, which allows
no clock skew); one that expires while waiting ends the stream, then the row is polled until REST
stops reading as the caller (30 s later), which is AnswerTimeout as well. Any other error once the
question is stored (an outage) carries its id too, so a client never sends it twice; and a client
that names its question (`message_id`, a UUID of its own) may send it again after any failure: the
stored question is answered, never a second one (api/conversation.py).
"""

from __future__ import annotations

import uuid

import msgspec
from litestar import Controller, get, post
from litestar.params import Parameter

from api import rules
from api.conversation import find_session, post_question, role_for_turn, stop_answers, wait_for_answer
from api.database import Caller
from api.docs import errors
from api.errors import AnswerTimeout, ApiError, BadRequest, SessionNotFound, TokenExpired
from api.history import decode_cursor, page_of_history
from api.metrics import Metrics
from api.ratelimit import RateLimiter
from api.schemas import (
    HistoryResponse,
    SearchHit,
    SearchResponse,
    SendRequest,
    SendResponse,
    SourceOut,
    StopRequest,
    StopResponse,
)
from api.security import CurrentUser
from api.upstream import Upstream
from core.settings import Settings

# The session check and search_messages' ranked page, one statement as the caller (null: no such session).
_SEARCH = "select facade.search($1, $2, $3, $4, $5, $6)"
_hits = msgspec.json.Decoder(list[SearchHit])


class _Place(msgspec.Struct):
    cursor: str  # where a hit stands in the search's order (migrations/..._search_results_page_by_cursor.sql)


_places = msgspec.json.Decoder(list[_Place])


class ChatController(Controller):
    path = "/api/chat"
    tags = ["chat"]  # noqa: RUF012

    @post("/send", status_code=200, responses=errors(403, 404, 409, 413, 422, 429, 504))
    async def send(
        self,
        *,
        data: SendRequest,
        user: CurrentUser,
        upstream: Upstream,
        limiter: RateLimiter,
        settings: Settings,
        metrics: Metrics,
        ip: str,
    ) -> SendResponse:
        user.check_unexpired()  # REST would take it 30 s past `exp`; the answers come over Realtime
        content = rules.message(data.message, settings.api.max_message_chars)
        question_id = None if data.message_id is None else rules.uuid_field(data.message_id, "message_id")
        await limiter.check_send(user.id, ip)
        rest = upstream.rest(user.token)
        session = await find_session(rest, data.session_id)
        role = await role_for_turn(rest, session, data.role_id)
        why = ""
        async with upstream.reply_feed(user, str(session["id"])) as feed:
            question = await post_question(rest, str(session["id"]), content, str(role["slug"]), question_id)
            metrics.messages_sent.labels("http").inc()
            try:
                answer = await wait_for_answer(
                    rest,
                    feed,
                    str(question["id"]),
                    wait=settings.api.answer_timeout,
                    poll_interval=settings.api.answer_poll_interval,
                )
            except TokenExpired:  # REST reads as the caller no longer: the channel ended at `exp`, polls now
                answer, why = None, " (the token expired meanwhile)"
            except ApiError as error:  # an outage: the question is stored, so the error says which it is
                error.extra.setdefault("message_id", str(question["id"]))
                raise
        if answer is None:
            raise AnswerTimeout(
                f"The answer is still being written{why}; it will appear in the history.",
                message_id=str(question["id"]),
            )
        return SendResponse(
            success=answer.get("status") == "completed",
            ai_response=str(answer.get("content") or ""),
            message_id=str(answer["id"]),
            tokens_used=int(answer.get("tokens_used") or 0),
            user_message_id=str(question["id"]),
            status=str(answer.get("status")),
            finish_reason=answer.get("finish_reason"),
            response_time=answer.get("response_time"),
            model=answer.get("model"),
            sources=msgspec.convert(answer["sources"], list[SourceOut]) if answer.get("sources") else None,
        )

    @get("/history", responses=errors(404, 422))
    async def history(
        self,
        *,
        caller: Caller,
        session_id: str | None = None,
        page: int = Parameter(default=1, ge=1, le=1_000_000),
        limit: int = Parameter(default=20, ge=1, le=100),
        cursor: str | None = Parameter(default=None, max_length=200),
    ) -> HistoryResponse:
        keyset = decode_cursor(cursor) if cursor else None
        if session_id and not rules.is_uuid(session_id):
            raise SessionNotFound()
        messages, total, next_cursor = await page_of_history(
            caller,
            session_id=session_id.lower() if session_id else None,
            limit=limit,
            offset=0 if keyset else (page - 1) * limit,
            cursor=keyset,
        )
        return HistoryResponse(
            success=True, messages=messages, total=total, page=page, limit=limit, next_cursor=next_cursor
        )

    @get("/search", responses=errors(404, 422))
    async def search(
        self,
        *,
        caller: Caller,
        q: str = Parameter(min_length=1, max_length=200),
        session_id: str | None = None,
        limit: int = Parameter(default=20, ge=1, le=100),
        offset: int = Parameter(default=0, ge=0, le=10_000),
        cursor: str | None = Parameter(default=None, max_length=400),
    ) -> SearchResponse:
        """Hits ranked as `search_messages` ranks them; `next_cursor` (null on the last page) reads on
        from the last hit, unmoved by messages written or deleted meanwhile (`offset` counts from it)."""
        if not q.strip() or "\x00" in q:
            raise BadRequest("q must contain search words.", field="q")
        if session_id and not rules.is_uuid(session_id):
            raise SessionNotFound()
        session = uuid.UUID(session_id) if session_id else None
        found = (await caller.read(_SEARCH, q, session, limit, offset, cursor))[0]
        if found is None:
            raise SessionNotFound(session_id=session_id)
        results = _hits.decode(found)
        next_cursor = _places.decode(found)[-1].cursor if len(results) == limit else None
        return SearchResponse(success=True, results=results, next_cursor=next_cursor)

    @post("/stop", status_code=200, responses=errors(404, 413, 422))
    async def stop(self, data: StopRequest, user: CurrentUser, upstream: Upstream) -> StopResponse:
        """Stop answers: one (by either message's id) or a session's; a question not yet claimed is
        ended before any worker answers it."""
        rest = upstream.rest(user.token)
        if data.message_id:
            stopped = await stop_answers(rest, None, rules.uuid_field(data.message_id, "message_id"))
        elif data.session_id:
            stopped = await stop_answers(rest, (await find_session(rest, data.session_id))["id"], None)
        else:
            raise BadRequest("Give message_id or session_id.", field="message_id")
        return StopResponse(success=True, stopped=stopped)
