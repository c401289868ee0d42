"""The app factory: controllers, dependency providers, lifespan, CORS, limits and error mapping.

This is the one wiring point. Shared services (the upstream clients, the caller's database door,
the rate limiter, metrics) are built at startup, stored on `app.state` and injected by name
(`upstream`, `database`, `limiter`, ...); the calling user is injected as `user` and resolved
from the bearer token.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar, Request, Response
from litestar.config.cors import CORSConfig
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

from api.audit import SecurityEvents, audited_to_response
from api.compat.errors import to_openai_response
from api.compat.routes import OPENAI_SDK_HEADERS, openai_router
from api.database import CallerDatabase
from api.deps import DEPENDENCIES
from api.docs import assets_router, render_plugins
from api.metrics import Metrics
from api.observe import RequestObserver
from api.ratelimit import RateLimiter
from api.routes.account import AccountController
from api.routes.admin import AdminController
from api.routes.auth import AuthController
from api.routes.chat import ChatController
from api.routes.models import ModelController
from api.routes.profile import ProfileController
from api.routes.roles import RoleController
from api.routes.sessions import SessionController
from api.routes.shares import SHARE_HANDLERS
from api.routes.system import health, metrics
from api.routes.usage import UsageController
from api.routes.ws import chat_socket
from api.upstream import Upstream
from core.settings import Settings, get_settings


def _error_response(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Errors the routes' own handlers did not take (a path no route matches, say): in OpenAI's
    shape under /v1, where the clients are OpenAI's SDKs, else in the API's envelope."""
    path = request.url.path
    if path == "/v1" or path.startswith("/v1/"):
        return to_openai_response(request, exc)
    return audited_to_response(request, exc)


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or get_settings()
    observed = Metrics()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        upstream = Upstream(settings.supabase, settings.api)
        app.state.upstream = upstream
        app.state.database = database = CallerDatabase(settings.api.database_url, settings.api.database_pool)
        await database.start()
        app.state.events = events = SecurityEvents(upstream, observed)
        app.state.limiter = RateLimiter(upstream, settings.api, events)
        try:
            yield
        finally:
            await events.drain()
            await upstream.close()
            await database.close()

    app = Litestar(
        route_handlers=[
            AuthController,
            AccountController,
            ChatController,
            SessionController,
            RoleController,
            ModelController,
            ProfileController,
            UsageController,
            AdminController,
            openai_router(settings.api.v1_max_body_bytes),
            health,
            metrics,
            chat_socket,
            *SHARE_HANDLERS,
            assets_router(),
        ],
        dependencies=DEPENDENCIES,
        lifespan=[lifespan],
        exception_handlers={Exception: _error_response},
        cors_config=CORSConfig(
            allow_origins=list(settings.api.cors_origins),
            allow_methods=["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
            allow_headers=[
                "authorization",
                "content-type",
                "x-request-id",
                "x-chatgalaxy-session",
                *OPENAI_SDK_HEADERS,
            ],
            expose_headers=[
                "x-request-id",
                "retry-after",
                "x-should-retry",
                "x-chatgalaxy-message",
                "x-chatgalaxy-files-left-out",
            ],
            max_age=86400,
        ),
        openapi_config=OpenAPIConfig(
            title="ChatGalaxy API",
            version="1.0.0",
            components=Components(
                security_schemes={"BearerToken": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT")}
            ),
            security=[{"BearerToken": []}],
            render_plugins=render_plugins(),
        ),
        request_max_body_size=settings.api.max_body_bytes,
        logging_config=None,  # core/logs sets up JSON lines; Litestar's default would add plain-text ones
        state=None,
    )
    app.state.settings = settings
    app.state.metrics = observed
    # Outside routing, so unmatched paths and preflights get ids, logs and metrics as well.
    app.asgi_handler = RequestObserver(app.asgi_handler, observed)
    return app
