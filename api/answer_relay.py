"""The worker's answers on one chat socket (api/chat_socket.py): relayed from the session's
Realtime channel, resumed and finished from the rows.

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
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from postgrest import AsyncPostgrestClient

from api.conversation import MESSAGE_COLUMNS, find_role
from api.errors import ApiError, UpstreamUnavailable
from api.replies import FINAL_STATUSES, ReplyEvent, ReplyFeed
from api.upstream import call, rows

log = logging.getLogger(__name__)

# A resumed answer's gap is covered by the row within one worker flush (WORKER_FLUSH_INTERVAL, 0.25 s);
# the row is read every _CATCH_UP_EVERY seconds for at most _CATCH_UP_READS reads (a loaded machine).
_CATCH_UP_EVERY = 0.05
_CATCH_UP_READS = 60

Send = Callable[[str, dict[str, Any]], Awaitable[None]]


def timestamp() -> str:
    """Now, as the frames carry it (ISO 8601, milliseconds, Z)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class _Answer:
    role_name: str | None
    text: str = ""
    attempt: int = 0
    last_seq: int = -1
    message_id: str | None = None
    reasoning: str = ""


class AnswerRelay:
    """The answers of one session as one socket shows them: `send(kind, data)` sends a frame."""

    def __init__(self, send: Send, session_id: str, rest: AsyncPostgrestClient, poll_interval: float) -> None:
        self._send = send
        self._session_id = session_id
        self.rest = rest  # reads as the socket's user; the socket replaces it when its token is refreshed
        self._poll = poll_interval
        self._open: dict[str, _Answer] = {}
        self._finished: set[str] = set()

    def expect(self, question_id: str, role_name: str) -> None:
        """A question sent on this socket: its answer is shown under the role's name (once: a
        question sent again by its id, whose answer this socket has shown, is not reopened)."""
        if question_id not in self._finished:
            self._open.setdefault(question_id, _Answer(role_name=role_name))

    async def run(self, feed: ReplyFeed) -> None:
        """Pass the worker's broadcasts on, and poll the rows of open answers when it is quiet. A
        read that fails while a backing service is down is logged and left to the next poll (the row
        is the source of truth: a missed chunk is covered from it), so the socket serves on."""
        while True:
            event = await feed.next(self._poll)
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
                    extra={"session_id": self._session_id, "open": len(self._open)},
                )

    async def resume(self) -> None:
        """Send the text so far of every answer of this session still being written."""
        response = await call(
            self.rest.from_("chat_messages")
            .select("id,reply_to,content,reasoning,attempts")
            .eq("session_id", self._session_id)
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
            query = self.rest.from_("chat_messages").select(f"{column},attempts").eq("id", answer.message_id)
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
            "timestamp": timestamp(),
            "status": "thinking" if reasoning else "streaming",
        }
        if resumed:
            data["resumed"] = True
        await self._send("ai_reasoning" if reasoning else "ai_response", data)

    async def _role_name(self, question_id: str) -> str | None:
        response = await call(self.rest.from_("chat_messages").select("role_id").eq("id", question_id).execute())
        slug = next((r.get("role_id") for r in rows(response.data)), None)
        if not slug:
            return None
        try:
            return str((await find_role(self.rest, str(slug)))["name"])
        except ApiError:
            return None

    async def _finish_open(self, only: str | None = None) -> None:
        """Send the final frame of every open answer (or just `only`) whose row is final."""
        waiting = [only] if only else list(self._open)
        if not waiting:
            return
        query = self.rest.from_("chat_messages").select(f"{MESSAGE_COLUMNS},reasoning").in_("reply_to", waiting)
        newest: dict[str, dict[str, Any]] = {}
        for row in rows((await call(query.order("answer_no").execute())).data):
            newest[str(row["reply_to"])] = row  # the newest answer to each question
        for question_id, row in newest.items():
            if row.get("status") in FINAL_STATUSES and question_id not in self._finished:
                self._finished.add(question_id)
                answer = self._open.pop(question_id, None) or _Answer(role_name=None)
                thought = {"reasoning": row["reasoning"]} if row.get("reasoning") else {}
                cited = {"sources": row["sources"]} if row.get("sources") else {}
                # a /v1 request's words the answer continued (its message is the continuation)
                words = {"continues": row["continues"]} if row.get("continues") else {}
                await self._send(
                    "ai_response",
                    {
                        "message": str(row.get("content") or ""),
                        "role_name": answer.role_name,
                        "message_id": str(row["id"]),
                        "reply_to": question_id,
                        "timestamp": timestamp(),
                        "status": row["status"],
                        "tokens_used": int(row.get("tokens_used") or 0),
                        "finish_reason": row.get("finish_reason"),
                        "error_code": row.get("error_code"),
                        "error_message": row.get("error_message"),
                        **thought,
                        **cited,
                        **words,
                    },
                )
