"""vsn 2.0.0 as realtime-js speaks it: JSON-array frames and binary kind-3 broadcasts."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import websockets
from realtime import AsyncRealtimeClient

from tests.conftest import LocalStack
from tests.localbase.realtime.conftest import eventually, subscribed, ws_url


def kind3(join_ref: str, ref: str, topic: str, event: str, payload: dict[str, object]) -> bytes:
    parts = [join_ref.encode(), ref.encode(), topic.encode(), event.encode(), b""]
    head = bytes([3, *(len(p) for p in parts), 1])
    return head + b"".join(parts) + json.dumps(payload).encode()


async def test_v2_array_frames_and_binary_broadcast(stack: LocalStack) -> None:
    url = f"{ws_url(stack.url)}/websocket?apikey={stack.anon_key}&vsn=2.0.0"
    async with websockets.connect(url) as sender, websockets.connect(url) as receiver:
        join = {"config": {"broadcast": {"self": False}, "private": False}}
        for ws in (sender, receiver):
            await ws.send(json.dumps(["1", "1", "realtime:js-room", "phx_join", join]))
            reply = json.loads(await ws.recv())
            assert reply[:4] == ["1", "1", "realtime:js-room", "phx_reply"]
            assert reply[4] == {"status": "ok", "response": {"postgres_changes": []}}
        await sender.send(json.dumps([None, "2", "phoenix", "heartbeat", {}]))
        assert json.loads(await sender.recv()) == [None, "2", "phoenix", "phx_reply", {"status": "ok", "response": {}}]
        await sender.send(kind3("1", "3", "realtime:js-room", "typing", {"who": "js"}))
        pushed = json.loads(await receiver.recv())
        assert pushed == [
            None,
            None,
            "realtime:js-room",
            "broadcast",
            {"type": "broadcast", "event": "typing", "payload": {"who": "js"}},
        ]
        await sender.send(json.dumps(["9", "4", "realtime:nowhere", "broadcast", {}]))
        assert json.loads(await sender.recv())[4] == {"status": "error", "response": {"reason": "unmatched topic"}}


async def test_a_join_whose_config_is_malformed_is_refused_and_the_socket_serves_on(stack: LocalStack) -> None:
    # Once an exception in the gateway that closed the socket with 1011 (found by `make fuzz`). What
    # Realtime reads straight from the join's payload fails its join: a config, or its broadcast
    # (where it looks for replication_ready), that is not a map; a postgres_changes entry that is not
    # one (null entries it drops).
    url = f"{ws_url(stack.url)}/websocket?apikey={stack.anon_key}&vsn=2.0.0"
    async with websockets.connect(url) as ws:
        for ref, (config, reason) in enumerate(
            (
                ("on", "config must be an object"),
                (False, "config must be an object"),
                ({"broadcast": [True]}, "config.broadcast must be an object"),
                ({"broadcast": False}, "config.broadcast must be an object"),
                ({"postgres_changes": [None, 1]}, "config.postgres_changes must be an array of objects"),
            )
        ):
            await ws.send(json.dumps([str(ref), str(ref), "realtime:odd-room", "phx_join", {"config": config}]))
            reply = json.loads(await ws.recv())
            assert reply[3:] == [
                "phx_reply",
                {"status": "error", "response": {"reason": f"Invalid join payload: {reason}"}},
            ], config
        await ws.send(json.dumps(["9", "9", "realtime:odd-room", "phx_join", {"config": {"presence": {}}}]))
        assert json.loads(await ws.recv())[4]["status"] == "ok"


async def test_a_join_whose_config_parts_are_of_other_types_is_taken_with_their_defaults(stack: LocalStack) -> None:
    # Realtime validates a join's config (Join.validate), logs what it cannot read and joins with
    # the defaults for it: presence that is not a map is presence off, postgres_changes that is not
    # an array no binding (its bindings come from the raw payload's list, or none). The gateway
    # refused both as an "Invalid join payload".
    url = f"{ws_url(stack.url)}/websocket?apikey={stack.anon_key}&vsn=2.0.0"
    async with websockets.connect(url) as ws:
        for ref, config in enumerate(
            (
                {"presence": "x"},
                {"presence": [{"enabled": True}], "broadcast": {"self": "yes"}, "private": "no"},
                {"postgres_changes": {"event": "*", "schema": "public", "table": "chat_messages"}},
                {"postgres_changes": "*"},
                {"postgres_changes": [None]},
                None,
            )
        ):
            await ws.send(json.dumps([str(ref), str(ref), f"realtime:odd-{ref}", "phx_join", {"config": config}]))
            reply = json.loads(await ws.recv())
            assert reply[3:] == ["phx_reply", {"status": "ok", "response": {"postgres_changes": []}}], config
        # Nothing else was sent: no presence_state (presence is off), no system message (no binding).
        await ws.send(json.dumps([None, "h", "phoenix", "heartbeat", {}]))
        assert json.loads(await ws.recv())[1:4] == ["h", "phoenix", "phx_reply"]


async def _reply(ws: websockets.ClientConnection, ref: str) -> list[Any]:
    """The reply to push `ref`, past whatever the server pushed before it."""
    while True:
        message = json.loads(await ws.recv())
        if message[1] == ref and message[3] == "phx_reply":
            return list(message)


async def test_a_socket_holds_at_most_max_channels_per_client_and_refuses_a_join_past_them(stack: LocalStack) -> None:
    # Once unlimited: one socket held any number of channels, each with bindings run on every change.
    url = f"{ws_url(stack.url)}/websocket?apikey={stack.anon_key}&vsn=2.0.0"
    async with websockets.connect(url) as ws:
        for i in range(100):
            await ws.send(json.dumps([str(i), str(i), f"realtime:many-{i}", "phx_join", {"config": {}}]))
            assert (await _reply(ws, str(i)))[4] == {"status": "ok", "response": {"postgres_changes": []}}
        await ws.send(json.dumps(["100", "100", "realtime:many-100", "phx_join", {"config": {}}]))
        refused = {"status": "error", "response": {"reason": "ChannelRateLimitReached: Too many channels"}}
        assert await _reply(ws, "100") == ["100", "100", "realtime:many-100", "phx_reply", refused]
        # Joining a topic again replaces its channel; a leave frees a place.
        await ws.send(json.dumps(["101", "101", "realtime:many-0", "phx_join", {"config": {}}]))
        assert (await _reply(ws, "101"))[4]["status"] == "ok"
        await ws.send(json.dumps(["1", "102", "realtime:many-1", "phx_leave", {}]))
        assert (await _reply(ws, "102"))[4]["status"] == "ok"
        await ws.send(json.dumps(["103", "103", "realtime:many-100", "phx_join", {"config": {}}]))
        assert (await _reply(ws, "103"))[4]["status"] == "ok"


async def test_a_leave_of_an_earlier_join_of_a_topic_leaves_the_newer_join_alone(stack: LocalStack) -> None:
    # Once it closed the newer join (a client that left and joined again before the leave was
    # answered lost its channel). Phoenix ignores such a leave and does not answer it.
    url = f"{ws_url(stack.url)}/websocket?apikey={stack.anon_key}&vsn=2.0.0"
    async with websockets.connect(url) as ws:
        join = {"config": {"broadcast": {"ack": True}}}
        for ref in ("1", "2"):
            await ws.send(json.dumps([ref, ref, "realtime:stale", "phx_join", join]))
            assert (await _reply(ws, ref))[4]["status"] == "ok"
        await ws.send(json.dumps(["1", "3", "realtime:stale", "phx_leave", {}]))
        await ws.send(json.dumps([None, "4", "phoenix", "heartbeat", {}]))
        assert json.loads(await ws.recv()) == [None, "4", "phoenix", "phx_reply", {"status": "ok", "response": {}}]
        await ws.send(json.dumps(["2", "5", "realtime:stale", "broadcast", {"type": "broadcast", "event": "e"}]))
        assert json.loads(await ws.recv()) == [
            "2",
            "5",
            "realtime:stale",
            "phx_reply",
            {"status": "ok", "response": {}},
        ]
        await ws.send(json.dumps(["2", "6", "realtime:stale", "phx_leave", {}]))
        assert (await _reply(ws, "6"))[4]["status"] == "ok"


async def test_a_rest_broadcast_of_bytes_reaches_v2_sockets_as_bytes_and_v1_not_at_all(
    stack: LocalStack, realtime_client: Callable[..., AsyncRealtimeClient]
) -> None:
    # realtime-py's http_send(bytes) posts application/octet-stream: Realtime relays the bytes as a
    # binary broadcast (kind 4) to vsn 2.0.0 sockets, and to none of vsn 1.0.0, which cannot carry
    # them; the gateway turned them into JSON {"data": "<hex>"} for both. Any other media type is 415.
    heard: list[Any] = []
    channel = realtime_client().channel("bytes-room").on_broadcast("*", heard.append)
    await subscribed(channel)
    url = f"{ws_url(stack.url)}/websocket?apikey={stack.anon_key}&vsn=2.0.0"
    async with websockets.connect(url) as ws:
        await ws.send(json.dumps(["1", "1", "realtime:bytes-room", "phx_join", {"config": {}}]))
        assert (await _reply(ws, "1"))[4]["status"] == "ok"
        await channel.http_send("blob", b"\x00\x01raw")
        assert await ws.recv() == bytes([4, 19, 4, 0, 0]) + b"realtime:bytes-room" + b"blob" + b"\x00\x01raw"
    await channel.http_send("json", {"n": 1})  # after the bytes: a v1 copy of them would come first
    await eventually(lambda: bool(heard), what="the JSON broadcast")
    assert [(h["event"], h["payload"]) for h in heard] == [("json", {"n": 1})]
    async with httpx.AsyncClient() as http:
        refused = await http.post(
            f"{stack.url}/realtime/v1/api/broadcast/bytes-room/events/text",
            content=b"hello",
            headers={"content-type": "text/plain", "authorization": f"Bearer {stack.anon_key}"},
        )
    assert refused.status_code == 415
    assert refused.json() == {"error": "Unsupported Media Type. Use application/json or application/octet-stream"}
