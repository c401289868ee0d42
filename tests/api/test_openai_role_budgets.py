"""A role's own thinking budget: saved only within its model's longest thought, and on /v1 its
default: a request naming `role:<slug>` that says no budget thinks with the role's, and one that asks
for its own (a budget, an effort, or the model's longest with `reasoning_effort: "max"`) thinks as it
asked, within the model's limit."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx
import openai
import pytest
from postgrest.exceptions import APIError
from supabase import AsyncClient

from fakescope.server import FakeScope
from tests.api.conftest import ApiUser, longest_thought
from tests.api.test_openai_context import asking, parameters_sent, unique
from tests.api.test_plans import put_on_plan

pytestmark = pytest.mark.usefixtures("worker")


async def test_a_requests_own_thinking_budget_wins_over_its_roles(
    sdk: openai.AsyncOpenAI, fake: FakeScope, pg: asyncpg.Connection, alice: ApiUser
) -> None:
    await pg.execute(
        "insert into ai_roles (slug, name, system_prompt, personality, created_by) values ('ponderer', 'Ponderer',"
        ' \'Think briefly.\', \'{"model": "qwen-plus", "thinking": true, "thinking_budget": 500}\', $1)',
        uuid.UUID(alice.id),
    )
    cases: list[tuple[dict[str, Any], Any]] = [
        ({}, (True, 500)),  # the role's, said nothing else
        ({"enable_thinking": True}, (True, 500)),  # thinking switched on: still the role's budget
        ({"reasoning_effort": "max"}, (True, None)),  # the model's longest: DashScope's default
        ({"reasoning": {"effort": "max"}}, (True, None)),
        ({"reasoning_effort": "low"}, (True, 1024)),
        ({"thinking_budget": 50}, (True, 50)),
        ({"thinking": {"type": "enabled", "budget_tokens": 2000}}, (True, 2000)),
        ({"reasoning_effort": "none"}, (False, None)),
    ]
    for extra, expected in cases:
        sent = await parameters_sent(sdk, fake, "role:ponderer", extra)
        assert (sent.get("enable_thinking"), sent.get("thinking_budget")) == expected, extra


async def test_the_role_forms_save_past_its_models_longest_thought_is_refused_with_a_code(
    rest: AsyncClient, pg: asyncpg.Connection, alice: ApiUser
) -> None:
    """What the web app's role form meets over REST (supabase-js, as supabase-py here): 400 with the
    code as the message's prefix (web/src/lib/errors.ts words it), nothing saved."""
    async with longest_thought(pg, "qwen-plus", 1000):
        role = {"slug": "deep", "name": "Deep", "system_prompt": "Think.", "created_by": alice.id}
        with pytest.raises(APIError) as refused:
            await (
                rest.table("ai_roles")
                .insert(role | {"personality": {"model": "qwen-plus", "thinking_budget": 5000}})
                .execute()
            )
        assert refused.value.code == "22023"
        assert (refused.value.message or "").startswith(
            "RoleThinkingBudgetTooLarge: thinking_budget is too large: 5000."
        )
        assert "qwen-plus thinks at most 1000 tokens" in (refused.value.message or "")
        assert await pg.fetchval("select count(*) from ai_roles where slug = 'deep'") == 0
        await (
            rest.table("ai_roles")
            .insert(role | {"personality": {"model": "qwen-plus", "thinking_budget": 1000}})
            .execute()
        )
        saved = await pg.fetchval("select personality ->> 'thinking_budget' from ai_roles where slug = 'deep'")
        assert saved == "1000"


async def test_a_requests_budget_past_its_roles_model_is_refused(
    sdk: openai.AsyncOpenAI, pg: asyncpg.Connection, alice: ApiUser
) -> None:
    """The model that answers `role:<slug>` is the role's: a budget past that one's longest thought is
    refused as one past a named model's, the role's own default not in play."""
    await pg.execute(
        "insert into ai_roles (slug, name, system_prompt, personality, created_by)"
        " values ('maxer', 'Maxer', 'Think.', '{\"model\": \"qwen3-max\"}', $1)",
        uuid.UUID(alice.id),
    )
    async with longest_thought(pg, "qwen3-max", 1000):
        with pytest.raises(openai.BadRequestError) as refused:
            await sdk.chat.completions.create(
                model="role:maxer",
                messages=[{"role": "user", "content": unique("Think long")}],
                extra_body={"enable_thinking": True, "thinking_budget": 2000},
            )
        assert "This model thinks at most 1000 tokens" in refused.value.message


async def test_a_requests_own_thinking_wins_over_its_named_sessions_switch(
    sdk: openai.AsyncOpenAI, fake: FakeScope, http: httpx.AsyncClient, rest: AsyncClient, alice: ApiUser
) -> None:
    """A request continuing a web chat (X-ChatGalaxy-Session) whose thinking switch is set: what the
    request asks for itself decides, and the switch when it asks nothing."""
    chat = (await http.post("/api/sessions", json={"title": "web"}, headers=alice.headers)).json()["session"]
    header = {"X-ChatGalaxy-Session": chat["id"]}
    cases: list[tuple[bool, dict[str, Any], Any]] = [
        (False, {"reasoning_effort": "low"}, (True, 1024)),
        (False, {"enable_thinking": True, "thinking_budget": 300}, (True, 300)),
        (True, {"enable_thinking": False}, (False, None)),
        (True, {}, (True, None)),
        (False, {}, (False, None)),
    ]
    for switch, extra, expected in cases:
        await rest.table("chat_sessions").update({"thinking": switch}).eq("id", chat["id"]).execute()
        question = unique("Switch")
        await sdk.chat.completions.create(
            model="qwen-plus", messages=[{"role": "user", "content": question}], extra_body=extra, extra_headers=header
        )
        # the last call asked it: the worker's own when an early call was sent with the switch it
        # read before the update (worker/early.py; it asks again when the prompts differ)
        sent = (await asking(fake, question))[-1]["parameters"]
        assert (sent.get("enable_thinking"), sent.get("thinking_budget")) == expected, (switch, extra)


async def test_a_request_saying_no_thinking_in_a_chat_switched_on_is_admitted_on_a_plan_without_it(
    sdk: openai.AsyncOpenAI,
    fake: FakeScope,
    http: httpx.AsyncClient,
    pg: asyncpg.Connection,
    alice: ApiUser,
) -> None:
    """Admission reads the request's own thinking over the chat's switch, as the worker answers it:
    it refused 403 feature_not_allowed a request that said enable_thinking false."""
    chat = (await http.post("/api/sessions", json={"title": "web"}, headers=alice.headers)).json()["session"]
    await pg.execute("update chat_sessions set thinking = true where id = $1", uuid.UUID(chat["id"]))
    await put_on_plan(pg, alice, "no_thinking", allow_thinking=False)
    header = {"X-ChatGalaxy-Session": chat["id"]}
    question = unique("Plainly")
    done = await sdk.chat.completions.create(
        model="qwen-plus",
        messages=[{"role": "user", "content": question}],
        extra_body={"enable_thinking": False},
        extra_headers=header,
    )
    assert done.choices[0].message.content
    assert (await asking(fake, question))[-1]["parameters"]["enable_thinking"] is False
    with pytest.raises(openai.PermissionDeniedError) as refused:  # saying nothing: the switch's, as before
        await sdk.chat.completions.create(
            model="qwen-plus", messages=[{"role": "user", "content": unique("Switched")}], extra_headers=header
        )
    assert refused.value.code == "feature_not_allowed"


async def test_another_answer_to_a_request_saying_no_thinking_is_admitted_in_a_chat_switched_on(
    sdk: openai.AsyncOpenAI, http: httpx.AsyncClient, rest: AsyncClient, pg: asyncpg.Connection, alice: ApiUser
) -> None:
    """The web app's regenerate of such a request: admitted as the request was, from its stored
    parameters."""
    chat = (await http.post("/api/sessions", json={"title": "web"}, headers=alice.headers)).json()["session"]
    await pg.execute("update chat_sessions set thinking = true where id = $1", uuid.UUID(chat["id"]))
    await put_on_plan(pg, alice, "no_thinking", allow_thinking=False)
    question = unique("Again plainly")
    await sdk.chat.completions.create(
        model="qwen-plus",
        messages=[{"role": "user", "content": question}],
        extra_body={"enable_thinking": False},
        extra_headers={"X-ChatGalaxy-Session": chat["id"]},
    )
    asked = str(await pg.fetchval("select id from chat_messages where content = $1", question))
    await rest.rpc("request_answer", {"question": asked, "answer_no": 2}).execute()
    assert await pg.fetchval("select count(*) from chat_messages where reply_to = $1::uuid", asked) == 2
