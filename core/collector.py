"""How our long-running processes (gateway, API, worker, fake model) use Python's cyclic garbage
collector.

Reference counting frees almost everything a request or a turn makes; the cyclic collector is for
the rest (asyncio's task/future cycles, exceptions holding their frames). CPython's defaults run a
full collection after every 10 collections of the middle generation, and a full collection walks
every tracked object alive. In the worker at load that was a full pass every second or so, each
40–90 ms of CPU with the event loop stopped (every answer in flight stalled for that long), and
each found nothing to free: what is alive then is the turns in flight, not garbage. So:

- `settle()` is called once the process has built what it keeps for its whole life (modules, pools,
  schema caches, the tokenizer's vocabulary): `gc.freeze()` moves all of it out of the collector's
  sight for good;
- full collections run once per `FULL_EVERY` middle-generation collections instead of 10 (about
  every 7 million net allocations: a minute or more at full load). The young generations keep
  CPython's thresholds, so short-lived cycles are found as soon as before; a cycle that lives long
  enough to reach the oldest generation waits for the next full pass, which still comes.

`on_pause(generation, seconds)`, when given, hears the wall time of every collection (the worker
exports it as `worker_gc_pause_seconds`; bench/worker_bench.py reports it per run).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

FULL_EVERY = 1000  # middle-generation collections between full collections (CPython's default: 10)


def settle(on_pause: Callable[[int, float], None] | None = None) -> None:
    """Freeze what is alive now out of the collector and make full collections rare."""
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_EVERY)
    if on_pause is not None:
        gc.callbacks.append(_timer(on_pause))


def _timer(on_pause: Callable[[int, float], None]) -> Callable[[str, dict[str, Any]], None]:
    started = 0.0

    def callback(phase: str, info: dict[str, Any]) -> None:
        nonlocal started
        if phase == "start":
            started = time.perf_counter()
        else:
            on_pause(int(info["generation"]), time.perf_counter() - started)

    return callback
