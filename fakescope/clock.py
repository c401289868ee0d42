"""Deadlines kept to tens of microseconds: when the fake's first token and paced events go out.

The event loop's timers wake in whole milliseconds (asyncio rounds its epoll timeout up to one,
uvloop's libuv keeps its clock in them): a 50 ms time to first token was served 0.4-1.2 ms late
(bench/worker_bench.py `fake_ttft_lateness`), and every first-token figure, which subtracts the
configured time, counted that lateness as the platform's. On Linux one timerfd on CLOCK_MONOTONIC
(the clock of `time.monotonic()`), armed at the earliest deadline and watched by the loop like any
socket, wakes it when the kernel's high-resolution timer fires. Python 3.11 has no binding for
timerfd (`os.timerfd_create` came in 3.13), so libc's is called through ctypes; where that is not
available, `asyncio.sleep`.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import heapq
import itertools
import os
import sys
import time

_CLOCK_MONOTONIC = 1
_TFD_TIMER_ABSTIME = 1


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        libc.timerfd_create.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.timerfd_settime.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
    except (OSError, AttributeError):
        return None
    return libc


class Clock:
    """Sleeps until a `time.monotonic()` deadline, on the loop that first uses it."""

    def __init__(self) -> None:
        self._libc = _libc()
        self._fd = -1
        self._loop: asyncio.AbstractEventLoop | None = None
        self._due: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._armed: float | None = None

    @property
    def precise(self) -> bool:
        """Whether a timerfd keeps the deadlines (else the loop's timers do)."""
        return self._fd >= 0

    async def sleep_until(self, due: float) -> None:
        delay = due - time.monotonic()
        if delay <= 0:
            return
        loop = asyncio.get_running_loop()
        if not self._open(loop):
            await asyncio.sleep(delay)
            return
        waiter: asyncio.Future[None] = loop.create_future()
        heapq.heappush(self._due, (due, next(self._order), waiter))
        if self._armed is None or due < self._armed:
            self._arm(due)
        await waiter  # a cancelled waiter stays in the heap until its time, then is skipped

    def close(self) -> None:
        if self._fd >= 0:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.remove_reader(self._fd)
            os.close(self._fd)
        self._fd, self._loop, self._armed = -1, None, None
        for _, _, waiter in self._due:
            waiter.cancel()
        self._due.clear()

    def _open(self, loop: asyncio.AbstractEventLoop) -> bool:
        if self._loop is loop:
            return True
        if self._libc is None:
            return False
        self.close()  # a loop before this one (a test's): its waiters went with it
        fd = self._libc.timerfd_create(_CLOCK_MONOTONIC, os.O_NONBLOCK | os.O_CLOEXEC)
        if fd < 0:
            self._libc = None
            return False
        self._fd, self._loop = fd, loop
        loop.add_reader(fd, self._fired)
        return True

    def _arm(self, due: float) -> None:
        assert self._libc is not None
        seconds = int(due)
        spec = _Itimerspec(_Timespec(0, 0), _Timespec(seconds, int((due - seconds) * 1e9)))
        if self._libc.timerfd_settime(self._fd, _TFD_TIMER_ABSTIME, ctypes.byref(spec), None) != 0:
            raise OSError(ctypes.get_errno(), "timerfd_settime failed")
        self._armed = due

    def _fired(self) -> None:
        with contextlib.suppress(BlockingIOError):  # disarmed or re-armed since it fired
            os.read(self._fd, 8)
        now = time.monotonic()
        while self._due and self._due[0][0] <= now:
            _, _, waiter = heapq.heappop(self._due)
            if not waiter.done():
                waiter.set_result(None)
        self._armed = None
        if self._due:
            self._arm(self._due[0][0])
