"""A minimal websocket client for benches that hold many sockets: asyncio protocols (no task per
socket), masked text frames out, unfragmented server frames in (inflated when the server accepted
permessage-deflate, which it offers as browsers do), each text frame handed on undecoded, so a
subscriber's own cost stays small next to the server's it measures."""

from __future__ import annotations

import asyncio
import base64
import os
import struct
import zlib
from typing import Any

import msgspec

_json = msgspec.json.Encoder().encode
_parse = msgspec.json.Decoder().decode


class Socket(asyncio.Protocol):
    """One client websocket: sends masked text frames, parses unfragmented server frames (and
    inflates them when the server accepted permessage-deflate)."""

    def __init__(self, on_text: Any = None) -> None:
        self.transport: asyncio.Transport | None = None
        self.on_text = on_text
        self.upgraded = asyncio.get_running_loop().create_future()
        self.replies: asyncio.Queue[dict[str, Any]] | None = None
        self._buffer = bytearray()
        self._inflate: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if not self._buffer and self._inflate is None and self.upgraded.done():
            self._whole_frames(data)  # the usual case: no partial frame waiting, nothing to inflate
            return
        self._buffer += data
        if not self.upgraded.done():
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            if b"permessage-deflate" in self._buffer[:end].lower():
                self._inflate = zlib.decompressobj(-zlib.MAX_WBITS)
            del self._buffer[: end + 4]
            self.upgraded.set_result(None)
        self._frames()

    def _whole_frames(self, data: bytes) -> None:
        """Text frames straight out of `data`; a trailing partial frame goes to the buffer."""
        size = len(data)
        at = 0
        while at + 2 <= size:
            length = data[at + 1] & 0x7F
            start = at + 2
            if length == 126:
                if start + 2 > size:
                    break
                length = data[start] << 8 | data[start + 1]
                start += 2
            elif length == 127:
                break
            end = start + length
            if end > size:
                break
            if data[at] & 0x0F == 1:
                self._text(data[start:end])
            at = end
        if at < size:
            self._buffer += data[at:]
            self._frames()

    def _frames(self) -> None:
        buffer = self._buffer
        while len(buffer) >= 2:
            length = buffer[1] & 0x7F
            start = 2
            if length == 126:
                if len(buffer) < 4:
                    return
                length, start = struct.unpack_from("!H", buffer, 2)[0], 4
            elif length == 127:
                if len(buffer) < 10:
                    return
                length, start = struct.unpack_from("!Q", buffer, 2)[0], 10
            if len(buffer) < start + length:
                return
            opcode, compressed = buffer[0] & 0x0F, buffer[0] & 0x40
            payload = bytes(buffer[start : start + length])
            del buffer[: start + length]
            if compressed:
                payload = self._inflate.decompress(payload + b"\x00\x00\xff\xff")
            if opcode == 1:
                self._text(payload)

    def _text(self, payload: bytes) -> None:
        if self.on_text is not None:
            self.on_text(payload)
        elif self.replies is not None:
            self.replies.put_nowait(_parse(payload))

    def send(self, message: dict[str, Any]) -> None:
        payload = _json(message)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        n = len(payload)
        head = bytes([0x81, 0x80 | n]) if n < 126 else bytes([0x81, 0xFE]) + struct.pack("!H", n)
        assert self.transport is not None
        self.transport.write(head + mask + masked)


async def connect(host: str, port: int, path: str, on_text: Any = None) -> Socket:
    loop = asyncio.get_running_loop()
    _, sock = await loop.create_connection(lambda: Socket(on_text), host, port)
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n"
    )
    assert sock.transport is not None
    sock.transport.write(request.encode())
    await sock.upgraded
    return sock


async def join_all(sockets: list[Socket], topic: str, config: dict[str, Any]) -> None:
    """Join every socket to `topic`, then wait for all the join replies."""
    joined = 0
    done = asyncio.get_running_loop().create_future()

    def replied(payload: bytes) -> None:
        nonlocal joined
        if b'"phx_reply"' in payload:
            joined += 1
            if joined == len(sockets) and not done.done():
                done.set_result(None)

    for sock in sockets:
        sock.on_text = replied
        sock.send({"topic": topic, "event": "phx_join", "payload": {"config": config}, "ref": "1", "join_ref": "1"})
    await asyncio.wait_for(done, 60)
