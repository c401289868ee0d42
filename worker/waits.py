"""Waking a background loop and stopping it, so that a cancel always ends the loop.

The worker's loops (sweeper, row writer) sleep until an event is set or an interval passes, and
`Worker.stop` ends them with `task.cancel()` then waits for them. On Python 3.11,
`asyncio.wait_for(event.wait(), interval)` breaks that: when the cancel lands after the event was
set but before the loop resumed, wait_for returns normally and the cancel is lost (CPython
gh-86296, fixed in 3.12 by rebuilding wait_for on `asyncio.timeout`). The loop goes on and the
shutdown waits for it forever. The listener kicks the sweeper on every join, so stopping a worker
right after its subscription joined hit that window.

Guarantees: `woken` never swallows a cancel (it is `asyncio.timeout`, whose expiry is told apart
from a cancel by the task's cancel count); `cancel_and_wait` returns once the task has ended,
never raises the task's CancelledError and never absorbs a cancel of its caller. The worker's
code does not call `asyncio.wait_for` (pyproject's ruff config bans it, as in api/).
"""

from __future__ import annotations

import asyncio
import logging

log = logging.getLogger(__name__)


async def woken(event: asyncio.Event, within: float) -> bool:
    """True once `event` is set, False when `within` seconds passed first."""
    try:
        async with asyncio.timeout(within):
            await event.wait()
    except TimeoutError:
        return False
    return True


async def cancel_and_wait(task: asyncio.Task[None] | None) -> None:
    """Cancel `task` and return once it has ended; an error it ended with is logged, not raised
    (the rest of a shutdown still has to run)."""
    if task is None:
        return
    task.cancel()
    await asyncio.wait({task})
    if not task.cancelled() and task.exception() is not None:
        log.error("background task failed", exc_info=task.exception(), extra={"task": task.get_name()})
