"""OpenAI-compatible mode: chat completions as JSON and as `data:` chunks, models, errors."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam
from openai.types.shared_params import ResponseFormatJSONObject

from fakescope import tokens
from fakescope.server import FakeScope

MESSAGES: list[ChatCompletionMessageParam] = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "hi"},
]
AUTH = {"Authorization": "Bearer sk-test"}


async def _post(fake: FakeScope, body: dict[str, Any], key: str = "sk-test") -> httpx.Response:
    async with httpx.AsyncClient(base_url=fake.compat_url) as client:
        return await client.post("/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"})


async def test_non_stream_completion(fake: FakeScope) -> None:
    response = await _post(fake, {"model": "qwen-turbo", "messages": MESSAGES})
    body = response.json()
    assert body["object"] == "chat.completion"
    content = body["choices"][0]["message"]["content"]
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"] == {
        "prompt_tokens": 20,
        "completion_tokens": tokens.count(content),
        "total_tokens": 20 + tokens.count(content),
    }


async def test_stream_ends_with_usage_chunk_and_done(fake: FakeScope) -> None:
    body = {"model": "qwen-turbo", "messages": MESSAGES, "stream": True, "stream_options": {"include_usage": True}}
    raw = (await _post(fake, body)).text
    lines = [line for line in raw.split("\n\n") if line]
    assert all(line.startswith("data: ") for line in lines)
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line[6:]) for line in lines[:-1]]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"]["content"] for c in chunks if c["choices"])
    assert [c["choices"][0]["finish_reason"] for c in chunks[:-1]][-1] == "stop"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["completion_tokens"] == tokens.count(text)


async def test_stream_without_include_usage_has_no_usage(fake: FakeScope) -> None:
    raw = (await _post(fake, {"model": "qwen-turbo", "messages": MESSAGES, "stream": True})).text
    chunks = [json.loads(line[6:]) for line in raw.split("\n\n") if line and line != "data: [DONE]"]
    assert all(c["usage"] is None and c["choices"] for c in chunks)


async def test_errors_use_the_compat_shape(fake: FakeScope) -> None:
    unauthorized = await _post(fake, {"model": "qwen-turbo", "messages": MESSAGES}, key="sk-invalid")
    assert unauthorized.status_code == 401
    assert unauthorized.json()["error"]["code"] == "invalid_api_key"
    missing = await _post(fake, {"model": "gpt-9", "messages": MESSAGES})
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "model_not_found")


async def test_a_seed_past_2_31_minus_1_is_refused_as_invalid_value(fake: FakeScope) -> None:
    """Compatible mode's seed range is [0, 2^31 - 1] (DashScope's error-code page,
    400 invalid_request_error / invalid_value); the largest one is taken."""
    refused = await _post(fake, {"model": "qwen-plus", "messages": MESSAGES, "seed": 2**31})
    assert (refused.status_code, refused.json()["error"]["code"]) == (400, "invalid_value")
    taken = await _post(fake, {"model": "qwen-plus", "messages": MESSAGES, "seed": 2**31 - 1})
    assert taken.status_code == 200


async def test_thinking_streams_reasoning_content_deltas_and_counts_them_apart(fake: FakeScope) -> None:
    """As DashScope's compatible mode: `delta.reasoning_content` before `delta.content`, and the usage
    chunk's `completion_tokens_details.reasoning_tokens` (deep-thinking page; spec §A1)."""
    body = {
        "model": "qwen-plus",
        "messages": MESSAGES,
        "stream": True,
        "enable_thinking": True,
        "stream_options": {"include_usage": True},
    }
    raw = (await _post(fake, body)).text
    chunks = [json.loads(line[6:]) for line in raw.split("\n\n") if line and line != "data: [DONE]"]
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    kinds = ["reasoning" if "reasoning_content" in d else "content" for d in deltas]
    assert kinds[0] == "reasoning"
    assert "reasoning" not in kinds[kinds.index("content") :]
    reasoning = "".join(d.get("reasoning_content", "") for d in deltas)
    answer = "".join(d.get("content", "") for d in deltas)
    usage = chunks[-1]["usage"]
    assert usage["completion_tokens_details"] == {"reasoning_tokens": tokens.count(reasoning)}
    assert usage["completion_tokens"] == tokens.count(reasoning) + tokens.count(answer)
    plain = (await _post(fake, {**body, "enable_thinking": False})).text
    assert "reasoning_content" not in plain
    assert "completion_tokens_details" not in plain


async def test_a_repeated_prefix_is_reported_as_cached_tokens(fake: FakeScope) -> None:
    """Compatible mode reports the context cache's hits as `prompt_tokens_details.cached_tokens` (spec §A6)."""
    history = [
        {"role": "system", "content": "You are a careful assistant. " * 60},
        {"role": "user", "content": "first"},
    ]
    body = {"model": "qwen-plus", "messages": history, "stream": True, "stream_options": {"include_usage": True}}
    await _post(fake, body)
    again = {**body, "messages": [*history, {"role": "assistant", "content": "ok"}, {"role": "user", "content": "2"}]}
    raw = (await _post(fake, again)).text
    usage = json.loads([line for line in raw.split("\n\n") if line and line != "data: [DONE]"][-1][6:])["usage"]
    assert usage["prompt_tokens_details"]["cached_tokens"] >= 256


async def test_models_lists_the_catalog(fake: FakeScope) -> None:
    async with httpx.AsyncClient(base_url=fake.compat_url, headers=AUTH) as client:
        body = (await client.get("/models")).json()
    assert body["object"] == "list"
    assert "qwen-turbo" in {m["id"] for m in body["data"]}


async def test_json_mode_needs_the_word_json_in_the_messages(fake: FakeScope) -> None:
    """DashScope's JSON mode (`response_format: {"type": "json_object"}`) refuses messages that never
    say "json" (any case): 400 invalid_parameter_error, as compatible mode answers it; it was answered."""
    json_mode: ResponseFormatJSONObject = {"type": "json_object"}
    async with openai.AsyncOpenAI(base_url=fake.compat_url, api_key="sk-test", max_retries=0) as sdk:
        with pytest.raises(openai.BadRequestError) as refused:
            await sdk.chat.completions.create(model="qwen-plus", messages=MESSAGES, response_format=json_mode)
        assert refused.value.code == "invalid_parameter_error"
        assert "'messages' must contain the word 'json'" in refused.value.message
        asked: list[ChatCompletionMessageParam] = [
            {"role": "system", "content": "Answer in Json."},
            {"role": "user", "content": "hi"},
        ]
        answer = await sdk.chat.completions.create(model="qwen-plus", messages=asked, response_format=json_mode)
        assert isinstance(json.loads(answer.choices[0].message.content or ""), dict)  # JSON mode answers JSON


async def test_json_mode_needs_json_said_in_a_system_or_user_message(fake: FakeScope) -> None:
    """Model Studio's structured-output page: "The system message or user message must contain the
    "JSON" keyword". An assistant message saying it (an earlier answer, or partial mode's words to
    continue) does not count; the fake took the word from any message, so a prompt DashScope refuses
    passed here."""
    json_mode: ResponseFormatJSONObject = {"type": "json_object"}
    said_by_the_assistant: list[list[Any]] = [
        [
            {"role": "user", "content": "Describe tea."},
            {"role": "assistant", "content": '{"json": "tea"}'},
            {"role": "user", "content": "And coffee?"},
        ],
        [{"role": "user", "content": "Describe tea."}, {"role": "assistant", "content": '{"json": ', "partial": True}],
    ]
    async with openai.AsyncOpenAI(base_url=fake.compat_url, api_key="sk-test", max_retries=0) as sdk:
        for messages in said_by_the_assistant:
            with pytest.raises(openai.BadRequestError) as refused:
                await sdk.chat.completions.create(model="qwen-plus", messages=messages, response_format=json_mode)
            assert "'messages' must contain the word 'json'" in refused.value.message
        said = [{"role": "user", "content": "Describe tea in JSON."}, said_by_the_assistant[1][1]]
        answer = await sdk.chat.completions.create(model="qwen-plus", messages=said, response_format=json_mode)
        assert answer.choices[0].message.content
        assert await sdk.chat.completions.create(model="qwen-plus", messages=MESSAGES, response_format={"type": "text"})
