"""`WS /ws/chat/{session_id}?token=JWT`: the seed's real-time chat.

The token is verified and the session looked up (as the user, through REST) before anything
else happens. Failures still accept the handshake, so the client can read why, then close at
once: 4401 for a missing, bad or expired token, 4404 for a session that is not the caller's.
"""

from __future__ import annotations

from typing import Any

from litestar import WebSocket, websocket

from api.chat_socket import ChatSocket
from api.conversation import find_session
from api.errors import ApiError, NotAuthenticated, UpstreamUnavailable
from api.metrics import Metrics
from api.ratelimit import RateLimiter, client_ip
from api.security import CurrentUser, bearer, user_from_token
from api.upstream import Upstream
from core.settings import Settings


async def _refuse(socket: WebSocket[Any, Any, Any], error: ApiError) -> None:
    await socket.accept()
    await socket.close(code=error.ws_close, reason=f"{error.code}: {error.message}"[:120])


@websocket("/ws/chat/{session_id:str}")
async def chat_socket(
    *,
    socket: WebSocket[Any, Any, Any],
    session_id: str,
    upstream: Upstream,
    settings: Settings,
    limiter: RateLimiter,
    metrics: Metrics,
) -> None:
    token = socket.query_params.get("token") or bearer(socket.headers)
    try:
        user: CurrentUser = user_from_token(token, settings.supabase.jwt_secret)
        session = await find_session(upstream.rest(user.token), session_id)
    except NotAuthenticated as error:
        await _refuse(socket, error)
        return
    except ApiError as error:
        await _refuse(socket, error)
        return
    chat = ChatSocket(
        socket,
        user=user,
        session=session,
        upstream=upstream,
        settings=settings.api,
        limiter=limiter,
        metrics=metrics,
        ip=client_ip(socket.scope, settings.api.trust_forwarded_for),
    )
    try:
        async with upstream.reply_feed(user.token, str(session["id"])) as feed:
            await socket.accept()
            await chat.run(feed)
    except UpstreamUnavailable as error:
        if socket.connection_state == "init":
            await _refuse(socket, error)
            return
        await chat.send_error(error)
    if socket.connection_state != "disconnect":
        await socket.close(code=1000)
