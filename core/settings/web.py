"""The SPA's static server and the runtime config it hands the browser."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.settings.env import env_int, env_str


@dataclass(frozen=True)
class WebSettings:
    """The SPA's static server (`python -m webserve`) and the runtime config it hands the browser.

    The public URLs are what the browser uses; they default to the local addresses of the stack
    and the API, and differ only behind a proxy or with a hosted Supabase project.
    """

    host: str = field(default_factory=lambda: env_str("WEB_HOST", "127.0.0.1"))
    port: int = field(default_factory=lambda: env_int("WEB_PORT", 3000))
    dist_dir: str = field(default_factory=lambda: env_str("WEB_DIST_DIR", "web/dist"))
    public_supabase_url: str = field(default_factory=lambda: env_str("WEB_SUPABASE_URL", ""))  # "" = SUPABASE_URL
    public_api_url: str = field(default_factory=lambda: env_str("WEB_API_URL", ""))  # "" = http://API_HOST:API_PORT
