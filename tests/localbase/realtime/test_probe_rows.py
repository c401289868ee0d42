"""The rows a private channel's policies are probed with look as Realtime's do: Realtime inserts
them with the topic and the extension alone (Authorization.get_read_authorizations and
check_write_policies: Realtime.Api.Message changesets), so every other column, `private` among
them, is the table's default (false). A policy that reads `private` decides the same here as on
Supabase."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import httpx
import pytest
from realtime import AsyncRealtimeClient

from tests.conftest import LocalStack, channel_options
from tests.localbase.realtime.conftest import RealtimeUser, eventually, subscribed

_POLICIES = (
    "create policy lbtest_probe_reads on realtime.messages for select to authenticated"
    " using ((select realtime.topic()) like 'lbtest-probe:%' and not private)",
    "create policy lbtest_probe_writes on realtime.messages for insert to authenticated"
    " with check ((select realtime.topic()) like 'lbtest-probe:%' and not private)",
    "create policy lbtest_probe_private_reads on realtime.messages for select to authenticated"
    " using ((select realtime.topic()) like 'lbtest-probe-private:%' and private)",
)


@pytest.fixture
async def policies(pg: asyncpg.Connection) -> AsyncIterator[None]:
    for statement in _POLICIES:
        await pg.execute(statement)
    yield
    for name in ("reads", "writes", "private_reads"):
        await pg.execute(f"drop policy lbtest_probe_{name} on realtime.messages")


async def _join_state(client: AsyncRealtimeClient, topic: str) -> tuple[str, str]:
    states: list[Any] = []
    channel = client.channel(topic, channel_options(private=True))
    await channel.subscribe(lambda state, error: states.append((state, error)))
    await eventually(lambda: bool(states), what=f"the reply to the join of {topic}")
    return states[0][0].value, str(states[0][1])


async def test_the_probe_rows_have_the_tables_default_private(
    stack: LocalStack,
    policies: None,
    alice: RealtimeUser,
    realtime_client: Callable[..., AsyncRealtimeClient],
) -> None:
    # Ours inserted its probes with private = true: a policy on `not private` refused here what
    # Supabase allows, and one on `private` allowed here what Supabase refuses.
    topic = f"lbtest-probe:{uuid.uuid4()}"
    assert await _join_state(realtime_client(alice.access_token), topic) == ("SUBSCRIBED", "None")
    refused = f"lbtest-probe-private:{uuid.uuid4()}"
    state, error = await _join_state(realtime_client(alice.access_token), refused)
    assert state == "CHANNEL_ERROR"
    assert f"Unauthorized: You do not have permissions to read from this Channel topic: {refused}" in error

    # The write probe too: alice's broadcast through the REST API goes out.
    heard: list[Any] = []
    listener = realtime_client(stack.service_role_key).channel(topic, channel_options(private=True))
    listener.on_broadcast("news", heard.append)
    await subscribed(listener)
    headers = {"apikey": stack.anon_key, "Authorization": f"Bearer {alice.access_token}"}
    body = {"messages": [{"topic": topic, "event": "news", "payload": {"n": 1}, "private": True}]}
    async with httpx.AsyncClient() as http:
        sent = await http.post(f"{stack.url}/realtime/v1/api/broadcast", json=body, headers=headers)
    assert sent.status_code == 202, sent.text
    await eventually(lambda: bool(heard), what="alice's broadcast")
    assert heard[0]["payload"] == {"n": 1}
