"""One client's chat WebSocket on one session, after its token and session were checked.

Frames (JSON objects `{"type", "data"}`):
  client → server  user_message {message, role_id?, timestamp?}; stop {message_id?}; ping; pong
  server → client  user_message {message_id, message, role_id, timestamp, status: "received"}
                   ai_reasoning {reasoning (thinking so far), delta, seq, role_name, message_id,
                                 reply_to, timestamp, status: "thinking"}, only while a thinking model
                                 thinks (before its answer text)
                   ai_response  {message (text so far), delta, seq, role_name, message_id, reply_to,
                                 timestamp, status: "streaming"}, then one final ai_response with
                                 status "completed" | "error" | "cancelled", tokens_used, finish_reason
                                 (and reasoning, the whole thinking, when the model thought)
                   ping (every API_WS_HEARTBEAT s), pong, stopped {stopped}, error {code, message, field?}
  client → server  access_token {access_token}: a fresh JWT of the same user (Realtime's event of that name)
  server → client  token_refreshed {expires_at}

Token: the socket serves while its token is valid, as Realtime's channels do (its `exp`, no clock
skew, since the answer stream is a Realtime channel). A client that refreshes its session sends the
new token in an `access_token` frame, and the socket, its database reads and its channel carry on
with it; a token of another user is refused (TokenUserMismatch) and changes nothing. When the token
expires with no fresh one, the socket sends a TokenExpired error frame and closes 4401.

Cadence: chunks are relayed as the Realtime broadcasts arrive; answers still open are re-read
from the database every API_ANSWER_POLL_INTERVAL seconds, so a lost broadcast delays the final
frame by at most that long and never loses it. Answers started from another tab on the same
session stream here too: the channel is the session's.

Resume: a socket opened while an answer is being written first sends that answer's thinking and
text so far (from its row, `resumed: true`), then continues from the broadcasts, keeping of each chunk only
what lies beyond the text already sent (chunks carry their `offset`): no gap and no repeat. When
a chunk starts beyond the text sent (the row lagged the broadcasts), the row is read again until
it covers the gap. Each `ai_response` is about the newest answer to its question (regenerated
answers replace older ones on the socket).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import WebSocket
from litestar.exceptions import WebSocketDisconnect

from api import rules
from api.conversation import MESSAGE_COLUMNS, find_role, post_question, role_for_turn
from api.errors import (
    ApiError,
    BadRequest,
    NotAuthenticated,
    RateLimited,
    TokenExpired,
    TokenUserMismatch,
    UpstreamUnavailable,
    log_server_error,
)
from api.metrics import Metrics
from api.ratelimit import RateLimiter
from api.replies import FINAL_STATUSES, ReplyEvent, ReplyFeed
from api.security import CurrentUser, user_from_token
from api.upstream import Upstream, call, rows
from core.jwt import KeySet
from core.settings import ApiSettings

log = logging.getLogger(__name__)

# A resumed answer's gap is covered by the row within one worker flush (WORKER_FLUSH_INTERVAL, 0.25 s);
# the row is read every _CATCH_UP_EVERY seconds for at most _CATCH_UP_READS reads (a loaded machine).
_CATCH_UP_EVERY = 0.05
_CATCH_UP_READS = 60


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _Frame(msgspec.Struct):
    type: str
    data: dict[str, Any] = msgspec.field(default_factory=dict)


@dataclass
class _Answer:
    role_name: str | None
    text: str = ""
    attempt: int = 0
    last_seq: int = -1
    message_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    reasoning: str = ""


class ChatSocket:
    def __init__(
        self,
        socket: WebSocket[Any, Any, Any],
        *,
        feed: ReplyFeed,
        user: CurrentUser,
        session: dict[str, Any],
        upstream: Upstream,
        settings: ApiSettings,
        keys: KeySet,
        limiter: RateLimiter,
        metrics: Metrics,
        ip: str,
    ) -> None:
        self._socket = socket
        self._feed = feed
        self._user = user
        self._session = session
        self._upstream = upstream
        self._rest = upstream.rest(user.token)
        self._settings = settings
        self._keys = keys
        self._limiter = limiter
        self._metrics = metrics
        self._ip = ip
        self._open: dict[str, _Answer] = {}
        self._finished: set[str] = set()
        self._send_lock = asyncio.Lock()
        self._refreshed = asyncio.Event()  # a fresh token came: _expiry reads the new deadline

    async def run(self) -> None:
        """Serve until the client leaves, then close. What ends the socket from our side (an outage
        while resuming: UpstreamUnavailable, 1013; the token's expiry: TokenExpired, 4401) is sent as
        an error frame first, with the close its error class names."""
        try:
            await self._serve()
        except ApiError as error:
            if self._socket.connection_state != "disconnect":
                await self.send_error(error)
                await self._socket.close(code=error.ws_close, reason=error.code)
            return
        if self._socket.connection_state != "disconnect":
            await self._socket.close(code=1000)

    async def _serve(self) -> None:
        await self._resume()
        tasks = [
            asyncio.create_task(self._read()),
            asyncio.create_task(self._relay()),
            asyncio.create_task(self._heartbeat()),
            asyncio.create_task(self._expiry()),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if not task.cancelled() and (error := task.exception()) is not None:
                    raise error
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    # --- sending -------------------------------------------------------------------------------

    async def _send(self, kind: str, data: dict[str, Any] | None = None) -> None:
        payload = msgspec.json.encode(_Frame(kind, data or {})).decode()
        async with self._send_lock:
            await self._socket.send_text(payload)

    async def send_error(self, error: ApiError) -> None:
        """An error frame; a server error (5xx) is also logged, as it is over HTTP."""
        if error.status >= 500:
            log_server_error(self._socket, error, error)
        data: dict[str, Any] = {"code": error.code, "message": error.message}
        if error.field:
            data["field"] = error.field
        if isinstance(error, RateLimited):
            data["retry_after"] = error.retry_after
        await self._send("error", data)

    # --- the client's frames -------------------------------------------------------------------

    async def _read(self) -> None:
        while True:
            try:
                text = await self._socket.receive_text()
            except WebSocketDisconnect:
                return
            try:
                await self._handle(text)
            except ApiError as error:
                await self.send_error(error)

    async def _handle(self, text: str) -> None:
        if len(text) > self._settings.max_body_bytes:
            raise BadRequest("Frame too large.", code="FrameTooLarge")
        try:
            frame = msgspec.json.decode(text, type=_Frame)
        except msgspec.DecodeError as exc:
            raise BadRequest("Frames are JSON objects {type, data}.", code="InvalidFrame") from exc
        if frame.type == "ping":
            await self._send("pong", {"timestamp": _now()})
        elif frame.type == "pong":
            return
        elif frame.type == "user_message":
            await self._user_message(frame.data)
        elif frame.type == "stop":
            await self._stop(frame.data)
        elif frame.type == "access_token":
            await self._access_token(frame.data)
        else:
            raise BadRequest(f"Unknown frame type {frame.type[:40]!r}.", field="type", code="UnknownFrameType")

    async def _user_message(self, data: dict[str, Any]) -> None:
        message, role_id = data.get("message"), data.get("role_id")
        if not isinstance(message, str):
            raise BadRequest("message must be a string.", field="message")
        if role_id is not None and not isinstance(role_id, str):
            raise BadRequest("role_id must be a string.", field="role_id")
        content = rules.message(message, self._settings.max_message_chars)
        await self._limiter.check_send(self._user.id, self._ip)
        role = await role_for_turn(self._rest, self._session, role_id)
        question = await post_question(self._rest, str(self._session["id"]), content, str(role["slug"]))
        self._metrics.messages_sent.labels("websocket").inc()
        self._open.setdefault(str(question["id"]), _Answer(role_name=str(role["name"])))
        await self._send(
            "user_message",
            {
                "message_id": str(question["id"]),
                "message": content,
                "role_id": str(role["slug"]),
                "timestamp": str(question.get("created_at") or _now()),
                "status": "received",
            },
        )

    async def _stop(self, data: dict[str, Any]) -> None:
        """Ask this session's answers in flight to stop: the one to `message_id` (a question's or the
        answer's id), or all of them when the frame names none. A `message_id` that is not a UUID is
        refused, never read as "all"."""
        query = self._rest.from_("chat_messages").update({"cancel_requested": True})
        message_id = data.get("message_id")
        if message_id is not None:
            if not isinstance(message_id, str):
                raise BadRequest("message_id must be a string.", field="message_id")
            message_id = rules.uuid_field(message_id, "message_id")
            query = query.or_(f"id.eq.{message_id},reply_to.eq.{message_id}")
        query = query.eq("session_id", str(self._session["id"])).eq("message_type", "assistant")
        response = await call(query.in_("status", ["pending", "streaming"]).execute())
        await self._send("stopped", {"stopped": len(rows(response.data))})

    async def _access_token(self, data: dict[str, Any]) -> None:
        """Carry on with a fresh token of the same user; a bad one is refused and changes nothing."""
        token = data.get("access_token")
        if not isinstance(token, str) or not token:
            raise BadRequest("access_token must be the session's new JWT.", field="access_token")
        try:
            user = user_from_token(token, self._keys)
            user.lifetime()
        except NotAuthenticated as error:  # InvalidToken, TokenExpired
            error.field = "access_token"
            raise
        if user.id != self._user.id:
            raise TokenUserMismatch(field="access_token")
        await self._feed.set_token(user.token)
        self._user, self._rest = user, self._upstream.rest(user.token)
        self._refreshed.set()
        await self._send("token_refreshed", {"expires_at": int(user.expires_at)})

    async def _expiry(self) -> None:
        """Raise TokenExpired once the socket's token expires; a fresh token moves the deadline."""
        while (left := self._user.expires_at - time.time()) > 0:
            self._refreshed.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(left):
                    await self._refreshed.wait()
        raise TokenExpired("The token has expired: send a fresh one (access_token) before it does, or reconnect.")

    # --- the worker's stream -------------------------------------------------------------------

    async def _relay(self) -> None:
        """Pass the worker's broadcasts on, and poll the rows of open answers when it is quiet. A
        read that fails while a backing service is down is logged and left to the next poll (the row
        is the source of truth: a missed chunk is covered from it), so the socket serves on."""
        poll = self._settings.answer_poll_interval
        while True:
            event = await self._feed.next(poll)
            try:
                if event is None:
                    await self._finish_open()
                elif event.final:
                    await self._finish_open(only=event.reply_to)
                elif event.reply_to:
                    await self._chunk(event)
            except UpstreamUnavailable as error:
                log.warning(
                    "answer relay: %s; reading again at the next poll",
                    error.code,
                    extra={"session_id": str(self._session["id"]), "open": len(self._open)},
                )

    async def _resume(self) -> None:
        """Send the text so far of every answer of this session still being written."""
        response = await call(
            self._rest.from_("chat_messages")
            .select("id,reply_to,content,reasoning,attempts")
            .eq("session_id", str(self._session["id"]))
            .eq("message_type", "assistant")
            .in_("status", ["pending", "streaming"])
            .order("answer_no")
            .execute()
        )
        for row in rows(response.data):
            question_id, text = str(row["reply_to"]), str(row.get("content") or "")
            answer = _Answer(
                role_name=await self._role_name(question_id),
                text=text,
                attempt=int(row.get("attempts") or 0),
                message_id=str(row["id"]),
            )
            self._open[question_id] = answer
            if thought := str(row.get("reasoning") or ""):
                answer.reasoning = thought
                await self._send_chunk(question_id, answer, thought, None, resumed=True, reasoning=True)
            if text:
                await self._send_chunk(question_id, answer, text, None, resumed=True)

    async def _catch_up(self, answer: _Answer, offset: int, reasoning: bool = False) -> bool:
        """Read the answer's row until its text (or its reasoning) reaches `offset` (the row is written
        a few times a second); False when it does not within _CATCH_UP_READS reads (the chunk is then
        shown as it is, and the final frame, read from the row, still carries the whole text)."""
        if answer.message_id is None:
            return False
        column = "reasoning" if reasoning else "content"
        for _ in range(_CATCH_UP_READS):
            query = self._rest.from_("chat_messages").select(f"{column},attempts").eq("id", answer.message_id)
            found = rows((await call(query.execute())).data)
            if not found or int(found[0].get("attempts") or 0) != answer.attempt:
                log.warning(
                    "resume gap not covered: the answer was retaken or is gone",
                    extra={"message_id": answer.message_id, "offset": offset, "found": bool(found)},
                )
                return False
            text = str(found[0].get(column) or "")
            if len(text) >= offset:
                if reasoning:
                    answer.reasoning = text[:offset]
                else:
                    answer.text = text[:offset]
                return True
            await asyncio.sleep(_CATCH_UP_EVERY)
        log.warning(
            "resume gap not covered: the stored answer did not reach the chunk",
            extra={"message_id": answer.message_id, "offset": offset, "stored": len(text), "shown": len(answer.text)},
        )
        return False

    async def _chunk(self, event: ReplyEvent) -> None:
        assert event.reply_to is not None
        answer = self._open.get(event.reply_to)
        if answer is None or (event.message_id and answer.message_id not in (None, event.message_id)):
            # an answer to a question sent elsewhere (another tab), or a newer answer to it
            answer = self._open[event.reply_to] = _Answer(role_name=await self._role_name(event.reply_to))
            self._finished.discard(event.reply_to)
        if event.attempt < answer.attempt:
            return  # a late chunk of an attempt that was since retaken
        if event.attempt > answer.attempt:  # retaken by another worker: its text starts over
            answer.attempt, answer.text, answer.reasoning, answer.last_seq = event.attempt, "", "", -1
        if event.seq is not None:
            if event.seq <= answer.last_seq:
                return  # a duplicate broadcast
            answer.last_seq = event.seq
        answer.message_id = event.message_id or answer.message_id
        thinking = event.reasoning

        def shown() -> str:
            return answer.reasoning if thinking else answer.text

        before, delta = shown(), event.delta
        if event.offset is not None:
            if event.offset > len(before):
                await self._catch_up(answer, event.offset, thinking)  # the gap, from the row
            have = len(shown())
            delta = delta[max(have - event.offset, 0) :] if event.offset + len(delta) > have else ""
        if thinking:
            answer.reasoning += delta
        else:
            answer.text += delta
        if len(shown()) > len(before):  # the frame's delta is all that is new: a covered gap too
            await self._send_chunk(event.reply_to, answer, shown()[len(before) :], event.seq, reasoning=thinking)

    async def _send_chunk(
        self,
        question_id: str,
        answer: _Answer,
        delta: str,
        seq: int | None,
        *,
        resumed: bool = False,
        reasoning: bool = False,
    ) -> None:
        data: dict[str, Any] = {
            "reasoning" if reasoning else "message": answer.reasoning if reasoning else answer.text,
            "delta": delta,
            "seq": seq,
            "attempt": answer.attempt,
            "role_name": answer.role_name,
            "message_id": answer.message_id,
            "reply_to": question_id,
            "timestamp": _now(),
            "status": "thinking" if reasoning else "streaming",
        }
        if resumed:
            data["resumed"] = True
        await self._send("ai_reasoning" if reasoning else "ai_response", data)

    async def _role_name(self, question_id: str) -> str | None:
        response = await call(self._rest.from_("chat_messages").select("role_id").eq("id", question_id).execute())
        slug = next((r.get("role_id") for r in rows(response.data)), None)
        if not slug:
            return None
        try:
            return str((await find_role(self._rest, str(slug)))["name"])
        except ApiError:
            return None

    async def _finish_open(self, only: str | None = None) -> None:
        """Send the final frame of every open answer (or just `only`) whose row is final."""
        waiting = [only] if only else list(self._open)
        if not waiting:
            return
        query = self._rest.from_("chat_messages").select(f"{MESSAGE_COLUMNS},reasoning").in_("reply_to", waiting)
        newest: dict[str, dict[str, Any]] = {}
        for row in rows((await call(query.order("answer_no").execute())).data):
            newest[str(row["reply_to"])] = row  # the newest answer to each question
        for question_id, row in newest.items():
            if row.get("status") in FINAL_STATUSES and question_id not in self._finished:
                self._finished.add(question_id)
                answer = self._open.pop(question_id, None) or _Answer(role_name=None)
                thought = {"reasoning": row["reasoning"]} if row.get("reasoning") else {}
                await self._send(
                    "ai_response",
                    {
                        "message": str(row.get("content") or ""),
                        "role_name": answer.role_name,
                        "message_id": str(row["id"]),
                        "reply_to": question_id,
                        "timestamp": _now(),
                        "status": row["status"],
                        "tokens_used": int(row.get("tokens_used") or 0),
                        "finish_reason": row.get("finish_reason"),
                        "error_code": row.get("error_code"),
                        "error_message": row.get("error_message"),
                        **thought,
                    },
                )

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self._settings.ws_heartbeat)
            with contextlib.suppress(Exception):
                await self._send("ping", {"timestamp": _now()})
