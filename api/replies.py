"""The worker's streamed answers, as the user receives them from Realtime.

A `ReplyFeed` joins the private channel `chat:<session_id>` with the USER's JWT (so Realtime's
RLS, not this process, decides who may listen) and queues every broadcast. Any API replica can
therefore serve any client: nothing about a stream lives in process memory beyond one socket. A
join refused because the token expired on the way (checked unexpired just before; Realtime allows
no clock skew) is TokenExpired, the caller's to renew, not an outage.

Event names are the worker's (worker/broadcast.py): `reasoning` (the model's thinking) and `chunk`
{message_id, reply_to, attempt, seq, offset, delta, model} while streaming, then `done` {..., status,
tokens_used, ...} once the row is final. `seq`
restarts at 1 when another worker retakes the answer with a higher `attempt`. Names meaning the
same (`error`, `cancelled`, `completed`, ...) or a payload with a final `status` are treated as
final too, and the row itself is always the source of truth.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from realtime import AsyncRealtimeClient, RealtimeChannelOptions, RealtimeSubscribeStates

from api.errors import TokenExpired, UpstreamUnavailable
from api.security import CurrentUser

log = logging.getLogger(__name__)

FINAL_STATUSES = frozenset({"completed", "error", "cancelled"})
_FINAL_EVENTS = frozenset({"done", "completed", "complete", "final", "end", "error", "failed", "cancelled"})
_CHUNK_EVENTS = frozenset({"chunk", "delta", "token"})


@dataclass(frozen=True)
class ReplyEvent:
    """One broadcast about an answer: a chunk of text, or word that the answer is final."""

    reply_to: str | None
    message_id: str | None
    final: bool
    seq: int | None = None
    attempt: int = 1
    delta: str = ""
    offset: int | None = None  # where `delta` starts in the answer's text (resume: no gap, no repeat)
    reasoning: bool = False  # `delta` is thinking (`reasoning`), not answer text; `offset` counts in it
    model: str | None = None  # the model answering, once the worker has chosen it


def parse_event(event: str, payload: dict[str, Any]) -> ReplyEvent | None:
    """A broadcast as a ReplyEvent, or None when it is not about an answer."""
    name = event.lower()
    data = payload.get("payload") if isinstance(payload.get("payload"), dict) else payload
    assert isinstance(data, dict)
    reply_to = data.get("reply_to")
    message_id = data.get("message_id") or data.get("id")
    status = data.get("status")
    final = name in _FINAL_EVENTS or (isinstance(status, str) and status in FINAL_STATUSES)
    if not final and name not in _CHUNK_EVENTS and name != "reasoning":
        return None
    delta, seq, attempt, offset = data.get("delta"), data.get("seq"), data.get("attempt"), data.get("offset")
    return ReplyEvent(
        reply_to=str(reply_to) if reply_to else None,
        message_id=str(message_id) if message_id else None,
        final=final,
        seq=seq if isinstance(seq, int) else None,
        attempt=attempt if isinstance(attempt, int) else 1,
        delta=delta if isinstance(delta, str) else "",
        offset=offset if isinstance(offset, int) and offset >= 0 else None,
        reasoning=not final and name == "reasoning",
        model=model if isinstance(model := data.get("model"), str) and model else None,
    )


class ReplyFeed:
    """Broadcasts on `chat:<session_id>` as seen by the user; use as `async with`."""

    def __init__(self, realtime_url: str, apikey: str, user: CurrentUser, session_id: str, join_timeout: float) -> None:
        self._client = AsyncRealtimeClient(realtime_url, apikey, auto_reconnect=True, timeout=int(join_timeout) or 1)
        self._user = user
        self._topic = f"chat:{session_id}"
        self.events: asyncio.Queue[ReplyEvent] = asyncio.Queue()

    async def __aenter__(self) -> ReplyFeed:
        try:
            await self._client.connect()
            await self._client.set_auth(self._user.token)
            options: RealtimeChannelOptions = {
                "config": {
                    "private": True,
                    "broadcast": {"self": False, "ack": False},
                    "presence": {"key": "", "enabled": False},
                }
            }
            channel = self._client.channel(self._topic, options)
            channel.on_broadcast("*", self._on_broadcast)
            states: list[RealtimeSubscribeStates] = []
            await channel.subscribe(lambda state, _error: states.append(state))
        except Exception as exc:
            await self._close()
            raise UpstreamUnavailable("Realtime is not reachable.") from exc
        if RealtimeSubscribeStates.SUBSCRIBED not in states:
            await self._close()
            if self._user.expires_at <= time.time():
                raise TokenExpired("The token expired while the answer stream was being joined.")
            joined = ", ".join(map(str, states)) or "no reply"
            raise UpstreamUnavailable(f"Could not join the answer stream ({joined}).")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._close()

    async def set_token(self, user_token: str) -> None:
        """Carry on with a fresh token of the same user (Realtime's `access_token`): the channel
        is authorized again with it, and a rejoin after a reconnect uses it."""
        await self._client.set_auth(user_token)

    async def _close(self) -> None:
        with contextlib.suppress(Exception):
            await self._client.close()

    def _on_broadcast(self, message: Any) -> None:
        if not isinstance(message, dict):
            return
        payload = message.get("payload")
        event = parse_event(str(message.get("event") or ""), payload if isinstance(payload, dict) else {})
        if event is not None:
            self.events.put_nowait(event)

    async def next(self, within: float) -> ReplyEvent | None:
        """The next event, or None when `within` seconds pass without one."""
        try:
            async with asyncio.timeout(max(within, 0.0)):  # not wait_for: it can swallow a cancel (pyproject)
                return await self.events.get()
        except TimeoutError:
            return None


def progress(row: dict[str, Any] | None) -> tuple[int, int, int]:
    """How far an answer has come, as its row tells it (attempt, text, thinking): a change says it is alive."""
    row = row or {}
    return int(row.get("attempts") or 0), len(str(row.get("content") or "")), len(str(row.get("reasoning") or ""))


async def wait_while_alive(
    read: Callable[[], Awaitable[dict[str, Any] | None]],
    next_event: Callable[[float], Awaitable[ReplyEvent | None]],
    question_id: str,
    answer: dict[str, Any] | None = None,
    *,
    wait: float,
    poll: float,
) -> dict[str, Any] | None:
    """The answer to `question_id` once final (`answer`: its row as last read, if it was), or None
    once `wait` seconds pass without it making progress: a chunk of it heard (`next_event`), or more
    of it, or another attempt, in its row (`read`, every `poll` seconds and on a final event, as a
    broadcast may be lost). A long answer is waited for while it is written; a stalled one is not."""
    deadline, seen = time.monotonic() + wait, progress(answer)
    while (answer or {}).get("status") not in FINAL_STATUSES:
        if (remaining := deadline - time.monotonic()) <= 0:
            return None
        event = await next_event(min(poll, remaining))
        if event is not None and event.reply_to not in (None, question_id):
            continue
        if event is not None and not event.final:
            deadline = time.monotonic() + wait  # the answer is alive
            continue
        answer = await read()
        if (now := progress(answer)) != seen:  # no chunk heard (no channel), yet it grows
            deadline, seen = time.monotonic() + wait, now
    return answer
