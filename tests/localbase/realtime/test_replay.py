"""Broadcast replay (`config.broadcast.replay`, documented by realtime-js and realtime-py): a
private join is first sent the topic's latest private broadcasts stored in realtime.messages since
a time, oldest first, marked `replayed`; a public join asking for it is refused, as Realtime does
(Realtime.Messages.replay, RealtimeChannel.maybe_replay_messages)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
from realtime import AsyncRealtimeChannel, AsyncRealtimeClient, RealtimeSubscribeStates

from tests.conftest import LocalStack, channel_options
from tests.localbase.realtime.conftest import eventually, subscribed


async def _send(pg: asyncpg.Connection, topic: str, n: int, private: bool = True) -> None:
    await pg.execute("select realtime.send($1::jsonb, 'note', $2, $3)", json.dumps({"n": n}), topic, private)


async def test_a_private_join_is_sent_the_broadcasts_stored_since_it_asked(
    stack: LocalStack, pg: asyncpg.Connection, realtime_client: Callable[..., AsyncRealtimeClient]
) -> None:
    # The option was ignored: a client that came back asked for what it missed and got nothing.
    topic = f"replay-{uuid.uuid4().hex[:8]}"
    await _send(pg, topic, 0)
    await pg.execute(
        "update realtime.messages set inserted_at = inserted_at - interval '1 hour' where topic = $1", topic
    )
    since = int(time.time() * 1000) - 60_000
    for n in (1, 2, 3):
        await _send(pg, topic, n)
    await _send(pg, topic, 99, private=False)  # the public topic of the same name is another channel
    await _send(pg, f"{topic}-other", 98)
    heard: list[Any] = []
    channel = realtime_client(stack.service_role_key).channel(
        topic, channel_options(private=True, broadcast={"replay": {"since": since, "limit": 2}})
    )
    channel.on_broadcast("note", heard.append)
    await subscribed(channel)
    await _send(pg, topic, 4)  # and then what comes live
    await eventually(lambda: len(heard) == 3, what="the replayed broadcasts and the live one")
    assert [h["payload"]["n"] for h in heard] == [2, 3, 4]
    assert [h["meta"].get("replayed") for h in heard] == [True, True, None]
    stored = await pg.fetchval(
        "select id::text from realtime.messages where topic = $1 and payload ->> 'n' = '2'", topic
    )
    assert heard[0]["meta"]["id"] == stored
    assert heard[0]["event"] == "note"


async def test_replay_is_refused_on_a_public_channel_and_with_params_it_cannot_read(
    stack: LocalStack, realtime_client: Callable[..., AsyncRealtimeClient]
) -> None:
    client = realtime_client(stack.service_role_key)
    cases = (
        (False, {"since": 0}, "UnableToReplayMessages: Replay is not allowed for public channels"),
        (True, {"since": "yesterday"}, "UnableToReplayMessages: Replay params are not valid"),
        (True, {"since": 0, "limit": 2.5}, "UnableToReplayMessages: Replay params are not valid"),
    )
    for i, (private, replay, reason) in enumerate(cases):
        options = channel_options(private=private, broadcast={"replay": replay})
        states = await _join_states(client.channel(f"replay-refused-{i}", options))
        assert states[0][0] == "CHANNEL_ERROR", (replay, states)
        assert reason in states[0][1], (replay, states)


async def _join_states(channel: AsyncRealtimeChannel) -> list[tuple[str, str]]:
    states: list[tuple[str, str]] = []

    def record(state: RealtimeSubscribeStates, error: Exception | None) -> None:
        states.append((state.value, str(error)))

    await channel.subscribe(record)
    await eventually(lambda: bool(states), what="the join's reply")
    return states


# The notification the capture trigger sends when a broadcast row commits (localbase/sql/
# 03_realtime_capture.sql), sent again: how the gateway hears a row whose commit came before a
# join's replay read but whose notification it handles only after the join registered (its change
# stream a little behind, as any live delivery can be).
_HEARD_AGAIN = """
select realtime.localbase_notify(json_build_object(
  'k', 'b', 'n', nextval('realtime.localbase_change_seq'), 'id', id, 'topic', topic, 'event', event,
  'private', coalesce(private, true), 'payload', payload)::text)
  from realtime.messages where id = $1::uuid
"""


async def test_a_broadcast_replayed_at_join_is_not_delivered_to_it_again_live(
    stack: LocalStack, pg: asyncpg.Connection, realtime_client: Callable[..., AsyncRealtimeClient]
) -> None:
    # Realtime keeps the ids it replayed with the join's subscription and skips a live broadcast
    # carrying one of them (MessageDispatcher.already_replayed?). Ours sent the live copy of a
    # broadcast committed just before the join as well: the client had it twice, once replayed.
    topic = f"replay-once-{uuid.uuid4().hex[:8]}"
    since = int(time.time() * 1000) - 60_000
    await _send(pg, topic, 1)
    message_id = await pg.fetchval("select id::text from realtime.messages where topic = $1", topic)
    heard: list[Any] = []
    replaying = realtime_client(stack.service_role_key).channel(
        topic, channel_options(private=True, broadcast={"replay": {"since": since}})
    )
    replaying.on_broadcast("note", heard.append)
    others: list[Any] = []
    live = realtime_client(stack.service_role_key).channel(topic, channel_options(private=True))
    live.on_broadcast("note", others.append)
    await subscribed(replaying)
    await subscribed(live)
    await eventually(lambda: len(heard) == 1, what="the replayed broadcast")
    await pg.execute(_HEARD_AGAIN, message_id)
    await _send(pg, topic, 2)
    await eventually(lambda: len(others) == 2, what="the late copy and the next broadcast, live")
    assert (others[0]["payload"]["n"], others[0]["meta"]["id"]) == (1, message_id)
    await eventually(lambda: any(h["payload"]["n"] == 2 for h in heard), what="the next broadcast")
    assert [(h["payload"]["n"], h["meta"].get("replayed")) for h in heard] == [(1, True), (2, None)]
