"""All configuration, read once from environment variables with typed defaults.

The defaults are the Supabase CLI's local ones (ports, JWT secret, demo keys), so an `.env`
written for `supabase start` works unchanged. `docs/ENVS.md` lists every variable.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache

# The Supabase CLI's well-known local secret (apps/cli-go/pkg/config/apikeys.go).
DEMO_JWT_SECRET = "super-secret-jwt-token-with-at-least-32-characters-long"  # noqa: S105
DEMO_KEY_EXP = 1983812996


def env_str(name: str, default: str) -> str:
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return default if not value else int(value)


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return default if not value else float(value)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if not value:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _demo_key(role: str, secret: str) -> str:
    from core.jwt import encode  # noqa: PLC0415 - avoids an import cycle at module load

    return encode({"iss": "supabase-demo", "role": role, "exp": DEMO_KEY_EXP}, secret)


@dataclass(frozen=True)
class SupabaseSettings:
    """Where the Supabase project is and which keys open it (local stack or hosted)."""

    url: str = field(default_factory=lambda: env_str("SUPABASE_URL", "http://127.0.0.1:54321"))
    jwt_secret: str = field(
        default_factory=lambda: env_str("SUPABASE_JWT_SECRET", env_str("JWT_SECRET", DEMO_JWT_SECRET))
    )
    anon_key: str = field(default_factory=lambda: env_str("SUPABASE_ANON_KEY", ""))
    service_role_key: str = field(default_factory=lambda: env_str("SUPABASE_SERVICE_ROLE_KEY", ""))

    def __post_init__(self) -> None:
        # Keys default to the demo JWTs signed with whatever secret is configured.
        if not self.anon_key:
            object.__setattr__(self, "anon_key", _demo_key("anon", self.jwt_secret))
        if not self.service_role_key:
            object.__setattr__(self, "service_role_key", _demo_key("service_role", self.jwt_secret))


@dataclass(frozen=True)
class DatabaseSettings:
    """The PostgreSQL the local stack (and the worker's direct pool) connects to."""

    url: str = field(
        default_factory=lambda: env_str("DATABASE_URL", "postgresql://postgres:postgres@127.0.0.1:54322/postgres")
    )
    data_dir: str = field(default_factory=lambda: env_str("LOCALBASE_PGDATA", ".localbase/pgdata"))
    pool_min: int = field(default_factory=lambda: env_int("DB_POOL_MIN", 2))
    pool_max: int = field(default_factory=lambda: env_int("DB_POOL_MAX", 20))


@dataclass(frozen=True)
class LocalbaseSettings:
    """The Supabase-compatible gateway (auth, rest, realtime) on 127.0.0.1:54321."""

    host: str = field(default_factory=lambda: env_str("LOCALBASE_HOST", "127.0.0.1"))
    port: int = field(default_factory=lambda: env_int("LOCALBASE_PORT", 54321))
    site_url: str = field(default_factory=lambda: env_str("SITE_URL", "http://127.0.0.1:3000"))
    autoconfirm: bool = field(default_factory=lambda: env_bool("LOCALBASE_AUTOCONFIRM", True))
    jwt_expiry: int = field(default_factory=lambda: env_int("JWT_EXPIRY", 3600))
    refresh_reuse_interval: int = field(default_factory=lambda: env_int("REFRESH_TOKEN_REUSE_INTERVAL", 10))
    strict_apikey: bool = field(default_factory=lambda: env_bool("LOCALBASE_STRICT_APIKEY", False))
    exposed_schemas: tuple[str, ...] = field(
        default_factory=lambda: tuple(
            s.strip() for s in env_str("PGRST_DB_SCHEMAS", "public,graphql_public").split(",") if s.strip()
        )
    )
    max_rows: int = field(default_factory=lambda: env_int("PGRST_DB_MAX_ROWS", 1000))
    max_body_bytes: int = field(default_factory=lambda: env_int("LOCALBASE_MAX_BODY_BYTES", 1_048_576))
    mail_dir: str = field(default_factory=lambda: env_str("LOCALBASE_MAIL_DIR", ".localbase/mail"))


@dataclass(frozen=True)
class Settings:
    supabase: SupabaseSettings = field(default_factory=SupabaseSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    localbase: LocalbaseSettings = field(default_factory=LocalbaseSettings)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; tests set the environment before the first call."""
    return Settings()
