"""A search reads its own user's rows only: what it costs follows what that user has, not what
every user has. Checked on the plans Postgres ran (auto_explain, nested statements included), over
the calls after which a connection's cached plans may turn generic, as a pooled door's do."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import asyncpg

from tests.db.actors import Actor, acting_as, create_user

CALLS = 8  # PL/pgSQL may switch a statement to its generic plan after its fifth call


async def _populate(db: asyncpg.Connection, owner: str, count: int, text: str) -> None:
    session = await db.fetchval("insert into chat_sessions (user_id, title) values ($1, 's') returning id", owner)
    await db.execute("alter table chat_messages disable trigger localbase_realtime_capture")
    try:
        await db.execute(
            """insert into chat_messages (session_id, user_id, content)
               select $1, $2, replace($3, '#', g::text) from generate_series(1, $4) g""",
            session,
            owner,
            text,
            count,
        )
    finally:
        await db.execute("alter table chat_messages enable trigger localbase_realtime_capture")


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _rows_read(plan: dict[str, Any]) -> int:
    """The most rows any one scan of chat_messages or of its indexes went through in this plan."""
    worst = 0
    for node in _nodes(plan):
        if node.get("Relation Name") == "chat_messages" or str(node.get("Index Name", "")).startswith("chat_messages"):
            # (a statement only EXPLAINed, as search_expected_matches plans one, ran no rows)
            per_loop = node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)
            per_loop += node.get("Rows Removed by Index Recheck", 0)
            worst = max(worst, per_loop * node.get("Actual Loops", 0))
    return worst


async def _searched(db: asyncpg.Connection, user: str, query: str) -> tuple[list[str], int]:
    """What `user`'s search for `query` finds, and the most rows of chat_messages it read in any of
    CALLS calls on one connection."""
    plans: list[dict[str, Any]] = []

    def collect(_conn: object, message: asyncpg.PostgresLogMessage) -> None:
        text = str(message.message)
        if "plan:" in text:
            plans.append(json.loads(text.split("plan:", 1)[1])["Plan"])

    await db.execute("load 'auto_explain'")
    for setting in ("log_min_duration = 0", "log_analyze = on", "log_nested_statements = on"):
        await db.execute(f"set auto_explain.{setting}")
    await db.execute("set auto_explain.log_format = json")
    await db.execute("set auto_explain.log_level = notice")
    db.add_log_listener(collect)
    found: list[str] = []
    try:
        for _ in range(CALLS):
            async with acting_as(db, Actor("user", "authenticated", user)):
                found = sorted(r["content"] for r in await db.fetch("select content from search_messages($1)", query))
    finally:
        await db.execute("set auto_explain.log_min_duration = -1")  # its notices are in before this returns
        db.remove_log_listener(collect)
    assert plans, "auto_explain logged no plan"
    return found, max(_rows_read(plan) for plan in plans)


async def test_a_light_user_s_search_for_a_word_everyone_uses_reads_their_messages_only(db: asyncpg.Connection) -> None:
    light = await create_user(db, "lightuser")
    crowd = await create_user(db, "crowduser")
    await _populate(db, light, 3, "今天天气很好 #")
    await _populate(db, light, 3, "write a short poem #")
    await _populate(db, crowd, 4000, "明天天气怎么样 #")
    await db.execute("analyze chat_messages")

    found, read = await _searched(db, light, "天气")
    assert found == ["今天天气很好 1", "今天天气很好 2", "今天天气很好 3"]
    assert read <= 6, f"a search by a user with 6 messages read {read} rows"


async def test_a_heavy_user_s_search_for_a_rare_word_reads_its_matches_not_every_message(
    db: asyncpg.Connection,
) -> None:
    heavy = await create_user(db, "heavyuser")
    other = await create_user(db, "otheruser")
    await _populate(db, heavy, 20000, "学习编程需要耐心 #")
    await _populate(db, heavy, 3, "kubernetes operators #")
    await _populate(db, other, 5, "kubernetes at scale #")
    await db.execute("analyze chat_messages")

    found, read = await _searched(db, heavy, "kubernetes")
    assert found == ["kubernetes operators 1", "kubernetes operators 2", "kubernetes operators 3"]
    assert read <= 3, f"a search with 3 matches by a user with 20,003 messages read {read} rows"


async def test_a_heavy_user_s_search_for_a_word_only_others_use_reads_a_bounded_part_of_their_messages(
    db: asyncpg.Connection,
) -> None:
    """The planner, which cannot know a word everyone else uses is rare for this user, walked all of
    the user's messages newest first looking for 500 matches (twice a call): 61.5 ms at 100,000."""
    heavy = await create_user(db, "heavyuser")
    crowd = await create_user(db, "crowduser")
    await _populate(db, heavy, 20000, "学习编程需要耐心 #")
    await _populate(db, heavy, 3, "我们去公园散步 #")
    await _populate(db, crowd, 6000, "我们去公园散步 #")
    await db.execute("analyze chat_messages")

    found, read = await _searched(db, heavy, "公园")
    assert found == ["我们去公园散步 1", "我们去公园散步 2", "我们去公园散步 3"]
    # at most the user's newest 5,000 (where 500 matches were looked for first), then its 3 matches
    assert read <= 5000, f"a search with 3 matches by a user with 20,003 messages read {read} rows"
