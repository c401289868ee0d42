"""Model choice, deep thinking, web search, moderation recovery and cache-friendly prompts, end to end:
a question committed to the database, the worker, the fake DashScope (which records what it was
sent), the stored answer and what a subscribed client hears on Realtime."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import asyncpg
import pytest
from realtime import RealtimeSubscribeStates
from supabase import AsyncClient, acreate_client

from core.settings import LlmSettings
from fakescope import features, tokens
from fakescope.server import COMPAT_PATH
from tests.conftest import LocalStack, channel_options
from tests.worker.conftest import Owner, RecordingFakeScope, Workers, ask, final_answer, until, worker_settings


async def listen(stack: LocalStack, owner: Owner) -> tuple[AsyncClient, list[Any]]:
    client = await acreate_client(stack.url, stack.anon_key)
    await client.realtime.set_auth(owner.token)
    events: list[Any] = []
    states: asyncio.Queue[RealtimeSubscribeStates] = asyncio.Queue()
    channel = client.channel(f"chat:{owner.session_id}", channel_options(private=True))
    for kind in ("reasoning", "chunk", "done"):
        channel.on_broadcast(kind, events.append)
    await channel.subscribe(lambda state, _error: states.put_nowait(state))
    assert (await asyncio.wait_for(states.get(), 10)) == RealtimeSubscribeStates.SUBSCRIBED
    return client, events


async def test_thinking_streams_reasoning_then_answer_and_never_sends_reasoning_back(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    await pg.execute("update chat_sessions set model = 'qwen-plus', thinking = true where id = $1", owner.session_id)
    client, events = await listen(stack, owner)
    await workers.start(worker_settings(stack, fake))
    first = await ask(pg, owner, "Why is the sky blue?")
    row = await final_answer(pg, first)

    async def done() -> bool:
        return any(e["event"] == "done" for e in events)

    await until(done, 10)
    await client.realtime.close()
    kinds = [e["event"] for e in events]
    assert kinds[0] == "reasoning"
    assert "chunk" in kinds
    assert kinds[-1] == "done"
    assert kinds.index("chunk") > max(i for i, k in enumerate(kinds) if k == "reasoning")  # all thinking first
    reasoning = "".join(e["payload"]["delta"] for e in events if e["event"] == "reasoning")
    answer = "".join(e["payload"]["delta"] for e in events if e["event"] == "chunk")
    assert [e["payload"]["seq"] for e in events] == [*list(range(1, len(events))), len(events) - 1]
    assert (row["status"], row["model"]) == ("completed", "qwen-plus")
    assert (row["reasoning"], row["content"]) == (reasoning, answer)
    assert row["reasoning_tokens"] == tokens.count(reasoning)
    assert row["output_tokens"] == tokens.count(reasoning) + tokens.count(answer)
    assert row["reasoning_ms"] is not None
    assert row["reasoning_ms"] >= 0
    assert events[-1]["payload"]["reasoning_ms"] == row["reasoning_ms"]
    [sent] = fake.requests
    assert sent["model"] == "qwen-plus"
    assert sent["parameters"]["enable_thinking"] is True

    second = await ask(pg, owner, "And at sunset?")
    await final_answer(pg, second)
    later = fake.requests[-1]
    history = [m["content"] for m in later["input"]["messages"]]
    assert answer in history  # the answer is history ...
    assert not any(
        reasoning in c or "reasoning_content" in m for c, m in zip(history, later["input"]["messages"], strict=False)
    )


async def test_through_dashscopes_compatible_mode_the_thinking_arrives_and_is_stored_apart(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    """LLM_PROVIDER=openai against the fake's compatible mode, which streams thinking as DashScope's
    does (`delta.reasoning_content`, `completion_tokens_details.reasoning_tokens`)."""
    await pg.execute("update chat_sessions set model = 'qwen-plus', thinking = true where id = $1", owner.session_id)
    compat = LlmSettings(provider="openai", openai_base_url=fake.compat_url, openai_api_key="sk-test")
    await workers.start(worker_settings(stack, fake, llm=compat))
    row = await final_answer(pg, await ask(pg, owner, "Why is the sea salty?"))
    assert row["status"] == "completed", row["error_code"]
    [sent] = [
        r["body"]
        for r in fake.received
        if r["path"] == COMPAT_PATH and r["body"]["messages"][-1]["content"] == "Why is the sea salty?"
    ]
    assert (sent["model"], sent["enable_thinking"]) == ("qwen-plus", True)
    assert row["reasoning"]
    assert row["reasoning"] not in row["content"]
    assert row["reasoning_tokens"] == tokens.count(row["reasoning"])
    assert row["output_tokens"] == tokens.count(row["reasoning"]) + tokens.count(row["content"])


async def test_an_unthinking_turn_on_an_open_source_qwen3_model_gets_no_reasoning(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    """Open-source Qwen3 models think unless told not to (commercial ones the other way round): with
    thinking off the worker says so, `enable_thinking: false`, and the answer has no reasoning."""
    await pg.execute(
        "insert into models (id, display_name, context_window, max_input, max_output, supports_thinking,"
        " max_reasoning) values ('qwen3-8b', 'Qwen3 8B', 131072, 129024, 8192, true, 38912)"
        " on conflict (id) do nothing"
    )
    try:
        await pg.execute(
            "update chat_sessions set model = 'qwen3-8b', thinking = false where id = $1", owner.session_id
        )
        await workers.start(worker_settings(stack, fake))
        row = await final_answer(pg, await ask(pg, owner, "Name a prime number."))
        assert row["status"] == "completed", row["error_code"]
        [sent] = fake.requests
        assert (sent["model"], sent["parameters"]["enable_thinking"]) == ("qwen3-8b", False)
        assert (row["reasoning"], row["reasoning_tokens"]) == (None, None)
    finally:
        await pg.execute("delete from models where id = 'qwen3-8b'")


async def test_the_session_model_is_used_and_thinking_only_where_offered(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    await pg.execute("update chat_sessions set model = 'qwen-vl-max', thinking = true where id = $1", owner.session_id)
    await workers.start(worker_settings(stack, fake))
    row = await final_answer(pg, await ask(pg, owner, "hello"))
    assert row["status"] == "completed", row["error_code"]
    [sent] = fake.requests
    assert (sent["model"], row["model"]) == ("qwen-vl-max", "qwen-vl-max")
    assert sent["input"]["messages"][-1]["content"] == [{"text": "hello"}]  # a VL model: multimodal endpoint
    assert "enable_thinking" not in sent["parameters"]  # the model has no thinking switch
    assert sent["parameters"]["max_tokens"] == 8192  # the budget follows the chosen model's limits
    assert row["reasoning"] is None


async def test_web_search_stores_numbered_sources(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    await workers.start(worker_settings(stack, fake))
    question = str(
        await pg.fetchval(
            "insert into chat_messages (session_id, user_id, content, web_search)"
            " values ($1, $2, 'latest PostgreSQL release?', true) returning id",
            owner.session_id,
            owner.user_id,
        )
    )
    row = await final_answer(pg, question)
    [sent] = fake.requests
    assert sent["parameters"]["enable_search"] is True
    assert sent["parameters"]["search_options"]["enable_source"] is True
    sources = json.loads(row["sources"])
    assert [s["index"] for s in sources] == [1, 2, 3]
    assert all(s["url"].startswith("https://") and s["title"] for s in sources)
    assert all(f"[{s['index']}]" in row["content"] for s in sources)
    assert row["search_calls"] == 1


async def test_only_web_addresses_are_stored_as_sources(
    *,
    stack: LocalStack,
    pg: asyncpg.Connection,
    fake: RecordingFakeScope,
    workers: Workers,
    owner: Owner,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A search result whose address is not http(s) (javascript:, data:, a relative or empty one)
    is not stored: the chat's history, /v1's citations and a share hand out what is stored."""
    found = features.sources

    def odd_sources(question: str) -> list[dict[str, Any]]:
        results = found(question)
        odd = [
            "javascript:alert(document.cookie)",
            " JavaScript:alert(1)",
            "data:text/html,<script>1</script>",
            "/x",
            "",
        ]
        results += [
            {"index": 4 + n, "title": f"odd {n}", "url": url, "site_name": "odd", "icon": ""}
            for n, url in enumerate(odd)
        ]
        results.append({"index": 9, "title": "Upper", "url": "HTTPS://Example.com/a", "site_name": "ex", "icon": ""})
        results.append({"index": 10, "title": "Plain", "url": "http://example.org/b", "site_name": "ex", "icon": ""})
        return results

    monkeypatch.setattr(features, "sources", odd_sources)
    await workers.start(worker_settings(stack, fake))
    question = str(
        await pg.fetchval(
            "insert into chat_messages (session_id, user_id, content, web_search)"
            " values ($1, $2, 'odd sources?', true) returning id",
            owner.session_id,
            owner.user_id,
        )
    )
    row = await final_answer(pg, question)
    sources = json.loads(row["sources"])
    assert [s["index"] for s in sources] == [1, 2, 3, 9, 10]
    assert [s["url"] for s in sources][3:] == ["HTTPS://Example.com/a", "http://example.org/b"]

    # None of them on the web: no sources at all, as an answer without search results.
    monkeypatch.setattr(features, "sources", lambda question: odd_sources(question)[3:8])
    question = str(
        await pg.fetchval(
            "insert into chat_messages (session_id, user_id, content, web_search)"
            " values ($1, $2, 'only odd sources?', true) returning id",
            owner.session_id,
            owner.user_id,
        )
    )
    assert (await final_answer(pg, question))["sources"] is None


async def test_a_moderated_turn_is_an_error_and_left_out_of_later_prompts(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    await workers.start(worker_settings(stack, fake))
    ok = await ask(pg, owner, "a fine question")
    await final_answer(pg, ok)
    await fake.script({"fault": "input_moderation"})
    refused = await ask(pg, owner, "a question the provider refuses")
    row = await final_answer(pg, refused)
    assert (row["status"], row["error_code"]) == ("error", "ContentFiltered")
    assert "内容安全" in row["error_message"]
    assert "moderation" in row["error_message"]

    after = await ask(pg, owner, "a later question")
    answered = await final_answer(pg, after)
    assert answered["status"] == "completed"
    contents = [m["content"] for m in fake.requests[-1]["input"]["messages"]]
    assert "a fine question" in contents
    assert "a question the provider refuses" not in contents
    assert contents[-1] == "a later question"


async def test_each_prompt_starts_with_the_previous_one_and_cached_tokens_are_stored(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    role = await pg.fetchval(
        "insert into ai_roles (slug, name, system_prompt, created_by) values ('careful', 'Careful', $1, $2)"
        " returning id",
        "You answer carefully and cite your reasoning. " * 40,
        owner.user_id,
    )
    await pg.execute("update chat_sessions set role_id = $1 where id = $2", role, owner.session_id)
    await workers.start(worker_settings(stack, fake))
    rows = []
    for i in range(3):
        rows.append(await final_answer(pg, await ask(pg, owner, f"question {i}")))
    sent = [r["input"]["messages"] for r in fake.requests]
    for before, after in itertools.pairwise(sent):
        assert after[: len(before)] == before  # byte-identical prefix: the provider's cache applies
    assert rows[0]["cached_tokens"] is None
    assert rows[1]["cached_tokens"] > 0
    assert rows[2]["cached_tokens"] > rows[1]["cached_tokens"]


async def test_a_reader_who_joins_mid_thinking_gets_the_whole_reasoning(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    """Like a page reload while the model thinks: the row already holds the thinking so far (it is
    written as it streams, not only at the end), and the row read after joining the channel plus the
    `reasoning` broadcasts beyond it by `offset` give every character once."""
    await pg.execute("update chat_sessions set model = 'qwen-plus', thinking = true where id = $1", owner.session_id)
    await fake.script({"tokens_per_s": 40.0, "tokens_per_event": 1, "reasoning_tokens": 200})  # ~5 s of thinking
    await workers.start(worker_settings(stack, fake))
    question = await ask(pg, owner, "Think it through: why is the sky blue?")

    async def thinking_in_the_row() -> asyncpg.Record | None:
        row = await pg.fetchrow("select status, reasoning from chat_messages where reply_to = $1", question)
        return row if row is not None and row["status"] in ("pending", "streaming") and row["reasoning"] else None

    await until(thinking_in_the_row, 10)  # the thinking is durable while it is under way
    late, events = await listen(stack, owner)  # the late joiner subscribes first, then reads the row
    late.postgrest.auth(owner.token)

    async def stored() -> dict[str, Any]:
        rows = (await late.table("chat_messages").select("reasoning, status").eq("reply_to", question).execute()).data
        assert isinstance(rows[0], dict)
        return rows[0]

    joined = await stored()
    assert joined["status"] in ("pending", "streaming")
    row = await final_answer(pg, question)

    async def done() -> bool:
        return any(e["event"] == "done" for e in events)

    await until(done, 10)
    assert len(joined["reasoning"]) < len(row["reasoning"])  # it joined before the thinking ended
    reasoning = joined["reasoning"]
    for event in (e["payload"] for e in events if e["event"] == "reasoning"):
        if event["offset"] > len(reasoning):  # sent before the join, after the row was read: a fresher row has it
            reasoning = (await stored())["reasoning"]
        assert event["offset"] <= len(reasoning)
        reasoning += event["delta"][len(reasoning) - event["offset"] :]
    await late.realtime.close()
    assert reasoning == row["reasoning"]
    assert row["reasoning_tokens"] == tokens.count(row["reasoning"])
