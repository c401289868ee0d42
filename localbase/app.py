"""The local stack as one ASGI app: the gateway with Auth, REST, Realtime and Storage mounted."""

from __future__ import annotations

from core.settings import Settings, get_settings
from localbase.auth.service import AuthService
from localbase.gateway import Gateway
from localbase.realtime.service import RealtimeService
from localbase.rest.service import RestService
from localbase.storage.service import StorageService


def create_app(settings: Settings | None = None) -> Gateway:
    return Gateway(
        settings or get_settings(),
        {
            "/auth/v1": AuthService,
            "/rest/v1": RestService,
            "/realtime/v1": RealtimeService,
            "/storage/v1": StorageService,
        },
    )
