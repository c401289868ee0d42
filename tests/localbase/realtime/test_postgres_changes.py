"""postgres_changes through the unmodified clients: filters, per-subscriber RLS, payload shape."""

from __future__ import annotations

from typing import Any

import asyncpg
from realtime import RealtimePostgresChangesListenEvent as Change
from supabase import acreate_client

from tests.conftest import LocalStack
from tests.localbase.realtime.conftest import RealtimeUser, eventually, new_session, subscribed


async def test_user_gets_own_changes_matching_filter_and_not_other_users(
    stack: LocalStack, stack_db: asyncpg.Connection, alice: RealtimeUser, bob: RealtimeUser
) -> None:
    session_a = await new_session(stack_db, alice.id)
    other_a = await new_session(stack_db, alice.id)
    session_b = await new_session(stack_db, bob.id)
    got_a: list[Any] = []
    got_b: list[Any] = []
    client_a = await acreate_client(stack.url, stack.anon_key)
    client_b = await acreate_client(stack.url, stack.anon_key)
    try:
        await client_a.realtime.set_auth(alice.access_token)
        await client_b.realtime.set_auth(bob.access_token)
        channel_a = client_a.channel("a-messages").on_postgres_changes(
            Change.All, got_a.append, table="chat_messages", schema="public", filter=f"session_id=eq.{session_a}"
        )
        channel_b = client_b.channel("b-messages").on_postgres_changes(Change.All, got_b.append, table="chat_messages")
        await subscribed(channel_a)
        await subscribed(channel_b)

        insert = "insert into chat_messages (session_id, content) values ($1, $2) returning id"
        mine = await stack_db.fetchval(insert, session_a, "hello")
        await stack_db.fetchval(insert, other_a, "other session")
        theirs = await stack_db.fetchval(insert, session_b, "b's message")
        await stack_db.execute("update chat_messages set content = 'edited' where id = $1", mine)
        await stack_db.execute("delete from chat_messages where id = $1", mine)
        await stack_db.execute("delete from chat_messages where id = $1", theirs)
        await eventually(lambda: len(got_a) == 3, what="A's insert, update and delete")
        await eventually(lambda: any(p["data"]["type"] == "DELETE" for p in got_b), what="B's own delete")

        assert [p["data"]["type"] for p in got_a] == ["INSERT", "UPDATE", "DELETE"]
        insert_data = got_a[0]["data"]
        assert insert_data["schema"] == "public"
        assert insert_data["table"] == "chat_messages"
        assert insert_data["record"]["content"] == "hello"
        assert insert_data["errors"] is None
        assert insert_data["commit_timestamp"].endswith("Z")
        assert {"name": "content", "type": "text"} in insert_data["columns"]
        assert "eventType" not in insert_data
        assert "new" not in insert_data
        assert got_a[1]["data"]["record"]["content"] == "edited"
        assert got_a[1]["data"]["old_record"] == {"id": str(mine)}
        assert got_a[2]["data"]["old_record"] == {"id": str(mine)}
        # B sees its own row and nothing of A's, not even the primary key of A's DELETE.
        b_rows = [p["data"] for p in got_b]
        assert [d["record"]["id"] for d in b_rows if d["type"] != "DELETE"] == [str(theirs)]
        assert [d["old_record"] for d in b_rows if d["type"] == "DELETE"] == [{"id": str(theirs)}]
    finally:
        await client_a.realtime.close()
        await client_b.realtime.close()
