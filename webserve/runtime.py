"""What the browser is told at run time: where Supabase and the API are, and the matching CSP.

The anon key is public by design (it only grants the `anon` role; RLS does the rest), so
handing it to every visitor is what Supabase itself does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import urlsplit

from core.settings import Settings


@dataclass(frozen=True)
class RuntimeConfig:
    supabase_url: str
    supabase_anon_key: str
    api_url: str

    @classmethod
    def from_settings(cls, settings: Settings) -> RuntimeConfig:
        web = settings.web
        api = f"http://{settings.api.host}:{settings.api.port}"
        return cls(
            supabase_url=(web.public_supabase_url or settings.supabase.url).rstrip("/"),
            supabase_anon_key=settings.supabase.anon_key,
            api_url=(web.public_api_url or api).rstrip("/"),
        )

    def script(self) -> bytes:
        """`/config.js`: read by index.html before the app (web/src/lib/config.ts)."""
        body = {"supabaseUrl": self.supabase_url, "supabaseAnonKey": self.supabase_anon_key, "apiUrl": self.api_url}
        # `<` escaped so the JSON can never close a script element.
        text = json.dumps(body, ensure_ascii=False).replace("<", "\\u003c")
        return f"window.__CHATGALAXY_CONFIG__ = {text};\n".encode()

    def content_security_policy(self) -> str:
        """Scripts only from this origin; network only to this origin, Supabase (HTTP and WebSocket) and the API."""
        connect = ["'self'", *_origins(self.supabase_url, websocket=True), *_origins(self.api_url, websocket=True)]
        return "; ".join(
            [
                "default-src 'self'",
                "script-src 'self'",
                "style-src 'self' 'unsafe-inline'",  # Element Plus positions popups with inline styles
                "img-src 'self' data: blob: https: http:",  # user-supplied avatar URLs; blob: previews of attachments
                "font-src 'self' data:",
                f"connect-src {' '.join(dict.fromkeys(connect))}",
                "object-src 'none'",
                "base-uri 'self'",
                "form-action 'self'",
                "frame-ancestors 'none'",
            ]
        )


def _origins(url: str, *, websocket: bool) -> list[str]:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return []
    origins = [f"{parts.scheme}://{parts.netloc}"]
    if websocket:
        origins.append(f"{'wss' if parts.scheme == 'https' else 'ws'}://{parts.netloc}")
    return origins
