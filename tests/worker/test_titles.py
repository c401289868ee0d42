"""Session titles: generated after the first answer, in the conversation's language, by a separate
cheap model call; a title the user set is never replaced."""

from __future__ import annotations

import asyncpg

from tests.conftest import LocalStack
from tests.worker.conftest import Owner, RecordingFakeScope, Workers, ask, final_answer, until, worker_settings
from worker.titles import INSTRUCTION, clean


async def _titled(pg: asyncpg.Connection, owner: Owner) -> str:
    async def probe() -> str | None:
        title = await pg.fetchval("select title from chat_sessions where id = $1", owner.session_id)
        return str(title) if title else None

    return await until(probe)


def _title_requests(fake: RecordingFakeScope) -> list[list[dict[str, str]]]:
    return [r["input"]["messages"] for r in fake.requests if r["input"]["messages"][0]["content"] == INSTRUCTION]


async def test_a_chinese_conversation_gets_a_chinese_title_and_an_english_one_an_english_title(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    await workers.start(worker_settings(stack, fake, titles=True))
    await pg.execute("update chat_sessions set title = null where id = $1", owner.session_id)
    first = await final_answer(pg, await ask(pg, owner, "请帮我规划一次杭州三日游，预算五千元"))
    assert await _titled(pg, owner) == "请帮我规划一次杭州三日游"
    [request] = _title_requests(fake)
    assert [m["role"] for m in request] == ["system", "user", "assistant"]
    assert request[2]["content"] == first["content"]
    # Later answers do not title again.
    await final_answer(pg, await ask(pg, owner, "再推荐一家餐厅"))
    assert len(_title_requests(fake)) == 1

    await pg.execute("update chat_sessions set title = null where id = $1", owner.session_id)
    other = await pg.fetchval("insert into chat_sessions (user_id) values ($1) returning id", owner.user_id)
    english = Owner(owner.user_id, str(other), owner.token)
    await final_answer(pg, await ask(pg, english, "How do I brew green tea properly at home?"))
    assert await _titled(pg, english) == "How Do I Brew Green Tea"


async def test_a_title_the_user_set_is_never_replaced(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    await workers.start(worker_settings(stack, fake, titles=True))
    await final_answer(pg, await ask(pg, owner, "Plan my week"))
    await final_answer(pg, await ask(pg, owner, "And the weekend?"))
    assert await pg.fetchval("select title from chat_sessions where id = $1", owner.session_id) == "worker test"
    assert _title_requests(fake) == []
    # The database refuses to overwrite even when asked directly.
    await pg.execute("set role service_role")
    try:
        assert await pg.fetchval("select worker_set_title($1, 'Generated')", owner.session_id) is False
    finally:
        await pg.execute("reset role")


async def test_a_titles_tokens_are_charged_to_the_sessions_owner_once(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    await workers.start(worker_settings(stack, fake, titles=True))
    await pg.execute("update chat_sessions set title = null where id = $1", owner.session_id)
    await final_answer(pg, await ask(pg, owner, "Why does the sea have tides?"))  # not admitted: no charge of its own
    await _titled(pg, owner)  # the charge is written before the title
    [charge] = await pg.fetch("select * from usage_ledger where user_id = $1", owner.user_id)
    assert str(charge["message_id"]) == await pg.fetchval(
        "select md5('title:' || $1::text)::uuid::text", owner.session_id
    )
    assert str(charge["session_id"]) == owner.session_id
    assert (charge["state"], charge["reserved"]) == ("settled", 0)
    assert charge["input_tokens"] > 0
    assert charge["output_tokens"] > 0
    weighted = await pg.fetchval(
        "select usage_charge($1, $2, $3, $4, null, null)",
        charge["model"],
        charge["input_tokens"],
        charge["output_tokens"],
        charge["reasoning_tokens"],
    )
    assert charge["charged"] == weighted > 0
    # The owner's allowance counts it at once, and the usage chart shows it under its model.
    used = await pg.fetchval("select (usage_allowance($1) -> 'day' ->> 'used')::bigint", owner.user_id)
    assert used == charge["charged"]
    daily = await pg.fetch("select model, tokens from usage_daily(30, $1)", owner.user_id)
    assert [(r["model"], r["tokens"]) for r in daily] == [(charge["model"], charge["charged"])]
    # A second charge for the same session's title is refused.
    await pg.execute("set role service_role")
    try:
        again = await pg.fetchval("select worker_charge_title($1, 'qwen-turbo', 10, 10, null)", owner.session_id)
    finally:
        await pg.execute("reset role")
    assert again is False
    assert await pg.fetchval("select count(*) from usage_ledger where user_id = $1", owner.user_id) == 1


def test_titles_are_cleaned_to_one_short_line() -> None:
    assert clean('"Trip to Hangzhou."\nMore text') == "Trip to Hangzhou"
    assert clean("《杭州三日游》。") == "杭州三日游"
    assert clean("x" * 200) == "x" * 80
    assert clean("   ") == ""
