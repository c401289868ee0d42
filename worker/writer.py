"""Writes every assistant row this worker holds, batched into one `worker_flush` call per round.

Cadence: a round starts at once when a turn finishes or releases its row (so the final row lands
without waiting), otherwise every `interval` seconds (WORKER_FLUSH_INTERVAL, 0.25 s: each row is
written at most 4 times a second while streaming). A round carries the new text and the new
reasoning of every row that grew (so a reader who joins mid-thinking finds the thinking so far),
the lease renewal of every row not written for a third of the lease, and all finishes
and releases queued meanwhile. The answer tells each row's `cancel_requested`, and a row missing
from it was taken by another worker. A failed round is retried on the next tick: progress
writes are idempotent (`known` + `delta`), and a finish stays queued until it is written (one
whose first write committed but whose answer was lost is answered as written).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from worker.database import Flushed
from worker.llm.tokens import measure
from worker.reply import CANCELLED, LEASE_LOST, Reply
from worker.store import Store
from worker.waits import woken

log = logging.getLogger(__name__)


class RowWriter:
    def __init__(self, store: Store, interval: float) -> None:
        self._store = store
        self._interval = interval
        self._renew_every = store.lease_seconds / 3
        self._replies: dict[str, Reply] = {}
        self._final: dict[str, tuple[dict[str, Any], asyncio.Future[Flushed | None]]] = {}
        self._wake = asyncio.Event()

    def track(self, reply: Reply) -> None:
        self._replies[reply.claim.id] = reply

    def untrack(self, reply: Reply) -> None:
        self._replies.pop(reply.claim.id, None)

    async def finish(self, reply: Reply, **fields: Any) -> Flushed | None:
        """Write the final row: how it ended (its text's length and tokens_used, which a retake that
        ended with nothing of its own took from the attempt before), or None if the lease was lost
        first (another worker answers). The attempt names the finish: written again after its
        answer was lost, the row already holding it is told apart from a row another worker or a
        stop ended."""
        return await self._enqueue({"id": reply.claim.id, "kind": "finish", "attempt": reply.claim.attempts, **fields})

    async def release(self, reply: Reply) -> bool:
        return await self._enqueue({"id": reply.claim.id, "kind": "release"}) is not None

    async def _enqueue(self, item: dict[str, Any]) -> Flushed | None:
        future: asyncio.Future[Flushed | None] = asyncio.get_running_loop().create_future()
        self._final[item["id"]] = (item, future)
        self._wake.set()
        return await future

    async def run(self) -> None:
        """Flush rounds until cancelled; finals still queued then are attempted once more."""
        try:
            while True:
                await woken(self._wake, self._interval)
                self._wake.clear()
                await self._round()
        finally:
            if self._final:
                await asyncio.shield(self._round())

    async def _round(self) -> None:
        now = time.monotonic()
        finals = self._final
        self._final = {}
        progress: list[tuple[Reply, int, int, int, _Spent]] = []
        items = [item for item, _ in finals.values()]
        for rid, reply in self._replies.items():
            if rid in finals:
                continue
            if (
                reply.chars > reply.flushed_chars
                or reply.reasoning_chars > reply.reasoning_flushed_chars
                or now - reply.renewed_at >= self._renew_every
            ):
                parts = len(reply.parts)
                delta = "".join(reply.parts[reply.flushed_parts : parts])
                item = {"id": rid, "kind": "progress", "known": reply.flushed_chars, "delta": delta}
                thoughts, thought = len(reply.reasoning), ""
                if reply.reasoning_chars:  # the thinking so far, written like the text (no keys: none yet)
                    thought = "".join(reply.reasoning[reply.reasoning_flushed_parts : thoughts])
                    item["rknown"], item["rdelta"] = reply.reasoning_flushed_chars, thought
                spent = _Spent(reply, delta, thought)
                item.update(spent.usage(reply))
                items.append(item)
                progress.append((reply, parts, reply.flushed_chars + len(delta), thoughts, spent))
        if not items:
            return
        try:
            held = await self._store.flush(items)
        except Exception:
            log.exception("row flush failed; retrying next round", extra={"rows": len(items)})
            for rid, pending in finals.items():
                self._final.setdefault(rid, pending)
            return
        for reply, parts, chars, thoughts, spent in progress:
            rid = reply.claim.id
            if rid not in held:
                reply.stop(LEASE_LOST)
                continue
            reply.flushed_parts, reply.flushed_chars, reply.renewed_at = parts, chars, now
            reply.reasoning_flushed_parts, reply.reasoning_flushed_chars = thoughts, spent.thought_chars
            reply.flushed_text_tokens, reply.flushed_reasoning_tokens = spent.text_tokens, spent.reasoning_tokens
            reply.flushed_search_calls = spent.search_calls
            if held[rid].cancel_requested:
                reply.stop(CANCELLED)
        for rid, (_, future) in finals.items():
            if not future.done():
                future.set_result(held.get(rid))


class _Spent:
    """A row's usage once a progress write lands: the tokens of its text and thinking so far, the new
    pieces counted once each (a long answer costs no more to count per round than a short one)."""

    __slots__ = ("reasoning_tokens", "search_calls", "text_tokens", "thought_chars")

    def __init__(self, reply: Reply, delta: str, thought: str) -> None:
        self.thought_chars = reply.reasoning_flushed_chars + len(thought)
        self.search_calls = reply.search_calls or 0
        self.text_tokens = reply.flushed_text_tokens + (measure(delta) if delta else 0)
        self.reasoning_tokens = reply.flushed_reasoning_tokens + (measure(thought) if thought else 0)

    def usage(self, reply: Reply) -> dict[str, Any]:
        """The progress item's usage: what is charged if the row is ended for this worker (a claim
        after it died); the reasoning count only with thinking, as the finish writes none without,
        and the search once it ran (0 once the call that ran it failed, taking back what an earlier
        write said: its search is not the answer's, as the live worker charges it)."""
        output = self.text_tokens + self.reasoning_tokens
        # the prompt only while a call has it (0 clears what an earlier write said of a call since refused)
        spent = reply.input_tokens if reply.called else 0
        usage: dict[str, Any] = {"model": reply.model, "input_tokens": spent, "output_tokens": output}
        if reply.image_tokens is not None:  # the prompt's images, of its input tokens (weighed apart), likewise
            usage["image_tokens"] = reply.image_tokens if reply.called else 0
        if reply.reasoning_chars:
            usage["reasoning_tokens"] = self.reasoning_tokens
        if self.search_calls or reply.flushed_search_calls:  # nothing said while there was never a search
            usage["search_calls"] = self.search_calls
        return usage
