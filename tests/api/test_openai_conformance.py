"""What /v1/chat/completions refuses, it refuses as OpenAI's API does (the status, `param` and
`code` an OpenAI client branches on), seen through the official `openai` SDK; a refused request
stores nothing."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import httpx
import openai
import pytest

from fakescope import tokens
from fakescope.server import FakeScope
from tests.api.conftest import ApiUser
from tests.api.test_openai_compat import QUESTIONS
from tests.api.test_openai_context import parameters_of, prompt_of, unique
from tests.api.test_plans import put_on_plan
from tests.conftest import fake_received

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


@pytest.mark.parametrize(
    "case",
    [
        ({"n": 0}, "n", "integer_below_min_value"),
        ({"n": -1}, "n", "integer_below_min_value"),
        ({"n": 129}, "n", "integer_above_max_value"),
        ({"n": "2"}, "n", "invalid_type"),
        ({"max_tokens": 0}, "max_tokens", "integer_below_min_value"),
        ({"max_completion_tokens": 0}, "max_completion_tokens", "integer_below_min_value"),
        ({"max_tokens": 10.5}, "max_tokens", "invalid_type"),
        ({"max_tokens": 2_000_000}, "max_tokens", "invalid_value"),  # OpenAI's range, past the models'
        ({"temperature": 2.5}, "temperature", "decimal_above_max_value"),
        ({"temperature": -0.1}, "temperature", "decimal_below_min_value"),
        ({"temperature": "hot"}, "temperature", "invalid_type"),
        ({"top_p": 1.5}, "top_p", "decimal_above_max_value"),
        ({"top_p": 0}, "top_p", "invalid_value"),  # OpenAI's range, not DashScope's (0, 1]
        ({"presence_penalty": 2.5}, "presence_penalty", "decimal_above_max_value"),
        ({"frequency_penalty": -3}, "frequency_penalty", "decimal_below_min_value"),
        ({"top_logprobs": 21}, "top_logprobs", "integer_above_max_value"),
        ({"top_logprobs": -1}, "top_logprobs", "integer_below_min_value"),
        ({"seed": 2**31}, "seed", "invalid_value"),  # OpenAI's range, past DashScope's [0, 2^31 - 1]
    ],
)
async def test_a_number_outside_openais_range_is_refused_with_openais_code(
    sdk: openai.AsyncOpenAI, pg: asyncpg.Connection, alice: ApiUser, case: tuple[dict[str, Any], str, str]
) -> None:
    """A number past the range OpenAI's API takes is refused with the code OpenAI gives it
    (`integer_below_min_value`, `decimal_above_max_value`, ..., `invalid_type` for a string or a
    fraction where an integer goes), its `param` the one sent; one inside OpenAI's range that Qwen
    does not take is `invalid_value`, as OpenAI says of a model's own limit (max_tokens too large).
    All were `invalid_value`, and n past 128 `unsupported_parameter`, so a client branching on
    OpenAI's codes did not recognise them."""
    extra, param, code = case
    with pytest.raises(openai.BadRequestError) as refused:
        await sdk.chat.completions.create(model="qwen-turbo", messages=HELLO, extra_body=extra)
    assert (refused.value.param, refused.value.code) == (param, code)
    assert await pg.fetchval(QUESTIONS, alice.id) == 0


async def test_n_above_one_is_an_unsupported_parameter(
    sdk: openai.AsyncOpenAI, pg: asyncpg.Connection, alice: ApiUser
) -> None:
    """Several choices, in OpenAI's range: a real request, which Qwen here does not give."""
    with pytest.raises(openai.BadRequestError) as more:
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


JSON_MODE: openai.types.shared_params.ResponseFormatJSONObject = {"type": "json_object"}


async def test_json_mode_reaches_dashscope_and_answers_without_thinking(
    sdk: openai.AsyncOpenAI, fake: FakeScope, pg: asyncpg.Connection, http: httpx.AsyncClient, alice: ApiUser
) -> None:
    """`response_format: {"type": "json_object"}` is DashScope's JSON mode, which the worker now
    sends; it was refused as unsupported_parameter. DashScope takes it without thinking only: a
    session that thinks answers it with thinking off."""
    question = unique("List three colours as JSON")
    answer = await sdk.chat.completions.create(
        model="qwen-plus", messages=[{"role": "user", "content": question}], response_format=JSON_MODE
    )
    assert isinstance(json.loads(answer.choices[0].message.content or ""), dict)
    sent = await parameters_of(fake, question)
    assert sent["response_format"] == {"type": "json_object"}
    assert "enable_thinking" not in sent or sent["enable_thinking"] is False
    stored = await pg.fetchval(
        "select c.parameters from question_contexts c join chat_messages m on m.id = c.message_id where m.content = $1",
        question,
    )
    assert json.loads(stored)["response_format"] == "json_object"

    mine = (await http.post("/api/sessions", json={"title": "thinks"}, headers=alice.headers)).json()["session"]
    await pg.execute("update chat_sessions set model = 'qwen-plus', thinking = true where id = $1::uuid", mine["id"])
    thinking = unique("Name a planet in json")
    await sdk.chat.completions.create(
        model="qwen-plus",
        messages=[{"role": "user", "content": thinking}],
        response_format=JSON_MODE,
        extra_headers={"X-ChatGalaxy-Session": mine["id"]},
    )
    sent = await parameters_of(fake, thinking)
    assert (sent["response_format"], sent["enable_thinking"]) == ({"type": "json_object"}, False)
    assert "thinking_budget" not in sent


async def test_json_mode_is_refused_where_dashscope_would_refuse_it_and_stores_nothing(
    sdk: openai.AsyncOpenAI, pg: asyncpg.Connection, alice: ApiUser
) -> None:
    """Messages that never say "json": 400 `param: messages` as OpenAI answers it (DashScope would
    fail the answer); with deep thinking asked for, or a JSON schema: unsupported_parameter."""
    with pytest.raises(openai.BadRequestError) as unsaid:
        await sdk.chat.completions.create(model="qwen-plus", messages=HELLO, response_format=JSON_MODE)
    assert (unsaid.value.param, unsaid.value.code) == ("messages", None)
    assert "must contain the word 'json'" in unsaid.value.message
    asked: list[openai.types.chat.ChatCompletionMessageParam] = [{"role": "user", "content": "Say hello in JSON."}]
    with pytest.raises(openai.BadRequestError) as thinking:
        await sdk.chat.completions.create(
            model="qwen-plus", messages=asked, response_format=JSON_MODE, reasoning_effort="high"
        )
    assert (thinking.value.param, thinking.value.code) == ("response_format", "unsupported_parameter")
    schema: openai.types.shared_params.ResponseFormatJSONSchema = {
        "type": "json_schema",
        "json_schema": {"name": "greeting", "schema": {"type": "object"}},
    }
    with pytest.raises(openai.BadRequestError) as schemed:
        await sdk.chat.completions.create(model="qwen-plus", messages=asked, response_format=schema)
    assert (schemed.value.param, schemed.value.code) == ("response_format", "unsupported_parameter")
    assert await pg.fetchval(QUESTIONS, alice.id) == 0


async def test_json_mode_still_says_json_when_the_turns_that_said_it_are_left_out(
    sdk: openai.AsyncOpenAI, fake: FakeScope, pg: asyncpg.Connection, alice: ApiUser
) -> None:
    """A conversation past the model's budget loses its oldest turns; when only they said "json",
    DashScope refused the JSON-mode answer ("must contain the word 'json'") and the request failed.
    What the model reads still says it: the instruction is kept, or one is added."""
    await put_on_plan(pg, alice, f"json-{alice.id[:8]}", tokens_per_day=10_000_000)
    told: list[openai.types.chat.ChatCompletionMessageParam] = [
        {"role": "user", "content": "From now on, answer in JSON."},
        {"role": "assistant", "content": '{"answer": "ok"}'},
    ]
    # 6,000 tokens a turn (a character Qwen's tokenizer spells in 3): 24 turns are past qwen-turbo's 98,304
    filler: list[openai.types.chat.ChatCompletionMessageParam] = [
        {"role": "user", "content": f"turn {i} " + "\U00020000" * 2000}
        if i % 2 == 0
        else {"role": "assistant", "content": f"turn {i}"}
        for i in range(48)
    ]
    question = unique("And the next one?")
    answer = await sdk.chat.completions.create(
        model="qwen-turbo", messages=[*told, *filler, {"role": "user", "content": question}], response_format=JSON_MODE
    )
    assert isinstance(json.loads(answer.choices[0].message.content or ""), dict)
    sent = await prompt_of(fake, question)
    assert {"role": "assistant", "content": '{"answer": "ok"}'} not in sent  # the oldest turns were left out
    assert any("json" in m["content"].lower() for m in sent)


async def test_a_last_assistant_message_is_continued_as_qwens_partial_mode(
    sdk: openai.AsyncOpenAI, fake: FakeScope, pg: asyncpg.Connection, http: httpx.AsyncClient, alice: ApiUser
) -> None:
    """OpenAI takes a conversation that ends with the assistant's words (a prefill, a 'continue'
    button) and the model answers after them; it was refused 400. Qwen's partial mode is that: the
    last message an assistant one with `partial: true`, continued without thinking. The fake
    continues the first words of the question's own answer with the rest of it, so the answer, what
    /v1 returns and what the worker stores, is the continuation only, streamed or not."""
    question = unique("Write a haiku about tea")
    full = await sdk.chat.completions.create(model="qwen-plus", messages=[{"role": "user", "content": question}])
    whole_answer = full.choices[0].message.content or ""
    prefix, rest = whole_answer[:40], whole_answer[40:]
    asked: list[openai.types.chat.ChatCompletionMessageParam] = [
        {"role": "user", "content": question},
        {"role": "assistant", "content": prefix},
    ]
    mine = (await http.post("/api/sessions", json={"title": "thinks"}, headers=alice.headers)).json()["session"]
    await pg.execute("update chat_sessions set model = 'qwen-plus', thinking = true where id = $1::uuid", mine["id"])
    answer = await sdk.chat.completions.create(
        model="qwen-plus", messages=asked, extra_headers={"X-ChatGalaxy-Session": mine["id"]}
    )
    assert answer.choices[0].message.content == rest
    assert answer.usage is not None  # the words given are read (input), only the continuation is written
    assert answer.usage.completion_tokens == tokens.count(rest)
    assert answer.usage.prompt_tokens > (full.usage.prompt_tokens if full.usage else 0)
    streamed = await sdk.chat.completions.create(model="qwen-plus", messages=asked, stream=True)
    assert "".join([c.choices[0].delta.content or "" async for c in streamed if c.choices]) == rest
    stored = await pg.fetch(
        "select a.content from chat_messages a join chat_messages q on q.id = a.reply_to"
        " where q.content = $1 and q.user_id = $2 order by a.created_at",
        question,
        alice.id,
    )
    assert [r["content"] for r in stored] == [whole_answer, rest, rest]
    bodies = [b for b in await fake_received(fake.base_url) if question in json.dumps(b.get("input"))]
    sent = bodies[1]["input"]["messages"]
    assert sent[-2:] == [
        {"role": "user", "content": question},
        {"role": "assistant", "content": prefix, "partial": True},
    ]
    assert bodies[1]["parameters"].get("enable_thinking") is False  # partial mode is non-thinking only
    stored_parameters = await pg.fetch(
        "select c.parameters from question_contexts c join chat_messages m on m.id = c.message_id where m.content = $1",
        question,
    )
    # another answer to it continues the same words
    prefixes = [json.loads(r["parameters"]).get("prefix") for r in stored_parameters]
    assert sorted(prefixes, key=str) == [None, prefix, prefix]


@pytest.mark.parametrize(
    "case",
    [
        ([{"role": "system", "content": "Be brief."}, {"role": "assistant", "content": "Hi"}], {}, "messages", None),
        (
            [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hel"}],
            {"reasoning_effort": "high"},
            "messages",
            "unsupported_value",
        ),
    ],
)
async def test_a_last_assistant_message_qwen_cannot_continue_is_refused_and_stores_nothing(
    sdk: openai.AsyncOpenAI, pg: asyncpg.Connection, alice: ApiUser, case: tuple[Any, dict[str, Any], str, str | None]
) -> None:
    """Words to continue need a user message before them; and Qwen continues them without thinking only."""
    messages, extra, param, code = case
    with pytest.raises(openai.BadRequestError) as refused:
        await sdk.chat.completions.create(model="qwen-plus", messages=messages, extra_body=extra)
    assert (refused.value.param, refused.value.code) == (param, code)
    assert await pg.fetchval(QUESTIONS, alice.id) == 0


async def test_every_model_continues_a_last_assistant_message(sdk: openai.AsyncOpenAI, pg: asyncpg.Connection) -> None:
    """Each model the catalog offers takes partial mode as the worker sends it (its endpoint, its
    thinking switch said off): the answer is the rest of the question's own answer."""
    for model in await pg.fetchval("select array_agg(id order by sort_order) from models where is_active"):
        question = unique(f"Describe tea, {model}")
        first = await sdk.chat.completions.create(model=model, messages=[{"role": "user", "content": question}])
        whole_answer = first.choices[0].message.content or ""
        asked: list[openai.types.chat.ChatCompletionMessageParam] = [
            {"role": "user", "content": question},
            {"role": "assistant", "content": whole_answer[:25]},
        ]
        answer = await sdk.chat.completions.create(model=model, messages=asked)
        assert (model, answer.choices[0].message.content) == (model, whole_answer[25:])


async def test_a_continued_answer_is_read_back_whole_in_its_sessions_next_turn(
    sdk: openai.AsyncOpenAI, fake: FakeScope, http: httpx.AsyncClient, alice: ApiUser
) -> None:
    """The next question of a named session reads the continued turn as the assistant said it: the
    words it was given and their continuation, not the continuation alone."""
    mine = (await http.post("/api/sessions", json={"title": "web"}, headers=alice.headers)).json()["session"]
    header = {"X-ChatGalaxy-Session": mine["id"]}
    first, second = unique("Name a tea"), unique("Which tea?")
    prefix = "My pick is oolong, because"
    told = await sdk.chat.completions.create(
        model="qwen-turbo",
        messages=[{"role": "user", "content": first}, {"role": "assistant", "content": prefix}],
        extra_headers=header,
    )
    await sdk.chat.completions.create(
        model="qwen-turbo", messages=[{"role": "user", "content": second}], extra_headers=header
    )
    messages = await prompt_of(fake, second)
    assert messages[1:] == [
        {"role": "user", "content": first},
        {"role": "assistant", "content": prefix + (told.choices[0].message.content or "")},
        {"role": "user", "content": second},
    ]
