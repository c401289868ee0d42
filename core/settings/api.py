"""The Litestar API facade's settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.settings.database import LOCAL_DB, login_as
from core.settings.env import env_bool, env_float, env_int, env_str


@dataclass(frozen=True)
class ApiSettings:
    """The Litestar API facade (`python -m api`): listen address, CORS, waits, limits, rate limits."""

    host: str = field(default_factory=lambda: env_str("API_HOST", "127.0.0.1"))
    port: int = field(default_factory=lambda: env_int("API_PORT", 8000))
    cors_origins: tuple[str, ...] = field(
        default_factory=lambda: tuple(
            o.strip()
            for o in env_str("API_CORS_ORIGINS", "http://127.0.0.1:3000,http://localhost:3000").split(",")
            if o.strip()
        )
    )
    answer_timeout: float = field(default_factory=lambda: env_float("API_ANSWER_TIMEOUT", 60.0))  # POST /chat/send wait
    answer_poll_interval: float = field(default_factory=lambda: env_float("API_ANSWER_POLL_INTERVAL", 2.0))
    max_message_chars: int = field(default_factory=lambda: env_int("API_MAX_MESSAGE_CHARS", 8000))
    max_body_bytes: int = field(default_factory=lambda: env_int("API_MAX_BODY_BYTES", 65536))
    # /v1/chat/completions: a request sends its whole conversation (at most 1 MiB of text, checked)
    # and its question's images as data: URIs (10 MiB each at most, checked)
    v1_max_body_bytes: int = field(default_factory=lambda: env_int("API_V1_MAX_BODY_BYTES", 20_971_520))
    # How long the signed attachment links in an account export stay valid, seconds.
    export_link_seconds: int = field(default_factory=lambda: env_int("API_EXPORT_LINK_SECONDS", 604800))
    ws_heartbeat: float = field(default_factory=lambda: env_float("API_WS_HEARTBEAT", 20.0))  # server ping period
    upstream_timeout: float = field(default_factory=lambda: env_float("API_UPSTREAM_TIMEOUT", 10.0))
    upstream_connections: int = field(default_factory=lambda: env_int("API_UPSTREAM_CONNECTIONS", 200))
    rate_limit_enabled: bool = field(default_factory=lambda: env_bool("API_RATE_LIMIT_ENABLED", True))
    rate_window: int = field(default_factory=lambda: env_int("API_RATE_WINDOW", 60))  # seconds per fixed window
    rate_send_per_user: int = field(default_factory=lambda: env_int("API_RATE_SEND_PER_USER", 30))
    rate_send_per_ip: int = field(default_factory=lambda: env_int("API_RATE_SEND_PER_IP", 120))
    rate_auth_per_ip: int = field(default_factory=lambda: env_int("API_RATE_AUTH_PER_IP", 30))
    trust_forwarded_for: bool = field(default_factory=lambda: env_bool("API_TRUST_FORWARDED_FOR", False))
    # The API's own door to Postgres (reads and writes as the caller, see api/database.py): a login
    # role that is neither superuser nor BYPASSRLS and may `set role authenticated`. Locally the
    # stack's `authenticator`; on hosted Supabase a role of your own through the session pooler.
    database_url: str = field(
        default_factory=lambda: env_str(
            "API_DATABASE_URL", login_as(env_str("DATABASE_URL", LOCAL_DB), "authenticator")
        )
    )
    database_pool: int = field(default_factory=lambda: env_int("API_DATABASE_POOL", 10))
