"""A chat created in one tab is heard in the user's other tabs, as the official clients see it: the
web app's insert through PostgREST (supabase-py here, the user's JWT) and a branch (chat_branch, an
RPC) each reach a realtime-py client joined to the private `user:<id>` as `sessions_created`
(migration 20261206190000). Another user's client hears nothing of them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
from realtime import AsyncRealtimeClient
from supabase import AsyncClient, AsyncClientOptions, acreate_client

from tests.conftest import LocalStack, channel_options
from tests.localbase.realtime.conftest import RealtimeUser, eventually, subscribed
from tests.localbase.realtime.test_delete_broadcasts import _turn


async def _tab(stack: LocalStack, user: RealtimeUser) -> AsyncClient:
    """supabase-py as the web app uses supabase-js: the anon key, the user's JWT on PostgREST."""
    client = await acreate_client(
        stack.url, stack.anon_key, AsyncClientOptions(persist_session=False, auto_refresh_token=False)
    )
    client.postgrest.auth(user.access_token)
    return client


async def test_a_chat_created_or_branched_in_one_tab_is_heard_in_the_other_and_by_no_one_else(
    stack: LocalStack,
    pg: asyncpg.Connection,
    alice: RealtimeUser,
    bob: RealtimeUser,
    realtime_client: Callable[..., AsyncRealtimeClient],
) -> None:
    topic = f"user:{alice.id}"
    heard: list[Any] = []
    await subscribed(
        realtime_client(alice.access_token)
        .channel(topic, channel_options(private=True))
        .on_broadcast("sessions_created", heard.append)
    )
    overheard: list[Any] = []
    await subscribed(realtime_client(bob.access_token).channel(topic).on_broadcast("*", overheard.append))

    tab = await _tab(stack, alice)
    made = str(uuid.uuid4())
    inserted: list[dict[str, Any]] = (
        await tab.table("chat_sessions").insert({"id": made, "model": "qwen-plus"}).execute()
    ).data  # type: ignore[assignment]
    assert [row["id"] for row in inserted] == [made]
    await eventually(lambda: len(heard) == 1, what="the created chat")
    (row,) = heard[0]["payload"]["rows"]
    assert (row["id"], row["model"], row["title"], row["archived_at"]) == (made, "qwen-plus", None, None)
    assert row["created_at"] == inserted[0]["created_at"]  # the list sorts it as its own read would

    _, answer = await _turn(pg, made, alice.id)
    branch = str(uuid.uuid4())
    assert (await tab.rpc("chat_branch", {"message": answer, "session": branch}).execute()).data == branch
    await eventually(lambda: len(heard) == 2, what="the branch")
    assert [r["id"] for r in heard[1]["payload"]["rows"]] == [branch]

    # The sentinel: a later public broadcast on the same name arrives; the private ones never did.
    await pg.execute("select realtime.send('{\"x\": 1}'::jsonb, 'sentinel', $1, false)", topic)
    await eventually(lambda: bool(overheard), what="the sentinel")
    assert [m["event"] for m in overheard] == ["sentinel"]
