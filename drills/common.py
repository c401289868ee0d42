"""What several drills share: the stable answer codes, polling with a deadline, recovery probes."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx

from drills.load import AnswerWatch, Ledger, Send, send_api, send_rest
from drills.rig import Person, Rig
from worker.errors import USER_MESSAGES

T = TypeVar("T")

# Every code an answer may end with: the worker's and provider's (worker/errors.py) and the claim
# function's own (migrations/..._worker_claims.sql).
ANSWER_CODES = frozenset(USER_MESSAGES) | {"AttemptsExhausted"}


async def until(probe: Callable[[], Awaitable[T]], within: float, every: float = 0.05) -> T:
    """Poll `probe` until it returns something truthy; TimeoutError after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {within}s (last value {value!r})")
        await asyncio.sleep(every)


async def recovery(rig: Rig, ledger: Ledger, person: Person, *, via: str, since: float, within: float = 60.0) -> float:
    """Seconds from `since` until a question sent through `via` is acknowledged and answered:
    how long the product was down for a user who kept trying. The probes join the ledger."""
    watch = AnswerWatch(rig.pool)
    watcher = asyncio.create_task(watch.run())
    sender = send_api if via == "api" else send_rest
    deadline = time.monotonic() + within
    try:
        async with httpx.AsyncClient(timeout=20.0, trust_env=False) as http:
            turn = 0
            while time.monotonic() < deadline:
                turn += 1
                send = Send(uuid.uuid4().hex[:16], via)
                ledger.sends.append(send)
                await sender(http, rig, person, send, turn)
                # API sends wait for the answer themselves; a 504 means it is still coming.
                if send.outcome == "acked" and send.message_id and (via == "rest" or send.status == 504):
                    if await watch.wait(send.message_id, deadline - time.monotonic()):
                        return time.monotonic() - since
                elif send.outcome == "acked":
                    return time.monotonic() - since
                await asyncio.sleep(0.1)
    finally:
        watcher.cancel()
    raise TimeoutError(f"no answered {via} question within {within}s of the fault")
