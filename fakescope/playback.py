"""Plays a reply onto an open stream at the configured pace, and plays scripted stream faults.

Cost per event is one timer and one small JSON encode; a paced event is one socket write, unpaced
events share one (a 20-token answer goes out as one write: headers, every event and the end of the
chunked body). Events are scheduled against the time the request arrived (the server's own parsing
counts towards its time to first token, as it does for the real service's), so slow wake-ups do
not accumulate into drift. The clock is `time.monotonic()`, not the loop's: uvloop's ticks in whole
milliseconds and is read once per loop iteration, so it could date a request's arrival early; the
deadlines are kept by clock.py, to tens of microseconds rather than the loop timers' whole one. A
client that goes away shows up as a cancelled handler (aiohttp's handler_cancellation) or a failed
write, and stops the generation at once.
"""

from __future__ import annotations

import asyncio
import random
import socket
import struct
import time
from typing import Protocol

from aiohttp import web

from fakescope.clock import Clock
from fakescope.errors import OUTPUT_INSPECTION, STREAM_FAULTS, ApiError
from fakescope.options import Knobs
from fakescope.stats import Stats

_UNPACED_BURST = 16  # unpaced streams write and yield to the loop every this many events


class Frames(Protocol):
    """How one protocol spells stream events."""

    def chunk(self, index: int, text: str, tokens: int, finish: str | None, reasoning: bool = False) -> bytes: ...
    def error(self, index: int, error: ApiError) -> bytes: ...
    def tail(self, tokens: int) -> bytes: ...


class Pacer:
    def __init__(self, knobs: Knobs, seed: int, start: float, clock: Clock) -> None:
        self.knobs = knobs
        self.start = start  # time.monotonic() when the request arrived
        self._clock = clock
        self._rng = random.Random(seed) if knobs.jitter else None

    async def wait(self, tokens_before: int, tokens_next: int) -> None:
        """Sleep until the event following `tokens_before` sent tokens is due."""
        knobs = self.knobs
        if knobs.tokens_per_s <= 0:
            if knobs.ttft > 0 and tokens_before == 0:
                await self._clock.sleep_until(self.start + knobs.ttft)
            return
        due = self.start + knobs.ttft + tokens_before / knobs.tokens_per_s
        if self._rng is not None and tokens_before:
            due += self._rng.uniform(-knobs.jitter, knobs.jitter) * tokens_next / knobs.tokens_per_s
        await self._clock.sleep_until(due)


def reset_connection(request: web.BaseRequest) -> None:
    """Drop the TCP connection with an RST (SO_LINGER 0), as a crashed proxy would."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


class _HeadersWithFirstEvent(web.StreamResponse):
    """A stream whose status line and headers go out in the same write as its first event, as aiohttp
    already does for a whole `web.Response` (the attribute is aiohttp's own switch for that)."""

    _send_headers_immediately = False


def sse_response(headers: dict[str, str], knobs: Knobs) -> web.StreamResponse:
    """The response a stream is played onto. When its first event is due at once and no fault is
    scripted, the headers wait for that event rather than taking a write (a TCP segment) of their own;
    otherwise (a time to first token, a stall) they go out at once, as the service's do."""
    if knobs.ttft == 0 and knobs.fault not in STREAM_FAULTS:
        return _HeadersWithFirstEvent(status=200, headers=headers)
    return web.StreamResponse(status=200, headers=headers)


class _Batch:
    """Frames due together, written as one chunk (one socket write); the counters move when they go out."""

    def __init__(self, response: web.StreamResponse, stats: Stats, arrived: float) -> None:
        self.response = response
        self.stats = stats
        self.arrived = arrived
        self.frames: list[bytes] = []
        self.tokens = 0
        self.first = True

    def add(self, frame: bytes, tokens: int) -> None:
        self.frames.append(frame)
        self.tokens += tokens

    async def send(self, *, eof: bool = False) -> None:
        data = b"".join(self.frames)
        if eof:
            await self.response.write_eof(data)
        elif data:
            await self.response.write(data)
        if self.first and self.frames:
            self.first = False
            self.stats.first_event_seconds += time.monotonic() - self.arrived
            self.stats.first_events += 1
        self.stats.output_tokens += self.tokens
        self.frames, self.tokens = [], 0


async def play(
    request: web.BaseRequest,
    response: web.StreamResponse,
    *,
    events: list[tuple[str, int]],
    reasoning_events: int = 0,
    finish_reason: str,
    knobs: Knobs,
    frames: Frames,
    stats: Stats,
    seed: int,
    arrived: float,
    clock: Clock,
) -> None:
    """Send `events` (text, tokens so far), the first `reasoning_events` of them as reasoning; the last
    one carries `finish_reason` unless a fault strikes first. A paced event is written when it is
    due; unpaced events go out `_UNPACED_BURST` to a write, and the last ones with the end of the body."""
    pacer = Pacer(knobs, seed, arrived, clock)
    strike_at = min(knobs.after_chunks, len(events) - 1) if knobs.fault in STREAM_FAULTS else -1
    unpaced = knobs.tokens_per_s <= 0
    batch = _Batch(response, stats, arrived)
    sent = 0
    stats.stream_opened()
    try:
        for index, (text, total) in enumerate(events):
            if index == strike_at:
                await batch.send()
                await _strike(request, response, knobs=knobs, frames=frames, stats=stats, index=index + 1)
                return
            await pacer.wait(sent, total - sent)
            final = index == len(events) - 1
            frame = frames.chunk(index + 1, text, total, finish_reason if final else None, index < reasoning_events)
            batch.add(frame, total - sent)
            sent = total
            if not final and (not unpaced or len(batch.frames) == _UNPACED_BURST):
                await batch.send()
                if unpaced:
                    await asyncio.sleep(0)
        batch.add(frames.tail(sent), 0)
        await batch.send(eof=True)
        stats.completed += 1
    except (asyncio.CancelledError, ConnectionResetError):
        stats.disconnects += 1
        raise
    finally:
        stats.streams_active -= 1


async def _strike(
    request: web.BaseRequest, response: web.StreamResponse, *, knobs: Knobs, frames: Frames, stats: Stats, index: int
) -> None:
    fault = knobs.fault
    assert fault is not None
    stats.faults[fault] += 1
    if fault == "output_moderation":
        stats.errors += 1
        await response.write(frames.error(index, OUTPUT_INSPECTION))
        await response.write_eof()
    elif fault == "reset":
        reset_connection(request)
    elif fault == "stall":
        await asyncio.sleep(knobs.stall_s)
        await response.write_eof()
    else:  # "truncate": a clean end of body without the terminal event
        await response.write_eof()
