"""Knobs of one fake call: pacing, answer length and an optional scripted fault.

Defaults come from the environment or the command line (`core.settings.FakeScopeSettings`). A call
can override any of them with a JSON header, e.g.
`X-Fake-Options: {"ttft": 0, "answer_tokens": 20, "fault": "output_moderation", "after_chunks": 2}`,
or through `POST /_fake/faults`, which queues overrides for the next calls (`next`) and/or fails a
fraction of calls at random (`rate` with a `pool` of overrides). Fault names: the keys of
`fakescope.errors.FAULTS` (answered before any output) and `STREAM_FAULTS` (after `after_chunks` events).
"""

from __future__ import annotations

import random
from collections import deque
from typing import Any

import msgspec

from core.settings import FakeScopeSettings
from fakescope.errors import FAULTS, STREAM_FAULTS

HEADER = "X-Fake-Options"


class Knobs(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    ttft: float = 0.5  # seconds before the first event
    tokens_per_s: float = 40.0  # 0 sends as fast as the socket takes it
    tokens_per_event: int = 3
    answer_tokens: int = 120
    reasoning_tokens: int = 40  # thinking before the answer, when the call asks for it
    jitter: float = 0.0  # each interval varies by up to this fraction
    fault: str | None = None
    after_chunks: int = 0  # stream faults strike after this many events
    retry_after: float | None = None  # sent as Retry-After with pre-stream faults
    sse_error: bool = False  # pre-stream errors as HTTP 200 + one event:error frame (seen at the gateway)
    stall_s: float = 3600.0  # how long a "stall" keeps the connection silent
    fetch_links: bool = True  # False: no image link downloads, as from a DashScope outside a private network

    def __post_init__(self) -> None:
        if self.fault is not None and self.fault not in FAULTS and self.fault not in STREAM_FAULTS:
            raise ValueError(f"unknown fault {self.fault!r}")
        if self.tokens_per_event < 1 or self.ttft < 0 or self.tokens_per_s < 0:
            raise ValueError("tokens_per_event must be >= 1, ttft and tokens_per_s >= 0")


def defaults_from(settings: FakeScopeSettings) -> Knobs:
    return Knobs(
        ttft=settings.ttft,
        tokens_per_s=settings.tokens_per_s,
        tokens_per_event=settings.tokens_per_event,
        answer_tokens=settings.answer_tokens,
        jitter=settings.jitter,
    )


def override(base: Knobs, changes: dict[str, Any]) -> Knobs:
    """`base` with `changes` applied; raises msgspec.ValidationError on unknown keys or bad values."""
    if not changes:
        return base
    return msgspec.convert({**msgspec.structs.asdict(base), **changes}, Knobs)


class FaultPlan:
    """Overrides queued for the next calls, then a random share of failing calls."""

    def __init__(self) -> None:
        self.queue: deque[dict[str, Any]] = deque()
        self.rate = 0.0
        self.pool: list[dict[str, Any]] = []
        self._rng = random.Random(0)

    def configure(self, body: dict[str, Any], base: Knobs) -> None:
        """Apply `{"next": [...], "rate": 0.3, "pool": [...]}` after checking every entry against `base`."""
        entries = list(body.get("next", []))
        for entry in entries:
            override(base, entry)
        if "rate" in body or "pool" in body:
            rate, pool = float(body.get("rate", 0.0)), list(body.get("pool", []))
            for entry in pool:
                override(base, entry)
            if not 0.0 <= rate <= 1.0 or (rate > 0 and not pool):
                raise ValueError("rate must be in [0, 1] and needs a non-empty pool")
            self.rate, self.pool = rate, pool
        self.queue.extend(entries)

    def take(self) -> dict[str, Any]:
        if self.queue:
            return self.queue.popleft()
        if self.rate and self._rng.random() < self.rate:
            return self.pool[self._rng.randrange(len(self.pool))]
        return {}

    def clear(self) -> None:
        self.queue.clear()
        self.rate, self.pool = 0.0, []
        self._rng = random.Random(0)
