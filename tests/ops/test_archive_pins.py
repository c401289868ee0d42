"""A pinned chat is one its user chose to keep: the lifecycle jobs neither archive nor delete it,
and pinning an archived chat brings it back, as asking in it again does."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import httpx
from supabase import AsyncClientOptions, acreate_client

from tests.api.conftest import ApiUser, new_session, register_and_login
from tests.conftest import LocalStack
from tests.ops.conftest import ops
from tests.ops.test_lifecycle import add_messages, idle_for, listed


async def _pin(stack: LocalStack, user: ApiUser, session_id: str) -> None:
    """Pin as the web app does: chat_sessions.pinned_at over REST with the user's token."""
    client = await acreate_client(
        stack.url, stack.anon_key, AsyncClientOptions(persist_session=False, auto_refresh_token=False)
    )
    client.postgrest.auth(user.access_token)
    pin = {"pinned_at": datetime.now(UTC).isoformat()}
    updated = (await client.table("chat_sessions").update(pin).eq("id", session_id).execute()).data
    assert len(updated) == 1


async def test_an_idle_pinned_chat_is_not_archived(
    http: httpx.AsyncClient, pg: asyncpg.Connection, stack: LocalStack
) -> None:
    user = await register_and_login(http)
    pinned, idle = await new_session(http, user), await new_session(http, user)
    for session in (pinned, idle):
        await add_messages(pg, session["id"], user.id, 3)
        await idle_for(pg, session["id"], 200)
    await _pin(stack, user, pinned["id"])

    ops(stack, "archive", "--older-than", "90d")

    assert await listed(http, user) == [pinned["id"]]
    assert await listed(http, user, archived="true") == [idle["id"]]


async def test_pinning_an_archived_chat_brings_it_back(
    http: httpx.AsyncClient, pg: asyncpg.Connection, stack: LocalStack
) -> None:
    user = await register_and_login(http)
    session = await new_session(http, user)
    await add_messages(pg, session["id"], user.id, 2)
    await idle_for(pg, session["id"], 200)
    ops(stack, "archive", "--older-than", "90d")
    assert await listed(http, user, archived="true") == [session["id"]]

    await _pin(stack, user, session["id"])

    assert await listed(http, user) == [session["id"]]
    row = await pg.fetchrow("select archived_at, is_active from chat_sessions where id = $1", session["id"])
    assert (row["archived_at"], row["is_active"]) == (None, True)
    await pg.execute("update chat_sessions set archived_at = now() - interval '40 days' where id = $1", session["id"])
    ops(stack, "archive", "--older-than", "90d", "--delete-after", "30d")  # pinned: kept, messages and all
    assert await pg.fetchval("select message_count from chat_sessions where id = $1", session["id"]) == 2
