"""What /v1/chat/completions refuses, it refuses as OpenAI's API does (the status, `param` and
`code` an OpenAI client branches on), seen through the official `openai` SDK; a refused request
stores nothing."""

from __future__ import annotations

from typing import Any

import asyncpg
import openai
import pytest

from tests.api.conftest import ApiUser
from tests.api.test_openai_compat import QUESTIONS

pytestmark = pytest.mark.usefixtures("worker")

HELLO: list[openai.types.chat.ChatCompletionMessageParam] = [{"role": "user", "content": "hello"}]


async def test_stream_options_without_a_stream_is_refused_as_openai_refuses_it(
    sdk: openai.AsyncOpenAI, pg: asyncpg.Connection, alice: ApiUser
) -> None:
    """OpenAI answers 400 `param: stream_options`, `code: null` ("only allowed when 'stream' is
    enabled"); it was accepted and answered as if nothing were asked of the stream."""
    usage: openai.types.chat.ChatCompletionStreamOptionsParam = {"include_usage": True}
    with pytest.raises(openai.BadRequestError) as unset:
        await sdk.chat.completions.create(model="qwen-turbo", messages=HELLO, stream_options=usage)
    with pytest.raises(openai.BadRequestError) as off:
        await sdk.chat.completions.create(model="qwen-turbo", messages=HELLO, stream=False, stream_options=usage)
    for refused in (unset, off):
        assert (refused.value.param, refused.value.code) == ("stream_options", None)
        assert "'stream' is enabled" in refused.value.message
    assert await pg.fetchval(QUESTIONS, alice.id) == 0
    # null is no option set: the SDK sends it for stream_options=None, and OpenAI answers
    answer = await sdk.chat.completions.create(model="qwen-turbo", messages=HELLO, stream_options=None)
    assert answer.choices[0].message.content


@pytest.mark.parametrize("n", [0, -1])
async def test_n_below_one_is_an_invalid_value_not_an_unsupported_parameter(
    sdk: openai.AsyncOpenAI, pg: asyncpg.Connection, alice: ApiUser, n: int
) -> None:
    """n must be at least 1, as for OpenAI: a value no API takes; it was refused as
    `unsupported_parameter`, as if OpenAI's API took it and ours did not."""
    with pytest.raises(openai.BadRequestError) as refused:
        await sdk.chat.completions.create(model="qwen-turbo", messages=HELLO, n=n)
    assert (refused.value.param, refused.value.code) == ("n", "invalid_value")
    with pytest.raises(openai.BadRequestError) as more:  # several choices: a real one, not taken here
        await sdk.chat.completions.create(model="qwen-turbo", messages=HELLO, n=2)
    assert (more.value.param, more.value.code) == ("n", "unsupported_parameter")
    assert await pg.fetchval(QUESTIONS, alice.id) == 0


@pytest.mark.parametrize(
    ("options", "param"),
    [("usage", "stream_options"), ([], "stream_options"), ({"include_usage": "yes"}, "stream_options.include_usage")],
)
async def test_stream_options_that_are_no_object_of_booleans_are_refused(
    sdk: openai.AsyncOpenAI, pg: asyncpg.Connection, alice: ApiUser, options: Any, param: str
) -> None:
    """OpenAI refuses a stream_options that is not an object, or an include_usage that is not a
    boolean; they were ignored, and the stream ended without the usage the client asked for."""
    with pytest.raises(openai.BadRequestError) as refused:
        await sdk.chat.completions.create(model="qwen-turbo", messages=HELLO, stream=True, stream_options=options)
    assert (refused.value.param, refused.value.code) == (param, "invalid_value")
    assert await pg.fetchval(QUESTIONS, alice.id) == 0
