"""No user learns anything about another user's rows through postgres_changes, DELETEs included;
every change is checked against the row image it carries, so fast successive changes still reach
their owner, in order.

Changes reach a socket in commit order, so once a subscriber has its own later change, any earlier
change meant for it would already be there: that is how "never received" is asserted without sleeps.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
from realtime import AsyncRealtimeClient
from realtime import RealtimePostgresChangesListenEvent as Change

from tests.conftest import LocalStack
from tests.localbase.realtime.conftest import RealtimeUser, eventually, new_session, subscribed

_INSERT_MESSAGE = "insert into chat_messages (id, session_id, content) values ($1, $2, $3)"


def _summary(received: list[Any]) -> list[tuple[str, str, str]]:
    """(table, type, primary key) of each change, in arrival order."""
    out = []
    for payload in received:
        data = payload["data"]
        row = data.get("record") if data["type"] != "DELETE" else data.get("old_record")
        out.append((data["table"], data["type"], str(row["id"])))
    return out


async def _watch_everything(client: AsyncRealtimeClient, name: str, received: list[Any]) -> None:
    """A whole-table subscription (no filter) on both chat tables."""
    channel = client.channel(name)
    for table in ("chat_sessions", "chat_messages"):
        channel.on_postgres_changes(Change.All, received.append, table=table, schema="public")
    await subscribed(channel)


async def test_other_users_inserts_updates_and_deletes_never_reach_a_whole_table_subscriber(
    stack: LocalStack,
    pg: asyncpg.Connection,
    alice: RealtimeUser,
    bob: RealtimeUser,
    realtime_client: Callable[..., AsyncRealtimeClient],
) -> None:
    got_a: list[Any] = []
    got_b: list[Any] = []
    await _watch_everything(realtime_client(alice.access_token), "a-all", got_a)
    await _watch_everything(realtime_client(bob.access_token), "b-all", got_b)

    session_a = await new_session(pg, alice.id, "alice's")
    message_a = str(uuid.uuid4())
    await pg.execute(_INSERT_MESSAGE, message_a, session_a, "secret")
    await pg.execute("update chat_messages set content = 'still secret' where id = $1", message_a)
    await pg.execute("update chat_sessions set title = 'renamed' where id = $1", session_a)
    await pg.execute("delete from chat_messages where id = $1", message_a)
    await pg.execute("delete from chat_sessions where id = $1", session_a)
    sentinel_b = await new_session(pg, bob.id, "bob's")

    await eventually(lambda: ("chat_sessions", "INSERT", sentinel_b) in _summary(got_b), what="B's own insert")
    await eventually(lambda: ("chat_sessions", "DELETE", session_a) in _summary(got_a), what="A's session delete")
    assert _summary(got_b) == [("chat_sessions", "INSERT", sentinel_b)]
    mine = _summary(got_a)
    assert ("chat_messages", "INSERT", message_a) in mine
    assert ("chat_messages", "DELETE", message_a) in mine
    assert [m for m in mine if m[1] == "DELETE"] == [
        ("chat_messages", "DELETE", message_a),
        ("chat_sessions", "DELETE", session_a),
    ]
    deleted = next(p["data"] for p in got_a if p["data"]["type"] == "DELETE")
    assert deleted["old_record"] == {"id": message_a}
    assert sentinel_b not in {m[2] for m in mine}


async def test_update_then_delete_reach_the_owner_in_order(
    stack: LocalStack,
    pg: asyncpg.Connection,
    alice: RealtimeUser,
    realtime_client: Callable[..., AsyncRealtimeClient],
) -> None:
    got: list[Any] = []
    channel = realtime_client(alice.access_token).channel("a-fast")
    channel.on_postgres_changes(Change.All, got.append, table="chat_messages", schema="public")
    await subscribed(channel)
    session = await new_session(pg, alice.id)

    separate, together = str(uuid.uuid4()), str(uuid.uuid4())
    await pg.execute(_INSERT_MESSAGE, separate, session, "one")
    await pg.execute("update chat_messages set content = 'two' where id = $1", separate)
    await pg.execute("delete from chat_messages where id = $1", separate)
    async with pg.transaction():  # one transaction: the same row three times in one batch
        await pg.execute(_INSERT_MESSAGE, together, session, "three")
        await pg.execute("update chat_messages set content = 'four' where id = $1", together)
        await pg.execute("delete from chat_messages where id = $1", together)

    await eventually(lambda: len(got) == 6, what=f"six changes (got {_summary(got)})")
    assert [(kind, key) for _table, kind, key in _summary(got)] == [
        ("INSERT", separate),
        ("UPDATE", separate),
        ("DELETE", separate),
        ("INSERT", together),
        ("UPDATE", together),
        ("DELETE", together),
    ]
    assert [p["data"].get("record", {}).get("content") for p in got] == ["one", "two", None, "three", "four", None]


async def test_a_primary_key_reused_by_another_user_is_checked_per_image(
    stack: LocalStack,
    pg: asyncpg.Connection,
    alice: RealtimeUser,
    bob: RealtimeUser,
    realtime_client: Callable[..., AsyncRealtimeClient],
) -> None:
    """A's row deleted and B's row inserted under the same id: each sees only its own change."""
    got_a: list[Any] = []
    got_b: list[Any] = []
    for user, name, received in ((alice, "a-reuse", got_a), (bob, "b-reuse", got_b)):
        channel = realtime_client(user.access_token).channel(name)
        channel.on_postgres_changes(Change.All, received.append, table="chat_messages", schema="public")
        await subscribed(channel)
    session_a = await new_session(pg, alice.id)
    session_b = await new_session(pg, bob.id)

    shared = str(uuid.uuid4())
    await pg.execute(_INSERT_MESSAGE, shared, session_a, "alice's")
    await pg.execute("delete from chat_messages where id = $1", shared)
    await pg.execute(_INSERT_MESSAGE, shared, session_b, "bob's")
    await pg.execute("delete from chat_messages where id = $1", shared)
    await pg.execute(_INSERT_MESSAGE, shared, session_a, "alice's again")

    await eventually(lambda: len(got_a) == 3, what=f"A's three changes (got {_summary(got_a)})")
    await eventually(lambda: len(got_b) == 2, what=f"B's two changes (got {_summary(got_b)})")
    assert [p["data"]["type"] for p in got_a] == ["INSERT", "DELETE", "INSERT"]
    assert [p["data"]["type"] for p in got_b] == ["INSERT", "DELETE"]
    assert got_a[2]["data"]["record"]["content"] == "alice's again"
    assert got_b[0]["data"]["record"]["content"] == "bob's"
