"""Questions offered by the realtime listener and the sweep, claimed in batches as capacity frees.

Offers are deduplicated ids, each with its session when the offer knows it (Realtime events do:
the claim then resumes the history kept from that session's previous turn, worker/histories.py;
the sweep's offers do not). Nothing is reserved by an offer, so an offer that another worker wins
costs one row in a claim batch and nothing else. A claim round takes as many offered ids as there
are free slots (WORKER_CONCURRENCY), calls `worker_claim` once for all of them and starts one turn
per row won. Up to `_CLAIMS_IN_FLIGHT` rounds run at once (their ids count as taken slots), so a
question arriving while a claim round is in flight is claimed at once rather than after it.
While the worker is full, offers wait here (the sweep would find them again anyway).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from worker.metrics import Metrics
from worker.store import Claim, Store

log = logging.getLogger(__name__)

_MAX_BATCH = 200
_CLAIMS_IN_FLIGHT = 4
_RETRY_DELAY = 0.5


class Dispatcher:
    def __init__(
        self,
        store: Store,
        run_turn: Callable[[Claim], Coroutine[Any, Any, None]],
        metrics: Metrics,
        *,
        concurrency: int,
        max_attempts: int,
        missed: Callable[[list[str]], None] | None = None,
        defer: float = 0.0,
    ) -> None:
        self._store = store
        self._run_turn = run_turn
        self._metrics = metrics
        self._concurrency = concurrency
        self._max_attempts = max_attempts
        self._missed = missed  # told the offered ids a claim round did not win
        self._defer = defer  # seconds a deferred offer waits (early.py: another worker may have called early)
        self._offered: dict[str, str | None] = {}  # message id -> its session, when known
        self._wake = asyncio.Event()
        self._claiming = 0  # ids in claim rounds in flight
        self._rounds: set[asyncio.Task[None]] = set()
        self.tasks: set[asyncio.Task[None]] = set()

    def has_room(self) -> bool:
        """Whether a question offered now would be claimed at once (a free slot, nothing queued)."""
        return len(self.tasks) + self._claiming + len(self._offered) < self._concurrency

    def offer(
        self, message_ids: Iterable[str], source: str, session_id: str | None = None, *, defer: bool = False
    ) -> None:
        if defer and self._defer > 0:
            asyncio.get_running_loop().call_later(self._defer, self.offer, list(message_ids), source, session_id)
            return
        count = 0
        for message_id in message_ids:
            self._offered[message_id] = session_id or self._offered.get(message_id)
            count += 1
        self._metrics.offers.labels(source).inc(count)
        if self._offered:
            self._wake.set()

    async def run(self) -> None:
        """Claim rounds until cancelled; turns already started keep running (see `tasks`)."""
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                free = self._concurrency - len(self.tasks) - self._claiming
                if free <= 0 or not self._offered or len(self._rounds) >= _CLAIMS_IN_FLIGHT:
                    continue
                batch = dict(itertools.islice(self._offered.items(), min(free, _MAX_BATCH)))
                for message_id in batch:
                    del self._offered[message_id]
                self._claiming += len(batch)
                claim_round = asyncio.create_task(self._claim(batch))
                self._rounds.add(claim_round)
                claim_round.add_done_callback(self._round_done)
        finally:
            for claim_round in self._rounds:
                claim_round.cancel()

    async def _claim(self, batch: dict[str, str | None]) -> None:
        try:
            with self._metrics.claim_seconds.time():
                claims = await self._store.claim(batch, self._max_attempts)
        except Exception:
            log.exception("claim failed; offering again shortly", extra={"messages": len(batch)})
            await asyncio.sleep(_RETRY_DELAY)
            for message_id, session_id in batch.items():
                self.offer([message_id], "retry", session_id)
            return
        finally:
            self._claiming -= len(batch)
        self._metrics.claims_missed.inc(len(batch) - len(claims))
        if self._missed is not None and len(claims) < len(batch):
            won = {claim.reply_to for claim in claims} | {claim.id for claim in claims}
            self._missed([message_id for message_id in batch if message_id not in won])
        for claim in claims:
            task = asyncio.create_task(self._run_turn(claim), name=f"turn-{claim.id}")
            self.tasks.add(task)
            task.add_done_callback(self._turn_done)

    def _round_done(self, claim_round: asyncio.Task[None]) -> None:
        self._rounds.discard(claim_round)
        if self._offered:
            self._wake.set()

    def _turn_done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("turn crashed", exc_info=task.exception())
        if self._offered:
            self._wake.set()
