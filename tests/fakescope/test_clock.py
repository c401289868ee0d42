"""fakescope/clock.py: deadlines on a timerfd. Each sleeper wakes at or after its deadline, in
deadline order whatever order they were set in; a cancelled sleeper leaves the others alone. How
close to the deadline it wakes is a figure, not a test: bench/worker_bench.py `fake_ttft_lateness`."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time

import pytest

from fakescope.clock import Clock


async def test_sleepers_wake_at_or_after_their_deadlines_in_deadline_order() -> None:
    clock = Clock()
    start = time.monotonic()
    woke: list[tuple[int, float, float]] = []

    async def sleeper(name: int, due: float) -> None:
        await clock.sleep_until(due)
        woke.append((name, due, time.monotonic()))

    dues = {1: start + 0.030, 2: start + 0.010, 3: start + 0.020, 4: start + 0.010}
    try:
        await asyncio.gather(*(sleeper(name, due) for name, due in dues.items()))
    finally:
        clock.close()
    assert sorted(name for name, _, _ in woke[:2]) == [2, 4]
    assert [name for name, _, _ in woke[2:]] == [3, 1]
    assert all(at >= due for _, due, at in woke)


async def test_a_cancelled_sleeper_leaves_the_others_alone() -> None:
    clock = Clock()
    start = time.monotonic()
    early = asyncio.ensure_future(clock.sleep_until(start + 0.005))
    later = asyncio.ensure_future(clock.sleep_until(start + 0.015))
    early.cancel()
    try:
        await later
    finally:
        clock.close()
    assert early.cancelled()
    assert time.monotonic() >= start + 0.015


async def test_a_deadline_already_past_returns_at_once_and_close_cancels_the_waiting() -> None:
    clock = Clock()
    await clock.sleep_until(time.monotonic() - 1)
    waiting = asyncio.ensure_future(clock.sleep_until(time.monotonic() + 60))
    await asyncio.sleep(0)
    clock.close()
    with contextlib.suppress(asyncio.CancelledError):
        await waiting
    assert waiting.cancelled()


def test_a_clock_serves_the_next_event_loop_too() -> None:
    """The fake in tests outlives one test's loop; its clock moves to the loop that uses it next."""
    clock = Clock()

    async def nap() -> bool:
        due = time.monotonic() + 0.002
        await clock.sleep_until(due)
        return time.monotonic() >= due and clock.precise == sys.platform.startswith("linux")

    try:
        assert [asyncio.run(nap()) for _ in range(2)] == [True, True]
    finally:
        clock.close()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="timerfd is Linux's")
async def test_on_linux_the_deadlines_are_kept_by_a_timerfd() -> None:
    clock = Clock()
    try:
        await clock.sleep_until(time.monotonic() + 0.001)
        assert clock.precise
    finally:
        clock.close()
