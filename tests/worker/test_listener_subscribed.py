"""The worker counts itself listening once Realtime says "Subscribed to PostgreSQL", not at the
join's reply. Real Realtime replies to a join first and registers its postgres_changes bindings
only after their checks (lib/realtime_web/channels/realtime_channel.ex, `:postgres_subscribe`),
then sends that `system` message, or a `system` error, which realtime-py reports as CHANNEL_ERROR.
A change written between the reply and that message reaches no one.

These tests put a relay in front of the local gateway that holds the worker channel's
postgres_changes `system` message until released and drops the changes sent to that channel
meanwhile, as real Realtime, whose bindings match nothing yet, would not send them."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
from realtime import AsyncRealtimeClient
from websockets.asyncio.client import connect
from websockets.asyncio.server import Server, ServerConnection, serve

import worker.app
from tests.conftest import LocalStack
from tests.worker.conftest import Owner, RecordingFakeScope, Workers, ask, final_answer, sample, until, worker_settings
from worker.app import Worker
from worker.listener import CHANNEL, Listener

TOPIC = f"realtime:{CHANNEL}"


class SubscriptionRelay:
    """A websocket relay to the gateway's Realtime. For the worker's channel it holds the
    postgres_changes `system` message while `holding` (dropping the changes sent meanwhile), and
    turns the first `refuse` of them into a `system` error."""

    def __init__(self, upstream: str) -> None:
        self._upstream = upstream.replace("http://", "ws://")
        self.holding = False
        self.refuse = 0
        self.held: list[tuple[ServerConnection, str]] = []
        self.dropped = 0
        self.deaf = False  # drop the changes sent to the channel, as while Realtime's CDC is down
        self.subscribed: list[tuple[ServerConnection, str]] = []  # "Subscribed to PostgreSQL" as sent
        self._server: Server | None = None

    async def start(self) -> str:
        self._server = await serve(self._relay, "127.0.0.1", 0)
        port = next(iter(self._server.sockets)).getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def release(self) -> None:
        """Send what was held; from now on nothing is."""
        self.holding = False
        held, self.held = self.held, []
        for client, message in held:
            with contextlib.suppress(Exception):
                await client.send(message)

    async def subscribed_again(self) -> None:
        """Send the last "Subscribed to PostgreSQL" again, as Realtime does once it has stored the
        bindings again after its change stream for the project went down (`postgres_cdc_rls_down`)."""
        client, message = self.subscribed[-1]
        await client.send(message)

    async def _relay(self, client: ServerConnection) -> None:
        assert client.request is not None
        async with connect(self._upstream + client.request.path) as server:

            async def up() -> None:
                async for message in client:
                    await server.send(message)

            async def down() -> None:
                async for message in server:
                    passed = self._passed(client, str(message))
                    if passed is not None:
                        await client.send(passed)

            pipes = [asyncio.ensure_future(up()), asyncio.ensure_future(down())]
            try:
                await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for pipe in pipes:
                    pipe.cancel()
                await asyncio.gather(*pipes, return_exceptions=True)

    def _passed(self, client: ServerConnection, message: str) -> str | None:
        """The message as the worker gets it, or None (held or dropped)."""
        frame = json.loads(message)
        if frame.get("topic") != TOPIC:
            return message
        payload = frame.get("payload") or {}
        if frame.get("event") == "system" and payload.get("extension") == "postgres_changes":
            if self.refuse > 0:
                self.refuse -= 1
                refused = {**payload, "status": "error", "message": "Unable to subscribe to changes"}
                return json.dumps({**frame, "payload": refused})
            if self.holding:
                self.held.append((client, message))
                return None
            if payload.get("status") == "ok":
                self.subscribed.append((client, message))
        if frame.get("event") == "postgres_changes" and (self.holding or self.deaf):
            self.dropped += 1
            return None
        return message


@dataclass
class Relayed:
    """The relay, and workers that subscribe through it."""

    relay: SubscriptionRelay
    stack: LocalStack
    fake: RecordingFakeScope
    workers: Workers

    async def start(self, **knobs: Any) -> Worker:
        return await self.workers.start(worker_settings(self.stack, self.fake, **knobs))


@pytest.fixture
async def relayed(
    stack: LocalStack, fake: RecordingFakeScope, workers: Workers, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Relayed]:
    """Every worker started by the test subscribes through the relay."""
    proxy = SubscriptionRelay(stack.url)
    url = await proxy.start()

    def through_relay(endpoint: str, **options: Any) -> AsyncRealtimeClient:
        return AsyncRealtimeClient(endpoint.replace(stack.url.rstrip("/"), url), **options)

    monkeypatch.setattr(worker.app, "AsyncRealtimeClient", through_relay)
    try:
        yield Relayed(proxy, stack, fake, workers)
    finally:
        await proxy.stop()


def listener_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "worker.listener" and r.levelno >= logging.WARNING]


async def test_the_worker_listens_and_sweeps_only_once_its_bindings_are_subscribed(
    pg: asyncpg.Connection, owner: Owner, relayed: Relayed, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The worker counted itself listening at the join's reply and kicked its sweep then: a question
    # asked before "Subscribed to PostgreSQL" was heard by no one and found by no sweep until the
    # next one (WORKER_SWEEP_INTERVAL later; an hour here).
    synced = asyncio.Event()  # the channel's presence_state, which the gateway sends after its reply
    count_peers = Listener._count_peers

    def on_presence(listener: Listener, state: Mapping[str, Any]) -> None:
        count_peers(listener, state)
        synced.set()

    monkeypatch.setattr(Listener, "_count_peers", on_presence)
    relay = relayed.relay
    relay.holding = True
    worker = await relayed.start(sweep_interval=3600.0)

    async def checked() -> bool:
        return bool(relay.held)

    await until(checked, 15)
    await asyncio.wait_for(synced.wait(), 15)  # the worker has read the join's reply
    assert sample(worker, "worker_listening") == 0, "listening before its bindings were subscribed"
    assert sample(worker, "worker_realtime_joins_total") == 0
    question = await ask(pg, owner, "asked between the join's reply and 'Subscribed to PostgreSQL'")

    async def unheard() -> bool:
        return relay.dropped > 0

    await until(unheard, 10)
    await relay.release()
    await asyncio.wait_for(worker.listening(), 15)
    assert sample(worker, "worker_realtime_joins_total") == 1
    # The sweep kicked by "Subscribed to PostgreSQL" found the question no binding heard.
    assert (await final_answer(pg, question))["status"] == "completed"
    assert sample(worker, "worker_offers_total", source="realtime") == 0
    # And from then on questions are heard.
    heard = await ask(pg, owner)
    assert (await final_answer(pg, heard))["status"] == "completed"
    assert sample(worker, "worker_offers_total", source="realtime") == 1


async def test_a_refused_subscription_is_a_failed_join_warned_of_and_tried_again(
    pg: asyncpg.Connection, owner: Owner, relayed: Relayed, caplog: pytest.LogCaptureFixture
) -> None:
    # A `system` error after the join's reply (Realtime could not store the bindings): the worker
    # had counted a join and kicked a sweep at the reply, then lost the subscription.
    relayed.relay.refuse = 1
    worker = await relayed.start()
    await asyncio.wait_for(worker.listening(), 15)
    assert listener_warnings(caplog) == ["realtime subscription CHANNEL_ERROR"]
    assert sample(worker, "worker_realtime_joins_total") == 1, "the refused join was counted as one"
    question = await ask(pg, owner)
    assert (await final_answer(pg, question))["status"] == "completed"
    assert sample(worker, "worker_offers_total", source="realtime") == 1


async def test_a_subscription_stored_again_sweeps_for_what_its_gap_missed(
    pg: asyncpg.Connection, owner: Owner, relayed: Relayed
) -> None:
    # Realtime stores a channel's bindings again after its change stream went down, silently but
    # for a second "Subscribed to PostgreSQL": what was written in between reached no one. The
    # worker ignored that message, so such a question waited for the next periodic sweep.
    worker = await relayed.start(sweep_interval=3600.0)
    await asyncio.wait_for(worker.listening(), 15)
    relayed.relay.deaf = True
    question = await ask(pg, owner, "asked while Realtime's change stream was down")

    async def unheard() -> bool:
        return relayed.relay.dropped > 0

    await until(unheard, 10)
    relayed.relay.deaf = False
    await relayed.relay.subscribed_again()
    assert (await final_answer(pg, question))["status"] == "completed"
    assert sample(worker, "worker_offers_total", source="realtime") == 0
    assert sample(worker, "worker_realtime_joins_total") == 1, "the same subscription, not a new join"
