"""What the chat clients our users bring send to an OpenAI-compatible Qwen endpoint is answered, or
refused saying what cannot be done: a key that asks for what is done here anyway is taken, one that
asks for what cannot be done is `unsupported_parameter`. Read from the clients' own code:

- LobeChat's Qwen provider (lobehub/lobe-chat src/libs/model-runtime/qwen/index.ts, now
  packages/model-runtime/src/providers/qwen/index.ts): `enable_thinking: false` with
  `thinking_budget: 0` when the user switches reasoning off (`budget_tokens === 0 ? 0`), and
  `search_options.search_strategy` from QWEN_SEARCH_STRATEGY, "standard or pro".
- DashScope's compatible-mode examples, copied into many scripts: `search_options` with
  `forced_search: true, search_strategy: "pro"` (pro and standard are the names DashScope's search
  strategies had before turbo and max).
- DashScope's native keys, which scripts moved from dashscope.Generation.call keep sending:
  `result_format: "message"`, `incremental_output: true`, `vl_high_resolution_images`.
- The Node SDK has no `extra_body`: a Python example's `extra_body={...}` copied into it is sent as a
  key of that name (DashScope's web-search page: with the Node SDK those keys go at the top level).

Seen through the official `openai` SDK; what the model was sent is read from the fake."""

from __future__ import annotations

from typing import Any

import asyncpg
import openai
import pytest

from fakescope.server import FakeScope
from tests.api.conftest import ApiUser
from tests.api.test_openai_compat import QUESTIONS
from tests.api.test_openai_context import parameters_of, refusal_of, unique

pytestmark = pytest.mark.usefixtures("worker")


async def test_lobechats_reasoning_switched_off_is_answered_without_thinking(
    sdk: openai.AsyncOpenAI, fake: FakeScope
) -> None:
    """LobeChat sends `thinking_budget: 0` beside `enable_thinking: false` when reasoning is off: no
    budget for no thinking, which asks nothing more. It was refused 400 invalid_value (a budget from
    1), so a LobeChat user who switched thinking off could not ask anything."""
    question = unique("No thinking, please")
    done = await sdk.chat.completions.create(
        model="qwen-plus",
        messages=[{"role": "user", "content": question}],
        extra_body={"enable_thinking": False, "thinking_budget": 0},
    )
    assert done.choices[0].message.content
    sent = await parameters_of(fake, question)
    assert sent["enable_thinking"] is False
    assert "thinking_budget" not in sent


async def test_a_budget_of_nothing_for_thinking_is_still_refused(sdk: openai.AsyncOpenAI) -> None:
    for extra in ({"enable_thinking": True, "thinking_budget": 0}, {"thinking_budget": 0}):
        body = {"model": "qwen-plus", "messages": [{"role": "user", "content": "hi"}], **extra}
        error = await refusal_of(sdk, body)
        assert (error["param"], error["code"]) == ("thinking_budget", "invalid_value"), extra


@pytest.mark.parametrize(("asked", "sent"), [("pro", "max"), ("standard", "standard"), ("max", "max")])
async def test_dashscopes_search_strategy_pro_is_searched_as_max(
    sdk: openai.AsyncOpenAI, fake: FakeScope, asked: str, sent: str
) -> None:
    """`search_strategy: "pro"` (LobeChat's QWEN_SEARCH_STRATEGY, DashScope's compatible-mode
    examples) is the deeper search DashScope now calls `max`, and is asked as that; it was refused
    400 invalid_value, so those clients' searches failed."""
    question = unique("Search hard")
    await sdk.chat.completions.create(
        model="qwen-plus",
        messages=[{"role": "user", "content": question}],
        extra_body={"enable_search": True, "search_options": {"forced_search": True, "search_strategy": asked}},
    )
    options = (await parameters_of(fake, question))["search_options"]
    assert (options["search_strategy"], options["forced_search"]) == (sent, True)


async def test_dashscopes_keys_that_ask_for_what_is_done_here_are_taken(
    sdk: openai.AsyncOpenAI, fake: FakeScope
) -> None:
    """A message-shaped result, incremental stream chunks, images at the standard resolution and
    citations as [n] are what every answer here is: they were refused 400 unknown_parameter."""
    question = unique("Native habits")
    stream = await sdk.chat.completions.create(
        model="qwen-plus",
        messages=[{"role": "user", "content": question}],
        stream=True,
        extra_body={
            "result_format": "message",
            "incremental_output": True,
            "vl_high_resolution_images": False,
            "enable_search": True,
            "search_options": {"citation_format": "[<number>]", "enable_source": True},
        },
    )
    text = "".join([chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices])
    assert text
    sent = await parameters_of(fake, question)
    assert sent["search_options"]["citation_format"] == "[<number>]"
    assert "vl_high_resolution_images" not in sent


@pytest.mark.parametrize(
    "extra",
    [
        {"result_format": "text"},
        {"incremental_output": False},
        {"vl_high_resolution_images": True},
        {"enable_search": True, "search_options": {"citation_format": "[ref_<number>]"}},
    ],
)
async def test_dashscopes_keys_that_ask_for_what_is_not_done_here_are_refused_as_unsupported(
    sdk: openai.AsyncOpenAI, pg: asyncpg.Connection, alice: ApiUser, extra: dict[str, Any]
) -> None:
    """DashScope's own keys asking for something else (a text-shaped result, cumulative stream chunks,
    high-resolution images, another citation format) are `unsupported_parameter`, the key named:
    they were `unknown_parameter`, as if DashScope did not document them."""
    body = {"model": "qwen-plus", "messages": [{"role": "user", "content": "hi"}], **extra}
    error = await refusal_of(sdk, body)
    name = next(iter(extra)) if "search_options" not in extra else "search_options"
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", name, "unsupported_parameter")
    assert await pg.fetchval(QUESTIONS, alice.id) == 0


async def test_an_extra_body_sent_as_a_key_is_read_as_its_keys(sdk: openai.AsyncOpenAI, fake: FakeScope) -> None:
    """A Python example's `extra_body` copied into the Node SDK reaches the API as a key of that name:
    its keys are what the client asked (the Python SDK merges them so), and are read as if sent at
    the top level. It was refused 400 unknown_parameter."""
    question = unique("Think it over")
    await sdk.chat.completions.create(
        model="qwen-plus",
        messages=[{"role": "user", "content": question}],
        extra_body={"extra_body": {"enable_thinking": True, "thinking_budget": 300}},
    )
    sent = await parameters_of(fake, question)
    assert (sent["enable_thinking"], sent["thinking_budget"]) == (True, 300)


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        ({"extra_body": {"enable_thinking": True}, "enable_thinking": False}, "invalid_value"),  # said twice, apart
        ({"extra_body": ["enable_thinking"]}, "invalid_value"),
        ({"extra_body": {"max_token": 10}}, "unknown_parameter"),
    ],
)
async def test_an_extra_body_that_cannot_be_read_is_refused(
    sdk: openai.AsyncOpenAI, pg: asyncpg.Connection, alice: ApiUser, extra: dict[str, Any], code: str
) -> None:
    body = {"model": "qwen-plus", "messages": [{"role": "user", "content": "hi"}], **extra}
    error = await refusal_of(sdk, body)
    assert error["code"] == code
    assert await pg.fetchval(QUESTIONS, alice.id) == 0
