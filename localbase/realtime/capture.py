"""The change stream: `localbase_realtime`, heard on the gateway's LISTEN connection (localbase/notify.py).

Notifications arrive after commit, in commit order; one consumer task hands them to the fan-out
in that order, in batches of whatever queued up while the previous batch was being delivered.
Parked payloads (over NOTIFY's size limit) are read from realtime.localbase_overflow, not taken:
every gateway on the database hears the same notification and must find the same payload. Parked
rows older than five minutes are dropped, at most once a minute.

Guarantee: while the listening connection lives, no committed change is lost or reordered. NOTIFY
is not durable: changes committed while it is down are not replayed. The loss is never silent:
`on_gap` tells every postgres_changes subscriber (a `system` error, so clients rejoin and can
refetch), in order: after the changes heard before the loss are delivered, before those after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import msgspec

from localbase.notify import Notifications
from localbase.realtime import protocol

log = logging.getLogger(__name__)

CHANNEL = "localbase_realtime"
_MAX_BATCH = 2000
_READ_PARKED = "select payload from realtime.localbase_overflow where id = $1"
_DROP_STALE = "delete from realtime.localbase_overflow where created_at < now() - interval '5 minutes'"
_CLEANUP_EVERY_S = 60.0

Batch = list[dict[str, Any]]


class ChangeListener:
    def __init__(
        self,
        notifications: Notifications,
        pool: asyncpg.Pool,
        on_batch: Callable[[Batch], Awaitable[None]],
        on_gap: Callable[[], Awaitable[None]],
    ) -> None:
        self._notifications = notifications
        self._pool = pool
        self._on_batch = on_batch
        self._on_gap = on_gap
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()  # None: the connection was lost here
        self._task: asyncio.Task[None] | None = None
        self._cleaned = 0.0

    async def start(self) -> None:
        await self._pool.execute(_DROP_STALE)
        await self._notifications.listen(CHANNEL, self._queue.put_nowait, lambda: self._queue.put_nowait(None))
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        """Deliver batches, and each loss of the connection as a gap, in the order they came."""
        while True:
            first = await self._queue.get()
            if first is None:
                await self._report_gap()
            else:
                await self._deliver(first)

    async def _deliver(self, first: str) -> None:
        """Hand one batch to the fan-out. Nothing here may end the consumer task: a change that
        cannot be read is reported as a gap, text that is not a change is skipped."""
        raw = [first]
        gap = False
        while len(raw) < _MAX_BATCH and not self._queue.empty():
            text = self._queue.get_nowait()
            if text is None:
                gap = True  # after this batch: what came before the loss goes first
                break
            raw.append(text)
        batch: Batch = []
        lost = 0
        for text in raw:
            try:
                item = await self._change(text)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, msgspec.DecodeError):
                log.exception("a parked change could not be read")
                lost += 1
                continue
            if item is not None:
                batch.append(item)
        try:
            if batch:
                await self._on_batch(batch)
            if lost:
                await self._on_gap()
        except Exception:
            log.exception("realtime fan-out failed for a batch of %d changes", len(batch))
        if gap:
            await self._report_gap()

    async def _change(self, text: str) -> dict[str, Any] | None:
        """The change a notification carries (read from the overflow table when parked), or None
        when there is none: text NOTIFY'd by someone else, or a parked row already dropped."""
        try:
            item = protocol.loads(text)
        except msgspec.DecodeError:
            item = None
        if not isinstance(item, dict) or (item.get("k") == "o" and not isinstance(item.get("id"), int)):
            log.warning("a notification on %s is not a change; skipped", CHANNEL, extra={"payload": text[:200]})
            return None
        if item.get("k") != "o":
            return item
        parked = await self._pool.fetchval(_READ_PARKED, item["id"])
        if parked is None:
            log.warning("a parked change was gone before it was read", extra={"parked_id": item["id"]})
            return None
        await self._drop_stale()
        change: dict[str, Any] = protocol.loads(parked)
        return change

    async def _drop_stale(self) -> None:
        """Housekeeping: a failure here is logged, never taken for a change that was lost."""
        now = asyncio.get_running_loop().time()
        if now - self._cleaned >= _CLEANUP_EVERY_S:
            self._cleaned = now
            try:
                await self._pool.execute(_DROP_STALE)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                log.exception("dropping stale parked changes failed; tried again in a minute")

    async def _report_gap(self) -> None:
        try:
            await self._on_gap()
        except Exception:
            log.exception("telling subscribers of the change stream's gap failed")
