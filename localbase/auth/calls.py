"""One Auth request as handlers see it: the parsed JSON body, the API version, and typed field reads.

GoTrue answers a body it cannot decode (or a field of the wrong type) with 400 `bad_json`; the
helpers here do the same, so handlers only ever see well-typed values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import asyncpg
import msgspec

from core.settings import Settings
from localbase.auth.errors import AuthError
from localbase.auth.ratelimits import AuthRateLimits, EmailBudget
from localbase.db import Database
from localbase.http import Headers, Request, json_holds_nul

_API_VERSION_FLOOR = date(2024, 1, 1)


@dataclass(frozen=True)
class Auth:
    """What every handler works with: settings and GoTrue's own pool (as `postgres`)."""

    settings: Settings
    db: Database
    # The hour's mails ([auth.rate_limit] email_sent), shared by every handler that sends one.
    email_budget: EmailBudget = field(init=False, repr=False, compare=False)
    # The per-IP buckets ([auth.rate_limit]); the signed-in doors take theirs in their handlers.
    rate_limits: AuthRateLimits = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "email_budget", EmailBudget(self.settings.localbase))
        object.__setattr__(self, "rate_limits", AuthRateLimits(self.settings.localbase))

    @property
    def pool(self) -> asyncpg.Pool:
        return self.db.admin_pool

    @property
    def url(self) -> str:
        """The external Auth URL that links and the `iss` claim name."""
        return self.settings.supabase.url.rstrip("/") + "/auth/v1"


@dataclass
class Call:
    request: Request
    body: dict[str, Any]
    versioned: bool

    @property
    def bearer(self) -> str | None:
        return self.request.bearer()

    def query(self, name: str) -> str | None:
        return self.request.query_value(name)

    def text(self, name: str) -> str | None:
        """A string field; null, absent and "" all read as None (Go's zero value)."""
        value = self.body.get(name)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise bad_json(f"{name} must be a string")
        return value

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.body.get(name)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise bad_json(f"{name} must be a boolean")
        return value

    def mapping(self, name: str) -> dict[str, Any] | None:
        value = self.body.get(name)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise bad_json(f"{name} must be an object")
        return value


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: Headers = field(default_factory=list)


def parse_body(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    if json_holds_nul(raw):  # refused here rather than failing in the database
        raise AuthError(400, "validation_failed", "Request body must not contain NUL characters")
    try:
        body = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise bad_json(str(exc)) from exc
    if not isinstance(body, dict):
        raise bad_json("the body must be a JSON object")
    return body


def is_versioned(request: Request) -> bool:
    """Whether the client asked for the 2024-01-01 error shape (any later date counts too)."""
    value = request.headers.get("x-supabase-api-version", "").strip()
    try:
        return date.fromisoformat(value[:10]) >= _API_VERSION_FLOOR
    except ValueError:
        return False


def bad_json(detail: str) -> AuthError:
    return AuthError(400, "bad_json", f"Could not parse request body as JSON: {detail}")
