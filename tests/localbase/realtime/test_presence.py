"""Presence between two clients: join and leave diffs reach the other side."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from realtime import AsyncRealtimeClient

from tests.conftest import channel_options
from tests.localbase.realtime.conftest import eventually, subscribed


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
