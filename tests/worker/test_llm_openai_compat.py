"""OpenAICompatProvider against the fake's compatible mode, plus servers that omit usage or [DONE]."""

from __future__ import annotations

import base64
import io
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from PIL import Image

from core.settings import LlmSettings
from fakescope.server import FakeScope
from fakescope.vision import image_tokens
from worker.llm import (
    ChatMessage,
    Finished,
    GenerationParams,
    ProviderError,
    StreamEvent,
    TextDelta,
    make_provider,
    tokens,
)
from worker.llm.openai_compat import OpenAICompatProvider

MESSAGES = [ChatMessage("system", "You are a helpful assistant."), ChatMessage("user", "hi")]
PARAMS = GenerationParams(model="qwen-turbo")


@pytest.fixture(scope="module")
async def fake() -> AsyncIterator[FakeScope]:
    async with FakeScope(ttft=0, tokens_per_s=0) as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh(fake: FakeScope) -> None:
    fake.stats.reset()
    fake.plan.clear()


@pytest.fixture
async def provider(fake: FakeScope) -> AsyncIterator[OpenAICompatProvider]:
    llm = OpenAICompatProvider(
        base_url=fake.compat_url, api_key="sk-test", connect_timeout=1, read_timeout=0.5, max_connections=8
    )
    yield llm
    await llm.aclose()


async def _run(provider: OpenAICompatProvider) -> tuple[str, Finished]:
    text: list[str] = []
    final: StreamEvent | None = None
    async for event in provider.stream(MESSAGES, PARAMS):
        if isinstance(event, TextDelta):
            text.append(event.text)
        else:
            final = event
    assert isinstance(final, Finished)
    return "".join(text), final


async def _fails(provider: OpenAICompatProvider) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        await _run(provider)
    return caught.value


async def test_stream_with_usage(provider: OpenAICompatProvider, fake: FakeScope) -> None:
    text, final = await _run(provider)
    assert text.startswith("[offline model]")
    assert (final.finish_reason, final.input_tokens) == ("stop", 20)
    assert final.output_tokens == tokens.count(text)
    assert final.request_id
    assert fake.stats.completed == 1


@pytest.mark.parametrize(
    ("knobs", "code", "retryable"),
    [
        ({"fault": "invalid_key"}, "InvalidApiKey", False),
        ({"fault": "rate_quota"}, "RateLimited", True),
        ({"fault": "free_quota"}, "QuotaExhausted", False),
        ({"fault": "internal_error"}, "ServerError", True),
        ({"fault": "input_moderation"}, "ContentFiltered", False),
        ({"fault": "output_moderation", "after_chunks": 2}, "ContentFiltered", False),
        ({"fault": "truncate", "after_chunks": 2}, "IncompleteStream", True),
        ({"fault": "reset", "after_chunks": 2}, "ConnectionError", True),
        ({"fault": "stall", "after_chunks": 1}, "Timeout", True),
    ],
)
async def test_errors_are_classified(
    provider: OpenAICompatProvider, fake: FakeScope, knobs: dict[str, Any], code: str, retryable: bool
) -> None:
    fake.plan.configure({"next": [knobs]}, fake.knobs)
    error = await _fails(provider)
    assert (error.code, error.retryable) == (code, retryable)


async def test_unknown_model_is_permanent(provider: OpenAICompatProvider) -> None:
    with pytest.raises(ProviderError) as caught:
        async for _ in provider.stream(MESSAGES, GenerationParams(model="gpt-none")):
            pass
    assert (caught.value.code, caught.value.status, caught.value.retryable) == ("ModelNotFound", 404, False)


def _local_server(chunks: list[bytes]) -> httpx.MockTransport:
    """A vLLM/Ollama-like server that sends no usage and may omit [DONE]."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=b"".join(chunks))

    return httpx.MockTransport(handler)


def _local(chunks: list[bytes]) -> OpenAICompatProvider:
    return OpenAICompatProvider(
        base_url="http://local/v1",
        api_key="",
        connect_timeout=1,
        read_timeout=1,
        max_connections=1,
        transport=_local_server(chunks),
    )


async def test_missing_usage_falls_back_to_local_counts() -> None:
    chunks = [
        b'data: {"choices":[{"index":0,"delta":{"content":"Hello there"},"finish_reason":null}]}\n\n',
        b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n',
    ]
    llm = _local([*chunks, b"data: [DONE]\n\n"])
    text, final = await _run(llm)
    await llm.aclose()
    assert text == "Hello there"
    assert (final.input_tokens, final.output_tokens) == (20, tokens.count("Hello there"))


async def test_end_of_body_without_finish_reason_is_incomplete() -> None:
    llm = _local([b'data: {"choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}\n\n'])
    error = await _fails(llm)
    await llm.aclose()
    assert (error.code, error.retryable) == ("IncompleteStream", True)


async def test_vllm_style_error_body_is_classified() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"object": "error", "message": "bad temperature", "code": 400})

    llm = OpenAICompatProvider(
        base_url="http://local/v1",
        api_key="",
        connect_timeout=1,
        read_timeout=1,
        max_connections=1,
        transport=httpx.MockTransport(handler),
    )
    error = await _fails(llm)
    await llm.aclose()
    assert (error.code, error.message, error.status, error.retryable) == (
        "InvalidRequest",
        "bad temperature",
        400,
        False,
    )


async def test_factory_builds_the_compat_provider(fake: FakeScope) -> None:
    llm = make_provider(LlmSettings(provider="openai", openai_base_url=fake.compat_url, openai_api_key="sk-test"))
    try:
        assert isinstance(llm, OpenAICompatProvider)
        _, final = await _run(llm)
        assert final.finish_reason == "stop"
    finally:
        await llm.aclose()


async def test_images_go_as_image_url_parts_and_count_as_input(provider: OpenAICompatProvider, fake: FakeScope) -> None:
    """DashScope's compatible mode reads OpenAI content parts; the fake decodes the image and bills it."""
    buffer = io.BytesIO()
    Image.new("RGB", (84, 56), (10, 200, 30)).save(buffer, format="PNG")
    picture = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    question = ChatMessage("user", "what is this?", images=(picture,))
    final: Finished | None = None
    async for event in provider.stream([MESSAGES[0], question], GenerationParams(model="qwen-vl-max", multimodal=True)):
        if isinstance(event, Finished):
            final = event
    assert final is not None
    [sent] = [r["body"] for r in fake.received if r["path"].endswith("/chat/completions")][-1:]
    assert sent["messages"][1]["content"] == [
        {"type": "image_url", "image_url": {"url": picture}},
        {"type": "text", "text": "what is this?"},
    ]
    assert final.input_tokens == tokens.chat_tokens(["You are a helpful assistant.", "what is this?"]) + image_tokens(
        84, 56
    )


async def test_an_image_the_model_cannot_fetch_is_refused(provider: OpenAICompatProvider) -> None:
    question = ChatMessage("user", "and this?", images=("http://127.0.0.1:9/nothing.png",))
    with pytest.raises(ProviderError) as caught:
        async for _ in provider.stream([question], GenerationParams(model="qwen-vl-max", multimodal=True)):
            pass
    assert (caught.value.code, caught.value.retryable) == ("ImageUnreachable", False)


async def test_words_to_continue_are_continued(provider: OpenAICompatProvider) -> None:
    """The worker's partial message in compatible mode: the deltas are the rest of the question's own answer."""
    whole_answer, _ = await _run(provider)
    prefix = whole_answer[:30]
    asked = [*MESSAGES, ChatMessage("assistant", prefix, partial=True)]
    text: list[str] = []
    async for event in provider.stream(asked, PARAMS):
        if isinstance(event, TextDelta):
            text.append(event.text)
        elif isinstance(event, Finished):
            assert event.input_tokens == tokens.chat_tokens(m.content for m in asked)
    assert prefix + "".join(text) == whole_answer
