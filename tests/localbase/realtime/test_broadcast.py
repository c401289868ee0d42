"""Broadcast: socket to socket (self, ack), the REST API, and realtime.send from SQL."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import asyncpg
import httpx
import pytest
from realtime import AsyncRealtimeClient
from realtime.exceptions import RealtimeHTTPError

from tests.conftest import LocalStack, channel_options
from tests.localbase.realtime.conftest import RealtimeUser, eventually, mint, new_session, subscribed


async def test_broadcast_reaches_others_and_self_only_when_asked(
    realtime_client: Callable[..., AsyncRealtimeClient],
) -> None:
    sender, listener = realtime_client(), realtime_client()
    echoed: list[Any] = []
    heard: list[Any] = []
    config: Any = {"config": {"broadcast": {"self": True, "ack": True}, "private": False}}
    loud = sender.channel("room-self", config).on_broadcast("greet", echoed.append)
    quiet_sender = sender.channel("room-quiet").on_broadcast("greet", echoed.append)
    ear = listener.channel("room-self").on_broadcast("*", heard.append)
    quiet_ear = listener.channel("room-quiet").on_broadcast("greet", heard.append)
    for channel in (loud, quiet_sender, ear, quiet_ear):
        await subscribed(channel)

    await loud.send_broadcast("greet", {"n": 1})
    await quiet_sender.send_broadcast("greet", {"n": 2})
    await eventually(lambda: len(heard) == 2, what="both broadcasts at the listener")
    await eventually(lambda: len(echoed) == 1, what="the self echo")
    assert echoed[0]["payload"] == {"n": 1}
    assert echoed[0]["event"] == "greet"
    assert sorted(h["payload"]["n"] for h in heard) == [1, 2]


async def test_ack_replies_to_the_sender(realtime_client: Callable[..., AsyncRealtimeClient]) -> None:
    client = realtime_client()
    channel = client.channel("acked", channel_options(broadcast={"ack": True}, private=False))
    await subscribed(channel)
    acks: list[Any] = []
    push = await channel.push("broadcast", {"type": "broadcast", "event": "e", "payload": {}})
    push.receive("ok", acks.append)  # type: ignore[call-overload]
    await eventually(lambda: bool(acks), what="the ack")


async def test_rest_broadcast_batch_and_single_reach_subscribers(
    stack: LocalStack, realtime_client: Callable[..., AsyncRealtimeClient]
) -> None:
    client = realtime_client()
    heard: list[Any] = []
    channel = client.channel("news").on_broadcast("*", heard.append)
    await subscribed(channel)
    headers = {"apikey": stack.anon_key, "Authorization": f"Bearer {stack.service_role_key}"}
    async with httpx.AsyncClient() as http:
        body = {
            "messages": [
                {"topic": "news", "event": "a", "payload": {"n": 1}},
                {"topic": "x", "event": "b", "payload": {}},
            ]
        }
        batch = await http.post(f"{stack.url}/realtime/v1/api/broadcast", json=body, headers=headers)
        assert batch.status_code == 202, batch.text
        bad = await http.post(f"{stack.url}/realtime/v1/api/broadcast", json={"messages": "no"}, headers=headers)
        assert bad.status_code == 422
    await channel.http_send("b", {"n": 2})
    await eventually(lambda: len(heard) == 2, what="REST broadcasts")
    assert [(h["event"], h["payload"]) for h in heard] == [("a", {"n": 1}), ("b", {"n": 2})]


async def test_realtime_send_reaches_session_owner_only(
    stack: LocalStack,
    pg: asyncpg.Connection,
    alice: RealtimeUser,
    bob: RealtimeUser,
    realtime_client: Callable[..., AsyncRealtimeClient],
) -> None:
    session = await new_session(pg, alice.id)
    topic = f"chat:{session}"
    private: Any = {"config": {"broadcast": {"self": False}, "private": True}}
    owner, intruder = realtime_client(), realtime_client()
    await owner.set_auth(alice.access_token)
    await intruder.set_auth(bob.access_token)
    heard: list[Any] = []
    public_heard: list[Any] = []
    await subscribed(owner.channel(topic, private).on_broadcast("chunk", heard.append))
    public = realtime_client()
    await subscribed(public.channel(topic).on_broadcast("chunk", public_heard.append))

    states: list[Any] = []
    await intruder.channel(topic, private).subscribe(lambda state, error: states.append((state, error)))
    await eventually(lambda: bool(states), what="the refused join")
    assert states[0][0].value == "CHANNEL_ERROR"
    assert f"Unauthorized: You do not have permissions to read from this Channel topic: {topic}" in str(states[0][1])

    await pg.execute("select realtime.send($1::jsonb, 'chunk', $2, true)", '{"text": "hi"}', topic)
    await eventually(lambda: bool(heard), what="the SQL broadcast")
    assert heard[0]["payload"]["text"] == "hi"
    assert heard[0]["meta"]["id"]
    assert public_heard == []  # a public channel of the same name is a different channel


async def test_rest_broadcast_to_one_topic_reaches_that_topic_however_it_is_spelt(
    realtime_client: Callable[..., AsyncRealtimeClient],
) -> None:
    # realtime-py's http_send quotes the topic into one path segment: `room/1` was a 404, and
    # `a%41` was decoded twice and delivered to `aA`.
    client = realtime_client()
    heard: dict[str, list[Any]] = {"room/1": [], "a%41": [], "aA": [], "a b?#": []}
    channels = {topic: client.channel(topic).on_broadcast("*", heard[topic].append) for topic in heard}
    for channel in channels.values():
        await subscribed(channel)
    for n, topic in enumerate(("room/1", "a%41", "a b?#")):
        await channels[topic].http_send("e/%2F", {"n": n})
    await eventually(lambda: all(heard[topic] for topic in ("room/1", "a%41", "a b?#")), what="the broadcasts")
    assert {topic: [(h["event"], h["payload"]["n"]) for h in got] for topic, got in heard.items()} == {
        "room/1": [("e/%2F", 0)],
        "a%41": [("e/%2F", 1)],
        "aA": [],
        "a b?#": [("e/%2F", 2)],
    }


async def test_a_private_broadcast_its_policies_refuse_is_not_acknowledged(
    pg: asyncpg.Connection, alice: RealtimeUser, realtime_client: Callable[..., AsyncRealtimeClient]
) -> None:
    # The product's policies let a chat's owner read its channel and track presence there, never
    # broadcast on it. Realtime drops such a broadcast without a reply, even with ack: an "ok" told
    # the sender (supabase-js's send() resolving 'ok') that a broadcast nobody got went out.
    topic = f"chat:{await new_session(pg, alice.id)}"
    heard: list[Any] = []
    options = channel_options(broadcast={"ack": True, "self": True}, private=True)
    channel = realtime_client(alice.access_token).channel(topic, options).on_broadcast("*", heard.append)
    await subscribed(channel)
    refused = await channel.push("broadcast", {"type": "broadcast", "event": "chunk", "payload": {"forged": True}})
    tracked = await channel.push("presence", {"event": "track", "payload": {"here": True}})
    await eventually(lambda: tracked.received_resp is not None, what="the track's reply, after the broadcast's")
    assert tracked.received_resp is not None
    assert tracked.received_resp[0].value == "ok"
    assert refused.received_resp is None
    assert heard == []


async def test_join_flags_given_as_strings_are_read_as_realtime_reads_them(
    realtime_client: Callable[..., AsyncRealtimeClient],
) -> None:
    # Realtime's join payload takes "true"/"false" in any case for its booleans (FlexibleBoolean)
    # and any other value as the default, false; the gateway took any non-empty string for true,
    # so "false" made a join private (refused to the anon key) and a broadcast echo its sender.
    config: Any = {"config": {"broadcast": {"self": "false", "ack": "TRUE"}, "private": "false"}}
    echoed: list[Any] = []
    sender = realtime_client().channel("string-flags", config).on_broadcast("*", echoed.append)
    await subscribed(sender)
    odd: Any = {"config": {"broadcast": {"self": "yes"}, "private": "yes"}}
    heard: list[Any] = []
    listener = realtime_client().channel("string-flags", odd).on_broadcast("*", heard.append)
    await subscribed(listener)  # "yes" is not a boolean: public, as by default

    acks: list[Any] = []
    push = await sender.push("broadcast", {"type": "broadcast", "event": "e", "payload": {"n": 1}})
    push.receive("ok", acks.append)  # type: ignore[call-overload]
    await eventually(lambda: bool(acks) and bool(heard), what="the ack and the listener's copy")
    await listener.send_broadcast("e", {"n": 2})  # not echoed to the listener ("yes" is not true)
    await eventually(lambda: len(echoed) == 1, what="the listener's broadcast at the sender")
    await sender.send_broadcast("e", {"n": 3})  # after an echo of 2 on the listener's socket, if any
    await eventually(lambda: len(heard) == 2, what="the sender's second broadcast")
    assert [h["payload"] for h in heard] == [{"n": 1}, {"n": 3}]
    assert [e["payload"] for e in echoed] == [{"n": 2}]


async def test_an_event_the_channel_does_not_handle_gets_no_reply(
    realtime_client: Callable[..., AsyncRealtimeClient],
) -> None:
    # Realtime's channel takes any other event without a word (handle_in's catch-all: noreply), so
    # supabase-js's send({type: 'postgres_changes', ...}) times out there; here it was answered ok.
    channel = realtime_client().channel("unhandled")
    await subscribed(channel)
    unhandled = await channel.push("postgres_changes", {"type": "postgres_changes", "event": "INSERT"})
    untracked = await channel.push("presence", {"event": "untrack"})
    await eventually(lambda: untracked.received_resp is not None, what="the untrack's reply, after the first's")
    assert unhandled.received_resp is None


async def test_a_rest_broadcast_with_a_token_realtime_refuses_is_401_unauthorized(
    stack: LocalStack, realtime_client: Callable[..., AsyncRealtimeClient]
) -> None:
    # Realtime's REST API answers any token it cannot take (none, forged, expired, without role or
    # exp) 401 {"message": "Unauthorized"} (RealtimeWeb.AuthTenant); the gateway said why in its own
    # words, which realtime-py's http_send raised as the error's message.
    for token in (
        stack.anon_key[:-4] + ("BBBB" if stack.anon_key.endswith("AAAA") else "AAAA"),
        mint(stack, {"role": "anon", "exp": int(time.time()) - 60}),
        mint(stack, {"role": "anon"}),
    ):
        client = realtime_client()
        await client.set_auth(token)
        with pytest.raises(RealtimeHTTPError) as refused:
            await client.channel("rest-refused").http_send("e", {"n": 1})
        assert (refused.value.status, refused.value.message) == (401, "Unauthorized")
