"""A document's reading clock, counted instead of timed: `counted_checks()` puts a checker in place
of worker/document_bounds.py's timer for every format, which counts each check the reading makes
(at each PDF page and 1,024 of its operators, each Word block, each workbook row and read of a
part) and, when told to, refuses at the nth as the clock refuses once its time has passed. A test
then proves a reading stops at its bound by what was read, not by how long a loaded machine took."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from unittest.mock import patch

from worker.document_bounds import too_complex


@dataclass
class Checks:
    expire_at: int | None = None  # the check that finds the time passed; None: never
    made: int = 0

    def timer(self, name: str, seconds: float, stop: object = None) -> Callable[[], None]:
        def in_time() -> None:
            self.made += 1
            if self.expire_at is not None and self.made >= self.expire_at:
                raise too_complex(name, f"its reading took more than {seconds:g} s")

        return in_time


@contextmanager
def counted_checks(expire_at: int | None = None) -> Iterator[Checks]:
    checks = Checks(expire_at)
    with patch("worker.extraction.timer", checks.timer):
        yield checks
