"""How long to wait before calling the provider again after a retryable failure (and before the
listener's next try at its Realtime subscription, which asks only `delay`: it retries forever).

Bounded exponential backoff with full jitter (base * 2^n, capped), never shorter than the
provider's own `Retry-After` when it sent one (itself capped, so a hostile header cannot park a
turn for minutes). Retries happen only before the first chunk reached subscribers: after that a
new call would repeat text the user has already seen (docs/dashscope spec, section 4).
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    attempts: int  # provider calls per turn, the first included
    base: float
    cap: float

    def delay(self, failures: int, retry_after: float | None = None) -> float:
        """Seconds to sleep after the `failures`-th failed call (1-based)."""
        ceiling = min(self.cap, self.base * 2.0 ** min(failures - 1, 64))  # 2.0**1024 would overflow
        wait = random.uniform(ceiling / 2, ceiling)
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.cap * 4))
        return wait

    def allows(self, failures: int) -> bool:
        return failures < self.attempts
