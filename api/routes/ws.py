"""`WS /ws/chat/{session_id}?token=JWT`: the seed's real-time chat.

The token is verified and the session looked up (as the user, through REST) before anything
else happens. Failures still accept the handshake, so the client can read why, then close at
once: 4401 for a missing, bad or expired token, 4404 for a session that is not the caller's, 1013
(try again later) when a backing service is down. A socket that cannot resume its session's answers
because of an outage sends an `UpstreamUnavailable` frame and closes 1013 too; once serving, it
serves on through an outage, and as long as its token (refreshed in `access_token` frames) is valid
(api/chat_socket.py, api/answer_relay.py). Refusals are security events (api/audit.py).
"""

from __future__ import annotations

from typing import Any

from litestar import WebSocket, websocket

from api.audit import SecurityEvents
from api.chat_socket import ChatSocket
from api.conversation import find_session
from api.errors import ApiError, SessionNotFound, TokenExpired, UpstreamUnavailable
from api.metrics import Metrics
from api.ratelimit import RateLimiter
from api.security import CurrentUser, bearer, client_ip, user_from_token
from api.upstream import Upstream
from core.settings import Settings


async def _refuse(socket: WebSocket[Any, Any, Any], error: ApiError) -> None:
    await socket.accept()
    await socket.close(code=error.ws_close, reason=f"{error.code}: {error.message}"[:120])


def _audit_refusal(
    events: SecurityEvents, settings: Settings, socket: WebSocket[Any, Any, Any], error: ApiError, user_id: str | None
) -> None:
    """A refused join is a security event; an expired token is routine reconnecting, and a missing
    session counts only when it is someone else's (the database decides)."""
    if isinstance(error, TokenExpired | UpstreamUnavailable):
        return
    details: dict[str, Any] = {"code": error.code}
    if isinstance(error, SessionNotFound):
        details["session_id"] = str(error.extra.get("session_id") or socket.path_params.get("session_id"))
    ip = client_ip(socket.scope, settings.api.trust_forwarded_for)
    events.record("ws_refused", user_id=user_id, ip=ip, **details)


@websocket("/ws/chat/{session_id:str}")
async def chat_socket(
    *,
    socket: WebSocket[Any, Any, Any],
    session_id: str,
    upstream: Upstream,
    settings: Settings,
    limiter: RateLimiter,
    metrics: Metrics,
    events: SecurityEvents,
) -> None:
    token = socket.query_params.get("token") or bearer(socket.headers)
    user: CurrentUser | None = None
    try:
        user = user_from_token(token, settings.supabase.keys)
        user.check_unexpired()  # REST would take it 30 s past `exp`; the answers come over Realtime
        session = await find_session(upstream.rest(user.token), session_id)
    except ApiError as error:
        _audit_refusal(events, settings, socket, error, user.id if user else None)
        await _refuse(socket, error)
        return
    try:
        async with upstream.reply_feed(user, str(session["id"])) as feed:
            await socket.accept()
            chat = ChatSocket(
                socket,
                feed=feed,
                user=user,
                session=session,
                upstream=upstream,
                settings=settings.api,
                keys=settings.supabase.keys,
                limiter=limiter,
                metrics=metrics,
                ip=client_ip(socket.scope, settings.api.trust_forwarded_for),
            )
            await chat.run()
    except (UpstreamUnavailable, TokenExpired) as error:  # the answer stream could not be joined
        await _refuse(socket, error)
