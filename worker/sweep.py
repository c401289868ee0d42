"""Finds questions the realtime listener missed: Realtime delivers at most once, so a question
inserted while no worker listened, or whose event was lost, is found here and offered again.

Cadence: once at start with a long look-back (WORKER_STARTUP_LOOKBACK, 7 days), then every
WORKER_SWEEP_INTERVAL seconds (10) over WORKER_SWEEP_LOOKBACK (600 s) of new questions; answers
whose lease expired are found at any age. `kick()` sweeps at once with the long look-back, e.g.
after the listener (re)subscribed, since events may have been missed while it was away.
"""

from __future__ import annotations

import asyncio
import logging

from worker.dispatch import Dispatcher
from worker.metrics import Metrics
from worker.store import Store
from worker.waits import woken

log = logging.getLogger(__name__)

_MAX_RESULTS = 1000


class Sweeper:
    def __init__(
        self,
        store: Store,
        dispatcher: Dispatcher,
        *,
        interval: float,
        lookback: float,
        startup_lookback: float,
        metrics: Metrics | None = None,
    ) -> None:
        self._store = store
        self._dispatcher = dispatcher
        self._metrics = metrics
        self._interval = interval
        self._lookback = lookback
        self._startup_lookback = startup_lookback
        self._kicked = asyncio.Event()
        self._kicked.set()  # the first sweep is a full one

    def kick(self) -> None:
        self._kicked.set()

    async def run(self) -> None:
        while True:
            full = self._kicked.is_set()
            self._kicked.clear()
            try:
                found = await self._store.sweep(self._startup_lookback if full else self._lookback, _MAX_RESULTS)
            except Exception:
                log.exception("sweep failed; next one at the usual interval")
            else:
                if self._metrics is not None:
                    self._metrics.queue_depth.set(len(found))
                if found:
                    log.info("sweep found unanswered questions", extra={"messages": len(found), "full": full})
                    self._dispatcher.offer(found, "sweep")
            await woken(self._kicked, self._interval)
