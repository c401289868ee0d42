"""A join without presence enabled, and the `track` that enables it, as Realtime handles them
(RealtimeChannel's join and PresenceHandler; its integration tests "presence automatically enabled
when user sends track message" and "presence_diff gate holds when presence is auto-enabled via
track"): the join is sent no presence state, and nor is the track that enables presence; on a
private topic the join's presence read is not asked at join, so the topic's presence diffs are not
sent to it until a track of its own has asked it (and its write).

Frames reach one socket in the order the gateway writes them, so once a later frame (a sentinel) has
arrived, an earlier one that was going to arrive would have: that is how "never received" is
asserted without sleeps.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from tests.conftest import LocalStack
from tests.localbase.realtime.conftest import RealtimeUser, ws_url

_POLICIES = (
    "create policy lbtest_enabling_reads on realtime.messages for select to authenticated"
    " using ((select realtime.topic()) like 'lbtest-enabling:%')",
    "create policy lbtest_enabling_writes on realtime.messages for insert to authenticated"
    " with check ((select realtime.topic()) like 'lbtest-enabling:%')",
)


@pytest.fixture
async def policies(pg: asyncpg.Connection) -> AsyncIterator[None]:
    for statement in _POLICIES:
        await pg.execute(statement)
    yield
    for name in ("reads", "writes"):
        await pg.execute(f"drop policy lbtest_enabling_{name} on realtime.messages")


class Socket:
    """One raw vsn 1.0.0 socket on one topic: what it was sent, in order."""

    def __init__(self, ws: ClientConnection, topic: str) -> None:
        self.ws = ws
        self.topic = topic
        self.ref = 0

    async def push(self, event: str, payload: dict[str, Any]) -> None:
        self.ref += 1
        frame = {"topic": self.topic, "event": event, "payload": payload, "ref": str(self.ref), "join_ref": "1"}
        await self.ws.send(json.dumps(frame))

    async def until(self, event: str) -> list[dict[str, Any]]:
        """The frames received up to and including the first `event` (heartbeat replies aside)."""
        got: list[dict[str, Any]] = []
        while True:
            frame = json.loads(await asyncio.wait_for(self.ws.recv(), 10))
            got.append(frame)
            if frame["event"] == event:
                return got


async def _joined(ws: ClientConnection, topic: str, token: str, presence: bool) -> Socket:
    socket = Socket(ws, f"realtime:{topic}")
    config = {"private": True, "presence": {"enabled": presence, "key": str(uuid.uuid4())}}
    await socket.push("phx_join", {"config": config, "access_token": token})
    frames = await socket.until("phx_reply")
    assert frames[-1]["payload"]["status"] == "ok", frames
    if presence:
        await socket.until("presence_state")
    return socket


def _events(frames: list[dict[str, Any]]) -> list[str]:
    return [frame["event"] for frame in frames]


async def test_a_private_join_without_presence_hears_the_topics_presence_only_once_it_tracks(
    stack: LocalStack, policies: None, alice: RealtimeUser
) -> None:
    # Ours read both reads at every private join and sent the topic's presence diffs to a join that
    # had not enabled presence, and the presence state to the track that enabled it.
    topic = f"lbtest-enabling:{uuid.uuid4()}"
    url = f"{ws_url(stack.url)}/websocket?apikey={stack.anon_key}&vsn=1.0.0"
    async with websockets.connect(url) as a, websockets.connect(url) as s:
        mine = await _joined(a, topic, alice.access_token, presence=False)
        server = await _joined(s, topic, stack.service_role_key, presence=True)
        await server.push("presence", {"type": "presence", "event": "track", "payload": {"n": 1}})
        await server.push("broadcast", {"type": "broadcast", "event": "sentinel", "payload": {}})
        assert _events(await mine.until("broadcast")) == ["broadcast"]

        await mine.push("presence", {"type": "presence", "event": "track", "payload": {"me": True}})
        frames = await mine.until("presence_diff")
        assert _events(frames) == ["phx_reply", "presence_diff"]
        assert frames[0]["payload"]["status"] == "ok"
        metas = [meta for joined in frames[1]["payload"]["joins"].values() for meta in joined["metas"]]
        assert [meta.get("me") for meta in metas] == [True]

        # Now that its track asked its presence read, the topic's diffs reach it.
        await server.push("presence", {"type": "presence", "event": "track", "payload": {"n": 2}})
        frames = await mine.until("presence_diff")
        assert _events(frames) == ["presence_diff"]
        metas = [meta for joined in frames[0]["payload"]["joins"].values() for meta in joined["metas"]]
        assert [meta.get("n") for meta in metas] == [2]


async def test_a_public_track_that_enables_presence_is_sent_no_presence_state(stack: LocalStack) -> None:
    topic = f"enabling-{uuid.uuid4().hex[:8]}"
    url = f"{ws_url(stack.url)}/websocket?apikey={stack.anon_key}&vsn=1.0.0"
    async with websockets.connect(url) as ws:
        socket = Socket(ws, f"realtime:{topic}")
        await socket.push("phx_join", {"config": {"presence": {"enabled": False, "key": "k"}}})
        assert _events(await socket.until("phx_reply")) == ["phx_reply"]
        await socket.push("presence", {"type": "presence", "event": "track", "payload": {"here": 1}})
        frames = await socket.until("presence_diff")
        assert _events(frames) == ["phx_reply", "presence_diff"]
        assert frames[1]["payload"]["joins"]["k"]["metas"][0]["here"] == 1
