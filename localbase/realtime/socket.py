"""One websocket connection: handshake, the receive loop, and dispatch of client events.

Per-socket state is one slotted object and the ASGI coroutine itself: no per-socket tasks. The
service's sweeper (see service.py) drops sockets silent for the heartbeat timeout. A socket whose
peer stops reading gets a small backlog drained by one task instead of stalling every fan-out.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from localbase.http import Receive, Scope, Send, encode_json
from localbase.realtime import channel as channels
from localbase.realtime import protocol
from localbase.realtime.tokens import TokenError, verify

if TYPE_CHECKING:
    from localbase.realtime.channel import Channel
    from localbase.realtime.service import RealtimeService

_MAX_BACKLOG = 1000


class Connection:
    __slots__ = ("_backlog", "_send", "channels", "claims", "closed", "last_seen", "vsn")

    def __init__(self, send: Send, vsn: str, claims: dict[str, Any]) -> None:
        self._send = send
        self.vsn = vsn
        self.claims = claims
        self.channels: dict[str, Channel] = {}
        self.last_seen = time.monotonic()
        self.closed = False
        self._backlog: collections.deque[str | bytes] | None = None

    async def deliver(self, frame: str | bytes) -> None:
        """Send now, unless the peer is not keeping up: then queue (and drop it past a limit)."""
        if self.closed:
            return
        if self._backlog is not None:
            if len(self._backlog) >= _MAX_BACKLOG:
                await self.close(1008)
                return
            self._backlog.append(frame)
            return
        if _blocked(self._send):
            self._backlog = collections.deque([frame])
            _ = asyncio.get_running_loop().create_task(self._drain())
            return
        await self._write(frame)

    async def _drain(self) -> None:
        while self._backlog:
            await self._write(self._backlog.popleft())
        self._backlog = None

    async def _write(self, frame: str | bytes) -> None:
        message = (
            {"type": "websocket.send", "bytes": frame}
            if isinstance(frame, bytes)
            else {"type": "websocket.send", "text": frame}
        )
        try:
            await self._send(message)
        except Exception:  # the peer went away; the receive loop cleans up
            self.closed = True

    async def reply(self, frame: protocol.Frame, status: str, response: Any) -> None:
        await self.deliver(protocol.encode_reply(frame.topic, frame.ref, frame.join_ref, status, response, self.vsn))

    async def close(self, code: int = 1000) -> None:
        if not self.closed:
            self.closed = True
            with contextlib.suppress(Exception):  # already gone is as good as closed
                await self._send({"type": "websocket.close", "code": code})


def _blocked(send: Send) -> bool:
    """Whether uvicorn's websocket protocol has paused writing (its buffer is over the high mark)."""
    writable = getattr(getattr(send, "__self__", None), "writable", None)
    return isinstance(writable, asyncio.Event) and not writable.is_set()


async def serve(service: RealtimeService, scope: Scope, receive: Receive, send: Send) -> None:
    query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
    token = scope.get("localbase.apikey") or query.get("apikey") or headers.get("x-api-key")
    if token and token.startswith("sb_"):
        token = service.opaque_keys.get(token, token)
    if scope["path"].rstrip("/") != "/websocket":
        await _deny(scope, receive, send, 404, "Not found")
        return
    if not token:
        await _deny(scope, receive, send, 401, "API key is missing")
        return
    try:
        claims = verify(token, service.secret)
    except TokenError as exc:
        await _deny(scope, receive, send, 401, exc.message)
        return
    vsn = protocol.V2 if query.get("vsn") == protocol.V2 else protocol.V1
    if (await receive())["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    conn = Connection(send, vsn, claims)
    service.connections.add(conn)
    try:
        while True:
            message = await receive()
            if message["type"] != "websocket.receive":
                break
            conn.last_seen = time.monotonic()
            data = message.get("text")
            if data is None:
                data = message.get("bytes")
            if data is None:
                continue
            try:
                frame = protocol.decode(data, vsn)
            except protocol.ProtocolError:
                continue
            await _dispatch(service, conn, frame)
    finally:
        conn.closed = True
        service.connections.discard(conn)
        for joined in list(conn.channels.values()):
            await channels.close(service, joined, notify=False)


async def _dispatch(service: RealtimeService, conn: Connection, frame: protocol.Frame) -> None:
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
        await channels.leave(service, conn, frame)
    elif event == "access_token":
        await channels.refresh_token(service, joined, frame.payload)
    elif event == "broadcast":
        await service.broadcast.from_socket(joined, frame)
    elif event == "presence":
        await service.presence.handle(joined, frame)
    else:
        await conn.reply(frame, "ok", {})


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
