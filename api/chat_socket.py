"""One client's chat WebSocket on one session, after its token and session were checked.

Frames (JSON objects `{"type", "data"}`):
  client → server  user_message {message, role_id?, timestamp?, message_id? (the client's UUID for
                   it: sent again, it is stored once)}; stop {message_id?};
                   access_token {access_token} (a fresh JWT of the same user: Realtime's event); ping; pong
  server → client  user_message {message_id, message, role_id, timestamp, status: "received"}
                   ai_reasoning {reasoning (thinking so far), delta, seq, role_name, message_id,
                                 reply_to, timestamp, status: "thinking"}, only while a thinking model
                                 thinks (before its answer text)
                   ai_response  {message (text so far), delta, seq, role_name, message_id, reply_to,
                                 timestamp, status: "streaming"}, then one final ai_response with
                                 status "completed" | "error" | "cancelled", tokens_used, finish_reason
                                 (and reasoning, the whole thinking, when the model thought;
                                 sources [{index, title, url, site_name}], the web pages the
                                 answer cites as [1], [2], when it searched)
                   ping (every API_WS_HEARTBEAT s), pong, stopped {stopped}, token_refreshed {expires_at},
                   error {code, message, field?}
A question's `user_message` (its id) always comes before any frame of its answer.

Token: the socket serves while its token is valid, as Realtime's channels do (its `exp`, no clock
skew, since the answer stream is a Realtime channel). A client that refreshes its session sends the
new token in an `access_token` frame, and the socket, its database reads and its channel carry on
with it; a token of another user is refused (TokenUserMismatch) and changes nothing. When the token
expires with no fresh one, the socket sends a TokenExpired error frame and closes 4401.

Session: a question sent after the session was deleted (from another tab) is refused with a
SessionNotFound error frame, and the socket closes 4404, as a join of a missing session does.

The answers themselves (relay, resume, final frames): api/answer_relay.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import msgspec
from litestar import WebSocket
from litestar.exceptions import WebSocketDisconnect
from postgrest import AsyncPostgrestClient

from api import rules
from api.answer_relay import AnswerRelay, timestamp
from api.conversation import find_session, post_question, role_for_turn, stop_answers
from api.errors import (
    ApiError,
    BadRequest,
    NotAuthenticated,
    RateLimited,
    SessionNotFound,
    TokenExpired,
    TokenUserMismatch,
    log_server_error,
)
from api.metrics import Metrics
from api.ratelimit import RateLimiter
from api.replies import ReplyFeed
from api.security import CurrentUser, user_from_token
from api.upstream import Upstream
from core.jwt import KeySet
from core.settings import ApiSettings


class _Frame(msgspec.Struct):
    type: str
    data: dict[str, Any] = msgspec.field(default_factory=dict)


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
        self._settings = settings
        self._keys = keys
        self._limiter = limiter
        self._metrics = metrics
        self._ip = ip
        self._send_lock = asyncio.Lock()
        self._answers = AnswerRelay(
            self._send, str(session["id"]), upstream.rest(user.token), settings.answer_poll_interval
        )
        self._refreshed = asyncio.Event()  # a fresh token came: _expiry reads the new deadline

    @property
    def _rest(self) -> AsyncPostgrestClient:
        """REST as the socket's user (its current token): the relay's, which its reads share."""
        return self._answers.rest

    async def run(self) -> None:
        """Serve until the client leaves, then close. What ends the socket from our side (an outage
        while resuming: UpstreamUnavailable, 1013; the token's expiry: TokenExpired, 4401; a question
        to a session deleted meanwhile: SessionNotFound, 4404) is sent as an error frame first, with
        the close its error class names."""
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
        await self._answers.resume()
        tasks = [
            asyncio.create_task(self._read()),
            asyncio.create_task(self._answers.run(self._feed)),
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
        async with self._send_lock:
            await self._send_now(kind, data)

    async def _send_now(self, kind: str, data: dict[str, Any] | None = None) -> None:
        """Send holding `_send_lock` already."""
        await self._socket.send_text(msgspec.json.encode(_Frame(kind, data or {})).decode())

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
            except SessionNotFound:
                raise  # the session was deleted meanwhile: `run` says so and closes 4404, as a join would
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
            await self._send("pong", {"timestamp": timestamp()})
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
        message, role_id, question_id = data.get("message"), data.get("role_id"), data.get("message_id")
        if not isinstance(message, str):
            raise BadRequest("message must be a string.", field="message")
        if role_id is not None and not isinstance(role_id, str):
            raise BadRequest("role_id must be a string.", field="role_id")
        if question_id is not None and not isinstance(question_id, str):
            raise BadRequest("message_id must be a string.", field="message_id")
        content = rules.message(message, self._settings.max_message_chars)
        question_id = None if question_id is None else rules.uuid_field(question_id, "message_id")
        await self._limiter.check_send(self._user.id, self._ip)
        session_id = str(self._session["id"])
        if not role_id:  # the chat's persona answers: as the chat has it now (another tab may have picked one)
            self._session = await find_session(self._rest, session_id)
        role = await role_for_turn(self._rest, self._session, role_id)
        async with self._send_lock:  # the answer's first frames wait: the question's id reaches the client first
            question = await post_question(self._rest, session_id, content, str(role["slug"]), question_id)
            self._metrics.messages_sent.labels("websocket").inc()
            self._answers.expect(str(question["id"]), str(role["name"]))
            await self._send_now(
                "user_message",
                {
                    "message_id": str(question["id"]),
                    "message": content,
                    "role_id": str(role["slug"]),
                    "timestamp": str(question.get("created_at") or timestamp()),
                    "status": "received",
                },
            )

    async def _stop(self, data: dict[str, Any]) -> None:
        """Stop this session's answers: the one to `message_id` (a question's or the answer's id, a
        question not yet claimed included), or all of them when the frame names none. A
        `message_id` that is not a UUID is refused, never read as "all"."""
        message_id = data.get("message_id")
        if message_id is not None:
            if not isinstance(message_id, str):
                raise BadRequest("message_id must be a string.", field="message_id")
            message_id = rules.uuid_field(message_id, "message_id")
        stopped = await stop_answers(self._rest, str(self._session["id"]), message_id)
        await self._send("stopped", {"stopped": stopped})

    async def _access_token(self, data: dict[str, Any]) -> None:
        """Carry on with a fresh token of the same user; a bad one is refused and changes nothing."""
        token = data.get("access_token")
        if not isinstance(token, str) or not token:
            raise BadRequest("access_token must be the session's new JWT.", field="access_token")
        try:
            user = user_from_token(token, self._keys)
            user.check_unexpired()
        except NotAuthenticated as error:  # InvalidToken, TokenExpired
            error.field = "access_token"
            raise
        if user.id != self._user.id:
            raise TokenUserMismatch(field="access_token")
        await self._feed.set_token(user.token)
        self._user = user
        self._answers.rest = self._upstream.rest(user.token)
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

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self._settings.ws_heartbeat)
            with contextlib.suppress(Exception):
                await self._send("ping", {"timestamp": timestamp()})
