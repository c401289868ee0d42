"""A /v1 request's top-level keys are each one OpenAI's Chat Completions API documents or one of
DashScope's compatible mode that is honoured here: any other is refused as OpenAI refuses it, never
ignored, and OpenAI's parameters that change nothing here (user, metadata, store, ...) are taken,
their types checked as OpenAI checks them. Seen through the official `openai` SDK."""

from __future__ import annotations

from typing import Any

import asyncpg
import openai
import pytest

from tests.api.conftest import ApiUser
from tests.api.test_openai_compat import QUESTIONS

pytestmark = pytest.mark.usefixtures("worker")

HELLO: list[openai.types.chat.ChatCompletionMessageParam] = [{"role": "user", "content": "hello"}]


@pytest.mark.parametrize(
    "case",
    [
        ({"max_token": 10}, "max_token"),  # a typo of max_tokens: the limit it meant was not applied
        ({"enable_thinkng": True}, "enable_thinkng"),  # a typo of DashScope's enable_thinking
        ({"temprature": 0.1}, "temprature"),
    ],
)
async def test_an_unknown_parameter_is_refused_and_stores_nothing(
    sdk: openai.AsyncOpenAI, pg: asyncpg.Connection, alice: ApiUser, case: tuple[dict[str, Any], str]
) -> None:
    """OpenAI refuses a key it does not know (400, `unknown_parameter`, the key as `param`); it was
    ignored, so a misspelt max_tokens or temperature answered as if it had not been sent."""
    extra, name = case
    with pytest.raises(openai.BadRequestError) as refused:
        await sdk.chat.completions.create(model="qwen-turbo", messages=HELLO, extra_body=extra)
    assert (refused.value.type, refused.value.param, refused.value.code) == (
        "invalid_request_error",
        name,
        "unknown_parameter",
    )
    assert f"Unknown parameter: '{name}'." in refused.value.message
    assert await pg.fetchval(QUESTIONS, alice.id) == 0


async def test_openais_parameters_that_change_nothing_here_are_taken(sdk: openai.AsyncOpenAI) -> None:
    """What OpenAI's clients send besides the question (an end user's id, metadata, store, a
    service tier, a cache key, parallel tool calls without tools, a prediction) is taken."""
    answer = await sdk.chat.completions.create(
        model="qwen-turbo",
        messages=HELLO,
        user="end-user-1",
        metadata={"app": "ci"},
        store=False,
        service_tier="auto",
        extra_body={
            "safety_identifier": "u-1",
            "prompt_cache_key": "ci",
            "parallel_tool_calls": True,
            "prediction": {"type": "content", "content": "hi"},
        },
    )
    assert answer.choices[0].message.content


@pytest.mark.parametrize(
    "case",
    [
        ({"user": 42}, "user"),
        ({"metadata": "app"}, "metadata"),
        ({"store": "yes"}, "store"),
        ({"parallel_tool_calls": "no"}, "parallel_tool_calls"),
    ],
)
async def test_openais_parameters_of_the_wrong_type_are_refused_as_openai_refuses_them(
    sdk: openai.AsyncOpenAI, pg: asyncpg.Connection, alice: ApiUser, case: tuple[dict[str, Any], str]
) -> None:
    extra, name = case
    with pytest.raises(openai.BadRequestError) as refused:
        await sdk.chat.completions.create(model="qwen-turbo", messages=HELLO, extra_body=extra)
    assert (refused.value.param, refused.value.code) == (name, "invalid_type")
    assert f"Invalid type for '{name}': expected " in refused.value.message
    assert await pg.fetchval(QUESTIONS, alice.id) == 0


@pytest.mark.parametrize(
    "case",
    [
        ({"verbosity": "low"}, "verbosity"),
        ({"moderation": {"model": "omni-moderation-latest"}}, "moderation"),
    ],
)
async def test_openais_parameters_qwen_cannot_honour_are_refused_as_unsupported(
    sdk: openai.AsyncOpenAI, pg: asyncpg.Connection, alice: ApiUser, case: tuple[dict[str, Any], str]
) -> None:
    """OpenAI's own keys asking what Qwen here does not do (a verbosity other than the default, a
    moderation model run on the request) are `unsupported_parameter`, not unknown ones."""
    extra, name = case
    with pytest.raises(openai.BadRequestError) as refused:
        await sdk.chat.completions.create(model="qwen-turbo", messages=HELLO, extra_body=extra)
    assert (refused.value.param, refused.value.code) == (name, "unsupported_parameter")
    assert await pg.fetchval(QUESTIONS, alice.id) == 0


async def test_openais_cache_hints_and_the_default_verbosity_are_taken(sdk: openai.AsyncOpenAI) -> None:
    answer = await sdk.chat.completions.create(
        model="qwen-turbo",
        messages=HELLO,
        verbosity="medium",
        prompt_cache_retention="24h",
        extra_body={"prompt_cache_options": {"mode": "implicit"}},
    )
    assert answer.choices[0].message.content


async def test_max_tokens_beside_max_completion_tokens_is_checked_too(
    sdk: openai.AsyncOpenAI, pg: asyncpg.Connection, alice: ApiUser
) -> None:
    """max_completion_tokens goes over max_tokens, but a max_tokens sent beside it is still checked as
    OpenAI checks it: it was not read at all, so a string there was taken."""
    with pytest.raises(openai.BadRequestError) as refused:
        await sdk.chat.completions.create(
            model="qwen-turbo", messages=HELLO, max_completion_tokens=10, extra_body={"max_tokens": "ten"}
        )
    assert (refused.value.param, refused.value.code) == ("max_tokens", "invalid_type")
    assert await pg.fetchval(QUESTIONS, alice.id) == 0


async def test_an_unknown_parameter_set_to_null_asks_for_nothing_and_is_taken(sdk: openai.AsyncOpenAI) -> None:
    """A key sent as null asks for nothing (clients serialise unset options so), so nothing is ignored
    by taking it: only an unknown key with a value is refused."""
    answer = await sdk.chat.completions.create(
        model="qwen-turbo", messages=HELLO, extra_body={"incremental_output": None, "max_token": None}
    )
    assert answer.choices[0].message.content
