"""Helpers for the Realtime tests: clients on the running stack, and polling with deadlines."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import pytest
from realtime import AsyncRealtimeChannel, AsyncRealtimeClient, RealtimeSubscribeStates

from core.jwt import encode


async def eventually(condition: Callable[[], bool], within: float = 10.0, what: str = "condition") -> None:
    """Poll `condition` until it holds, failing after `within` seconds."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def ws_url(http_url: str) -> str:
    return f"{http_url.replace('http://', 'ws://')}/realtime/v1"


async def subscribed(channel: AsyncRealtimeChannel, within: float = 10.0) -> list[Any]:
    """Subscribe and wait until SUBSCRIBED (and, with bindings, the Postgres system message)."""
    states: list[Any] = []
    system: list[Any] = []
    channel.on_system(system.append)
    await channel.subscribe(lambda state, error: states.append((state, error)))
    await eventually(lambda: bool(states), within, "the join reply")
    assert states[0][0] == RealtimeSubscribeStates.SUBSCRIBED, states
    if channel.postgres_changes_callbacks:
        await eventually(lambda: bool(system), within, "Subscribed to PostgreSQL")
        assert system[0].message == "Subscribed to PostgreSQL"
    return states


@pytest.fixture
async def realtime_client(stack: Any) -> AsyncIterator[Callable[..., AsyncRealtimeClient]]:
    """A factory of realtime-py clients on the stack, all closed at the end of the test."""
    made: list[AsyncRealtimeClient] = []

    def make(token: str | None = None, **kwargs: Any) -> AsyncRealtimeClient:
        client = AsyncRealtimeClient(ws_url(stack.url), token or stack.anon_key, **kwargs)
        made.append(client)
        return client

    yield make
    for client in made:
        await client.close()


async def new_session(db: asyncpg.Connection, user_id: str, title: str = "t") -> str:
    return str(
        await db.fetchval("insert into chat_sessions (user_id, title) values ($1, $2) returning id", user_id, title)
    )


class RealtimeUser:
    """A user row plus a JWT signed with the stack's secret (independent of the Auth service)."""

    def __init__(self, id: str, access_token: str) -> None:
        self.id = id
        self.access_token = access_token


def mint(stack: Any, claims: dict[str, Any]) -> str:
    return encode(claims, stack.jwt_secret)


async def make_user(stack: Any, db: asyncpg.Connection, ttl: int = 3600) -> RealtimeUser:
    user_id = str(uuid.uuid4())
    await db.execute("insert into auth.users (id, email) values ($1, $2)", user_id, f"{user_id}@example.com")
    claims = {"sub": user_id, "role": "authenticated", "aud": "authenticated", "exp": int(time.time()) + ttl}
    return RealtimeUser(user_id, mint(stack, claims))


@pytest.fixture
async def alice(stack: Any, pg: asyncpg.Connection) -> RealtimeUser:
    return await make_user(stack, pg)


@pytest.fixture
async def bob(stack: Any, pg: asyncpg.Connection) -> RealtimeUser:
    return await make_user(stack, pg)
