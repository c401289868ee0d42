"""The chat clients our users point at /v1 ask for thinking in their own shapes, and send the
sampling options of other backends: each shape a peer really sends is read as the DashScope keys it
means, or refused with a message that says what to send instead. One test per peer, each naming
the peer's source read (its body built for an OpenAI-compatible provider):

- LobeChat: packages/model-runtime/src/core/openaiCompatibleFactory/index.ts spreads the chat
  payload (packages/model-runtime/src/types/chat.ts ChatStreamPayload) into the request beside
  `user` and `stream_options: {include_usage: true}`; src/services/chat/mecha/modelParamsResolver.ts
  adds `thinking: {type, budget_tokens}` for a model whose card has reasoning switches, as a qwen
  id's card has (packages/model-runtime/src/utils/modelParse.ts detects the owner by the id). Only
  its own Qwen provider (providers/qwen/index.ts) turns it into enable_thinking / thinking_budget.
- Cherry Studio: src/renderer/src/aiCore/utils/reasoning.ts getReasoningEffort sends OpenRouter's
  `reasoning: {effort}`, `{enabled: true}`, or `{enabled: false, exclude: true}` when thinking is off.
- Open WebUI: backend/open_webui/utils/middleware.py apply_params_to_form_data copies every advanced
  parameter set (Ollama's among them: min_p, repeat_penalty, mirostat, ...) into an OpenAI
  connection's body; backend/open_webui/utils/payload.py maps reasoning_effort as a string.
- The official `openai` SDK: types/shared/reasoning_effort.py, none to xhigh and max.
- Chatbox: src/shared/models/openai-compatible.ts lists `{apiHost}/models` (reading `data[].id`)
  and asks through the AI SDK's openai-compatible provider with temperature, top_p, max_tokens.
- Scripts written against a local Qwen: Qwen's vLLM and SGLang deployment pages switch thinking with
  `chat_template_kwargs: {enable_thinking}` (quoted in QwenLM/Qwen3 discussion #1300), and vLLM's
  StreamOptions (vllm/entrypoints/openai/protocol.py) adds `continuous_usage_stats`.

Seen through the official `openai` SDK; what the model was asked is read from the fake."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import openai
import pytest

from fakescope.server import FakeScope
from tests.api.conftest import ApiUser
from tests.api.test_openai_compat import QUESTIONS
from tests.api.test_openai_context import parameters_of, refusal_of, unique

pytestmark = pytest.mark.usefixtures("worker")


def thought(sent: dict[str, Any]) -> tuple[Any, Any]:
    return sent.get("enable_thinking"), sent.get("thinking_budget")


@pytest.mark.parametrize(
    ("thinking", "expected"),
    [
        ({"type": "enabled", "budget_tokens": 1024}, (True, 1024)),  # reasoning on, LobeChat's default budget
        ({"type": "disabled", "budget_tokens": 0}, (False, None)),  # reasoning switched off
    ],
)
async def test_lobechats_thinking_switch_is_asked_as_dashscopes(
    sdk: openai.AsyncOpenAI, fake: FakeScope, thinking: dict[str, Any], expected: tuple[Any, Any]
) -> None:
    """LobeChat's request through a custom OpenAI-compatible provider (openaiCompatibleFactory/index.ts,
    modelParamsResolver.ts): its defaults, its user id, include_usage, and the thinking switch of a
    qwen model's card, as LobeChat's Qwen provider reads it (enable_thinking is thinking.type
    "enabled", the budget its budget_tokens). It was refused 400 unknown_parameter 'thinking', so
    every question a LobeChat user asked qwen-plus here failed, thinking on or off."""
    question = unique("LobeChat asks")
    stream = await sdk.chat.completions.create(
        model="qwen-plus",
        messages=[{"role": "user", "content": question}],
        stream=True,
        stream_options={"include_usage": True},
        frequency_penalty=0,
        presence_penalty=0,
        temperature=1,
        top_p=1,
        user="lobe-user-1",
        extra_body={"thinking": thinking},
    )
    chunks = [chunk async for chunk in stream]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert chunks[-1].usage is not None
    assert thought(await parameters_of(fake, question)) == expected


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"thinking": {"type": "adaptive"}}, "thinking"),
        ({"thinking": "enabled"}, "thinking"),
        ({"thinking": {"type": "enabled", "budget_tokens": 100_000}}, "thinking"),
        ({"thinking": {"type": "enabled"}, "enable_thinking": False}, "thinking"),  # said twice, apart
    ],
)
async def test_a_thinking_switch_that_cannot_be_read_is_refused_saying_why(
    sdk: openai.AsyncOpenAI, pg: asyncpg.Connection, alice: ApiUser, extra: dict[str, Any], param: str
) -> None:
    body = {"model": "qwen-plus", "messages": [{"role": "user", "content": "hi"}], **extra}
    error = await refusal_of(sdk, body)
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", param, "invalid_value")
    assert "thinking" in error["message"]
    assert await pg.fetchval(QUESTIONS, alice.id) == 0


@pytest.mark.parametrize(
    ("reasoning", "expected"),
    [
        ({"effort": "high"}, (True, 4096)),  # an effort, as reasoning_effort
        ({"enabled": True}, (True, None)),  # thinking, no budget of its own
        ({"max_tokens": 2000}, (True, 2000)),  # a budget
        ({"enabled": False, "exclude": True}, (False, None)),  # thinking off: nothing to leave out
        ({"effort": "none"}, (False, None)),
    ],
)
async def test_cherry_studios_reasoning_object_is_asked_as_dashscopes(
    sdk: openai.AsyncOpenAI, fake: FakeScope, reasoning: dict[str, Any], expected: tuple[Any, Any]
) -> None:
    """Cherry Studio (aiCore/utils/reasoning.ts getReasoningEffort) sends OpenRouter's `reasoning`
    object: an effort, `enabled`, a budget as `max_tokens`, or `{enabled: false, exclude: true}` for
    thinking off. It was refused 400 unknown_parameter 'reasoning'."""
    question = unique("Cherry asks")
    await sdk.chat.completions.create(
        model="qwen-plus", messages=[{"role": "user", "content": question}], extra_body={"reasoning": reasoning}
    )
    assert thought(await parameters_of(fake, question)) == expected


@pytest.mark.parametrize(
    ("reasoning", "code"),
    [
        ({"effort": "high", "exclude": True}, "unsupported_parameter"),  # thinking, its reasoning hidden
        ({"effort": "high", "summary": "auto"}, "unsupported_parameter"),  # a summary, not the reasoning
        ({"effort": "hard"}, "invalid_value"),
        ({"max_tokens": 0}, "invalid_value"),
        (["high"], "invalid_value"),
    ],
)
async def test_a_reasoning_object_asking_what_is_not_done_here_is_refused(
    sdk: openai.AsyncOpenAI, pg: asyncpg.Connection, alice: ApiUser, reasoning: Any, code: str
) -> None:
    """A thinking answer's reasoning always comes back whole (reasoning_content): asked to leave it
    out or to summarise it, the request is refused rather than answered otherwise than asked."""
    body = {"model": "qwen-plus", "messages": [{"role": "user", "content": "hi"}], "reasoning": reasoning}
    error = await refusal_of(sdk, body)
    assert (error["param"], error["code"]) == ("reasoning", code)
    assert await pg.fetchval(QUESTIONS, alice.id) == 0


async def test_a_reasoning_effort_said_twice_apart_is_refused(sdk: openai.AsyncOpenAI) -> None:
    """As OpenRouter refuses it: reasoning_effort and reasoning.effort may not differ."""
    body = {
        "model": "qwen-plus",
        "messages": [{"role": "user", "content": "hi"}],
        "reasoning_effort": "low",
        "reasoning": {"effort": "high"},
    }
    error = await refusal_of(sdk, body)
    assert (error["param"], error["code"]) == ("reasoning", "invalid_value")


@pytest.mark.parametrize(("effort", "expected"), [("xhigh", (True, 8192)), ("max", (True, None))])
async def test_the_openai_sdks_highest_reasoning_efforts_are_asked(
    sdk: openai.AsyncOpenAI, fake: FakeScope, effort: Any, expected: tuple[Any, Any]
) -> None:
    """The SDK's ReasoningEffort (types/shared/reasoning_effort.py) goes past high: xhigh thinks with
    twice high's budget, max with no budget but the model's own longest. Both were refused 400
    invalid_value, "must be one of none, minimal, low, medium, high"."""
    question = unique("Think hardest")
    await sdk.chat.completions.create(
        model="qwen-plus", messages=[{"role": "user", "content": question}], reasoning_effort=effort
    )
    assert thought(await parameters_of(fake, question)) == expected


@pytest.mark.parametrize(
    "case",
    [
        ("min_p", 0.05, "top_p"),
        ("repeat_penalty", 1.1, "repetition_penalty"),
        ("mirostat", 1, "advanced param"),
        ("num_ctx", 8192, "advanced param"),
        ("num_predict", 128, "max_tokens"),
        ("think", True, "enable_thinking"),
    ],
)
async def test_open_webuis_ollama_options_are_refused_saying_what_to_send(
    sdk: openai.AsyncOpenAI, pg: asyncpg.Connection, alice: ApiUser, case: tuple[str, Any, str]
) -> None:
    """Open WebUI (utils/middleware.py apply_params_to_form_data) sends every advanced parameter set,
    Ollama's too, to an OpenAI connection, beside what is honoured here (top_k, an empty logit_bias).
    A key Qwen has no counterpart for stays `unknown_parameter`, as OpenAI would refuse it, but its
    message says what to send or clear: it said only "Unknown parameter: 'min_p'."."""
    name, value, says = case
    with pytest.raises(openai.BadRequestError) as refused:
        await sdk.chat.completions.create(
            model="qwen-plus",
            messages=[{"role": "user", "content": "hi"}],
            temperature=0.8,
            extra_body={"top_k": 40, "logit_bias": {}, name: value},
        )
    assert (refused.value.param, refused.value.code) == (name, "unknown_parameter")
    assert f"Unknown parameter: '{name}'. " in refused.value.message
    assert says in refused.value.message
    assert await pg.fetchval(QUESTIONS, alice.id) == 0


async def test_open_webuis_own_options_are_answered(sdk: openai.AsyncOpenAI, fake: FakeScope) -> None:
    """What Open WebUI sends for its OpenAI connection's advanced parameters that Qwen honours:
    top_k, seed, stop as a list, reasoning_effort, an empty logit_bias (payload.py casts them)."""
    question = unique("Open WebUI asks")
    await sdk.chat.completions.create(
        model="qwen-plus",
        messages=[{"role": "user", "content": question}],
        temperature=0.8,
        max_tokens=256,
        seed=42,
        stop=["\n\n\n"],
        reasoning_effort="low",
        logit_bias={},
        extra_body={"top_k": 40},
    )
    sent = await parameters_of(fake, question)
    assert (sent["top_k"], sent["seed"], sent["max_tokens"]) == (40, 42, 256)
    assert thought(sent) == (True, 1024)


@pytest.mark.parametrize("effort", ["medium", "high", "auto"])
async def test_cherry_studios_budget_past_the_longest_thought_is_refused_saying_what_to_do(
    sdk: openai.AsyncOpenAI, pg: asyncpg.Connection, alice: ApiUser, effort: str
) -> None:
    """Cherry Studio sets a Qwen model's thinking_budget from its effort (reasoning.ts: the model's
    longest thought times 0.5, 0.8 or 2, from config/models THINKING_TOKEN_MAP, 81,920 for qwen-plus),
    past the 38,912 any model here thinks. It is refused, as any budget past that is, but the message
    said only "thinking_budget must be an integer from 1 to 38912.", a key the user never set: it
    says now how much may be asked and that a lower effort asks less."""
    budget = {"medium": 40_960, "high": 65_536, "auto": 163_840}[effort]
    with pytest.raises(openai.BadRequestError) as refused:
        await sdk.chat.completions.create(
            model="qwen-plus",
            messages=[{"role": "user", "content": "hi"}],
            extra_body={"enable_thinking": True, "thinking_budget": budget},
        )
    assert (refused.value.param, refused.value.code) == ("thinking_budget", "invalid_value")
    assert f"thinking_budget is too large: {budget}." in refused.value.message
    assert "at most 38912" in refused.value.message
    assert "lower reasoning effort" in refused.value.message
    assert await pg.fetchval(QUESTIONS, alice.id) == 0


async def test_chatboxs_model_list_and_question_are_answered(sdk: openai.AsyncOpenAI, fake: FakeScope) -> None:
    """Chatbox (src/shared/models/openai-compatible.ts): its model list read from `/models` (`data`
    of ids, `object: "list"`), then a streamed question with its call settings, the user's text as a
    content part, as the AI SDK sends it; the answer streams as OpenAI's chunks."""
    question = unique("Chatbox asks")
    async with httpx.AsyncClient(base_url=str(sdk.base_url), trust_env=False, timeout=60) as client:
        headers = {"Authorization": f"Bearer {sdk.api_key}"}
        listed = (await client.get("models", headers=headers)).json()
        assert listed["object"] == "list"
        assert "qwen-plus" in [m["id"] for m in listed["data"]]
        body = {
            "model": "qwen-plus",
            "messages": [
                {"role": "system", "content": "You are a helpful assistant."},
                {"role": "user", "content": [{"type": "text", "text": question}]},
            ],
            "temperature": 0.7,
            "top_p": 1,
            "max_tokens": 512,
            "stream": True,
        }
        async with client.stream("POST", "chat/completions", json=body, headers=headers) as response:
            assert response.status_code == 200
            lines = [line async for line in response.aiter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    sent = await parameters_of(fake, question)
    assert (sent["temperature"], sent["top_p"], sent["max_tokens"]) == (0.7, 1, 512)


@pytest.mark.parametrize("on", [False, True])
async def test_qwens_vllm_thinking_switch_is_asked_as_dashscopes(
    sdk: openai.AsyncOpenAI, fake: FakeScope, on: bool
) -> None:
    """Qwen's own deployment pages for vLLM and SGLang switch Qwen3's thinking with its chat
    template's argument, `extra_body={"chat_template_kwargs": {"enable_thinking": False}}`
    (qwen.readthedocs.io deployment/vllm.html, quoted in QwenLM/Qwen3 discussion #1300), and so does
    every script written against a local Qwen: it is DashScope's enable_thinking. It was refused
    400 unknown_parameter, so such a script moved here failed on its first call."""
    question = unique("Local habits")
    await sdk.chat.completions.create(
        model="qwen-plus",
        messages=[{"role": "user", "content": question}],
        extra_body={"top_k": 20, "chat_template_kwargs": {"enable_thinking": on}},
    )
    assert thought(await parameters_of(fake, question))[0] is on


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"preserve_thinking": True}, "unsupported_parameter"),
        ({"enable_thinking": "no"}, "invalid_value"),
        ("x", "invalid_value"),
    ],
)
async def test_another_chat_template_argument_is_refused(
    sdk: openai.AsyncOpenAI, pg: asyncpg.Connection, alice: ApiUser, kwargs: Any, code: str
) -> None:
    """The chat template here is DashScope's: an argument of another (a local template's) is not
    read, and refused rather than ignored."""
    body = {"model": "qwen-plus", "messages": [{"role": "user", "content": "hi"}], "chat_template_kwargs": kwargs}
    error = await refusal_of(sdk, body)
    assert (error["param"], error["code"]) == ("chat_template_kwargs", code)
    assert await pg.fetchval(QUESTIONS, alice.id) == 0


async def test_the_openai_sdks_obfuscation_switch_is_taken(sdk: openai.AsyncOpenAI) -> None:
    """stream_options.include_obfuscation (the SDK's ChatCompletionStreamOptionsParam) pads chunks
    against length side channels; chunks here carry no padding either way, as the default has none."""
    for padded in (False, True):
        stream = await sdk.chat.completions.create(
            model="qwen-turbo",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            stream_options={"include_usage": True, "include_obfuscation": padded},
        )
        assert [chunk async for chunk in stream][-1].usage is not None


@pytest.mark.parametrize(
    ("options", "code"),
    [
        ({"include_usage": True, "continuous_usage_stats": True}, "unsupported_parameter"),
        ({"include_obfuscation": "no"}, "invalid_value"),
    ],
)
async def test_vllms_stream_option_is_refused_not_ignored(
    sdk: openai.AsyncOpenAI, pg: asyncpg.Connection, alice: ApiUser, options: dict[str, Any], code: str
) -> None:
    """vLLM's StreamOptions (vllm/entrypoints/openai/protocol.py) adds continuous_usage_stats, usage
    in every chunk, which clients written against a local Qwen send: usage comes here in one chunk
    at the end, so it is refused saying so. Any key of stream_options but OpenAI's was ignored, the
    client waiting for usage that never came in the chunks it read it from."""
    body = {
        "model": "qwen-turbo",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
        "stream_options": options,
    }
    error = await refusal_of(sdk, body)
    assert (error["param"], error["code"]) == ("stream_options", code)
    assert await pg.fetchval(QUESTIONS, alice.id) == 0


@pytest.mark.parametrize(
    "case",
    [
        ({"thinking": {"type": "enabled", "budget_tokens": 2000}}, "thinking", "thinking.budget_tokens is too large"),
        ({"reasoning": {"max_tokens": 2000}}, "reasoning", "reasoning.max_tokens is too large"),
        ({"reasoning": {"effort": "high"}}, "reasoning", "reasoning.effort asks for: choose a lower reasoning effort"),
        (
            {"reasoning_effort": "high"},
            "reasoning_effort",
            "reasoning_effort asks for: choose a lower reasoning effort",
        ),
        ({"enable_thinking": True, "thinking_budget": 2000}, "thinking_budget", "thinking_budget is too large"),
    ],
)
async def test_a_peers_budget_past_the_models_own_is_refused_naming_what_the_peer_sent(
    sdk: openai.AsyncOpenAI,
    pg: asyncpg.Connection,
    alice: ApiUser,
    short_thinker: str,
    case: tuple[dict[str, Any], str, str],
) -> None:
    """Admission refuses a budget past the answering model's longest thought (ThinkingBudgetTooLarge);
    asked as LobeChat's thinking, Cherry Studio's reasoning or an effort, the refusal named
    thinking_budget, a key the client never sent, and for an effort said nothing of lowering it."""
    extra, param, says = case
    body = {"model": short_thinker, "messages": [{"role": "user", "content": unique("Think long")}], **extra}
    error = await refusal_of(sdk, body)
    assert (error["param"], error["code"]) == (param, "invalid_value")
    assert "This model thinks at most 1000 tokens" in error["message"]
    assert says in error["message"]
    assert await pg.fetchval(QUESTIONS, alice.id) == 0
