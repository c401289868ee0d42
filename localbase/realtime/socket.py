"""One websocket connection: handshake, the receive loop, and dispatch of client events.

Per-socket state is one slotted object (connection.py) and the ASGI coroutine itself: no
per-socket tasks or queues. The service's sweeper (see service.py) drops sockets silent for the
heartbeat timeout.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from localbase.http import Message, Receive, Scope, Send, encode_json
from localbase.realtime import channel as channels
from localbase.realtime import protocol
from localbase.realtime.connection import Connection
from localbase.realtime.tokens import TokenError, verify
from localbase.realtime.wire import release_handshake

if TYPE_CHECKING:
    from localbase.realtime.ports import Realtime


def _handshake(service: Realtime, scope: Scope) -> tuple[int, str] | tuple[dict[str, Any], str]:
    """(claims, vsn) for an acceptable upgrade, else (HTTP status, message); the parsed query and
    headers die here instead of living as long as the socket."""
    query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
    # The `x-api-key` header when there is one, else the `apikey` parameter, as Realtime's UserSocket.
    token = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k.lower() == b"x-api-key"), None)
    if not token:
        token = scope.get("localbase.apikey") or query.get("apikey")
    if token and token.startswith("sb_"):
        token = service.opaque_keys.get(token, token)
    if scope["path"].rstrip("/") != "/websocket":
        return 404, "Not found"
    if not token:
        return 401, "API key is missing"
    try:
        claims = verify(token, service.keys)
    except TokenError as exc:
        # Realtime's handshake says "Token has expired" without the age its joins give.
        return 401, "Token has expired" if exc.message.startswith("Token has expired") else exc.message
    return claims, protocol.V2 if query.get("vsn") == protocol.V2 else protocol.V1


async def serve(service: Realtime, scope: Scope, receive: Receive, send: Send) -> None:
    claims, vsn = _handshake(service, scope)
    if isinstance(claims, int):
        await _deny(scope, receive, send, claims, vsn)
        return
    if (await receive())["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    release_handshake(send, scope)
    conn = Connection(send, vsn, claims)
    service.connections.add(conn)
    try:
        while True:
            if not await _received(service, conn, await receive()):
                break
    finally:
        conn.closed = True
        service.connections.discard(conn)
        for joined in list(conn.channels.values()):
            await channels.close(service, joined, notify=False)


async def _received(service: Realtime, conn: Connection, message: Message) -> bool:
    """Handle one ASGI message (its frame dies with this call); False once the socket is gone."""
    if message["type"] != "websocket.receive":
        return False
    conn.last_seen = time.monotonic()
    data = message.get("text")
    if data is None:
        data = message.get("bytes")
    if data is None:
        return True
    try:
        frame = protocol.decode(data, conn.vsn)
    except protocol.ProtocolError:
        return True
    await _dispatch(service, conn, frame)
    return True


async def _dispatch(service: Realtime, conn: Connection, frame: protocol.Frame) -> None:
    event = frame.event
    if frame.topic == "phoenix":
        if event == "heartbeat":
            await conn.reply(frame, "ok", {})
        return
    if event == "phx_join":
        await channels.join(service, conn, frame)
        return
    joined = conn.channels.get(frame.topic)
    if joined is None:
        if event != "phx_leave":
            await conn.reply(frame, "error", {"reason": "unmatched topic"})
        else:
            await conn.reply(frame, "ok", {})
        return
    if event == "phx_leave":
        if joined.join_ref is not None and frame.join_ref != joined.join_ref:
            return  # a leave of an earlier join of this topic (the client raced a close): Phoenix ignores it
        await channels.leave(service, conn, frame)
    elif event == "access_token":
        await channels.refresh_token(service, joined, frame.payload)
    elif event == "broadcast":
        await service.broadcast.from_socket(joined, frame)
    elif event == "presence":
        await service.presence.handle(joined, frame)
    # Any other event: Realtime's channel takes it without a reply (its catch-all handle_in).


async def _deny(scope: Scope, receive: Receive, send: Send, status: int, message: str) -> None:
    """Refuse before the upgrade with an HTTP error, as Realtime does (spec 4.1)."""
    if "websocket.http.response" in scope.get("extensions", {}):
        body = encode_json({"error": message})
        await send(
            {
                "type": "websocket.http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "websocket.http.response.body", "body": body})
    else:
        await send({"type": "websocket.close", "code": 1008})
