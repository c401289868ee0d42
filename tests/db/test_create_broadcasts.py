"""A chat created anywhere reaches its owner's other tabs: each statement inserting sessions sends
event `sessions_created` {rows, more} on the private `user:<user id>` (migration 20261206190000),
one broadcast per owner and statement, with the columns the list reads for each chat. A chat made
by a branch (chat_branch) is announced the same way. Nothing goes to another user's topic.
"""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from tests.db.test_delete_broadcasts import _commit_as, _sent
from tests.db.test_rls_matrix import build_world

# web/src/lib/sessions.ts SESSION_COLUMNS: what the list reads for a chat.
LISTED = {
    "id", "role_id", "title", "message_count", "last_message_at", "archived_at", "model", "thinking",
    "current_leaf_id", "branched", "pinned_at", "created_at", "api_day",
}  # fmt: skip


async def _created(db: asyncpg.Connection, topic: str) -> list[dict[str, Any]]:
    return [m for m in await _sent(db, topic) if m["event"] == "sessions_created"]


async def test_a_chat_created_through_postgrest_is_broadcast_to_its_owner_alone(db: asyncpg.Connection) -> None:
    world = await build_world(db)
    ids = world.ids
    await db.execute("delete from realtime.messages")
    made = "6b1d2f43-0000-4000-8000-000000000001"
    await _commit_as(
        db, ids["a"], "insert into chat_sessions (id, model, thinking) values ($1, 'qwen-plus', true)", made
    )
    sent = await _created(db, f"user:{ids['a']}")
    assert [(m["private"], m["extension"], m["payload"]["more"]) for m in sent] == [(True, "broadcast", False)]
    (row,) = sent[0]["payload"]["rows"]
    assert set(row) == LISTED
    stored = await db.fetchrow("select to_jsonb(s) as s from chat_sessions s where id = $1", made)
    assert stored is not None
    assert row == {key: value for key, value in json.loads(stored["s"]).items() if key in LISTED}
    assert await _sent(db, f"user:{ids['b']}") == []


async def test_one_statement_creating_many_chats_sends_one_broadcast_per_owner(db: asyncpg.Connection) -> None:
    world = await build_world(db)
    ids = world.ids
    await db.execute("delete from realtime.messages")
    made = await db.fetch(
        "insert into chat_sessions (user_id, title) select u, 'bulk ' || g"
        " from unnest($1::uuid[]) u, generate_series(1, 3) g returning id, user_id",
        [ids["a"], ids["b"]],
    )
    for owner in ("a", "b"):
        sent = await _created(db, f"user:{ids[owner]}")
        assert len(sent) == 1, f"{owner} heard {len(sent)} broadcasts for one statement"
        heard = {r["id"] for r in sent[0]["payload"]["rows"]}
        assert heard == {str(r["id"]) for r in made if str(r["user_id"]) == ids[owner]}
        assert sent[0]["payload"]["more"] is False


async def test_a_statement_creating_more_than_a_broadcast_holds_says_so(db: asyncpg.Connection) -> None:
    """At most 100 rows ride on one broadcast (Realtime limits a payload's size); `more` says read the list."""
    world = await build_world(db)
    await db.execute("delete from realtime.messages")
    await db.execute(
        "insert into chat_sessions (user_id, title) select $1, 'bulk ' || g from generate_series(1, 150) g",
        world.ids["a"],
    )
    (sent,) = await _created(db, f"user:{world.ids['a']}")
    assert len(sent["payload"]["rows"]) == 100
    assert sent["payload"]["more"] is True


async def test_a_branch_is_broadcast_as_a_created_chat(db: asyncpg.Connection) -> None:
    world = await build_world(db)
    ids = world.ids
    await db.execute("delete from realtime.messages")
    fresh = "6b1d2f43-0000-4000-8000-000000000002"
    await _commit_as(db, ids["a"], "select chat_branch($1, $2)", ids["a_reply"], fresh)
    sent = await _created(db, f"user:{ids['a']}")
    assert [[r["id"] for r in m["payload"]["rows"]] for m in sent] == [[fresh]]
    assert sent[0]["payload"]["rows"][0]["title"] == "hello"
