"""What a worker keeps of what it read (images' references, documents' text): values by key, the
least recently used leaving first once their summed size passes a bound. A value larger than the
bound on its own is not kept. One event loop uses it: no locking."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

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
