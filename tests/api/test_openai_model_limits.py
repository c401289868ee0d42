"""A /v1 request's limits are held to the model that will answer it, as OpenAI holds max_tokens to
the model's own: a question with images asked of a model without vision is answered by the vision
model (LLM_VISION_MODEL, qwen-vl-max, which writes at most 8,192 tokens), and a thinking budget is
the answering model's longest chain of thought at most (`models.max_reasoning`). Past them the
request is refused, nothing stored or reserved: the worker cut them to the model's own without a
word. Seen through the official `openai` SDK."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import openai
import pytest

from fakescope.server import FakeScope
from tests.api.conftest import ApiUser
from tests.api.test_openai_compat import QUESTIONS
from tests.api.test_openai_context import unique
from tests.api.test_openai_files import data_uri, image
from tests.conftest import fake_received

pytestmark = pytest.mark.usefixtures("worker")


def with_image(question: str) -> list[Any]:
    return [{"role": "user", "content": [{"type": "text", "text": question}, image(data_uri(64, 48))]}]


async def test_a_token_limit_past_the_vision_models_own_is_refused_for_a_question_with_images(
    sdk: openai.AsyncOpenAI, pg: asyncpg.Connection, alice: ApiUser
) -> None:
    """qwen-plus writes 32,768 tokens, but a question with images is answered by qwen-vl-max, which
    writes 8,192: 10,000 asked was cut to 8,192 without a word (a `length` finish unexplained)."""
    with pytest.raises(openai.BadRequestError) as refused:
        await sdk.chat.completions.create(
            model="qwen-plus", messages=with_image(unique("Describe it at length")), max_completion_tokens=10_000
        )
    error = refused.value
    assert (error.status_code, error.param, error.code) == (400, "max_completion_tokens", "invalid_value")
    assert "This model supports at most 8192 completion tokens, whereas you provided 10000." in error.message
    assert await pg.fetchval(QUESTIONS, alice.id) == 0
    assert await pg.fetchval("select count(*) from usage_ledger where user_id = $1", alice.id) == 0


async def test_the_vision_models_own_token_limit_is_taken(sdk: openai.AsyncOpenAI, fake: FakeScope) -> None:
    question = unique("Describe it")
    answer = await sdk.chat.completions.create(model="qwen-plus", messages=with_image(question), max_tokens=8192)
    assert answer.choices[0].message.content
    [body] = [b for b in await fake_received(fake.base_url) if question in json.dumps(b)]
    assert body["model"] == "qwen-vl-max"
    assert body["parameters"]["max_tokens"] == 8192


async def test_a_thinking_budget_past_the_models_own_is_refused(
    sdk: openai.AsyncOpenAI, pg: asyncpg.Connection, alice: ApiUser, short_thinker: str
) -> None:
    """The worker cut a budget past the model's longest chain of thought to it without a word."""
    with pytest.raises(openai.BadRequestError) as refused:
        await sdk.chat.completions.create(
            model=short_thinker,
            messages=[{"role": "user", "content": unique("Think long")}],
            extra_body={"enable_thinking": True, "thinking_budget": 2000},
        )
    error = refused.value
    assert (error.status_code, error.param, error.code) == (400, "thinking_budget", "invalid_value")
    assert "thinking_budget is too large: 2000. This model thinks at most 1000 tokens" in error.message
    assert await pg.fetchval(QUESTIONS, alice.id) == 0
    answer = await sdk.chat.completions.create(
        model=short_thinker,
        messages=[{"role": "user", "content": unique("Think a little")}],
        extra_body={"enable_thinking": True, "thinking_budget": 1000},
    )
    assert answer.choices[0].message.content
