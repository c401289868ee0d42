"""A private channel reads what realtime.messages' policies let it read, broadcast and presence
apart, as Realtime authorizes them: a join needs broadcast read, or presence read when it enables
presence; broadcasts reach only joins that may read broadcasts, presence only those that may read
presence; a refreshed token that loses a read the channel had closes it.

Frames reach one socket in the order the gateway writes them, so once a later frame (a sentinel) has
arrived, an earlier one that was going to arrive would have: that is how "never received" is
asserted without sleeps.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import httpx
import pytest
from realtime import AsyncRealtimeClient

from tests.conftest import LocalStack, channel_options
from tests.localbase.realtime.conftest import RealtimeUser, eventually, mint, new_session, subscribed

# Topic prefixes only these tests' policies name: presence-only topics are readable (and
# trackable) for presence, broadcast-only ones for broadcasts.
_POLICIES = (
    "create policy lbtest_presence_reads on realtime.messages for select to authenticated"
    " using (extension = 'presence' and (select realtime.topic()) like 'lbtest-presence:%')",
    "create policy lbtest_presence_tracks on realtime.messages for insert to authenticated"
    " with check (extension = 'presence' and (select realtime.topic()) like 'lbtest-presence:%')",
    "create policy lbtest_broadcast_reads on realtime.messages for select to authenticated"
    " using (extension = 'broadcast' and (select realtime.topic()) like 'lbtest-broadcast:%')",
    # Read both while the token's claims say so: a refreshed token can lose the broadcast read.
    "create policy lbtest_claimed_reads on realtime.messages for select to authenticated"
    " using ((select realtime.topic()) like 'lbtest-claimed:%'"
    " and (extension = 'presence' or (select auth.jwt()) ->> 'reads' = 'all'))",
)


@pytest.fixture
async def policies(pg: asyncpg.Connection) -> AsyncIterator[None]:
    for statement in _POLICIES:
        await pg.execute(statement)
    yield
    for name in ("presence_reads", "presence_tracks", "broadcast_reads", "claimed_reads"):
        await pg.execute(f"drop policy lbtest_{name} on realtime.messages")


def _private(**config: Any) -> Any:
    return channel_options(private=True, **config)


async def _join_state(client: AsyncRealtimeClient, topic: str, options: Any) -> tuple[str, str]:
    states: list[Any] = []
    await client.channel(topic, options).subscribe(lambda state, error: states.append((state, error)))
    await eventually(lambda: bool(states), what=f"the reply to the join of {topic}")
    return states[0][0].value, str(states[0][1])


async def _rest_broadcast(stack: LocalStack, topic: str, payload: dict[str, Any]) -> None:
    headers = {"apikey": stack.anon_key, "Authorization": f"Bearer {stack.service_role_key}"}
    body = {"messages": [{"topic": topic, "event": "news", "payload": payload, "private": True}]}
    async with httpx.AsyncClient() as http:
        sent = await http.post(f"{stack.url}/realtime/v1/api/broadcast", json=body, headers=headers)
    assert sent.status_code == 202, sent.text


async def test_a_join_that_may_read_presence_only_hears_presence_and_no_broadcast(
    stack: LocalStack,
    policies: None,
    alice: RealtimeUser,
    realtime_client: Callable[..., AsyncRealtimeClient],
) -> None:
    topic = f"lbtest-presence:{uuid.uuid4()}"
    # Without presence enabled the join asks for broadcast read alone: refused, as Realtime does.
    state, error = await _join_state(realtime_client(alice.access_token), topic, _private())
    assert state == "CHANNEL_ERROR"
    assert f"Unauthorized: You do not have permissions to read from this Channel topic: {topic}" in error

    heard: list[Any] = []
    listener = realtime_client(alice.access_token).channel(topic, _private(presence={"key": "alice"}))
    listener.on_broadcast("*", heard.append)
    listener.on_presence_sync(lambda: None)
    await subscribed(listener)
    server = realtime_client(stack.service_role_key).channel(topic, _private(presence={"key": "server"}))
    await subscribed(server)

    await server.send_broadcast("news", {"via": "socket"})
    await _rest_broadcast(stack, topic, {"via": "rest"})
    await server.track({"online": True})  # the sentinel: after both broadcasts on alice's socket
    await eventually(lambda: "server" in listener.presence_state(), what="the server's presence")
    assert heard == []


async def test_a_join_that_may_read_broadcasts_only_hears_no_presence(
    stack: LocalStack,
    policies: None,
    bob: RealtimeUser,
    realtime_client: Callable[..., AsyncRealtimeClient],
) -> None:
    topic = f"lbtest-broadcast:{uuid.uuid4()}"
    server = realtime_client(stack.service_role_key).channel(topic, _private(presence={"key": "server"}))
    await subscribed(server)
    await server.track({"online": True})  # in the state a new join would be sent

    presence: list[Any] = []
    heard: list[Any] = []
    listener = realtime_client(bob.access_token).channel(topic, _private(presence={"key": "bob"}))
    listener.on_broadcast("*", heard.append)
    listener.on_presence_sync(lambda: presence.append(dict(listener.presence_state())))
    await subscribed(listener)
    await server.track({"online": False})  # a diff
    await server.send_broadcast("news", {"n": 1})  # the sentinel
    await eventually(lambda: bool(heard), what="the broadcast")
    assert presence == []
    assert listener.presence_state() == {}


async def test_a_refreshed_token_that_loses_a_read_the_channel_had_closes_it(
    stack: LocalStack,
    policies: None,
    alice: RealtimeUser,
    realtime_client: Callable[..., AsyncRealtimeClient],
) -> None:
    topic = f"lbtest-claimed:{uuid.uuid4()}"
    claims = {"sub": alice.id, "role": "authenticated", "exp": int(time.time()) + 3600}
    client = realtime_client(mint(stack, {**claims, "reads": "all"}))
    states: list[Any] = []
    channel = client.channel(topic, _private(presence={"key": "alice"}))
    channel.on_presence_sync(lambda: None)
    await channel.subscribe(lambda state, error: states.append((state, str(error))))
    await eventually(lambda: bool(states), what="the join")
    assert states[0][0].value == "SUBSCRIBED"

    await client.set_auth(mint(stack, claims))  # presence still readable, broadcasts no longer
    await eventually(lambda: len(states) > 1, what="the channel's close")
    assert states[1][0].value == "CHANNEL_ERROR"
    assert f"You no longer have permission to read from this Channel topic: {topic}" in states[1][1]


async def test_another_users_token_on_a_joined_chat_channel_closes_it(
    pg: asyncpg.Connection,
    alice: RealtimeUser,
    bob: RealtimeUser,
    realtime_client: Callable[..., AsyncRealtimeClient],
) -> None:
    # Realtime takes any valid token in access_token (no same-user rule) and re-reads the channel's
    # policies with it: the product's chat channel is its owner's alone, so bob's token closes it.
    topic = f"chat:{await new_session(pg, alice.id)}"
    client = realtime_client(alice.access_token)
    states: list[Any] = []
    channel = client.channel(topic, _private())
    await channel.subscribe(lambda state, error: states.append((state, str(error))))
    await eventually(lambda: bool(states), what="the join")
    assert states[0][0].value == "SUBSCRIBED"
    await client.set_auth(bob.access_token)
    await eventually(lambda: len(states) > 1, what="the channel's close")
    assert states[1][0].value == "CHANNEL_ERROR"
    assert f"You no longer have permission to read from this Channel topic: {topic}" in states[1][1]


async def test_a_join_that_may_read_presence_only_is_refused_a_replay_of_broadcasts(
    pg: asyncpg.Connection, policies: None, alice: RealtimeUser, realtime_client: Callable[..., AsyncRealtimeClient]
) -> None:
    # Realtime checks the broadcast read before replaying (can_replay?): the stored broadcasts
    # of a topic must not reach a join that may read only its presence.
    topic = f"lbtest-presence:{uuid.uuid4()}"
    await pg.execute("select realtime.send('{\"secret\": 1}'::jsonb, 'news', $1, true)", topic)
    heard: list[Any] = []
    listener = realtime_client(alice.access_token).channel(
        topic, _private(presence={"key": "alice"}, broadcast={"replay": {"since": 0}})
    )
    listener.on_broadcast("news", heard.append)
    listener.on_presence_sync(lambda: None)  # presence enabled: the join may stand on presence read
    states: list[Any] = []
    await listener.subscribe(lambda state, error: states.append((state.value, str(error))))
    await eventually(lambda: bool(states), what="the join's reply")
    assert states[0][0] == "CHANNEL_ERROR", states
    assert f"Unauthorized: You do not have permissions to read from this Channel topic: {topic}" in states[0][1]
    assert heard == []
