"""What the database broadcasts so a user's other tabs and devices follow deletes and the session
list live: Realtime cannot filter a DELETE on chat_messages by session (the table is not REPLICA
IDENTITY FULL), so deletes go out as private broadcasts (realtime.send, rows of realtime.messages):

- rows deleted from a conversation (a turn, its answers): event `deleted` {ids} on `chat:<session>`,
  one broadcast per session and statement, none when the session itself went (its list entry says it);
- sessions deleted: event `sessions_deleted` {ids} on `user:<user id>`;
- a session renamed, pinned or archived: event `session` {row: {id, title, pinned_at, archived_at}} on
  `user:<user id>`; no other update of a session, and no insert or update of a message, sends anything.

`user:<id>` is readable by that user alone, as Realtime probes a private join.
"""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from tests.db.actors import acting_as
from tests.db.test_rls_matrix import World, build_world


async def _sent(db: asyncpg.Connection, topic: str) -> list[dict[str, Any]]:
    rows = await db.fetch(
        "select event, payload, private, extension from realtime.messages where topic = $1 order by inserted_at",
        topic,
    )
    return [{**dict(r), "payload": json.loads(r["payload"])} for r in rows]


async def _commit_as(db: asyncpg.Connection, sub: str, sql: str, *args: object) -> None:
    """Run `sql` as the user through PostgREST's role, committed (acting_as rolls back)."""
    async with db.transaction():
        await db.execute(
            "select set_config('request.jwt.claims', $1, true)", json.dumps({"role": "authenticated", "sub": sub})
        )
        await db.execute("set local role authenticated")
        await db.execute(sql, *args)


async def test_a_deleted_turn_is_broadcast_on_its_conversations_private_topic(db: asyncpg.Connection) -> None:
    world = await build_world(db)
    await db.execute("delete from realtime.messages")  # the world's chats were announced as created
    ids = world.ids
    await _commit_as(db, ids["a"], "delete from chat_messages where id = $1", ids["a_msg"])
    sent = await _sent(db, f"chat:{ids['a_session']}")
    assert sent, "nothing was broadcast for the deleted turn"
    assert {(m["event"], m["private"], m["extension"]) for m in sent} == {("deleted", True, "broadcast")}
    heard = {i for m in sent for i in m["payload"]["ids"]}
    assert heard == {ids["a_msg"], ids["a_reply"]}
    assert await _sent(db, f"user:{ids['a']}") == []


async def test_one_statement_deleting_in_two_sessions_sends_one_broadcast_to_each(db: asyncpg.Connection) -> None:
    world = await build_world(db)
    await db.execute("delete from realtime.messages")  # the world's chats were announced as created
    ids = world.ids
    await db.execute("delete from chat_messages where id = any($1::uuid[])", [ids["a_reply"], ids["b_reply"]])
    for owner in ("a", "b"):
        sent = await _sent(db, f"chat:{ids[f'{owner}_session']}")
        assert [m["payload"]["ids"] for m in sent] == [[ids[f"{owner}_reply"]]]


async def test_a_deleted_session_is_broadcast_on_its_owners_topic_and_its_rows_are_not(db: asyncpg.Connection) -> None:
    world = await build_world(db)
    await db.execute("delete from realtime.messages")  # the world's chats were announced as created
    ids = world.ids
    await _commit_as(db, ids["a"], "delete from chat_sessions where id = $1", ids["a_session"])
    sent = await _sent(db, f"user:{ids['a']}")
    assert [(m["event"], m["private"], m["payload"]["ids"]) for m in sent] == [
        ("sessions_deleted", True, [ids["a_session"]])
    ]
    assert await _sent(db, f"chat:{ids['a_session']}") == []
    assert await _sent(db, f"user:{ids['b']}") == []


async def test_rename_pin_and_archive_are_broadcast_and_no_other_update_is(db: asyncpg.Connection) -> None:
    world = await build_world(db)
    await db.execute("delete from realtime.messages")  # the world's chats were announced as created
    ids = world.ids
    topic = f"user:{ids['a']}"
    await _commit_as(
        db, ids["a"], "update chat_sessions set current_leaf_id = $1 where id = $2", ids["a_reply"], ids["a_session"]
    )
    await db.execute("update chat_messages set content = 'more', status = 'streaming' where id = $1", ids["a_reply"])
    await db.execute(
        "insert into chat_messages (session_id, user_id, content) values ($1, $2, 'x')", ids["a_session"], ids["a"]
    )
    assert await _sent(db, topic) == []
    assert await _sent(db, f"chat:{ids['a_session']}") == []

    await _commit_as(db, ids["a"], "update chat_sessions set title = 'renamed' where id = $1", ids["a_session"])
    await _commit_as(db, ids["a"], "update chat_sessions set pinned_at = now() where id = $1", ids["a_session"])
    sent = await _sent(db, topic)
    assert [m["event"] for m in sent] == ["session", "session"]
    assert sent[0]["payload"]["row"]["id"] == ids["a_session"]
    assert sent[0]["payload"]["row"]["title"] == "renamed"
    assert sent[1]["payload"]["row"]["pinned_at"] is not None
    assert set(sent[1]["payload"]["row"]) == {"id", "title", "pinned_at", "archived_at"}


async def test_a_users_topic_is_readable_by_that_user_alone(db: asyncpg.Connection) -> None:
    """Realtime's private-join read probe on user:<A>: A sees the probe row, B and anon do not."""
    world: World = await build_world(db)
    await db.execute("delete from realtime.messages")  # the world's chats were announced as created
    topic = f"user:{world.ids['a']}"
    await db.execute("insert into realtime.messages (topic, extension, private) values ($1, 'broadcast', true)", topic)
    seen = {}
    for actor in (world.a, world.b, world.anon):
        async with acting_as(db, actor):
            await db.execute("select set_config('realtime.topic', $1, true)", topic)
            try:
                seen[actor.name] = await db.fetchval(
                    "select count(*) from realtime.messages where topic = $1 and extension = 'broadcast'", topic
                )
            except asyncpg.InsufficientPrivilegeError:
                seen[actor.name] = 0
    assert seen == {"user A": 1, "user B": 0, "anon": 0}
    # Nobody may write on it, the owner included: only the database speaks there.
    for actor in (world.a, world.b):
        async with acting_as(db, actor):
            await db.execute("select set_config('realtime.topic', $1, true)", topic)
            try:
                await db.execute(
                    "insert into realtime.messages (topic, extension, private) values ($1, 'broadcast', true)", topic
                )
                wrote = True
            except asyncpg.InsufficientPrivilegeError:
                wrote = False
        assert not wrote, f"{actor.name} could broadcast on {topic}"
