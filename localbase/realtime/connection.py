"""One websocket and the topics joined on it: the per-socket state every other module reads.

`Connection` writes frames straight to uvicorn's transport (see wire.py), so a fan-out never waits
on one socket; a peer that stops reading is dropped once 16 MB wait for it. `Channel` is one joined
topic with its claims, bindings and presence. Both are plain state: joining, leaving and dispatch
live in channel.py and socket.py, which take the service through `ports.Realtime`.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from localbase.http import Send
from localbase.realtime import protocol
from localbase.realtime.authz import claims_key
from localbase.realtime.filters import Binding
from localbase.realtime.wire import Outbound, close_frame, direct

if TYPE_CHECKING:
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

READS_ALL = frozenset({"broadcast", "presence"})

# A burst of 10,000 changes is ~4 MB of frames; a reader that is merely slow must not lose it.
_MAX_BUFFERED = 16 * 1024 * 1024


class Connection:
    __slots__ = ("_direct", "_send", "channels", "claims", "closed", "last_seen", "vsn")

    def __init__(self, send: Send, vsn: str, claims: dict[str, Any]) -> None:
        self._send = send
        self._direct: WebSocketsSansIOProtocol | None = direct(send)
        self.vsn = vsn
        self.claims = claims
        self.channels: dict[str, Channel] = {}
        self.last_seen = time.monotonic()
        self.closed = False

    def write(self, out: Outbound) -> bool:
        """Write without waiting on the peer; False when only ASGI can write here (see deliver).
        A peer with 16 MB already waiting for it is closed with 1008 instead."""
        return self.write_all((out,))

    def write_all(self, frames: Sequence[Outbound]) -> bool:
        """`write` for several frames in order, in one transport write."""
        ws = self._direct
        if ws is None:
            return self.closed
        transport = ws.transport
        if self.closed or ws.close_sent or ws.disconnected or transport.is_closing():
            self.closed = True
        elif transport.get_write_buffer_size() > _MAX_BUFFERED:
            self.closed = True
            transport.write(close_frame(1008))
            transport.close()
        elif len(frames) == 1:
            transport.write(frames[0].wire())
        else:
            transport.write(b"".join([frame.wire() for frame in frames]))
        return True

    async def deliver(self, frame: str | bytes | Outbound) -> None:
        out = frame if isinstance(frame, Outbound) else Outbound(frame)
        if self.write(out):
            return
        try:
            await self._send(out.asgi())
        except Exception:  # the peer went away; the receive loop cleans up
            self.closed = True

    async def reply(self, frame: protocol.Frame, status: str, response: Any) -> None:
        await self.deliver(protocol.encode_reply(frame.topic, frame.ref, frame.join_ref, status, response, self.vsn))

    async def close(self, code: int = 1000) -> None:
        if not self.closed:
            self.closed = True
            with contextlib.suppress(Exception):  # already gone is as good as closed
                await self._send({"type": "websocket.close", "code": code})


def flag(value: Any) -> bool:
    """A join's boolean as Realtime reads it (FlexibleBoolean): true, or "true" in any case; any
    other value is the default, false (an invalid field is dropped, not refused)."""
    return value is True or (isinstance(value, str) and value.lower() == "true")


class Channel:
    __slots__ = (
        "ack",
        "bindings",
        "broadcast_self",
        "claims",
        "claims_key",
        "connection",
        "join_ref",
        "name",
        "presence_enabled",
        "presence_key",
        "presence_meta",
        "private",
        "reads",
        "replayed",
        "requested",
        "role",
        "topic",
        "unparsed",
        "watch_key",
    )

    def __init__(
        self, connection: Connection, topic: str, join_ref: str | None, config: dict[str, Any], claims: dict[str, Any]
    ) -> None:
        broadcast = config.get("broadcast") or {}
        presence = config.get("presence") or {}
        self.connection = connection
        self.topic = sys.intern(topic)  # many sockets join the same topics: share the strings
        self.name = sys.intern(topic.removeprefix("realtime:"))
        self.join_ref = join_ref
        self.private = flag(config.get("private"))
        # What this join may read (`broadcast`, `presence`): a public one everything; a private one
        # what realtime.messages' policies allow its claims (channel.py sets it at join and refresh).
        self.reads = READS_ALL
        # The ids of the stored broadcasts its join replayed: their live copies are not sent to it.
        self.replayed: frozenset[str] = frozenset()
        self.broadcast_self = flag(broadcast.get("self"))
        self.ack = flag(broadcast.get("ack"))
        self.presence_key = str(presence.get("key") or "") or None
        self.presence_enabled = flag(presence.get("enabled"))
        self.presence_meta: dict[str, Any] | None = None
        self.bindings: list[Binding] = []  # those delivered: the requested ones once the table took them
        self.requested: list[Binding] = []  # as joined, checked again whenever the claims change
        self.unparsed: tuple[Binding, str] | None = None  # the first binding whose filter did not parse, and why
        self.watch_key: tuple[str, ...] | None = None  # set by the hub while it watches changes
        self.set_claims(claims)

    def set_claims(self, claims: dict[str, Any]) -> None:
        self.claims = claims
        self.claims_key = claims_key(claims)
        self.role = str(claims.get("role", "anon"))

    def system(self, status: str, message: str, extension: str = "system") -> str:
        payload = {"extension": extension, "status": status, "message": message, "channel": self.name}
        return protocol.encode_push(self.topic, "system", payload, self.connection.vsn)
