"""Qwen's partial mode (the last message an assistant one with `"partial": true`, its words the
answer continues), through the real dashscope SDK and the openai SDK in compatible mode."""

from __future__ import annotations

from typing import Any

import openai
import pytest
from dashscope import AioGeneration

from fakescope import tokens
from fakescope.server import FakeScope
from tests.fakescope.conftest import chunks, whole

QUESTION = {"role": "user", "content": "Write a haiku about tea."}


async def _whole(fake: FakeScope, messages: list[Any], **kwargs: Any) -> Any:
    return whole(
        await AioGeneration.call(
            model=kwargs.pop("model", "qwen-plus"),
            api_key="sk-test",
            base_address=fake.native_url,
            messages=messages,
            result_format="message",
            **kwargs,
        )
    )


async def _streamed(fake: FakeScope, messages: list[Any], **kwargs: Any) -> tuple[str, Any]:
    stream = await AioGeneration.call(
        model=kwargs.pop("model", "qwen-plus"),
        api_key="sk-test",
        base_address=fake.native_url,
        messages=messages,
        result_format="message",
        stream=True,
        incremental_output=True,
        **kwargs,
    )
    events = [rsp async for rsp in chunks(stream)]
    assert all(e.status_code == 200 for e in events), events[-1]
    return "".join(e.output.choices[0].message.content for e in events), events[-1].usage


def _partial(prefix: str) -> list[Any]:
    return [QUESTION, {"role": "assistant", "content": prefix, "partial": True}]


async def test_the_answer_continues_the_prefix_and_never_repeats_it(fake: FakeScope) -> None:
    """Given the first words of the answer the question gets, partial mode answers with the rest of
    it, and only the rest (prefix + reply is the whole answer); the prefix is billed as input. The
    fake answered as if `partial` were not there: the whole answer again, after the prefix."""
    full = (await _whole(fake, [QUESTION])).output.choices[0].message.content
    prefix = full[:37]  # mid-word: the continuation starts inside a token
    rsp = await _whole(fake, _partial(prefix))
    assert rsp.status_code == 200, rsp
    rest = rsp.output.choices[0].message.content
    assert prefix + rest == full
    assert rsp.output.choices[0].finish_reason == "stop"
    assert rsp.usage.input_tokens == tokens.chat_tokens([QUESTION["content"], prefix])
    assert rsp.usage.output_tokens == tokens.count(rest)
    streamed, usage = await _streamed(fake, _partial(prefix))
    assert streamed == rest
    assert (usage.input_tokens, usage.output_tokens) == (rsp.usage.input_tokens, rsp.usage.output_tokens)


async def test_other_words_get_a_deterministic_continuation_cut_by_max_tokens(fake: FakeScope) -> None:
    prefix = "Steam rises, slowly"
    first = (await _whole(fake, _partial(prefix))).output.choices[0].message.content
    again = (await _whole(fake, _partial(prefix))).output.choices[0].message.content
    assert first == again
    assert first
    assert not first.startswith(prefix)
    cut = await _whole(fake, _partial(prefix), max_tokens=3)
    assert cut.output.choices[0].finish_reason == "length"
    assert cut.usage.output_tokens == 3
    assert first.startswith(cut.output.choices[0].message.content)


@pytest.mark.parametrize(
    ("messages", "kwargs", "says"),
    [
        # `partial` anywhere but the last message, or on a last message that is not the assistant's
        (
            [{"role": "assistant", "content": "Hel", "partial": True}, QUESTION],
            {},
            "partial",
        ),
        ([{**QUESTION, "partial": True}], {}, "partial"),
        (_partial("Steam"), {"enable_thinking": True}, "thinking"),  # non-thinking mode only
        (_partial("Steam"), {"model": "qwen3-8b"}, "thinking"),  # thinks unless told not to
        (_partial("Steam"), {"model": "qwen-long"}, "qwen-long"),  # not among the docs' models
        ([QUESTION, {"role": "assistant", "content": "Steam", "partial": "yes"}], {}, "partial"),
    ],
)
async def test_partial_mode_where_dashscope_does_not_take_it_is_refused(
    fake: FakeScope, messages: list[Any], kwargs: dict[str, Any], says: str
) -> None:
    rsp = await _whole(fake, messages, **kwargs)
    assert (rsp.status_code, rsp.code) == (400, "InvalidParameter")
    assert "partial" in rsp.message.lower()
    assert says in rsp.message


async def test_partial_without_thinking_on_a_model_that_thinks_by_default_is_answered(fake: FakeScope) -> None:
    rsp = await _whole(fake, _partial("Steam"), model="qwen3-8b", enable_thinking=False)
    assert rsp.status_code == 200, rsp


async def test_compatible_mode_continues_the_prefix_and_refuses_it_with_thinking(fake: FakeScope) -> None:
    """The openai SDK sends `partial` as a key of the message; compatible mode continues it too."""
    async with openai.AsyncOpenAI(base_url=fake.compat_url, api_key="sk-test", max_retries=0) as sdk:
        whole_answer = await sdk.chat.completions.create(
            model="qwen-plus", messages=[{"role": "user", "content": QUESTION["content"]}]
        )
        full = whole_answer.choices[0].message.content or ""
        prefix = full[:20]
        asked: Any = [QUESTION, {"role": "assistant", "content": prefix, "partial": True}]
        rsp = await sdk.chat.completions.create(model="qwen-plus", messages=asked)
        assert prefix + (rsp.choices[0].message.content or "") == full
        assert rsp.usage is not None
        assert rsp.usage.prompt_tokens == tokens.chat_tokens([QUESTION["content"], prefix])
        stream = await sdk.chat.completions.create(model="qwen-plus", messages=asked, stream=True)
        streamed = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        assert prefix + streamed == full
        with pytest.raises(openai.BadRequestError) as refused:
            await sdk.chat.completions.create(model="qwen-plus", messages=asked, extra_body={"enable_thinking": True})
        assert "thinking" in str(refused.value.message)
