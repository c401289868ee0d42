"""Dependency providers: the process's shared services and the calling user, per request."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.datastructures import State
from litestar.di import Provide

from api.audit import SecurityEvents
from api.database import Caller, CallerDatabase
from api.metrics import Metrics
from api.ratelimit import RateLimiter
from api.security import CurrentUser, bearer, client_ip, user_from_token
from api.upstream import Upstream
from core.settings import Settings


def provide_settings(state: State) -> Settings:
    settings: Settings = state.settings
    return settings


def provide_upstream(state: State) -> Upstream:
    upstream: Upstream = state.upstream
    return upstream


def provide_database(state: State) -> CallerDatabase:
    database: CallerDatabase = state.database
    return database


def provide_limiter(state: State) -> RateLimiter:
    limiter: RateLimiter = state.limiter
    return limiter


def provide_metrics(state: State) -> Metrics:
    metrics: Metrics = state.metrics
    return metrics


def provide_events(state: State) -> SecurityEvents:
    events: SecurityEvents = state.events
    return events


def provide_user(request: Request[Any, Any, Any]) -> CurrentUser:
    """The signed-in caller, or 401 before any handler work happens (no other dependency needed,
    so a handler asking only for `user` resolves without Litestar's task group)."""
    settings: Settings = request.app.state.settings
    return user_from_token(bearer(request.headers), settings.supabase.keys)


def provide_caller(request: Request[Any, Any, Any]) -> Caller:
    """The signed-in caller with the database door as them (401 first, like `user`)."""
    return Caller(provide_user(request), request.app.state.database)


def provide_client_ip(request: Request[Any, Any, Any], settings: Settings) -> str:
    return client_ip(request.scope, settings.api.trust_forwarded_for)


DEPENDENCIES = {
    "settings": Provide(provide_settings, sync_to_thread=False),
    "upstream": Provide(provide_upstream, sync_to_thread=False),
    "database": Provide(provide_database, sync_to_thread=False),
    "limiter": Provide(provide_limiter, sync_to_thread=False),
    "metrics": Provide(provide_metrics, sync_to_thread=False),
    "events": Provide(provide_events, sync_to_thread=False),
    "user": Provide(provide_user, sync_to_thread=False),
    "caller": Provide(provide_caller, sync_to_thread=False),
    "ip": Provide(provide_client_ip, sync_to_thread=False),
}
