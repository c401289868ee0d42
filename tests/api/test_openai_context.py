"""An OpenAI-compatible request is answered from the messages it sends, as OpenAI's API answers it:
its system messages and earlier turns reach the model, and nothing of the key's other requests
does. A request that names a session continues that stored conversation instead. What the model
received is read from the fake's `GET /_fake/requests`."""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg
import httpx
import openai
import pytest
from supabase import AsyncClient

from api.compat.request import MAX_CONTEXT_CHARS
from fakescope.server import FakeScope
from tests.api.conftest import ApiUser, until
from tests.api.test_openai_compat import QUESTIONS
from tests.api.test_plans import put_on_plan
from tests.conftest import fake_received
from worker.claim_prompt import DEFAULT_SYSTEM_PROMPT

pytestmark = pytest.mark.usefixtures("worker")


async def asking(fake: FakeScope, question: str) -> list[dict[str, Any]]:
    """The generation requests (native bodies) whose last message is `question`, oldest first."""
    bodies = [b for b in await fake_received(fake.base_url) if "input" in b]
    return [b for b in bodies if b["input"]["messages"][-1]["content"] == question]


async def prompt_of(fake: FakeScope, question: str) -> list[dict[str, Any]]:
    """The messages of the one generation request whose last message is `question`."""
    [body] = await asking(fake, question)
    return list(body["input"]["messages"])


def unique(text: str) -> str:
    return f"{text} {uuid.uuid4().hex[:8]}"


async def refusal_of(sdk: openai.AsyncOpenAI, body: dict[str, Any]) -> dict[str, Any]:
    """`body` posted to /v1/chat/completions with the SDK's key, as any client may send it: the
    error object of the 400 it must get."""
    async with httpx.AsyncClient(base_url=str(sdk.base_url), trust_env=False, timeout=30) as client:
        response = await client.post("chat/completions", json=body, headers={"Authorization": f"Bearer {sdk.api_key}"})
    assert response.status_code == 400, response.text
    return dict(response.json()["error"])


async def completed_answer(pg: asyncpg.Connection, question: str) -> str:
    """The completed answer to the question whose text is `question`, once there is one."""

    async def answered() -> object:
        return await pg.fetchval(
            "select a.content from chat_messages a join chat_messages q on q.id = a.reply_to"
            " where q.content = $1 and a.status = 'completed'",
            question,
        )

    return str(await until(answered))


async def test_each_request_is_answered_from_its_own_messages_and_nothing_else(
    sdk: openai.AsyncOpenAI, fake: FakeScope, pg: asyncpg.Connection, alice: ApiUser
) -> None:
    first, earlier, second = unique("Translate: bonjour"), unique("What is 2 + 2?"), unique("And times 3?")
    await sdk.chat.completions.create(
        model="qwen-turbo",
        messages=[{"role": "system", "content": "You translate into English."}, {"role": "user", "content": first}],
    )
    done = await sdk.chat.completions.create(
        model="qwen-turbo",
        messages=[
            {"role": "developer", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": earlier}]},
            {"role": "assistant", "content": "4"},
            {"role": "user", "content": second},
        ],
    )
    assert done.choices[0].message.content

    assert await prompt_of(fake, first) == [
        {"role": "system", "content": "You translate into English."},
        {"role": "user", "content": first},
    ]
    # the key's earlier request of the day is not in it: this request's own turns are
    assert await prompt_of(fake, second) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": earlier},
        {"role": "assistant", "content": "4"},
        {"role": "user", "content": second},
    ]
    stored = await pg.fetch(
        "select q.content, q.parent_id, q.session_id, c.messages::text as context from chat_messages q"
        " left join question_contexts c on c.message_id = q.id"
        " where q.user_id = $1 and q.message_type = 'user' order by q.created_at",
        alice.id,
    )
    assert [r["content"] for r in stored] == [first, second]
    assert [r["parent_id"] for r in stored] == [None, None]  # each a conversation of its own
    assert stored[0]["session_id"] == stored[1]["session_id"]  # in the key's session of the day
    assert stored[0]["context"] == json.dumps([{"role": "system", "content": "You translate into English."}])
    assert json.loads(stored[1]["context"])[1] == {"role": "user", "content": earlier}
    answer = await pg.fetchval(
        "select content from chat_messages where reply_to = (select id from chat_messages where content = $1)", second
    )
    assert answer == done.choices[0].message.content


async def test_a_request_without_a_system_message_gets_none_of_the_sessions_persona(
    sdk: openai.AsyncOpenAI, fake: FakeScope
) -> None:
    question = unique("Hello there")
    await sdk.chat.completions.create(model="qwen-turbo", messages=[{"role": "user", "content": question}])
    assert await prompt_of(fake, question) == [
        {"role": "system", "content": DEFAULT_SYSTEM_PROMPT},
        {"role": "user", "content": question},
    ]


async def test_a_named_role_keeps_its_prompt_and_the_requests_system_message_follows(
    sdk: openai.AsyncOpenAI, fake: FakeScope, pg: asyncpg.Connection
) -> None:
    question = unique("Explain TCP")
    await sdk.chat.completions.create(
        model="role:tech_expert",
        messages=[{"role": "system", "content": "Answer in French."}, {"role": "user", "content": question}],
    )
    persona = await pg.fetchval("select system_prompt from ai_roles where slug = 'tech_expert' and created_by is null")
    [system, asked] = await prompt_of(fake, question)
    assert system == {"role": "system", "content": f"{persona}\n\nAnswer in French."}
    assert asked == {"role": "user", "content": question}


async def test_a_named_session_continues_its_stored_conversation(
    sdk: openai.AsyncOpenAI, fake: FakeScope, http: httpx.AsyncClient, alice: ApiUser
) -> None:
    mine = (await http.post("/api/sessions", json={"title": "web"}, headers=alice.headers)).json()["session"]
    header = {"X-ChatGalaxy-Session": mine["id"]}
    first, second = unique("Remember the word teal"), unique("Which word?")
    told = await sdk.chat.completions.create(
        model="qwen-turbo", messages=[{"role": "user", "content": first}], extra_headers=header
    )
    await sdk.chat.completions.create(
        model="qwen-turbo",
        messages=[{"role": "user", "content": "not stored, not sent"}, {"role": "user", "content": second}],
        extra_headers=header,
    )
    messages = await prompt_of(fake, second)
    assert messages[1:] == [
        {"role": "user", "content": first},
        {"role": "assistant", "content": told.choices[0].message.content},
        {"role": "user", "content": second},
    ]


async def test_a_conversation_longer_than_the_rest_of_the_apis_bodies_is_answered(
    sdk: openai.AsyncOpenAI, fake: FakeScope
) -> None:
    """The rest of the API takes 64 KiB bodies; a client sends its whole conversation every time."""
    turns: list[Any] = [
        {"role": "user" if i % 2 == 0 else "assistant", "content": f"turn {i} " + "x" * 2000} for i in range(60)
    ]
    question = unique("Summarise")
    done = await sdk.chat.completions.create(
        model="qwen-plus", messages=[*turns, {"role": "user", "content": question}]
    )
    assert done.choices[0].finish_reason == "stop"
    assert (await prompt_of(fake, question))[-2] == turns[-1]  # the newest turns fit the model's budget


@pytest.mark.parametrize(
    ("messages", "code"),
    [
        (
            [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/cat.png"}}]}],
            "unsupported_content",
        ),
        (
            [{"role": "user", "content": "hi"}, {"role": "tool", "content": "42", "tool_call_id": "t"}],
            "unsupported_role",
        ),
        (
            [{"role": "assistant", "content": None, "tool_calls": [{"id": "t"}]}, {"role": "user", "content": "hi"}],
            "unsupported_role",
        ),
        ([{"role": "narrator", "content": "x"}, {"role": "user", "content": "hi"}], "invalid_role"),
        ([{"role": "system", "content": "x\x00"}, {"role": "user", "content": "hi"}], None),
        (
            [{"role": "user", "content": "x" * (MAX_CONTEXT_CHARS + 1)}, {"role": "user", "content": "hi"}],
            "context_length_exceeded",
        ),
    ],
)
async def test_what_the_api_cannot_send_on_is_refused_and_stores_nothing(
    sdk: openai.AsyncOpenAI, pg: asyncpg.Connection, alice: ApiUser, messages: Any, code: str | None
) -> None:
    error = await refusal_of(sdk, {"model": "qwen-turbo", "messages": messages})
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", "messages", code)
    assert error["message"]
    assert await pg.fetchval(QUESTIONS, alice.id) == 0


async def test_a_context_past_the_allowance_is_refused_and_stores_nothing(
    sdk: openai.AsyncOpenAI, pg: asyncpg.Connection, alice: ApiUser
) -> None:
    """The request's earlier messages are held with its question at admission: a day's allowance that
    the question alone fits in refuses a long context (429 insufficient_quota), and takes a short one."""
    question = unique("Summarise the above")
    per = await pg.fetchval("select usage_reservation('qwen-turbo', $1)", question)
    await put_on_plan(pg, alice, f"ctx-{alice.id[:8]}", tokens_per_day=per + 1000)
    earlier: list[Any] = [{"role": "user", "content": "x" * 2000}, {"role": "assistant", "content": "ok"}]
    with pytest.raises(openai.RateLimitError) as refused:
        await sdk.chat.completions.create(
            model="qwen-turbo", messages=[*earlier, {"role": "user", "content": question}]
        )
    assert refused.value.code == "insufficient_quota"
    assert int(refused.value.response.headers["retry-after"]) > 0
    assert await pg.fetchval(QUESTIONS, alice.id) == 0

    earlier[0]["content"] = "x" * 400
    done = await sdk.chat.completions.create(
        model="qwen-turbo", messages=[*earlier, {"role": "user", "content": question}]
    )
    assert done.choices[0].message.content
    assert await pg.fetchval("select reserved from usage_ledger where user_id = $1", alice.id) == per + 402


async def test_the_account_export_carries_each_questions_context(
    sdk: openai.AsyncOpenAI, http: httpx.AsyncClient, alice: ApiUser
) -> None:
    question = unique("Exported?")
    earlier: list[Any] = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "before"}]
    await sdk.chat.completions.create(
        model="qwen-turbo", messages=[*earlier, {"role": "user", "content": question}], temperature=0.5
    )
    exported = (await http.get("/api/account/export", headers=alice.headers)).json()
    contexts = {m["content"]: m["context"] for m in exported["messages"]}
    assert contexts[question] == {"messages": earlier, "parameters": {"temperature": 0.5}}
    assert {c for text, c in contexts.items() if text != question} == {None}  # the answer's


async def parameters_of(fake: FakeScope, question: str) -> dict[str, Any]:
    [body] = await asking(fake, question)
    return dict(body["parameters"])


async def parameters_sent(
    sdk: openai.AsyncOpenAI, fake: FakeScope, model: str, extra: dict[str, Any]
) -> dict[str, Any]:
    """The parameters the model got for a question of its own asked on /v1 with `extra` in the body."""
    question = unique("Ask")
    await sdk.chat.completions.create(model=model, messages=[{"role": "user", "content": question}], extra_body=extra)
    return await parameters_of(fake, question)


async def test_the_requests_sampling_parameters_reach_the_model_and_bound_the_answer(
    sdk: openai.AsyncOpenAI, fake: FakeScope, http: httpx.AsyncClient, alice: ApiUser, rest: AsyncClient
) -> None:
    question = unique("Count to ten")
    done = await sdk.chat.completions.create(
        model="qwen-turbo",
        messages=[{"role": "user", "content": question}],
        temperature=0.3,
        top_p=0.5,
        max_tokens=5,
        stop=["END"],
        seed=7,
        presence_penalty=0.5,
        frequency_penalty=0,  # what many clients send by default: accepted
        n=1,
        modalities=["text"],
        tool_choice="none",  # no tool is called: honoured as it is
        extra_body={"top_k": 20, "repetition_penalty": 1.1},  # DashScope's own
    )
    sent = await parameters_of(fake, question)
    named = ("temperature", "top_p", "max_tokens", "stop", "seed", "presence_penalty", "top_k", "repetition_penalty")
    assert {k: sent.get(k) for k in named} == {
        "temperature": 0.3,
        "top_p": 0.5,
        "max_tokens": 5,
        "stop": ["END"],
        "seed": 7,
        "presence_penalty": 0.5,
        "top_k": 20,
        "repetition_penalty": 1.1,
    }
    assert done.choices[0].finish_reason == "length"
    assert done.usage is not None
    assert done.usage.completion_tokens <= 5
    # in a named session too, over the role's own settings key by key
    slug = f"warm_{uuid.uuid4().hex[:6]}"
    await (
        rest.from_("ai_roles")
        .insert({"slug": slug, "name": "Warm", "system_prompt": "p", "personality": {"temperature": 0.9, "top_p": 0.8}})
        .execute()
    )
    mine = (await http.post("/api/sessions", json={"title": "web"}, headers=alice.headers)).json()["session"]
    again = unique("Once more")
    await sdk.chat.completions.create(
        model=f"role:{slug}",
        messages=[{"role": "user", "content": again}],
        temperature=0,
        extra_headers={"X-ChatGalaxy-Session": mine["id"]},
    )
    sent = await parameters_of(fake, again)
    assert (sent["temperature"], sent["top_p"]) == (0, 0.8)


@pytest.mark.parametrize(
    "case",
    [
        ({"temperature": 2.5}, "temperature", "decimal_above_max_value"),
        ({"top_p": 0}, "top_p", "invalid_value"),
        ({"max_tokens": 0}, "max_tokens", "integer_below_min_value"),
        ({"max_tokens": 10.5}, "max_tokens", "invalid_type"),
        ({"seed": -1}, "seed", "invalid_value"),
        ({"seed": 2**31}, "seed", "invalid_value"),  # DashScope's range is [0, 2^31 - 1]
        ({"thinking_budget": 0}, "thinking_budget", "invalid_value"),
        ({"thinking_budget": 38_913}, "thinking_budget", "invalid_value"),  # past the models' longest thought
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop", "invalid_value"),
        ({"stop": ["END", "\u0000"]}, "stop", "invalid_value"),
        ({"stop": "END\u0000"}, "stop", "invalid_value"),
        ({"frequency_penalty": 0.5}, "frequency_penalty", "unsupported_parameter"),
        ({"n": 2}, "n", "unsupported_parameter"),
        ({"tools": [{"type": "function", "function": {"name": "f"}}]}, "tools", "unsupported_parameter"),
        # a tool call asked for without tools: OpenAI refuses it; it was answered in plain text
        ({"tool_choice": "required"}, "tool_choice", "unsupported_parameter"),
        ({"tool_choice": {"type": "function", "function": {"name": "f"}}}, "tool_choice", "unsupported_parameter"),
        ({"function_call": {"name": "f"}}, "function_call", "unsupported_parameter"),
        ({"logprobs": True}, "logprobs", "unsupported_parameter"),
        (
            {"response_format": {"type": "json_schema", "json_schema": {"name": "x"}}},
            "response_format",
            "unsupported_parameter",
        ),
        ({"top_k": 101}, "top_k", "invalid_value"),
        ({"top_k": 1.5}, "top_k", "invalid_value"),
        ({"repetition_penalty": 0}, "repetition_penalty", "invalid_value"),
        ({"repetition_penalty": "high"}, "repetition_penalty", "invalid_value"),
        ({"modalities": ["text", "audio"]}, "modalities", "unsupported_parameter"),
        ({"audio": {"voice": "alloy", "format": "wav"}}, "modalities", "unsupported_parameter"),
    ],
)
async def test_a_parameter_the_model_cannot_honour_is_refused_and_stores_nothing(
    sdk: openai.AsyncOpenAI, pg: asyncpg.Connection, alice: ApiUser, case: tuple[dict[str, Any], str, str]
) -> None:
    extra, param, code = case
    error = await refusal_of(sdk, {"model": "qwen-turbo", "messages": [{"role": "user", "content": "hi"}], **extra})
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", param, code)
    assert await pg.fetchval(QUESTIONS, alice.id) == 0


async def streamed(stream: Any) -> tuple[str, str]:
    """The content and the reasoning_content a stream of chunks carried."""
    content: list[str] = []
    reasoning: list[str] = []
    async for chunk in stream:
        if chunk.choices:
            delta = chunk.choices[0].delta
            content.append(delta.content or "")
            reasoning.append(getattr(delta, "reasoning_content", None) or "")
    return "".join(content), "".join(reasoning)


async def test_a_thinking_answer_streams_its_thinking_as_reasoning_content_never_as_content(
    sdk: openai.AsyncOpenAI, pg: asyncpg.Connection, http: httpx.AsyncClient, alice: ApiUser
) -> None:
    """A named session that thinks (its own switch): the thinking came through as answer text."""
    mine = (await http.post("/api/sessions", json={"title": "thinks"}, headers=alice.headers)).json()["session"]
    await pg.execute("update chat_sessions set model = 'qwen-plus', thinking = true where id = $1::uuid", mine["id"])
    question = unique("Think about it")
    stream = await sdk.chat.completions.create(
        model="qwen-plus",
        messages=[{"role": "user", "content": question}],
        stream=True,
        extra_headers={"X-ChatGalaxy-Session": mine["id"]},
    )
    content, reasoning = await streamed(stream)
    stored = await pg.fetchrow(
        "select content, reasoning from chat_messages"
        " where reply_to = (select id from chat_messages where content = $1)",
        question,
    )
    assert stored["reasoning"]
    assert (content, reasoning) == (stored["content"], stored["reasoning"])
    done = await sdk.chat.completions.create(
        model="qwen-plus",
        messages=[{"role": "user", "content": unique("Again")}],
        extra_headers={"X-ChatGalaxy-Session": mine["id"]},
    )
    message = done.choices[0].message
    thinking = getattr(message, "reasoning_content", None)
    assert isinstance(thinking, str)
    assert thinking
    assert message.content
    assert thinking not in message.content


async def test_a_request_may_ask_for_deep_thinking_within_its_plan(
    sdk: openai.AsyncOpenAI, fake: FakeScope, pg: asyncpg.Connection, alice: ApiUser
) -> None:
    question = unique("Think first")
    done = await sdk.chat.completions.create(
        model="qwen-plus",
        messages=[{"role": "user", "content": question}],
        extra_body={"enable_thinking": True, "thinking_budget": 300},
    )
    sent = await parameters_of(fake, question)
    assert (sent["enable_thinking"], sent["thinking_budget"]) == (True, 300)
    assert getattr(done.choices[0].message, "reasoning_content", None)
    stored = await pg.fetchrow(
        "select reasoning_tokens, cached_tokens from chat_messages"
        " where reply_to = (select id from chat_messages where content = $1)",
        question,
    )
    assert done.usage is not None
    assert done.usage.completion_tokens_details is not None
    assert done.usage.completion_tokens_details.reasoning_tokens == stored["reasoning_tokens"] > 0
    assert done.usage.prompt_tokens_details is not None
    assert done.usage.prompt_tokens_details.cached_tokens == (stored["cached_tokens"] or 0)

    await put_on_plan(pg, alice, "no_thinking", allow_thinking=False)
    with pytest.raises(openai.PermissionDeniedError) as refused:
        await sdk.chat.completions.create(
            model="qwen-plus",
            messages=[{"role": "user", "content": unique("Think")}],
            extra_body={"enable_thinking": True},
        )
    assert refused.value.code == "feature_not_allowed"
    assert await pg.fetchval(QUESTIONS, alice.id) == 1  # the refused one stored nothing
    plain = await sdk.chat.completions.create(
        model="qwen-plus", messages=[{"role": "user", "content": unique("Plain")}]
    )
    assert plain.choices[0].message.content


async def test_openais_reasoning_effort_asks_for_budgeted_thinking(sdk: openai.AsyncOpenAI, fake: FakeScope) -> None:
    """As LiteLLM maps it onto budgeted thinking: low 1,024, medium 2,048, high 4,096 tokens; minimal
    and none think not at all; enable_thinking / thinking_budget, when also sent, decide."""
    cases: list[tuple[dict[str, Any], Any]] = [
        ({"reasoning_effort": "low"}, (True, 1024)),
        ({"reasoning_effort": "high"}, (True, 4096)),
        ({"reasoning_effort": "minimal"}, (False, None)),  # said: open-source Qwen3 models think by default
        ({"reasoning_effort": "medium", "thinking_budget": 50}, (True, 50)),
        ({"reasoning_effort": "high", "enable_thinking": False}, (False, None)),
    ]
    for extra, expected in cases:
        sent = await parameters_sent(sdk, fake, "qwen-plus", extra)
        assert (sent.get("enable_thinking"), sent.get("thinking_budget")) == expected, extra
    for wrong in ("ultra", ["low"]):  # a list is no key of the levels: refused, not a 500
        body = {"model": "qwen-plus", "messages": [{"role": "user", "content": "hi"}], "reasoning_effort": wrong}
        error = await refusal_of(sdk, body)
        assert (error["param"], error["code"]) == ("reasoning_effort", "invalid_value")


async def test_another_answer_to_a_request_is_asked_with_the_same_messages_and_parameters(
    sdk: openai.AsyncOpenAI, fake: FakeScope, pg: asyncpg.Connection, rest: AsyncClient, alice: ApiUser
) -> None:
    """Regenerating a /v1 request's answer in the web app asks the model what the request asked."""
    question = unique("Regenerate me")
    earlier = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "before"}]
    messages: list[Any] = [*earlier, {"role": "user", "content": question}]
    await sdk.chat.completions.create(model="qwen-turbo", messages=messages, temperature=0.4)
    asked = str(
        await pg.fetchval("select id from chat_messages where content = $1 and user_id = $2", question, alice.id)
    )
    await rest.rpc("request_answer", {"question": asked, "answer_no": 2}).execute()

    async def second() -> object:
        return await pg.fetchval(
            "select status::text from chat_messages"
            " where reply_to = $1::uuid and answer_no = 2 and status = 'completed'",
            asked,
        )

    await until(second)
    both = await asking(fake, question)
    assert len(both) == 2
    assert both[0]["input"]["messages"] == both[1]["input"]["messages"] == [*earlier, messages[-1]]
    assert both[0]["parameters"]["temperature"] == both[1]["parameters"]["temperature"] == 0.4


async def test_a_question_asked_under_a_requests_answer_keeps_what_the_request_brought(
    sdk: openai.AsyncOpenAI, fake: FakeScope, pg: asyncpg.Connection, rest: AsyncClient
) -> None:
    """Asked in the web app under a /v1 answer (inserted as the SPA inserts it), a follow-up has the
    request's system message and earlier turns above the request's question, and so has the one after
    it (whose claim resumes the history the worker kept)."""
    question, earlier = unique("Translate: bonjour"), unique("merci")
    brought: list[Any] = [
        {"role": "system", "content": "You translate into English."},
        {"role": "user", "content": earlier},
        {"role": "assistant", "content": "thank you"},
    ]
    done = await sdk.chat.completions.create(
        model="qwen-turbo", messages=[*brought, {"role": "user", "content": question}]
    )
    root = await pg.fetchrow("select id, session_id from chat_messages where content = $1", question)
    above = [
        *brought[1:],
        {"role": "user", "content": question},
        {"role": "assistant", "content": done.choices[0].message.content},
    ]

    for follow in (unique("And into German?"), unique("And into Dutch?")):
        parent = await pg.fetchval(
            "select a.id from chat_messages a where a.session_id = $1 and a.message_type = 'assistant'"
            " order by a.created_at desc limit 1",
            root["session_id"],
        )
        await (
            rest.table("chat_messages")
            .insert(
                {
                    "session_id": str(root["session_id"]),
                    "content": follow,
                    "parent_id": str(parent),
                    "role_id": "assistant",
                }
            )
            .execute()
        )

        answer = await completed_answer(pg, follow)
        prompt = await prompt_of(fake, follow)  # one model call: an early one agreed with the claim
        assert prompt[0]["role"] == "system"
        assert prompt[0]["content"].endswith("\n\nYou translate into English.")  # after the role's prompt
        assert prompt[1:] == [*above, {"role": "user", "content": follow}]
        above += [{"role": "user", "content": follow}, {"role": "assistant", "content": answer}]


async def test_an_edit_of_a_requests_question_keeps_what_the_request_brought(
    sdk: openai.AsyncOpenAI, fake: FakeScope, pg: asyncpg.Connection, rest: AsyncClient
) -> None:
    """Edited in the web app (a sibling naming the question it edits, as the SPA inserts it)."""
    question, edited = unique("Translate: bonjour"), unique("Translate: merci")
    brought: list[Any] = [{"role": "system", "content": "You translate into English."}]
    await sdk.chat.completions.create(model="qwen-turbo", messages=[*brought, {"role": "user", "content": question}])
    original = await pg.fetchrow("select id, session_id from chat_messages where content = $1", question)
    await (
        rest.table("chat_messages")
        .insert(
            {
                "session_id": str(original["session_id"]),
                "content": edited,
                "parent_id": None,  # a sibling of the request's question: a root too
                "edited_from": str(original["id"]),
            }
        )
        .execute()
    )

    await completed_answer(pg, edited)
    assert await prompt_of(fake, edited) == [*brought, {"role": "user", "content": edited}]


async def test_a_request_that_repeats_a_long_prefix_reports_its_cached_tokens(sdk: openai.AsyncOpenAI) -> None:
    """A client that sends its growing conversation again: the model's context cache serves the
    repeated prefix, and the usage says how much of the prompt it was (billed at a fraction)."""
    manual = unique("You answer from this manual.") + " " + "Section text. " * 400
    first = await sdk.chat.completions.create(
        model="qwen-plus", messages=[{"role": "system", "content": manual}, {"role": "user", "content": "One?"}]
    )
    again = await sdk.chat.completions.create(
        model="qwen-plus",
        messages=[
            {"role": "system", "content": manual},
            {"role": "user", "content": "One?"},
            {"role": "assistant", "content": first.choices[0].message.content or ""},
            {"role": "user", "content": "Two?"},
        ],
    )
    assert first.usage is not None
    assert again.usage is not None
    assert again.usage.prompt_tokens_details is not None
    assert (again.usage.prompt_tokens_details.cached_tokens or 0) >= first.usage.prompt_tokens - 10
