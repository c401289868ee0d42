"""A /v1 request that ends with words to continue (Qwen's partial mode) is held to the plan and the
model as any request is: the words are read by the model (DashScope bills them as input), so
admission holds them against the allowance, and a token limit past the model's own is refused as
OpenAI refuses it. Seen through the official `openai` SDK."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import httpx
import openai
import pytest
from postgrest import APIError
from supabase import AsyncClient

from fakescope.server import FakeScope
from tests.api.conftest import ApiUser
from tests.api.test_openai_compat import QUESTIONS
from tests.api.test_openai_context import asking, unique
from tests.api.test_plans import put_on_plan
from tests.conftest import fake_received

pytestmark = pytest.mark.usefixtures("worker")


def continuing(question: str, words: str) -> list[Any]:
    return [{"role": "user", "content": question}, {"role": "assistant", "content": words}]


@pytest.mark.parametrize("named", [False, True], ids=["own-context", "named-session"])
async def test_words_to_continue_past_the_allowance_are_refused_and_store_nothing(
    sdk: openai.AsyncOpenAI, pg: asyncpg.Connection, http: httpx.AsyncClient, alice: ApiUser, named: bool
) -> None:
    """The last assistant message's words are held with the question at admission, as its earlier
    messages are: a day's allowance the question alone fits in refuses long words (429
    insufficient_quota, nothing stored) and takes short ones, reserving them. They were held
    nowhere, so a user with a thousand tokens left could have a hundred thousand characters read."""
    headers = {}
    if named:
        mine = (await http.post("/api/sessions", json={"title": "words"}, headers=alice.headers)).json()["session"]
        headers = {"X-ChatGalaxy-Session": mine["id"]}
    question = unique("Go on")
    per = await pg.fetchval("select usage_reservation('qwen-turbo', $1)", question)
    await put_on_plan(pg, alice, f"words-{alice.id[:8]}", tokens_per_day=per + 1000)
    with pytest.raises(openai.RateLimitError) as refused:
        await sdk.chat.completions.create(
            model="qwen-turbo", messages=continuing(question, "y" * 2000), extra_headers=headers
        )
    assert refused.value.code == "insufficient_quota"
    assert int(refused.value.response.headers["retry-after"]) > 0
    assert await pg.fetchval(QUESTIONS, alice.id) == 0

    done = await sdk.chat.completions.create(
        model="qwen-turbo", messages=continuing(question, "y" * 400), extra_headers=headers
    )
    assert done.choices[0].message.content is not None
    assert await pg.fetchval("select reserved from usage_ledger where user_id = $1", alice.id) == per + 400


@pytest.mark.parametrize(
    "case",
    [
        ({"model": "qwen-turbo", "max_tokens": 100_000}, "max_tokens", 100_000, 16384),
        ({"model": "qwen-turbo", "max_completion_tokens": 16385}, "max_completion_tokens", 16385, 16384),
        ({"model": "role:assistant", "max_tokens": 9000, "session_model": "qwen-vl-max"}, "max_tokens", 9000, 8192),
        ({"model": "role:assistant", "max_tokens": 20000}, "max_tokens", 20000, 16384),  # LLM_MODEL's: qwen-turbo
    ],
    ids=["max_tokens", "max_completion_tokens", "role-in-a-session-of-a-model", "role-of-the-default-model"],
)
async def test_a_token_limit_past_the_models_own_is_refused_as_openai_refuses_it(
    sdk: openai.AsyncOpenAI,
    pg: asyncpg.Connection,
    http: httpx.AsyncClient,
    alice: ApiUser,
    case: tuple[dict[str, Any], str, int, int],
) -> None:
    """OpenAI refuses a max_tokens (or max_completion_tokens) past what the model writes, 400
    `invalid_value` naming the parameter and the model's limit; the worker cut it to the model's
    max_output without a word, so a client that asked for 100,000 tokens got 16,384 and a `length`
    finish it could not explain. The model is the one that will answer: the request's, else the
    named session's or the role's. Nothing is stored or reserved."""
    body, param, sent, limit = case
    extra = dict(body)
    model = extra.pop("model")
    headers = {}
    if (session_model := extra.pop("session_model", None)) is not None:
        mine = (await http.post("/api/sessions", json={"title": "limits"}, headers=alice.headers)).json()["session"]
        await pg.execute("update chat_sessions set model = $2 where id = $1::uuid", mine["id"], session_model)
        headers = {"X-ChatGalaxy-Session": mine["id"]}
    with pytest.raises(openai.BadRequestError) as refused:
        await sdk.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": unique("Long?")}],
            extra_body=extra,
            extra_headers=headers,
        )
    error = refused.value
    assert (error.status_code, error.param, error.code) == (400, param, "invalid_value")
    assert error.type == "invalid_request_error"
    assert f"{param} is too large: {sent}. This model supports at most {limit} completion tokens" in error.message
    assert await pg.fetchval(QUESTIONS, alice.id) == 0
    assert await pg.fetchval("select count(*) from usage_ledger where user_id = $1", alice.id) == 0


async def test_the_models_own_token_limit_is_taken(sdk: openai.AsyncOpenAI, fake: FakeScope) -> None:
    """max_tokens at the model's limit is asked of the model as it is."""
    question = unique("As long as you like")
    answer = await sdk.chat.completions.create(
        model="qwen-turbo", messages=[{"role": "user", "content": question}], max_tokens=16384
    )
    assert answer.choices[0].message.content
    [body] = await asking(fake, question)
    assert body["parameters"]["max_tokens"] == 16384


JSON_MODE: openai.types.shared_params.ResponseFormatJSONObject = {"type": "json_object"}


async def sent_with(fake: FakeScope, question: str) -> list[dict[str, Any]]:
    """The generation requests (native bodies) that carry `question`, oldest first."""
    return [b for b in await fake_received(fake.base_url) if "input" in b and question in json.dumps(b["input"])]


@pytest.mark.parametrize("where", ["earlier-answer", "words-to-continue"])
async def test_json_said_only_by_the_assistant_is_said_where_dashscope_reads_it(
    sdk: openai.AsyncOpenAI, fake: FakeScope, where: str
) -> None:
    """DashScope's JSON mode wants "json" in a system or user message (Model Studio's structured-output
    page); OpenAI takes it in any message. A request whose assistant messages alone say it (an earlier
    answer, or the words to continue) is answered, the worker saying it after the system prompt: an
    earlier answer saying it was sent as it was (DashScope refuses it: the answer failed), and words to
    continue saying it were refused 400, though they are among the messages."""
    question = unique("Describe tea")
    if where == "earlier-answer":
        messages: list[Any] = [
            {"role": "user", "content": "Describe coffee."},
            {"role": "assistant", "content": '{"json": "coffee"}'},
            {"role": "user", "content": question},
        ]
    else:
        messages = [{"role": "user", "content": question}, {"role": "assistant", "content": 'As json: {"'}]
    answer = await sdk.chat.completions.create(model="qwen-plus", messages=messages, response_format=JSON_MODE)
    assert answer.choices[0].finish_reason in ("stop", "length")
    [body] = await sent_with(fake, question)
    read = body["input"]["messages"]
    assert any("json" in m["content"].lower() for m in read if m["role"] in ("system", "user"))
    assert body["parameters"]["response_format"] == {"type": "json_object"}


async def test_words_to_continue_in_json_mode_are_continued_into_one_json_object(
    sdk: openai.AsyncOpenAI, fake: FakeScope
) -> None:
    """Partial mode with JSON mode: Model Studio's partial-mode page restricts partial mode to
    non-thinking mode only, and JSON mode is non-thinking too; neither page refuses the two together,
    so both are asked of the model, and the words and the continuation make one JSON object."""
    question = unique("Describe tea in JSON")
    whole = await sdk.chat.completions.create(
        model="qwen-plus", messages=[{"role": "user", "content": question}], response_format=JSON_MODE
    )
    text = whole.choices[0].message.content or ""
    words = text[:12]
    answer = await sdk.chat.completions.create(
        model="qwen-plus",
        messages=[{"role": "user", "content": question}, {"role": "assistant", "content": words}],
        response_format=JSON_MODE,
    )
    rest = answer.choices[0].message.content or ""
    assert rest == text[12:]
    assert isinstance(json.loads(words + rest), dict)
    body = (await sent_with(fake, question))[-1]
    assert body["input"]["messages"][-1] == {"role": "assistant", "content": words, "partial": True}
    assert body["parameters"]["response_format"] == {"type": "json_object"}


async def test_words_to_continue_with_web_search_are_continued_after_a_search(
    sdk: openai.AsyncOpenAI, fake: FakeScope, pg: asyncpg.Connection, alice: ApiUser
) -> None:
    """Partial mode with web search: neither Model Studio page refuses the two together, so the
    model is asked for both, the search charged as any request's."""
    question = unique("What is new in tea")
    answer = await sdk.chat.completions.create(
        model="qwen-plus",
        messages=[{"role": "user", "content": question}, {"role": "assistant", "content": "The news is"}],
        extra_body={"enable_search": True},
    )
    assert answer.choices[0].message.content
    [body] = await sent_with(fake, question)
    assert body["input"]["messages"][-1] == {"role": "assistant", "content": "The news is", "partial": True}
    assert body["parameters"]["enable_search"] is True
    charged = await pg.fetchval(
        "select l.search_calls from usage_ledger l join chat_messages q on q.id = l.message_id where q.content = $1",
        question,
    )
    assert charged == 1
    assert await pg.fetchval(QUESTIONS, alice.id) == 1


FOLDED_USE = """select p.day_used + coalesce((select sum(l.charged - l.reserved) from usage_ledger l
                                               where l.user_id = p.user_id and l.state <> 'reserved'
                                                 and not l.folded), 0)
                  from user_plans p where p.user_id = $1"""


async def test_another_answer_to_a_continued_request_holds_its_messages_and_words(
    sdk: openai.AsyncOpenAI, pg: asyncpg.Connection, rest: AsyncClient, alice: ApiUser
) -> None:
    """Another answer to a /v1 request (the web app's regenerate) reads what the first did, the
    request's earlier messages and its words to continue, and is held to the plan for them as the
    first was: admission held the question alone (2,000 tokens and its length), so near the day's
    allowance another answer read a long context and long words unheld, charged past it."""
    plan = f"again-{alice.id[:8]}"
    await put_on_plan(pg, alice, plan, tokens_per_day=10_000_000)
    question = unique("Go on again")
    earlier: list[Any] = [{"role": "user", "content": "x" * 300}, {"role": "assistant", "content": "ok"}]
    await sdk.chat.completions.create(
        model="qwen-turbo", messages=[*earlier, *continuing(question, "y" * 2000)], max_tokens=5
    )
    asked = str(await pg.fetchval("select id from chat_messages where content = $1", question))
    per = await pg.fetchval("select usage_reservation('qwen-turbo', $1)", question)
    read = 300 + 2 + 2000

    used = await pg.fetchval(FOLDED_USE, alice.id)
    await pg.execute("update plans set tokens_per_day = $2 where id = $1", plan, used + per + 1000)
    with pytest.raises(APIError) as refused:
        await rest.rpc("request_answer", {"question": asked, "answer_no": 2}).execute()
    assert refused.value.code == "QuotaExceeded"
    assert await pg.fetchval("select count(*) from chat_messages where reply_to = $1::uuid", asked) == 1

    await pg.execute("update plans set tokens_per_day = $2 where id = $1", plan, used + per + read)
    await rest.rpc("request_answer", {"question": asked, "answer_no": 2}).execute()
    held = await pg.fetchval(
        "select l.reserved from usage_ledger l join chat_messages a on a.id = l.message_id"
        " where a.reply_to = $1::uuid and a.answer_no = 2",
        asked,
    )
    assert held == per + read
