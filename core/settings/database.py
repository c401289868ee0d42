"""The PostgreSQL the local stack (and the services' own pools) connect to, and its login roles."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from core.settings.env import env_int, env_str

LOCAL_DB = "postgresql://postgres:postgres@127.0.0.1:54322/postgres"


def login_as(url: str, user: str) -> str:
    """The same database URL logging in as `user` with the same password (the local roles share one)."""
    parts = urlsplit(url)
    password = f":{parts.password}" if parts.password else ""
    port = f":{parts.port}" if parts.port else ""
    netloc = f"{user}{password}@{parts.hostname or '127.0.0.1'}{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


@dataclass(frozen=True)
class DatabaseSettings:
    """The PostgreSQL the local stack (and the worker's direct pool) connects to."""

    url: str = field(default_factory=lambda: env_str("DATABASE_URL", LOCAL_DB))
    data_dir: str = field(default_factory=lambda: env_str("LOCALBASE_PGDATA", ".localbase/pgdata"))
    pool_min: int = field(default_factory=lambda: env_int("DB_POOL_MIN", 2))
    pool_max: int = field(default_factory=lambda: env_int("DB_POOL_MAX", 20))
