"""One assistant row being written: the text so far, what of it the database and the
subscribers already have, and why it must stop early (asked to, lease lost, shutdown, timeout)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from worker.store import Claim

# Why a turn ends before the provider finished. The turn maps each to a final row state.
CANCELLED = "cancelled"  # the user set cancel_requested
LEASE_LOST = "lease_lost"  # another worker holds the row now: write nothing more
SHUTDOWN = "shutdown"  # this worker is stopping: release the row for another
TIMEOUT = "timeout"  # the turn took longer than WORKER_TURN_TIMEOUT


@dataclass(eq=False)
class Reply:
    claim: Claim
    started: float = field(default_factory=time.monotonic)
    parts: list[str] = field(default_factory=list)
    chars: int = 0
    flushed_parts: int = 0  # parts[:flushed_parts] are in the row
    flushed_chars: int = 0
    renewed_at: float = field(default_factory=time.monotonic)
    delivered: bool = False  # a chunk went to subscribers: no more provider retries
    # A call is with the model, or one was and answered: its prompt is charged if the answer ends now.
    # Not while the prompt is built (files read) nor while a refused call waits to be made again.
    called: bool = False
    reasoning: list[str] = field(default_factory=list)  # the model's thinking, kept apart from the answer
    reasoning_chars: int = 0
    reasoning_flushed_parts: int = 0  # reasoning[:reasoning_flushed_parts] are in the row
    reasoning_flushed_chars: int = 0
    reasoning_started: float | None = None
    reasoning_ended: float | None = None  # the first answer text after thinking
    sources: list[dict[str, Any]] | None = None
    search_calls: int | None = None  # 1 once the call's search results came: the search ran, and is charged
    stop_reason: str | None = None
    # What the answer has cost so far, written with its text: charged if the row is ended for this
    # worker (it dies, then is stopped or out of attempts) before its finish says what the model counted.
    model: str | None = None
    input_tokens: int | None = None  # the prompt's, as counted when it was built
    image_tokens: int | None = None  # of input_tokens, its images' (None: a prompt without images)
    counted: tuple[int | None, int | None] = (None, None)  # the prompt's own (input, image) counts, as built
    flushed_text_tokens: int = 0  # of the text in the row, counted piece by piece as it was written
    flushed_reasoning_tokens: int = 0  # of the thinking in the row, likewise
    flushed_search_calls: int = 0  # the search calls the row says were made (a failed call's taken back with 0)
    _consumer: asyncio.Task[Any] | None = None

    @property
    def topic(self) -> str:
        return f"chat:{self.claim.session_id}"

    @property
    def content(self) -> str:
        return "".join(self.parts)

    @property
    def reasoning_ms(self) -> int | None:
        """How long the model thought, from its first reasoning delta to its first answer text (or now)."""
        if self.reasoning_started is None:
            return None
        end = self.reasoning_ended if self.reasoning_ended is not None else time.monotonic()
        return round((end - self.reasoning_started) * 1000)

    def append(self, delta: str) -> None:
        self.parts.append(delta)
        self.chars += len(delta)

    def think(self, delta: str) -> None:
        self.reasoning.append(delta)
        self.reasoning_chars += len(delta)

    def bind(self, consumer: asyncio.Task[Any]) -> None:
        """The task reading the provider stream; `stop` cancels it, which closes the stream."""
        self._consumer = consumer
        if self.stop_reason is not None:
            consumer.cancel()

    def stop(self, reason: str) -> None:
        if self.stop_reason is None:
            self.stop_reason = reason
            if self._consumer is not None:
                self._consumer.cancel()
