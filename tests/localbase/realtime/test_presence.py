"""Presence between two clients: join and leave diffs reach the other side."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import websockets
from realtime import AsyncRealtimeClient

from tests.conftest import LocalStack, channel_options
from tests.localbase.realtime.conftest import eventually, subscribed, ws_url


async def test_presence_sync_between_two_clients(realtime_client: Callable[..., AsyncRealtimeClient]) -> None:
    first, second = realtime_client(), realtime_client()
    joins: list[Any] = []
    leaves: list[Any] = []
    watcher = first.channel("lobby")
    watcher.on_presence_sync(lambda: None)
    watcher.on_presence_join(lambda key, current, new: joins.append((key, new)))
    watcher.on_presence_leave(lambda key, current, left: leaves.append((key, left)))
    await subscribed(watcher)
    visitor = second.channel("lobby", channel_options(presence={"key": "visitor", "enabled": True}))
    await subscribed(visitor)

    await visitor.track({"status": "online"})
    await eventually(lambda: "visitor" in watcher.presence_state(), what="the visitor's presence")
    assert watcher.presence_state()["visitor"][0]["status"] == "online"  # type: ignore[typeddict-item]
    await visitor.track({"status": "away"})
    await eventually(
        lambda: [p.get("status") for p in watcher.presence_state().get("visitor", [])] == ["away"],
        what="the updated meta",
    )
    await visitor.untrack()
    await eventually(lambda: "visitor" not in watcher.presence_state(), what="the leave")
    assert [key for key, _ in joins] == ["visitor", "visitor"]
    assert [key for key, _ in leaves][-1] == "visitor"


async def test_presence_pushes_are_answered_as_realtime_answers_them(
    realtime_client: Callable[..., AsyncRealtimeClient],
) -> None:
    # Realtime lower-cases the event, tracks a missing payload as {}, answers a push without an
    # event ok (nothing done) and anything else it cannot do with a bare error; the gateway refused
    # the first three and worded the rest its own way.
    watcher = realtime_client().channel("presence-pushes", channel_options(presence={"key": "w", "enabled": True}))
    watcher.on_presence_sync(lambda: None)
    await subscribed(watcher)
    tracker = realtime_client().channel("presence-pushes", channel_options(presence={"key": "t", "enabled": True}))
    await subscribed(tracker)

    async def answer(payload: dict[str, Any]) -> tuple[str, Any]:
        push = await tracker.push("presence", payload)
        await eventually(lambda: push.received_resp is not None, what=f"the reply to {payload}")
        assert push.received_resp is not None
        status, response = push.received_resp
        return status.value, response

    assert (await answer({"event": "TRACK", "payload": {"mood": "up"}}))[0] == "ok"
    await eventually(lambda: "t" in watcher.presence_state(), what="the upper-case track")
    assert (await answer({"event": "track"}))[0] == "ok"
    await eventually(
        lambda: [sorted(m) for m in watcher.presence_state().get("t", [])] == [["presence_ref"]],
        what="the track without a payload, as {}",
    )
    assert (await answer({}))[0] == "ok"
    assert await answer({"event": "track", "payload": "x"}) == (
        "error",
        {"reason": "Presence track payload must be a map"},
    )
    assert await answer({"event": "wave"}) == ("error", {})


async def test_a_join_is_sent_its_system_messages_before_its_presence_state(stack: LocalStack) -> None:
    # Realtime's join queues "Subscribed to PostgreSQL" (:postgres_subscribe), then "Replication
    # connection established" (:notify_replication_ready), then the presence state (:sync_presence),
    # and its channel handles them in that order. The gateway sent the presence state right after
    # the reply, before the bindings' check.
    url = f"{ws_url(stack.url)}/websocket?apikey={stack.anon_key}&vsn=1.0.0"
    binding = {"event": "INSERT", "schema": "public", "table": "chat_messages"}
    config = {
        "presence": {"enabled": True, "key": "k"},
        "broadcast": {"replication_ready": True},
        "postgres_changes": [binding],
    }
    async with websockets.connect(url) as ws:
        join = {
            "topic": "realtime:order",
            "event": "phx_join",
            "payload": {"config": config},
            "ref": "1",
            "join_ref": "1",
        }
        await ws.send(json.dumps(join))
        got = [json.loads(await asyncio.wait_for(ws.recv(), 10)) for _ in range(4)]
    assert [(m["event"], m["payload"].get("message")) for m in got] == [
        ("phx_reply", None),
        ("system", "Subscribed to PostgreSQL"),
        ("system", "Replication connection established"),
        ("presence_state", None),
    ]
