"""All configuration, read in this package from environment variables with typed defaults.

The defaults are the Supabase CLI's local ones (ports, JWT secret, demo keys), so an `.env`
written for `supabase start` works unchanged, and the local stack's Auth, REST and Storage
settings default to supabase/config.toml (`projectconfig`). `docs/ENVS.md` lists every variable.
One module per part of the system; `Settings` gathers them and `get_settings` reads them once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from core.settings.api import ApiSettings
from core.settings.database import LOCAL_DB, DatabaseSettings, login_as
from core.settings.env import env_bool, env_float, env_int, env_str
from core.settings.fakescope import FakeScopeSettings
from core.settings.llm import (
    DEFAULT_MODEL_LIMITS,
    DEFAULT_MULTIMODAL_MODELS,
    LlmSettings,
    ModelLimits,
    parse_model_limits,
)
from core.settings.localbase import LocalbaseSettings
from core.settings.logs import LogSettings
from core.settings.storage import StorageSettings
from core.settings.supabase import DEMO_JWT_SECRET, DEMO_KEY_EXP, SupabaseSettings, demo_key
from core.settings.web import WebSettings
from core.settings.worker import WorkerSettings

__all__ = [
    "DEFAULT_MODEL_LIMITS",
    "DEFAULT_MULTIMODAL_MODELS",
    "DEMO_JWT_SECRET",
    "DEMO_KEY_EXP",
    "LOCAL_DB",
    "ApiSettings",
    "DatabaseSettings",
    "FakeScopeSettings",
    "LlmSettings",
    "LocalbaseSettings",
    "LogSettings",
    "ModelLimits",
    "Settings",
    "StorageSettings",
    "SupabaseSettings",
    "WebSettings",
    "WorkerSettings",
    "demo_key",
    "env_bool",
    "env_float",
    "env_int",
    "env_str",
    "get_settings",
    "login_as",
    "parse_model_limits",
]


@dataclass(frozen=True)
class Settings:
    supabase: SupabaseSettings = field(default_factory=SupabaseSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    localbase: LocalbaseSettings = field(default_factory=LocalbaseSettings)
    storage: StorageSettings = field(default_factory=StorageSettings)
    llm: LlmSettings = field(default_factory=LlmSettings)
    fakescope: FakeScopeSettings = field(default_factory=FakeScopeSettings)
    worker: WorkerSettings = field(default_factory=WorkerSettings)
    api: ApiSettings = field(default_factory=ApiSettings)
    web: WebSettings = field(default_factory=WebSettings)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; tests set the environment before the first call."""
    return Settings()
