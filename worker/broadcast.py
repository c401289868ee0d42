"""Streams chunks to a session's subscribers through the Realtime REST broadcast API.

Every message goes to the private channel `chat:<session id>` (only the session's owner may join
it, migrations/..._realtime_channels.sql) as event `reasoning` (the model's thinking) or `chunk`
(answer text), both {message_id, reply_to, attempt, seq, delta}, and finally `done` {message_id,
reply_to, attempt, seq, status, length, finish_reason, error_code, error_message, tokens_used,
reasoning_ms, sources}. `seq` counts from 1 per attempt, so a client orders chunks and sees
gaps; a retaken answer starts again with a higher `attempt` and replaces the text shown so far.
Once the answer's prompt is built, each message also names the model answering (`model`), so an
OpenAI-compatible stream names it from its first chunk.
Each `chunk` and `reasoning` also carries `offset`: where its delta starts in that kind's text (in
characters, as the row's `content` counts them). A client that joins mid-answer reads the row's
text so far and keeps from each chunk only what lies beyond it: no gap, no repeat (resume).

Up to `_IN_FLIGHT` POSTs run at once on the worker's pooled Supabase session, and an answer is in
at most one of them: whatever it produces while its POST is in flight waits for the next one, its
consecutive deltas merged into one chunk. So per-answer order holds, chunks grow instead of
queueing when tokens come faster than the network, and an answer's first chunk leaves at once
instead of waiting behind another answer's POST (that wait was most of the added latency to
first token under load). A failed POST is retried (bounded) with the same messages; after that
those chunks are dropped and logged, the row still has the whole text.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from prometheus_client import Histogram

from worker.supabase_http import SupabaseHttp

log = logging.getLogger(__name__)

_POST_TRIES = 3
_IN_FLIGHT = 4


@dataclass
class _Outbox:
    topic: str
    meta: dict[str, Any]
    seq: int = 0
    text: list[tuple[str, list[str]]] = field(default_factory=list)  # runs of deltas of one kind, in order
    sent: dict[str, int] = field(default_factory=dict)  # characters of each kind in chunks already made
    done: dict[str, Any] | None = None


class Broadcaster:
    def __init__(self, http: SupabaseHttp, post_seconds: Histogram | None = None) -> None:
        self._http = http
        self._post_seconds = post_seconds
        self._boxes: dict[tuple[str, int], _Outbox] = {}
        self._ready: dict[tuple[str, int], _Outbox] = {}  # boxes with something to send, in order
        self._posting: set[tuple[str, int]] = set()  # boxes in a POST in flight
        self._posts: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()

    def open(self, message_id: str, reply_to: str, attempt: int, session_id: str) -> None:
        meta = {"message_id": message_id, "reply_to": reply_to, "attempt": attempt}
        self._boxes[(message_id, attempt)] = _Outbox(f"chat:{session_id}", meta)

    def name_model(self, message_id: str, attempt: int, model: str) -> None:
        """The model answering: every message about the answer from now on names it (`model`)."""
        if (box := self._boxes.get((message_id, attempt))) is not None:
            box.meta["model"] = model

    def chunk(self, message_id: str, attempt: int, delta: str, kind: str = "chunk") -> None:
        """Queue a delta of `kind` ("chunk" for answer text, "reasoning" for thinking); an answer's
        first one is posted at once when a POST slot is free, before the caller goes on reading
        deltas that arrived with it (those follow in the next POST)."""
        key = (message_id, attempt)
        box = self._boxes[key]
        if box.text and box.text[-1][0] == kind:
            box.text[-1][1].append(delta)
        else:
            box.text.append((kind, [delta]))
        self._mark(message_id, attempt, box)
        if box.seq == 0 and key not in self._posting and len(self._posts) < _IN_FLIGHT:
            self._start([key])

    def done(self, message_id: str, attempt: int, summary: dict[str, Any]) -> None:
        box = self._boxes.pop((message_id, attempt))
        box.done = summary
        self._mark(message_id, attempt, box)

    def discard(self, message_id: str, attempt: int) -> None:
        """Forget an answer that ends without `done` here (released, or retaken elsewhere)."""
        self._boxes.pop((message_id, attempt), None)

    def _mark(self, message_id: str, attempt: int, box: _Outbox) -> None:
        self._ready[(message_id, attempt)] = box
        self._idle.clear()
        self._wake.set()

    async def drained(self) -> None:
        """Until everything queued so far has been posted (or given up)."""
        await self._idle.wait()

    async def run(self) -> None:
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                if len(self._posts) >= _IN_FLIGHT:
                    continue
                batch = [key for key in self._ready if key not in self._posting]
                if batch:
                    self._start(batch)
                elif not self._posts:
                    self._idle.set()
        finally:
            for post in self._posts:
                post.cancel()

    def _start(self, batch: list[tuple[str, int]]) -> None:
        messages = [m for key in batch for m in _messages(self._ready.pop(key))]
        self._posting.update(batch)
        post = asyncio.create_task(self._post(messages))
        self._posts.add(post)
        post.add_done_callback(functools.partial(self._posted, keys=batch))

    def _posted(self, post: asyncio.Task[None], *, keys: list[tuple[str, int]]) -> None:
        self._posts.discard(post)
        self._posting.difference_update(keys)
        self._wake.set()

    async def _post(self, messages: list[dict[str, Any]]) -> None:
        for attempt in range(1, _POST_TRIES + 1):
            try:
                started = time.perf_counter()
                status = await self._http.broadcast(messages)
                if self._post_seconds is not None:
                    self._post_seconds.observe(time.perf_counter() - started)
                if status < 300:
                    return
                log.warning("broadcast rejected", extra={"status": status, "messages": len(messages)})
                if status < 500 and status != 429:
                    return
            except (aiohttp.ClientError, TimeoutError) as exc:
                log.warning("broadcast failed", extra={"error": repr(exc), "messages": len(messages)})
            await asyncio.sleep(0.05 * 2**attempt)
        log.error("broadcast dropped", extra={"messages": len(messages)})


def _messages(box: _Outbox) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for kind, deltas in box.text:
        box.seq += 1
        delta, offset = "".join(deltas), box.sent.get(kind, 0)
        box.sent[kind] = offset + len(delta)
        out.append(_message(box.topic, kind, {**box.meta, "seq": box.seq, "offset": offset, "delta": delta}))
    box.text.clear()
    if box.done is not None:
        out.append(_message(box.topic, "done", {**box.meta, "seq": box.seq, **box.done}))
    return out


def _message(topic: str, event: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {"topic": topic, "event": event, "payload": payload, "private": True}
