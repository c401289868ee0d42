"""What a worker keeps of what it read (images' references, documents' text): values by key, the
least recently used leaving first once their summed size passes a bound. A value larger than the
bound on its own is not kept. And the reads still running (`Reads`), so a use that comes while
its key is being read waits for that read instead of repeating it. One event loop uses them: no
locking."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Generic, TypeVar

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Kept(Generic[K, V]):
    def __init__(self, max_size: int, size: Callable[[V], int]) -> None:
        self._max_size = max_size
        self._size = size
        self._values: OrderedDict[K, V] = OrderedDict()
        self.size = 0  # of what is kept now

    def get(self, key: K) -> V | None:
        return self._values.get(key)

    def used(self, key: K) -> None:
        """`key` was just used: it leaves last."""
        self._values.move_to_end(key)

    def put(self, key: K, value: V) -> None:
        self.drop(key)
        size = self._size(value)
        if size > self._max_size:
            return
        self._values[key] = value
        self.size += size
        while self.size > self._max_size:
            _, oldest = self._values.popitem(last=False)
            self.size -= self._size(oldest)

    def drop(self, key: K) -> None:
        gone = self._values.pop(key, None)
        if gone is not None:
            self.size -= self._size(gone)


class Reads(Generic[K]):
    """Reads started ahead of their use (at most `limit` at once; more are not started), by key."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._running: dict[K, asyncio.Task[Any]] = {}

    def start(self, key: K, read: Callable[[], Awaitable[Any]]) -> bool:
        """Run `read` in the background unless `key` is being read or `limit` reads run (False).
        What it reads it keeps itself; a failure is only logged (the use reads again, and says why)."""
        if key in self._running or len(self._running) >= self._limit:
            return False
        task: asyncio.Task[Any] = asyncio.ensure_future(read())
        self._running[key] = task
        task.add_done_callback(lambda done: self._finished(key, done))
        return True

    def _finished(self, key: K, task: asyncio.Task[Any]) -> None:
        self._running.pop(key, None)
        if not task.cancelled() and (error := task.exception()) is not None:
            log.debug("a read ahead failed", extra={"key": repr(key), "error": repr(error)})

    async def settled(self, key: K) -> None:
        """Once the read of `key` running now (if any) has ended, however it ended."""
        task = self._running.get(key)
        if task is not None:
            await asyncio.wait({task})  # waiting does not cancel it, and its outcome is the reader's
