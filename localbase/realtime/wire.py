"""Server websocket frames built once per message and written straight to each socket's transport.

A fan-out sends the same bytes to every subscriber: server frames are unmasked, so one framed
message serves them all, and writing it with `transport.write` costs no coroutine, no per-socket
encoding and no await per socket. This needs uvicorn's websockets-sansio protocol without
permessage-deflate (the server turns it off, as Phoenix does by default); any other `send` is used
through ASGI as usual.
"""

from __future__ import annotations

import struct
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from localbase.http import Scope, Send

_TEXT = 0x81
_BINARY = 0x82


class Outbound:
    """One Phoenix frame plus its websocket framing, shared by every socket it goes to."""

    __slots__ = ("data", "framed")

    def __init__(self, data: str | bytes) -> None:
        self.data = data
        self.framed: bytes | None = None

    def wire(self) -> bytes:
        if self.framed is None:
            self.framed = frame(self.data)
        return self.framed

    def asgi(self) -> dict[str, Any]:
        if isinstance(self.data, bytes):
            return {"type": "websocket.send", "bytes": self.data}
        return {"type": "websocket.send", "text": self.data}


def frame(data: str | bytes) -> bytes:
    """A final, unmasked server frame: text for str, binary for bytes (RFC 6455 5.2)."""
    if isinstance(data, str):
        payload, opcode = data.encode(), _TEXT
    else:
        payload, opcode = data, _BINARY
    size = len(payload)
    if size < 126:
        head = bytes((opcode, size))
    elif size < 65536:
        head = struct.pack("!BBH", opcode, 126, size)
    else:
        head = struct.pack("!BBQ", opcode, 127, size)
    return head + payload


def close_frame(code: int) -> bytes:
    return struct.pack("!BBH", 0x88, 2, code)


def release_handshake(send: Send, scope: Scope) -> None:
    """Drop what only the upgrade needed once the socket is accepted: the request and response
    uvicorn keeps (headers parsed twice, ~4 KB) and the scope's header list (~1 KB). Nothing reads
    them after the accept; an idle socket should not carry them for its lifetime."""
    scope["headers"] = []
    protocol = getattr(send, "__self__", None)
    if isinstance(protocol, WebSocketsSansIOProtocol) and protocol.handshake_complete:
        for name in ("request", "response"):
            vars(protocol).pop(name, None)


def direct(send: Send) -> WebSocketsSansIOProtocol | None:
    """uvicorn's protocol behind `send` when frames may bypass it (accepted, no extensions)."""
    protocol = getattr(send, "__self__", None)
    if isinstance(protocol, WebSocketsSansIOProtocol) and protocol.handshake_complete and not protocol.conn.extensions:
        return protocol
    return None
