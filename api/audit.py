"""Security events the API witnesses, stored in `audit.events` and logged as structured lines.

Failed logins, rate-limit hits, refresh-token reuse, requests for another user's session and
refused WebSocket joins are written through `record_security_event`, a SECURITY DEFINER function
only the service role may execute (the API's key, as for the rate-limit counters; events are
not user data being read). Writing happens in the background: a request never waits for its
audit record, and a record that cannot be stored is still logged, so the log is the fallback.
The database decides whether a "not found" was a probe of someone else's session; only recorded
events are logged and counted.

Logs carry the kind, user id, address and plain details, never `email` (kept in the table only).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
from litestar import Request, Response
from postgrest import APIError

from api.errors import ApiError, ErrorEnvelope, SessionNotFound, to_response
from api.metrics import Metrics
from api.security import bearer, client_ip, user_from_token
from api.upstream import Upstream

log = logging.getLogger(__name__)

_NOT_LOGGED = frozenset({"email"})


class SecurityEvents:
    def __init__(self, upstream: Upstream, metrics: Metrics) -> None:
        self._upstream = upstream
        self._metrics = metrics
        self._pending: set[asyncio.Task[None]] = set()

    def record(self, kind: str, *, user_id: str | None = None, ip: str | None = None, **details: Any) -> None:
        """Store and log one event soon; returns at once."""
        task = asyncio.get_running_loop().create_task(self._write(kind, user_id, ip, details))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def drain(self) -> None:
        """Wait for the records still being written (at shutdown)."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    async def _write(self, kind: str, user_id: str | None, ip: str | None, details: dict[str, Any]) -> None:
        params: dict[str, Any] = {"event_kind": kind, "actor": user_id, "client_ip": ip, "event_details": details}
        logged = {key: value for key, value in details.items() if key not in _NOT_LOGGED}
        extra = {"event": f"security.{kind}", "user_id": user_id, "ip": ip, **logged}
        try:
            response = await self._upstream.rest_service().rpc("record_security_event", params).execute()
        except (APIError, httpx.HTTPError) as exc:
            log.warning("security event not stored", extra={**extra, "error": type(exc).__name__})
            return
        if response.data is True:
            self._metrics.security_events.labels(kind).inc()
            log.warning("security event", extra=extra)


def audited_to_response(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorEnvelope]:
    """The error envelope, after offering a "session not found" to the audit as a possible probe."""
    if isinstance(exc, SessionNotFound) and exc.extra.get("session_id"):
        state, settings = request.app.state, request.app.state.settings
        try:
            user = user_from_token(bearer(request.headers), settings.supabase.keys)
        except ApiError:
            user = None
        if user is not None and isinstance(getattr(state, "events", None), SecurityEvents):
            state.events.record(
                "permission_denied",
                user_id=user.id,
                ip=client_ip(request.scope, settings.api.trust_forwarded_for),
                code=exc.code,
                session_id=str(exc.extra["session_id"]),
                route=str(request.scope.get("path_template") or "unmatched"),
            )
    return to_response(request, exc)
