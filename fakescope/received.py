"""The generation requests kept for `GET /_fake/requests`: newest last, the newest 200 at most, and
fewer when their bodies pass 64 MiB (inline images make bodies MBs each), but always the newest one.

The bytes kept are a running total, so keeping a request costs the same however many are kept.
"""

from __future__ import annotations

from collections import deque
from typing import Any

REQUESTS_KEPT = 200
REQUEST_BYTES_KEPT = 64 << 20


class Received(deque[dict[str, Any]]):
    """Entries `{"path", "body", "bytes"}`, oldest first; add them with `keep`, drop them with `clear`."""

    def __init__(self) -> None:
        super().__init__()
        self.bytes = 0

    def keep(self, path: str, body: Any, size: int) -> None:
        self.append({"path": path, "body": body, "bytes": size})
        self.bytes += size
        while len(self) > REQUESTS_KEPT or (len(self) > 1 and self.bytes > REQUEST_BYTES_KEPT):
            self.bytes -= self.popleft()["bytes"]

    def clear(self) -> None:
        super().clear()
        self.bytes = 0
