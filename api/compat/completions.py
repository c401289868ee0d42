"""One chat completion's answer: the worker's answer to the stored question, relayed as OpenAI's
response or its exact SSE chunk stream (the request is checked in request.py and stored in
turns.py). The answer's text streams as `content`, a thinking model's thinking as
`reasoning_content`, both resumed from the row by offset when the stream joins late.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import msgspec

from api.compat.errors import OpenAIError
from api.compat.keys import KeyCaller
from api.compat.request import Ask
from api.compat.shapes import annotations_of, answer_error, finish_reason, restarted, stored, stream_error, usage_of
from api.compat.turns import learned_session, read_answer
from api.database import CallerDatabase
from api.replies import FINAL_STATUSES, ReplyEvent, progress, wait_while_alive
from api.reply_hub import Feed, ReplyHub

log = logging.getLogger(__name__)
_encoder = msgspec.json.Encoder()
# A chunk that starts beyond the text known (the join came after the first chunks): the row is
# read every _CATCH_UP_EVERY s, at most _CATCH_UP_READS times, until it covers the gap (it is
# written a few times a second, WORKER_FLUSH_INTERVAL).
_CATCH_UP_EVERY = 0.05
_CATCH_UP_READS = 60
_POLL_WITHOUT_FEED = 0.25  # no channel joined: the row, written a few times a second, is read this often


class Listening:
    """The answer stream's join, started as early as the session is known: before the question is
    stored when `likely_session` can tell it, else once the question's row names it."""

    def __init__(self, hub: ReplyHub, caller: KeyCaller, named_session: str | None) -> None:
        self._hub, self._caller, self._named = hub, caller, named_session
        self.session_id: str | None = None
        self.feed: Feed | None = None
        self.joining: asyncio.Task[Any] | None = None

    def start(self, session_id: str) -> None:
        feed = self._hub.feed(self._caller.user, session_id)
        self.session_id, self.feed, self.joining = session_id, feed, asyncio.create_task(feed.__aenter__())

    async def settle_on(self, session_id: str) -> bool:
        """Listen to `session_id` (leaving a join started on a wrong guess); True when that meant a new join."""
        learned_session(self._caller, self._named, session_id)
        if self.session_id == session_id:
            return False
        await self.abandon()
        self.start(session_id)
        return True

    async def abandon(self) -> None:
        if self.joining is not None:
            if not self.joining.done():
                self.joining.cancel()
            await asyncio.gather(self.joining, return_exceptions=True)
        if self.feed is not None:
            await self.feed.__aexit__(None, None, None)
        self.session_id, self.feed, self.joining = None, None, None


@dataclass
class _Track:
    """One kind of the answer's text (the answer's, or its thinking) and what the client was sent."""

    text: str = ""
    sent: str = ""
    broken: bool = False  # a gap the row did not cover: the rest comes from the final row

    def diverged(self, *, final: bool = False) -> bool:
        """The text no longer extends what was sent: a retake wrote another answer, which the client,
        sent the first one's beginning, can never be given (while streaming, a retake's text shorter
        than what was sent may still grow into it)."""
        return not self.text.startswith(self.sent) and (final or not self.sent.startswith(self.text))


@dataclass
class _Text:
    """What is known of the answer's current attempt: its text and its thinking."""

    attempt: int = 0
    answer: _Track = field(default_factory=_Track)
    thinking: _Track = field(default_factory=_Track)
    started: bool = False  # the role chunk was sent

    def diverged(self, *, final: bool = False) -> bool:
        return self.answer.diverged(final=final) or self.thinking.diverged(final=final)


class Relay:
    """Waits for one answer on the session's feed and tells it the OpenAI way.

    The feed's join runs concurrently with the question's insert when the session was known in
    advance, else it starts once the question's row names the session; either way it overlaps
    the model's own time to first token. Nothing is missed if it finishes late: once joined, the
    row is read (an answer already final, or text already stored, is taken from it), and a chunk
    that starts beyond the text known (chunks carry their `offset`) is preceded by the gap, read
    from the row. A join that fails leaves the row, polled, as the only source."""

    def __init__(
        self,
        *,
        database: CallerDatabase,
        caller: KeyCaller,
        listening: Listening,
        question_id: str,
        ask: Ask,
        wait: float,
        poll: float,
    ) -> None:
        self.database, self.caller, self.listening = database, caller, listening
        self.question_id, self.ask = question_id, ask
        self.wait, self.poll = wait, poll
        self.id = "chatcmpl-" + question_id.replace("-", "")
        self.created = int(time.time())
        self._listening = False
        # The model answering, as every chunk names it (OpenAI's: the model that answered, not the
        # name asked for, e.g. role:<slug>): the worker's, from its chunks or the final row.
        self.model: str | None = None

    async def read(self) -> dict[str, Any]:
        """The question's session and its answer's row so far (`id` null before the claim)."""
        async with self.database.as_caller(self.caller.user, readonly=True) as conn:
            return await read_answer(conn, self.question_id)

    async def _joined(self) -> None:
        self._listening = False
        if self.listening.joining is None:
            return
        try:
            await self.listening.joining
            self._listening = True
        except Exception as exc:  # the question is stored: the row still brings the answer
            log.warning("answer stream not joined; reading the stored answer", exc_info=exc)

    async def ready(self) -> dict[str, Any]:
        """Joined to the question's session; the row as read AFTER the join, so every chunk
        after it reaches the feed and everything before it is in the row (or the next read)."""
        await self._joined()
        row = await self.read()
        session = row.get("session_id")
        if session and await self.listening.settle_on(str(session)):  # no guess, or a wrong one
            await self._joined()
            row = await self.read()
        return row

    async def _next(self, within: float) -> ReplyEvent | None:
        if self._listening and self.listening.feed is not None:
            return await self.listening.feed.next(within)
        await asyncio.sleep(min(within, _POLL_WITHOUT_FEED))
        return None

    async def close(self) -> None:
        await self.listening.abandon()

    async def final_answer(self) -> dict[str, Any] | None:
        """The final answer row, waking on the feed's events and polling as a fallback; None once
        `wait` seconds pass without the answer making progress (`wait_while_alive`), as a stream waits:
        a long answer is waited for while it is written."""
        answer = await self.ready()
        return await wait_while_alive(self.read, self._next, self.question_id, answer, wait=self.wait, poll=self.poll)

    def completion(self, answer: dict[str, Any]) -> dict[str, Any]:
        if answer.get("status") == "error":  # stored, failed: the client must not ask again blindly
            error = answer_error(answer)
            error.headers = {**error.headers, "X-ChatGalaxy-Message": self.question_id}
            raise error
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": str(answer.get("model") or self.ask.model),
            "choices": [
                {
                    "index": 0,
                    "message": self._message(answer),
                    "logprobs": None,
                    "finish_reason": finish_reason(answer),
                }
            ],
            "usage": usage_of(answer),
            "system_fingerprint": None,
        }

    @staticmethod
    def _message(answer: dict[str, Any]) -> dict[str, Any]:
        """The answer as OpenAI's message; a thinking model's thinking as `reasoning_content`, as
        DashScope's own OpenAI-compatible mode gives it."""
        message: dict[str, Any] = {"role": "assistant", "content": stored(answer, "content"), "refusal": None}
        if thinking := stored(answer, "reasoning"):
            message["reasoning_content"] = thinking
        if annotations := annotations_of(answer):
            message["annotations"] = annotations
        return message

    def _chunk(self, model: str, delta: dict[str, Any], reason: str | None = None) -> bytes:
        body: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": model,
            "system_fingerprint": None,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": reason}],
        }
        if self.ask.include_usage:
            body["usage"] = None
        return b"data: " + _encoder.encode(body) + b"\n\n"

    async def chunks(self) -> AsyncIterator[bytes]:
        """OpenAI's SSE stream: a role chunk once the worker names the model answering, content
        chunks as they arrive, a finish chunk, the usage chunk when asked for, then [DONE]. Errors
        are `data: {error}`."""
        try:
            known = _Text()
            row = await self.ready()
            answer: dict[str, Any] | None = row
            if row.get("status") not in FINAL_STATUSES:
                known.attempt = int(row.get("attempts") or 0)
                known.answer.text, known.thinking.text = stored(row, "content"), stored(row, "reasoning")
                answer = None  # sent once the model answering is known
            deadline, seen = time.monotonic() + self.wait, progress(row)
            while answer is None and (remaining := deadline - time.monotonic()) > 0:
                event = await self._next(min(self.poll, remaining))
                if event is not None and event.reply_to not in (None, self.question_id):
                    continue
                if event is not None and not event.final:
                    deadline = time.monotonic() + self.wait  # the answer is alive
                    self.model = self.model or event.model
                    await self._apply(known, event)
                    for piece in self._more(known):
                        yield piece
                    if known.diverged():
                        yield stream_error(restarted())
                        return
                    continue
                found = await self.read()
                if found.get("status") in FINAL_STATUSES:
                    answer = found
                elif (now := progress(found)) != seen:  # no chunk heard (no channel), yet it grows
                    deadline, seen = time.monotonic() + self.wait, now
            async for piece in self._ending(answer, known):
                yield piece
        finally:
            await self.close()

    async def _apply(self, known: _Text, event: ReplyEvent) -> None:
        """Add a chunk to the attempt's text or thinking: a retake starts over, a duplicate adds
        nothing, a gap before the chunk is read from the row first."""
        if event.attempt < known.attempt:
            return  # a late chunk of an attempt since retaken
        if event.attempt > known.attempt:  # another worker retook the answer: its text restarts
            known.attempt = event.attempt
            for restarted in (known.answer, known.thinking):
                restarted.text, restarted.broken = "", False
        track = known.thinking if event.reasoning else known.answer
        if track.broken:
            return
        offset = len(track.text) if event.offset is None else event.offset
        if offset > len(track.text) and not await self._catch_up(known, event.reasoning, offset):
            track.broken = True
            return
        have = len(track.text)
        if offset + len(event.delta) > have:
            track.text += event.delta[have - offset :]

    async def _catch_up(self, known: _Text, reasoning: bool, offset: int) -> bool:
        track, column = (known.thinking, "reasoning") if reasoning else (known.answer, "content")
        for _ in range(_CATCH_UP_READS):
            row = await self.read()
            if row.get("id") is None or int(row.get("attempts") or 0) != known.attempt:
                return False
            text = stored(row, column)
            if len(text) >= offset:
                track.text = text[:offset]
                return True
            await asyncio.sleep(_CATCH_UP_EVERY)
        return False

    def _more(self, known: _Text) -> list[bytes]:
        """Once the model answering is known: the role chunk (first), a reasoning_content chunk,
        then a content chunk, with what extends what was sent."""
        if (model := self.model) is None:
            return []
        pieces = [] if known.started else [self._chunk(model, {"role": "assistant", "content": "", "refusal": None})]
        known.started = True
        for track, field_name in ((known.thinking, "reasoning_content"), (known.answer, "content")):
            if len(track.text) > len(track.sent) and track.text.startswith(track.sent):
                pieces.append(self._chunk(model, {field_name: track.text[len(track.sent) :]}))
                track.sent = track.text
        return pieces

    async def _ending(self, answer: dict[str, Any] | None, known: _Text) -> AsyncIterator[bytes]:
        if answer is None:
            error = OpenAIError(
                504, "The answer did not complete in time; it will appear in the history.", "server_error", "timeout"
            )
            yield stream_error(error)
            return
        if answer.get("status") == "error":
            yield stream_error(answer_error(answer))
            return
        model = self.model = self.model or str(answer.get("model") or self.ask.model)
        known.answer.text, known.thinking.text = stored(answer, "content"), stored(answer, "reasoning")
        if known.diverged(final=True):  # never a clean end of words the stored answer does not have
            yield stream_error(restarted())
            return
        for piece in self._more(known):
            yield piece
        if annotations := annotations_of(answer):  # once the text they point into is all sent
            yield self._chunk(model, {"annotations": annotations})
        yield self._chunk(model, {}, finish_reason(answer))
        if self.ask.include_usage:
            usage = {
                "id": self.id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": model,
                "system_fingerprint": None,
                "choices": [],
                "usage": usage_of(answer),
            }
            yield b"data: " + _encoder.encode(usage) + b"\n\n"
        yield b"data: [DONE]\n\n"
