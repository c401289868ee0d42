"""The small slice of HTTP over raw ASGI that the local stack's services share.

Raw ASGI rather than a framework: the REST layer's target is to match a hand-written endpoint's
throughput, so per-request overhead stays as small as the protocol allows.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

import msgspec

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]

_json_encoder = msgspec.json.Encoder()
JSON_TYPE = (b"content-type", b"application/json; charset=utf-8")


class HttpError(Exception):
    """An error answered as `status` with a JSON `body`; services shape the body their way."""

    def __init__(self, status: int, body: Any, headers: Headers | None = None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.body = body
        self.headers = headers or []


class BodyTooLarge(Exception):
    """The request body exceeded the configured limit."""


class Request:
    """An HTTP request: method, path (below the service's mount), query, headers and body."""

    __slots__ = ("_body", "_headers", "_query", "path", "receive", "scope")

    def __init__(self, scope: Scope, receive: Receive) -> None:
        self.scope = scope
        self.receive = receive
        self.path: str = scope["path"]
        self._headers: dict[str, str] | None = None
        self._query: list[tuple[str, str]] | None = None
        self._body: bytes | None = None

    @property
    def method(self) -> str:
        return str(self.scope["method"])

    @property
    def headers(self) -> dict[str, str]:
        """Lower-cased header names; repeated headers are joined with ', ' as HTTP allows."""
        if self._headers is None:
            merged: dict[str, str] = {}
            for raw_name, raw_value in self.scope["headers"]:
                name = raw_name.decode("latin-1").lower()
                value = raw_value.decode("latin-1")
                merged[name] = f"{merged[name]}, {value}" if name in merged else value
            self._headers = merged
        return self._headers

    @property
    def query(self) -> list[tuple[str, str]]:
        """Query parameters in order, repeats kept (PostgREST filters may repeat a column)."""
        if self._query is None:
            raw = self.scope.get("query_string", b"").decode("latin-1")
            self._query = parse_qsl(raw, keep_blank_values=True, encoding="utf-8")
        return self._query

    def query_value(self, name: str) -> str | None:
        for key, value in self.query:
            if key == name:
                return value
        return None

    @property
    def client_ip(self) -> str:
        client = self.scope.get("client")
        return str(client[0]) if client else ""

    def bearer(self) -> str | None:
        value = self.headers.get("authorization", "")
        scheme, _, token = value.partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None

    async def body(self, limit: int) -> bytes:
        """The whole body, refusing more than `limit` bytes (declared or actually sent)."""
        if self._body is not None:
            return self._body
        declared = self.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise BodyTooLarge
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        self._body = b"".join(chunks)
        return self._body


async def respond(send: Send, status: int, body: bytes = b"", headers: Headers | None = None) -> None:
    all_headers = list(headers or [])
    all_headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": all_headers})
    await send({"type": "http.response.body", "body": body})


async def respond_json(send: Send, status: int, payload: Any, headers: Headers | None = None) -> None:
    await respond(send, status, _json_encoder.encode(payload), [JSON_TYPE, *(headers or [])])


def encode_json(payload: Any) -> bytes:
    return _json_encoder.encode(payload)


def json_holds_nul(raw: bytes) -> bool:
    """Whether a JSON body holds a NUL, raw or escaped: Postgres text and jsonb cannot store one."""
    return b"\x00" in raw or b"\\u0000" in raw
