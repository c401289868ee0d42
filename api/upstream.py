"""The Supabase clients the API talks through, sharing one httpx connection pool.

Every data call runs as the caller: a per-request `AsyncPostgrestClient` carrying the user's JWT
over the shared pool (constructing one costs a dict, not a connection). The service-role key is
used for the rate-limit counters and security events (not user data), and for one admin action:
deleting the caller's own account after they re-entered their password.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import httpx
from postgrest import APIError, AsyncPostgrestClient
from storage3 import AsyncStorageClient
from supabase_auth import AsyncGoTrueClient

from api.autherrors import transport_error
from api.errors import (
    ApiError,
    BadRequest,
    Conflict,
    Forbidden,
    InvalidToken,
    NotFound,
    TokenExpired,
    UpstreamUnavailable,
)
from api.refusals import missing_account, refusal_error
from api.replies import ReplyFeed
from api.reply_hub import ReplyHub
from api.security import CurrentUser
from core.settings import ApiSettings, SupabaseSettings

T = TypeVar("T")


class Upstream:
    """Long-lived handles on Supabase Auth, REST and Realtime for one API process."""

    def __init__(self, supabase: SupabaseSettings, api: ApiSettings) -> None:
        self.url = supabase.url.rstrip("/")
        self.anon_key = supabase.anon_key
        self._service_key = supabase.service_role_key
        self.http = httpx.AsyncClient(
            timeout=httpx.Timeout(api.upstream_timeout, connect=5.0),
            limits=httpx.Limits(
                max_connections=api.upstream_connections, max_keepalive_connections=api.upstream_connections
            ),
            trust_env=False,
        )
        self.realtime_url = f"{self.url}/realtime/v1"
        self._join_timeout = api.upstream_timeout
        self.export_link_seconds = api.export_link_seconds
        self.hub = ReplyHub(self.realtime_url, self.anon_key, self._join_timeout)

    async def close(self) -> None:
        await self.hub.close()
        await self.http.aclose()

    def rest(self, token: str) -> AsyncPostgrestClient:
        """PostgREST as the holder of `token`: RLS decides what it sees."""
        return self._rest(token)

    def rest_anon(self) -> AsyncPostgrestClient:
        return self._rest(self.anon_key)

    def rest_service(self) -> AsyncPostgrestClient:
        """Service role: for the rate-limit counters and security events, never for user data."""
        return self._rest(self._service_key)

    def _rest(self, token: str) -> AsyncPostgrestClient:
        return AsyncPostgrestClient(
            f"{self.url}/rest/v1",
            headers={"apikey": self.anon_key, "Authorization": f"Bearer {token}"},
            http_client=self.http,
        )

    def storage(self, token: str) -> AsyncStorageClient:
        """Storage as the holder of `token`: the bucket policies decide what it may sign or read."""
        return AsyncStorageClient(
            f"{self.url}/storage/v1/",
            {"apikey": self.anon_key, "Authorization": f"Bearer {token}"},
            http_client=self.http,
        )

    def reply_feed(self, user: CurrentUser, session_id: str) -> ReplyFeed:
        """The session's answer stream as `user` may hear it (a Realtime private channel)."""
        return ReplyFeed(self.realtime_url, self.anon_key, user, session_id, self._join_timeout)

    def auth(self) -> AsyncGoTrueClient:
        """A fresh GoTrue client per call: it keeps a session in memory, which must not be shared."""
        return AsyncGoTrueClient(
            url=f"{self.url}/auth/v1",
            headers={"apikey": self.anon_key, "Authorization": f"Bearer {self.anon_key}"},
            http_client=self.http,
            auto_refresh_token=False,
            persist_session=False,
        )

    def auth_admin(self) -> AsyncGoTrueClient:
        """Auth with the service key, for `admin.delete_user` of a caller who proved their password."""
        return AsyncGoTrueClient(
            url=f"{self.url}/auth/v1",
            headers={"apikey": self.anon_key, "Authorization": f"Bearer {self._service_key}"},
            http_client=self.http,
            auto_refresh_token=False,
            persist_session=False,
        )


async def call(operation: Awaitable[T]) -> T:
    """Await a postgrest operation, turning its failures into ApiErrors."""
    async with translated():
        return await operation


@asynccontextmanager
async def translated() -> AsyncIterator[None]:
    try:
        yield
    except APIError as exc:
        raise rest_error(exc) from exc
    except httpx.HTTPError as exc:
        raise transport_error(exc) from exc


def rest_error(exc: APIError) -> ApiError:
    """PostgREST/PostgreSQL codes as API errors: the caller's fault is a 4xx (a data exception, class
    22, or a request PostgREST refused, PGRST1xx), a database that does not answer is 503, and any
    other code stays a 500 that `api.errors.to_response` logs."""
    code = exc.code or ""
    refused = refusal_error(code, exc.message, exc.details) or missing_account(code, exc.details)
    if refused is not None:
        return refused
    if code in {"PGRST301", "PGRST302"}:
        return InvalidToken()
    if code == "PGRST303":
        return TokenExpired() if "expired" in (exc.message or "").lower() else InvalidToken()
    if code == "42501":
        return Forbidden()
    if code in {"23505"}:
        return Conflict()
    if code in {"23503", "PGRST116"}:
        return NotFound()
    if code.startswith(("22", "PGRST1")) or code in {"23514", "23502"}:
        return BadRequest(exc.message or None)
    if code.startswith(("08", "53", "57", "PGRST00")):
        return UpstreamUnavailable()
    return ApiError(f"Upstream error {code}".strip())


def rows(data: Any) -> list[dict[str, Any]]:
    """postgrest-py gives `data` as Any; our selects always return lists of objects."""
    return [row for row in data if isinstance(row, dict)] if isinstance(data, list) else []
