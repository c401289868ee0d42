"""The worker's realtime-py reads server messages through a union discriminated by `event`
(worker/realtime_parse.py): realtime-py really reads the adapter put in its module, that adapter
accepts and rejects exactly what realtime-py's own does and builds the same messages, over every
kind the gateway sends (live) and hand-made malformed ones, and a worker puts it in place."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import pytest
from pydantic import ValidationError
from realtime import AsyncRealtimeClient, RealtimeSubscribeStates
from realtime import RealtimePostgresChangesListenEvent as Change
from realtime._async import client as realtime_client
from realtime.message import ServerMessageAdapter
from realtime.types import RealtimeChannelConfig, RealtimeChannelOptions, RealtimeChannelPresenceConfig

from tests.conftest import LocalStack
from tests.worker.conftest import Owner, RecordingFakeScope, Workers, ask, until, worker_settings
from worker.realtime_parse import DISCRIMINATED


def parsed(adapter: Any, frame: str | bytes) -> tuple[str, Any]:
    """What an adapter makes of a frame: the message's class and fields, or that it was rejected."""
    try:
        message = adapter.validate_json(frame)
    except ValidationError:
        return ("rejected", None)
    return (type(message).__name__, message.model_dump())


class Recording:
    """The discriminated adapter, keeping every frame realtime-py hands it."""

    def __init__(self) -> None:
        self.frames: list[str | bytes] = []

    def validate_json(self, frame: str | bytes, *args: Any, **kwargs: Any) -> Any:
        self.frames.append(frame)
        return DISCRIMINATED.validate_json(frame, *args, **kwargs)


async def test_every_message_the_gateway_sends_parses_as_realtime_py_parses_it(
    stack: LocalStack, pg: asyncpg.Connection, owner: Owner, monkeypatch: pytest.MonkeyPatch
) -> None:
    recording = Recording()
    monkeypatch.setattr(realtime_client, "ServerMessageAdapter", recording)
    ws = stack.url.replace("http://", "ws://")
    client = AsyncRealtimeClient(f"{ws}/realtime/v1", token=stack.service_role_key, auto_reconnect=False)
    changes: list[Any] = []
    pings: list[Any] = []
    states: list[RealtimeSubscribeStates] = []
    await client.connect()
    try:
        config = RealtimeChannelConfig(
            broadcast={"ack": True, "self": True},
            presence=RealtimeChannelPresenceConfig(key="parse-test", enabled=True),
            private=False,
        )
        channel = client.channel("parse-test", RealtimeChannelOptions(config=config))
        channel.on_postgres_changes(
            Change.All,
            changes.append,
            table="chat_messages",
            schema="public",
            filter=f"session_id=eq.{owner.session_id}",
        )
        # A DELETE carries the replica identity alone (the primary key), so a filter on another
        # column never matches it, as in Supabase: deletes are heard unfiltered, this one picked out.
        deletes: list[Any] = []
        channel.on_postgres_changes(Change.Delete, deletes.append, table="chat_messages", schema="public")
        channel.on_broadcast("ping", pings.append)
        channel.on_presence_sync(lambda: None)
        stored: list[Any] = []
        channel.on_system(stored.append)
        await channel.subscribe(lambda state, _error: states.append(state))

        async def joined() -> bool:  # and its binding stored: it matches changes from then on
            return RealtimeSubscribeStates.SUBSCRIBED in states and bool(stored)

        await until(joined)
        await channel.track({"who": "parse-test"})
        await channel.send_broadcast("ping", {"n": 1, "text": "你好"})
        question = await ask(pg, owner, "parse me")
        await pg.execute("update chat_messages set cancel_requested = true where id = $1", question)
        # no question stays behind for another test's worker to answer
        await pg.execute("delete from chat_messages where id = $1", question)

        async def heard() -> bool:
            deleted = any(d["data"]["old_record"].get("id") == str(question) for d in deletes)
            return len(changes) == 2 and deleted and bool(pings)

        await until(heard)
    finally:
        await client.close()

    kinds = {json.loads(frame)["event"] for frame in recording.frames}
    assert {"phx_reply", "system", "presence_state", "presence_diff", "broadcast", "postgres_changes"} <= kinds
    assert [c["data"]["type"] for c in changes] == ["INSERT", "UPDATE"]
    for frame in recording.frames:
        ours = parsed(DISCRIMINATED, frame)
        assert ours[0] != "rejected", frame
        assert ours == parsed(ServerMessageAdapter, frame), frame


MALFORMED: list[str | bytes] = [
    b"not json",
    "[]",
    "{}",
    json.dumps({"topic": "t", "event": "no_such_event", "payload": {}, "ref": None}),
    json.dumps({"topic": "t", "event": "broadcast", "payload": {"event": "x"}, "ref": None}),  # no payload.payload
    json.dumps({"topic": "t", "event": "broadcast", "payload": {"event": "x", "payload": {}}, "ref": "1"}),
    json.dumps({"topic": "t", "event": "phx_reply", "payload": {"status": "maybe", "response": {}}, "ref": "1"}),
    json.dumps({"topic": "t", "event": "postgres_changes", "payload": {"ids": [1]}, "ref": None}),
    json.dumps({"topic": "t", "event": "system", "payload": {"status": "ok"}, "ref": None}),
    json.dumps({"topic": "t", "event": "presence_diff", "payload": {"joins": {}}, "ref": None}),
    json.dumps({"topic": "t", "event": "heartbeat", "payload": {}, "ref": "1"}),  # heartbeats are phoenix's
    json.dumps({"topic": "t", "event": 7, "payload": {}, "ref": None}),
    json.dumps({"event": "phx_close", "payload": {}, "ref": None}),  # no topic
]
WELL_FORMED: list[str | bytes] = [
    json.dumps({"topic": "phoenix", "event": "phx_reply", "payload": {"status": "ok", "response": {}}, "ref": "9"}),
    json.dumps(
        {"topic": "t", "event": "phx_reply", "payload": {"status": "error", "response": {"reason": "no"}}, "ref": "2"}
    ),
    json.dumps({"topic": "t", "event": "phx_error", "payload": {}, "ref": "1"}),
    json.dumps({"topic": "t", "event": "phx_close", "payload": {}, "ref": None}),
    json.dumps(
        {
            "topic": "t",
            "event": "system",
            "payload": {"channel": "t", "extension": "postgres_changes", "message": "gone", "status": "error"},
            "ref": None,
        }
    ),
]


@pytest.mark.parametrize("frame", MALFORMED + WELL_FORMED)
def test_hand_made_messages_are_accepted_and_rejected_alike(frame: str | bytes) -> None:
    ours = parsed(DISCRIMINATED, frame)
    assert ours == parsed(ServerMessageAdapter, frame)
    assert (ours[0] == "rejected") == (frame in MALFORMED)


async def test_a_worker_puts_the_discriminated_adapter_in_realtime_py(
    stack: LocalStack, fake: RecordingFakeScope, workers: Workers, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(realtime_client, "ServerMessageAdapter", ServerMessageAdapter)
    await workers.start(worker_settings(stack, fake))
    assert realtime_client.ServerMessageAdapter is DISCRIMINATED  # type: ignore[attr-defined]
