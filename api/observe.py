"""Request ids, access logs and metrics around every request, matched route or not.

Wraps Litestar's ASGI handler (outside routing, so 404s and preflights count too). The id comes
from a well-formed incoming X-Request-ID or is minted, is echoed on the response and in error
bodies. Access logs carry method, route template, status and duration, never query strings
(the WebSocket token travels there), bodies or headers.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from api.metrics import Metrics

log = logging.getLogger("api.access")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers") or []:
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _REQUEST_ID.match(text) else None
    return None


class RequestObserver:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self._app = app
        self._metrics = metrics
        # The labelled series of each (method, route, status): looking them up through the
        # client's `labels` on every request cost more than counting.
        self._series: dict[tuple[str, str, int], tuple[Any, Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = str(scope["type"])
        if kind not in ("http", "websocket"):
            await self._app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope) or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        if kind == "websocket":
            await self._websocket(scope, receive, send, request_id)
            return
        status = 500
        started = time.perf_counter()

        async def observed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers") or [])
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self._app(scope, receive, observed_send)
        finally:
            self._record(scope, status, time.perf_counter() - started, request_id)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
        self._metrics.websockets.inc()
        started = time.perf_counter()
        try:
            await self._app(scope, receive, send)
        finally:
            self._metrics.websockets.dec()
            log.info(
                "websocket closed",
                extra={
                    "request_id": request_id,
                    "route": _route(scope),
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )

    def _record(self, scope: Scope, status: int, seconds: float, request_id: str) -> None:
        method, route = str(scope.get("method", "")), _route(scope)
        series = self._series.get((method, route, status))
        if series is None:
            metrics = self._metrics
            failed = metrics.errors.labels(method, route) if status >= 500 else None
            series = metrics.requests.labels(method, route, str(status)), metrics.latency.labels(method, route), failed
            self._series[(method, route, status)] = series
        requests, latency, failed = series
        requests.inc()
        latency.observe(seconds)
        if failed is not None:
            failed.inc()
        extra: dict[str, Any] = {
            "request_id": request_id,
            "method": method,
            "route": route,
            "status": status,
            "duration_ms": round(seconds * 1000, 1),
        }
        log.log(logging.WARNING if status >= 500 else logging.INFO, "request", extra=extra)


def _route(scope: Scope) -> str:
    template = scope.get("path_template")
    return str(template) if template else "unmatched"
