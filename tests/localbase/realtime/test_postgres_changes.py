"""postgres_changes through the unmodified clients: filters, per-subscriber RLS, payload shape."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg
from realtime import AsyncRealtimeClient
from realtime import RealtimePostgresChangesListenEvent as Change
from supabase import acreate_client

from tests.conftest import LocalStack, channel_options
from tests.localbase.realtime.conftest import RealtimeUser, eventually, new_session, subscribed


async def test_user_gets_own_changes_matching_filter_and_not_other_users(
    stack: LocalStack, pg: asyncpg.Connection, alice: RealtimeUser, bob: RealtimeUser
) -> None:
    session_a = await new_session(pg, alice.id)
    other_a = await new_session(pg, alice.id)
    session_b = await new_session(pg, bob.id)
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
        mine = await pg.fetchval(insert, session_a, "hello")
        await pg.fetchval(insert, other_a, "other session")
        theirs = await pg.fetchval(insert, session_b, "b's message")
        await pg.execute("update chat_messages set content = 'edited' where id = $1", mine)
        await pg.execute("delete from chat_messages where id = $1", mine)
        await pg.execute("delete from chat_messages where id = $1", theirs)
        # A's filter is on session_id, which a DELETE's identity (its key) lacks: as on Supabase, it
        # matches no DELETE (test_a_delete_is_filtered_by_its_identity_alone). The next insert
        # arrives after where that DELETE would have.
        await pg.fetchval(insert, session_a, "after the delete")
        await eventually(lambda: len(got_a) == 3, what="A's insert, update and the next insert")
        await eventually(lambda: any(p["data"]["type"] == "DELETE" for p in got_b), what="B's own delete")

        assert [p["data"]["type"] for p in got_a] == ["INSERT", "UPDATE", "INSERT"]
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
        # B sees its own row and nothing of A's, not even the primary key of A's DELETE.
        b_rows = [p["data"] for p in got_b]
        assert [d["record"]["id"] for d in b_rows if d["type"] != "DELETE"] == [str(theirs)]
        assert [d["old_record"] for d in b_rows if d["type"] == "DELETE"] == [{"id": str(theirs)}]
    finally:
        await client_a.realtime.close()
        await client_b.realtime.close()


async def test_update_old_record_is_the_key_unless_replica_identity_is_full(
    stack: LocalStack, pg: asyncpg.Connection
) -> None:
    """An UPDATE's old row travels only from a REPLICA IDENTITY FULL table; the capture trigger is
    made again when the identity changes (03_realtime_capture.sql)."""
    await pg.execute("create table public.rt_identity (id int primary key, v text)")
    await pg.execute("grant select on public.rt_identity to service_role")
    await pg.execute("alter publication supabase_realtime add table public.rt_identity")
    got: list[Any] = []
    client = await acreate_client(stack.url, stack.service_role_key)
    try:
        channel = client.channel("identity").on_postgres_changes(
            Change.Update, got.append, table="rt_identity", schema="public"
        )
        await subscribed(channel)
        await pg.execute("insert into public.rt_identity values (1, 'first')")
        await pg.execute("update public.rt_identity set v = 'second' where id = 1")
        await eventually(lambda: len(got) == 1, what="the update under the default identity")
        assert got[0]["data"]["old_record"] == {"id": 1}
        assert got[0]["data"]["record"] == {"id": 1, "v": "second"}

        await pg.execute("alter table public.rt_identity replica identity full")
        args = await pg.fetchval(
            "select tgnargs from pg_trigger where tgrelid = 'public.rt_identity'::regclass"
            " and tgname = 'localbase_realtime_capture'"
        )
        assert args == 1
        await pg.execute("update public.rt_identity set v = 'third' where id = 1")
        await eventually(lambda: len(got) == 2, what="the update under REPLICA IDENTITY FULL")
        assert got[1]["data"]["old_record"] == {"id": 1, "v": "second"}
        assert got[1]["data"]["record"] == {"id": 1, "v": "third"}

        await pg.execute("alter table public.rt_identity replica identity default")
        await pg.execute("update public.rt_identity set v = 'fourth' where id = 1")
        await eventually(lambda: len(got) == 3, what="the update under the default identity again")
        assert got[2]["data"]["old_record"] == {"id": 1}
    finally:
        await client.realtime.close()
        await pg.execute("drop table public.rt_identity")


async def test_an_update_of_a_long_text_goes_in_its_notification_not_parked(
    stack: LocalStack, pg: asyncpg.Connection, alice: RealtimeUser
) -> None:
    """The old row no longer doubles an update's payload: a 5 KB text fits NOTIFY's 8,000 bytes,
    so its update is not parked in realtime.localbase_overflow (and still arrives whole)."""
    session = await new_session(pg, alice.id)
    got: list[Any] = []
    client = await acreate_client(stack.url, stack.anon_key)
    try:
        await client.realtime.set_auth(alice.access_token)
        channel = client.channel("long").on_postgres_changes(
            Change.Update, got.append, table="chat_messages", schema="public", filter=f"session_id=eq.{session}"
        )
        await subscribed(channel)
        mine = await pg.fetchval(
            "insert into chat_messages (session_id, content) values ($1, $2) returning id", session, "a" * 5000
        )
        parked = "select last_value, is_called from realtime.localbase_overflow_id_seq"
        before = await pg.fetchrow(parked)
        await pg.execute("update chat_messages set content = $2 where id = $1", mine, "b" * 5000)
        await eventually(lambda: len(got) == 1, what="the update")
        assert got[0]["data"]["record"]["content"] == "b" * 5000
        assert await pg.fetchrow(parked) == before
    finally:
        await client.realtime.close()


async def test_a_notification_that_is_not_a_change_is_skipped_and_the_stream_goes_on(
    stack: LocalStack, pg: asyncpg.Connection, alice: RealtimeUser
) -> None:
    """Anyone may NOTIFY the change channel; text that is not a change is logged and skipped, and
    the changes after it still arrive (a decode error used to end the stream's consumer task)."""
    session = await new_session(pg, alice.id)
    got: list[Any] = []
    client = await acreate_client(stack.url, stack.anon_key)
    try:
        await client.realtime.set_auth(alice.access_token)
        channel = client.channel("after-junk").on_postgres_changes(
            Change.Insert, got.append, table="chat_messages", schema="public", filter=f"session_id=eq.{session}"
        )
        await subscribed(channel)
        await pg.execute("select pg_notify('localbase_realtime', 'not a change')")
        await pg.execute("select pg_notify('localbase_realtime', '{\"k\": \"o\"}')")
        await pg.execute("insert into chat_messages (session_id, content) values ($1, 'after')", session)
        await eventually(lambda: len(got) == 1, what="the change after the junk")
        assert got[0]["data"]["record"]["content"] == "after"
    finally:
        await client.realtime.close()


async def test_a_join_opting_in_to_replication_ready_is_told_the_change_stream_is_ready(
    alice: RealtimeUser, realtime_client: Callable[..., AsyncRealtimeClient]
) -> None:
    # realtime-js and realtime-py document `broadcast.replication_ready`: Realtime then sends a
    # `system` message (extension "system") once its replication connection is ready, after the
    # bindings' own. The gateway ignored the option, so a client waiting for it waited forever.
    client = realtime_client(alice.access_token)
    told: dict[str, list[Any]] = {}
    # One socket sends in order: anything for the first channel comes before the others' messages.
    for name, asked in (("ready-not-asked", False), ("ready-bound", True), ("ready-plain", True)):
        told[name] = []
        channel = client.channel(name, channel_options(broadcast={"replication_ready": asked}))
        channel.on_system(told[name].append)
        if name == "ready-bound":
            channel.on_postgres_changes(Change.Insert, lambda _: None, table="chat_messages", schema="public")
        await channel.subscribe()
    await eventually(lambda: len(told["ready-bound"]) == 2 and bool(told["ready-plain"]), what="the system messages")
    ready = ("system", "ok", "Replication connection established")
    assert [(p.extension, p.status, p.message) for p in told["ready-bound"]] == [
        ("postgres_changes", "ok", "Subscribed to PostgreSQL"),
        ready,
    ]
    assert [(p.extension, p.status, p.message) for p in told["ready-plain"]] == [ready]
    assert told["ready-plain"][0].channel == "ready-plain"
    assert told["ready-not-asked"] == []


async def test_a_delete_is_filtered_by_its_identity_alone(stack: LocalStack, pg: asyncpg.Connection) -> None:
    """Realtime matches a DELETE's filter against the old row's replica identity (apply_rls's
    `old_columns`, from wal2json's `identity`): the primary key, unless the table is REPLICA
    IDENTITY FULL; a filter on any other column matches no DELETE, as Supabase's docs warn. Ours
    matched it against the whole deleted row, so a filtered DELETE listener worked here and
    heard nothing on Supabase."""
    await pg.execute("create table public.rt_deletes (id int primary key, v text)")
    await pg.execute("grant select on public.rt_deletes to service_role")
    await pg.execute("alter publication supabase_realtime add table public.rt_deletes")
    by_value: list[Any] = []
    by_key: list[Any] = []
    client = await acreate_client(stack.url, stack.service_role_key)
    try:
        channel = (
            client.channel("deletes")
            .on_postgres_changes(Change.Delete, by_value.append, table="rt_deletes", schema="public", filter="v=eq.a")
            .on_postgres_changes(Change.Delete, by_key.append, table="rt_deletes", schema="public", filter="id=eq.1")
        )
        await subscribed(channel)
        await pg.execute("insert into public.rt_deletes values (1, 'a'), (2, 'a')")
        await pg.execute("delete from public.rt_deletes where id = 1")
        await eventually(lambda: len(by_key) == 1, what="the delete matched by its key")
        await pg.execute("alter table public.rt_deletes replica identity full")
        await pg.execute("delete from public.rt_deletes where id = 2")
        await eventually(lambda: len(by_value) == 1, what="the delete matched by a column of its full identity")
        assert by_value[0]["data"]["old_record"] == {"id": 2, "v": "a"}
        assert by_key[0]["data"]["old_record"] == {"id": 1}
    finally:
        await client.realtime.close()
        await pg.execute("drop table public.rt_deletes")
