"""vsn 2.0.0 as realtime-js speaks it: JSON-array frames and binary kind-3 broadcasts."""

from __future__ import annotations

import json

import websockets

from tests.conftest import LocalStack
from tests.localbase.realtime.conftest import ws_url


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
