"""Per-user and per-address rate limits that hold across API replicas.

The counters live in Postgres (`api_rate_limit_hit`, a fixed-window upsert executable only by
service_role), so two replicas share one budget and a restart forgets nothing. A counter that
cannot be reached fails open and is logged: a rate limiter must not take the chat down with it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import httpx
from postgrest import APIError

from api.errors import RateLimited
from api.upstream import Upstream, rows
from core.settings import ApiSettings

if TYPE_CHECKING:
    from api.audit import SecurityEvents

log = logging.getLogger(__name__)


class RateLimiter:
    def __init__(self, upstream: Upstream, settings: ApiSettings, events: SecurityEvents | None = None) -> None:
        self._upstream = upstream
        self._settings = settings
        self._events = events

    async def check_send(self, user_id: str, ip: str) -> None:
        """One more message from this user and this address, or RateLimited (a security event)."""
        try:
            await self._check(
                (f"send:user:{user_id}", self._settings.rate_send_per_user),
                (f"send:ip:{ip}", self._settings.rate_send_per_ip),
            )
        except RateLimited:
            if self._events is not None:
                self._events.record("rate_limited", user_id=user_id, ip=ip, scope="send")
            raise

    def send_limits(self) -> tuple[int, int, int] | None:
        """(window seconds, sends per user, sends per address), or None when limits are off: for a
        door that counts the send buckets in its own statement (the API keys' `key_caller`)."""
        if not self._settings.rate_limit_enabled:
            return None
        return self._settings.rate_window, self._settings.rate_send_per_user, self._settings.rate_send_per_ip

    def refused_send(self, user_id: str, ip: str, retry_after: int) -> RateLimited:
        """The refusal for a send counted elsewhere, recorded as `check_send` records its own."""
        if self._events is not None:
            self._events.record("rate_limited", user_id=user_id, ip=ip, scope="send")
        return RateLimited(retry_after)

    async def check_auth(self, ip: str) -> None:
        """One more sign-up, sign-in or refresh from this address, or RateLimited (a security event)."""
        try:
            await self._check((f"auth:ip:{ip}", self._settings.rate_auth_per_ip))
        except RateLimited:
            if self._events is not None:
                self._events.record("rate_limited", ip=ip, scope="auth")
            raise

    async def _check(self, *buckets: tuple[str, int]) -> None:
        if not self._settings.rate_limit_enabled:
            return
        results = await asyncio.gather(*(self._hit(bucket, limit) for bucket, limit in buckets))
        waits = [retry_after for allowed, retry_after in results if not allowed]
        if waits:
            raise RateLimited(max(waits))

    async def _hit(self, bucket: str, limit: int) -> tuple[bool, int]:
        params: dict[str, Any] = {"bucket": bucket, "window_seconds": self._settings.rate_window, "max_hits": limit}
        try:
            response = await self._upstream.rest_service().rpc("api_rate_limit_hit", params).execute()
        except (APIError, httpx.TransportError) as exc:
            log.warning(
                "rate limit counter unavailable; allowing",
                extra={"bucket": bucket},
                exc_info=exc,
            )
            return True, 0
        row = next(iter(rows(response.data)), {})
        return bool(row.get("allowed", True)), int(row.get("retry_after") or 1)
