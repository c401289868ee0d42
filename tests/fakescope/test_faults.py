"""Scripted faults, the admin API, counters and client disconnects."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest
from dashscope import AioGeneration

from fakescope.errors import FAULTS
from fakescope.server import NATIVE_PATH, FakeScope
from tests.fakescope.conftest import chunks

# Plain dicts, as the worker sends them (the SDK's stub says list[Message], its runtime takes dicts).
MESSAGES: list[Any] = [{"role": "user", "content": "hi"}]


async def _stream(
    fake: FakeScope, options: dict[str, Any] | None = None, *, into: list[Any] | None = None, request_timeout: float = 5
) -> list[Any]:
    """Every chunk of one streamed call; `into` keeps what arrived when the stream raises."""
    headers = {"X-Fake-Options": json.dumps(options)} if options else {}
    events = [] if into is None else into
    stream = await AioGeneration.call(
        model="qwen-turbo",
        messages=MESSAGES,
        api_key="sk-test",
        base_address=fake.native_url,
        stream=True,
        incremental_output=True,
        result_format="message",
        headers=headers,
        request_timeout=request_timeout,
    )
    async for rsp in chunks(stream):
        events.append(rsp)
    return events


async def _admin(fake: FakeScope, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.request(method, fake.base_url + path, json=body) as resp:
        return resp.status, await resp.json()


@pytest.mark.parametrize("name", sorted(FAULTS))
async def test_each_pre_stream_fault_answers_with_its_status_and_code(fake: FakeScope, name: str) -> None:
    events = await _stream(fake, {"fault": name})
    assert len(events) == 1
    assert (events[0].status_code, events[0].code) == (FAULTS[name].status, FAULTS[name].code)
    assert fake.stats.faults[name] == 1


async def test_output_moderation_arrives_as_an_error_event_after_n_chunks(fake: FakeScope) -> None:
    events = await _stream(fake, {"fault": "output_moderation", "after_chunks": 2})
    assert [e.status_code for e in events] == [200, 200, 400]
    assert events[-1].code == "DataInspectionFailed"
    assert events[-1].message == "Output data may contain inappropriate content."


async def test_truncated_stream_has_no_terminal_event(fake: FakeScope) -> None:
    events = await _stream(fake, {"fault": "truncate", "after_chunks": 3})
    assert len(events) == 3
    assert all(e.output.choices[0].finish_reason == "null" for e in events)


async def test_a_fault_past_the_first_write_of_an_unpaced_stream_strikes_after_exactly_n_events(
    fake: FakeScope,
) -> None:
    events = await _stream(fake, {"fault": "truncate", "after_chunks": 21, "tokens_per_event": 1})  # 16 a write
    assert [e.usage.output_tokens for e in events] == list(range(1, 22))
    assert fake.stats.output_tokens == 21


async def test_an_unpaced_stream_of_many_writes_arrives_whole_and_in_order(fake: FakeScope) -> None:
    events = await _stream(fake, {"answer_tokens": 100, "tokens_per_event": 1})
    finished = [e.output.choices[0].finish_reason for e in events]
    assert finished == ["null"] * (len(events) - 1) + ["stop"]
    sent = [e.usage.output_tokens for e in events]
    assert sent == sorted(set(sent))  # each event once, in order (a token or a few, where a character spans them)
    assert len(events) >= 50
    assert (fake.stats.output_tokens, fake.stats.first_events, fake.stats.completed) == (sent[-1], 1, 1)


async def test_reset_breaks_the_connection_mid_stream(fake: FakeScope) -> None:
    seen: list[Any] = []
    with pytest.raises(aiohttp.ClientPayloadError):
        await _stream(fake, {"fault": "reset", "after_chunks": 2}, into=seen)
    assert len(seen) == 2


async def test_pre_stream_error_as_sse_frame_with_http_200(fake: FakeScope) -> None:
    events = await _stream(fake, {"fault": "rate_quota", "sse_error": True})
    assert events[0].code == "Throttling.RateQuota"
    assert events[0].headers["x-dashscope-finished"] == "true"


async def test_queue_next_call_fails_then_succeeds(fake: FakeScope) -> None:
    status, state = await _admin(fake, "POST", "/_fake/faults", {"next": [{"fault": "throttling", "retry_after": 3}]})
    assert (status, state["queued"]) == (200, 1)
    failed = await _stream(fake)
    assert (failed[0].status_code, failed[0].headers["Retry-After"]) == (429, "3")
    ok = await _stream(fake)
    assert ok[-1].output.choices[0].finish_reason == "stop"


async def test_random_share_of_failing_calls(fake: FakeScope) -> None:
    await _admin(fake, "POST", "/_fake/faults", {"rate": 0.3, "pool": [{"fault": "internal_error"}]})
    outcomes = [(await _stream(fake))[-1].status_code for _ in range(60)]
    failures = outcomes.count(500)
    assert 5 <= failures <= 35  # seeded RNG: a fixed sequence near 30 %
    assert outcomes.count(200) == 60 - failures


async def test_bad_scripts_are_rejected(fake: FakeScope) -> None:
    status, body = await _admin(fake, "POST", "/_fake/faults", {"next": [{"fault": "no-such-fault"}]})
    assert status == 400
    assert "no-such-fault" in body["error"]
    events = await _stream(fake, {"tokens_per_event": 0})
    assert (events[0].status_code, events[0].code) == (400, "InvalidParameter")


async def test_stats_and_reset(fake: FakeScope) -> None:
    await _stream(fake)
    await _stream(fake, {"fault": "internal_error"})
    _, stats = await _admin(fake, "GET", "/_fake/stats")
    assert (stats["calls"], stats["completed"], stats["errors"]) == (2, 1, 1)
    assert stats["faults"] == {"internal_error": 1}
    assert stats["statuses"] == {"200": 1, "500": 1}
    assert stats["streams_peak"] == 1
    assert stats["streams_active"] == 0
    assert stats["input_tokens"] == 9
    assert stats["output_tokens"] > 0
    await _admin(fake, "POST", "/_fake/reset")
    _, stats = await _admin(fake, "GET", "/_fake/stats")
    assert stats["calls"] == 0
    assert stats["faults"] == {}


async def test_client_disconnect_stops_generation(fake: FakeScope) -> None:
    body = {"model": "qwen-turbo", "input": {"messages": MESSAGES}, "parameters": {"incremental_output": True}}
    slow = json.dumps({"tokens_per_s": 50, "answer_tokens": 2000, "tokens_per_event": 1})
    headers = {"Authorization": "Bearer sk-test", "X-DashScope-SSE": "enable", "X-Fake-Options": slow}
    async with aiohttp.ClientSession() as session:
        response = await session.post(fake.base_url + NATIVE_PATH, json=body, headers=headers)
        await response.content.readuntil(b"\n\n")
        assert fake.stats.streams_active == 1
        response.close()  # drop the connection mid-stream
    await fake.until(lambda s: s.disconnects == 1 and s.streams_active == 0)
    sent = fake.stats.output_tokens
    await asyncio.sleep(0.1)  # generation would have sent ~5 more tokens by now
    assert fake.stats.output_tokens == sent < 100
    assert fake.stats.completed == 0


async def test_stall_keeps_the_connection_silent(fake: FakeScope) -> None:
    with pytest.raises(TimeoutError):
        await _stream(fake, {"fault": "stall", "after_chunks": 1}, request_timeout=0.3)
    await fake.until(lambda s: s.disconnects == 1 and s.streams_active == 0)
