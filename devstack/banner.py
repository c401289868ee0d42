"""What `make run` prints once everything answers: what `supabase status` lists (API, REST,
Storage and DB URLs, the mailbox, the JWT secret, the anon/service_role and publishable/secret
keys), then the web app, the API and its docs, and the model in use. Secrets here are the local
stack's own (the CLI's public demo values unless configured); the banner goes to the developer's
terminal only, never to a log."""

from __future__ import annotations

from core.settings import Settings
from localbase.gateway import PUBLISHABLE_KEY, SECRET_KEY

# The key `make run` gives the worker when it starts the offline fake model (no DASHSCOPE_API_KEY).
OFFLINE_KEY = "sk-offline-local"
BOLD, DIM, GREEN, RESET = "\033[1m", "\033[2m", "\033[32m", "\033[0m"


def banner(settings: Settings, *, colour: bool = False) -> str:
    base = f"http://{settings.localbase.host}:{settings.localbase.port}"
    api = f"http://{settings.api.host}:{settings.api.port}"
    model = (
        f"DashScope {settings.llm.default_model}"
        if settings.llm.api_key and settings.llm.api_key != OFFLINE_KEY
        else f"offline fake of {settings.llm.default_model} (no DASHSCOPE_API_KEY)"
    )
    rows = [
        ("API URL", base),
        ("REST URL", f"{base}/rest/v1"),
        ("Storage URL", f"{base}/storage/v1"),
        ("DB URL", settings.database.url),
        ("Mailbox URL", f"http://{settings.localbase.mail_host}:{settings.localbase.mail_port}"),
        ("JWT secret", settings.supabase.jwt_secret),
        ("anon key", settings.supabase.anon_key),
        ("service_role key", settings.supabase.service_role_key),
        ("Publishable key", PUBLISHABLE_KEY),
        ("Secret key", SECRET_KEY),
        ("", ""),
        ("Web app", f"http://{settings.web.host}:{settings.web.port}"),
        ("ChatGalaxy API", api),
        ("API docs", f"{api}/schema/swagger"),
        ("Model", model),
    ]
    width = max(len(name) for name, _ in rows)

    def line(name: str, value: str) -> str:
        if not name:
            return ""
        label = f"{name:>{width}}"
        return f"  {DIM}{label}{RESET}: {value}" if colour else f"  {label}: {value}"

    head = f"{BOLD}{GREEN}ChatGalaxy is running.{RESET}" if colour else "ChatGalaxy is running."
    return "\n".join([head, *(line(n, v) for n, v in rows), "Ctrl-C stops everything."])
