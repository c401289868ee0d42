"""How an answer goes out once it is known: streamed as SSE frames of either protocol (the
thinking's events first, then the answer's counting on from them; fakescope.playback paces them
and plays the scripted stream faults), or whole after as long as generating it would take (a
scripted stream fault then fails it as it would have failed the stream)."""

from __future__ import annotations

import asyncio

from aiohttp import web

from fakescope import answers, native
from fakescope.admission import JSON_TYPE, refusal
from fakescope.clock import Clock
from fakescope.errors import OUTPUT_INSPECTION, STREAM_FAULTS
from fakescope.options import Knobs
from fakescope.playback import Frames, play, reset_connection, sse_response
from fakescope.stats import Stats


async def stream(
    request: web.Request,
    request_id: str,
    reply: answers.Reply,
    *,
    knobs: Knobs,
    frames: Frames,
    seed: int,
    arrived: float,
    stats: Stats,
    clock: Clock,
    thoughts: list[answers.Piece] | None = None,
) -> web.StreamResponse:
    headers = {"Content-Type": native.SSE_TYPE, "Cache-Control": "no-cache", "x-request-id": request_id}
    response = sse_response(headers, knobs)
    await response.prepare(request)
    stats.statuses[200] += 1
    thought_events: list[tuple[str, int]] = []
    events = answers.events(reply, knobs.tokens_per_event)
    if thoughts:  # thinking first, in events of its own, then the answer counting on from it
        thought_events = answers.events(answers.Reply(thoughts, "stop"), knobs.tokens_per_event)
        spent = thought_events[-1][1]
        answer = answers.Reply(reply.pieces[len(thoughts) :], reply.finish_reason)
        events = thought_events + [(t, spent + n) for t, n in answers.events(answer, knobs.tokens_per_event)]
    await play(
        request,
        response,
        events=events,
        reasoning_events=len(thought_events),
        finish_reason=reply.finish_reason,
        knobs=knobs,
        frames=frames,
        stats=stats,
        seed=seed,
        arrived=arrived,
        clock=clock,
    )
    return response


async def whole(
    request: web.Request,
    request_id: str,
    done: bytes,
    output_tokens: int,
    knobs: Knobs,
    *,
    stats: Stats,
    compat_mode: bool,
) -> web.StreamResponse:
    """A non-streaming answer: wait as long as generating it would take, then send it (or fail)."""
    seconds = knobs.ttft + (output_tokens / knobs.tokens_per_s if knobs.tokens_per_s else 0.0)
    try:
        await asyncio.sleep(seconds)
        if knobs.fault in STREAM_FAULTS:
            stats.faults[knobs.fault] += 1
            if knobs.fault == "output_moderation":
                return refusal(OUTPUT_INSPECTION, request_id, stats, compat_mode=compat_mode, knobs=None)
            if knobs.fault == "stall":
                await asyncio.sleep(knobs.stall_s)
            reset_connection(request)
            raise web.HTTPInternalServerError
    except asyncio.CancelledError:
        stats.disconnects += 1
        raise
    stats.output_tokens += output_tokens
    stats.completed += 1
    stats.statuses[200] += 1
    return web.Response(body=done, headers={"x-request-id": request_id}, content_type=JSON_TYPE)
