"""The native protocol through the real dashscope SDK (AioGeneration) and raw HTTP."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import dashscope
import pytest
from dashscope import AioGeneration

from core.settings import FakeScopeSettings
from fakescope import tokens
from fakescope.server import NATIVE_PATH, FakeScope

MESSAGES = [{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "hi"}]


async def _call(fake: FakeScope, **kwargs: Any) -> Any:
    kwargs.setdefault("messages", MESSAGES)
    kwargs.setdefault("api_key", "sk-test")
    return await AioGeneration.call(model=kwargs.pop("model", "qwen-turbo"), base_address=fake.native_url, **kwargs)


async def _collect(fake: FakeScope, **kwargs: Any) -> list[Any]:
    stream = await _call(fake, stream=True, **kwargs)
    return [rsp async for rsp in stream]


async def test_stream_usage_matches_the_bundled_tokenizer(fake: FakeScope) -> None:
    events = await _collect(fake, incremental_output=True, result_format="message")
    text = "".join(e.output.choices[0].message.content for e in events)
    assert [e.output.choices[0].finish_reason for e in events[:-1]] == ["null"] * (len(events) - 1)
    last = events[-1]
    assert last.output.choices[0].finish_reason == "stop"
    assert last.usage.input_tokens == 20  # the spec's verified ChatML count for this conversation
    assert last.usage.output_tokens == tokens.count(text)
    assert [e.usage.input_tokens for e in events] == [20] * len(events)
    assert [e.usage.output_tokens for e in events] == sorted(e.usage.output_tokens for e in events)
    assert text.startswith("[offline model]")
    assert fake.stats.output_tokens == last.usage.output_tokens


async def test_cumulative_mode_resends_the_whole_text(fake: FakeScope) -> None:
    incremental = await _collect(fake, incremental_output=True, result_format="message")
    full = "".join(e.output.choices[0].message.content for e in incremental)
    raw = await _raw_stream(fake, {"incremental_output": False, "result_format": "text"})
    texts = [json.loads(line[5:])["output"]["text"] for line in raw.split("\n") if line.startswith("data:")]
    assert all(texts[i + 1].startswith(texts[i]) for i in range(len(texts) - 1))
    assert texts[-1] == full


async def test_non_stream_text_and_message_formats(fake: FakeScope) -> None:
    message = await _call(fake, result_format="message")
    text = await _call(fake)
    assert message.status_code == 200
    assert text.status_code == 200
    assert message.output.choices[0].message.content == text.output.text
    assert text.output.finish_reason == "stop"
    assert text.usage.output_tokens == tokens.count(text.output.text)


async def test_answers_are_deterministic_per_input(fake: FakeScope) -> None:
    first = await _call(fake)
    again = await _call(fake)
    other = await _call(fake, messages=[{"role": "user", "content": "something else entirely"}], seed=7)
    assert first.output.text == again.output.text
    assert first.output.text != other.output.text


async def test_max_tokens_cuts_with_finish_length(fake: FakeScope) -> None:
    events = await _collect(fake, incremental_output=True, result_format="message", max_tokens=7)
    last = events[-1]
    assert last.output.choices[0].finish_reason == "length"
    assert last.usage.output_tokens == 7


async def test_stop_string_cuts_with_finish_stop(fake: FakeScope) -> None:
    rsp = await _call(fake, stop=["reply"])
    assert rsp.output.text == "[offline model] This "
    assert rsp.output.finish_reason == "stop"


async def _raw_stream(fake: FakeScope, parameters: dict[str, Any], headers: dict[str, str] | None = None) -> str:
    body = {"model": "qwen-turbo", "input": {"messages": MESSAGES}, "parameters": parameters}
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            fake.base_url + NATIVE_PATH,
            json=body,
            headers={"Authorization": "Bearer sk-test", "X-DashScope-SSE": "enable", **(headers or {})},
        ) as response,
    ):
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        text = await response.text()
        assert json.loads(text.split("data:")[1].split("\n")[0])["request_id"] == response.headers["x-request-id"]
        return text


async def test_sse_framing_is_exact(fake: FakeScope) -> None:
    raw = await _raw_stream(fake, {"incremental_output": True, "result_format": "message"})
    frames = raw.split("\n\n")
    assert frames[-1] == ""  # every event ends with a blank line
    for n, frame in enumerate(frames[:-1], start=1):
        lines = frame.split("\n")
        assert lines[:3] == [f"id:{n}", "event:result", ":HTTP_STATUS/200"]
        assert lines[3].startswith("data:{")
        assert len(lines) == 4
        assert ": " not in lines[3][:6]
        assert ", " not in lines[3].split('"content"')[0]
    assert '"finish_reason":"null"' in frames[0]
    assert '"finish_reason":"stop"' in frames[-2]


@pytest.mark.parametrize(
    ("key", "status", "code"),
    [("sk-invalid-123", 401, "InvalidApiKey"), ("", 401, "InvalidApiKey"), ("sk-good", 200, None)],
)
async def test_bearer_auth(fake: FakeScope, key: str, status: int, code: str | None) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            fake.base_url + NATIVE_PATH,
            json={"model": "qwen-turbo", "input": {"messages": MESSAGES}},
            headers={"Authorization": f"Bearer {key}"},
        ) as response,
    ):
        body = await response.json()
        assert response.status == status
        assert body.get("code") == code
        if code:
            assert body["message"] == "Invalid API-key provided."
            assert body["request_id"] == response.headers["x-request-id"]


async def test_configured_key_list_is_enforced() -> None:
    async with FakeScope(FakeScopeSettings(api_keys=("sk-only",)), ttft=0, tokens_per_s=0) as strict:
        assert (await _call(strict, api_key="sk-only")).status_code == 200
        rejected = await _call(strict, api_key="sk-other")
        assert (rejected.status_code, rejected.code) == (401, "InvalidApiKey")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"model": "qwen-nonexistent"}, "Model not exist."),
        (
            {"messages": [{"role": "system", "content": "only system"}]},
            "The input messages must contain a user message.",
        ),
        ({"temperature": 2.0}, "Temperature should be in [0.0, 2.0)"),
        ({"top_p": 0}, "Range of top_p should be (0.0, 1.0]"),
        ({"max_tokens": 16385}, "Range of max_tokens should be [1, 16384]"),
        ({"n": 5}, "Range of n should be [1, 4]"),
        ({"messages": [{"role": "user", "content": [{"text": "hi"}]}]}, "input content must be a string."),
        ({"seed": 2**31}, "Range of seed should be [0, 2147483647]"),
        ({"seed": -1}, "Range of seed should be [0, 2147483647]"),
        ({"model": "qwen-max", "messages": [{"role": "user", "content": "hello " * 31000}]}, "Range of input length"),
    ],
)
async def test_validation_uses_the_services_codes(fake: FakeScope, kwargs: dict[str, Any], message: str) -> None:
    rsp = await _call(fake, **kwargs)
    assert (rsp.status_code, rsp.code) == (400, "InvalidParameter")
    assert rsp.message.startswith(message)


async def test_unknown_path_is_json_404(fake: FakeScope) -> None:
    async with aiohttp.ClientSession() as session, session.get(fake.base_url + "/api/v1/nope") as response:
        assert response.status == 404
        assert (await response.json())["code"] == "NotFound"


async def test_dashscope_module_default_is_untouched() -> None:
    # Our calls pass base_address per call; nothing rewires the SDK's global endpoint.
    assert dashscope.base_http_api_url.startswith("https://")


async def test_stats_count_the_time_to_first_event_actually_served() -> None:
    async with FakeScope(ttft=0.03, tokens_per_s=0) as slow:
        await _collect(slow, incremental_output=True, result_format="message")
        await _collect(slow, incremental_output=True, result_format="message")
        stats = slow.stats.snapshot()
    assert stats["first_events"] == 2
    assert 0.06 <= stats["first_event_seconds"] < 2.0  # never early; the configured 30 ms each at least
