"""Who is calling: the bearer JWT checked locally with the project's secret, and from which address.

Checking the signature here costs microseconds and spares Auth a round trip per request. The
token still travels to REST and Realtime, which verify it again; on the API's own Postgres door
(api/database.py) the verified claims become `request.jwt.claims` under the role `authenticated`,
so RLS stays the authority there too.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import msgspec

from api.errors import InvalidToken, NotAuthenticated, TokenExpired
from core import jwt


@dataclass(frozen=True)
class CurrentUser:
    id: str
    token: str
    email: str | None
    claims: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)  # verified, for Postgres

    @cached_property
    def claims_json(self) -> str:
        """The claims as JSON text (`request.jwt.claims`), encoded once per verified token."""
        return msgspec.json.encode(self.claims or {"sub": self.id, "role": "authenticated"}).decode()

    @property
    def expires_at(self) -> float:
        """The token's `exp` (REST and the API accept it CLOCK_SKEW_SECONDS longer; Realtime does not)."""
        return float(self.claims["exp"])

    def check_unexpired(self) -> None:
        """TokenExpired past `exp`, with no clock skew: for the doors that stream over Realtime (which
        allows none), before anything is stored or joined."""
        if self.expires_at <= time.time():
            raise TokenExpired()

    @property
    def admin(self) -> bool:
        """app_metadata.role = admin, which only the service role can set."""
        meta = self.claims.get("app_metadata")
        return isinstance(meta, dict) and meta.get("role") == "admin"


# Tokens already verified, with their users: a client sends the same token for up to an hour, and
# verifying it again costs more than the rest of a history request. Only expiry changes with time,
# so a hit checks it again (with the same skew); the cache is dropped whole when full.
_VERIFIED: dict[tuple[str, jwt.KeySet], CurrentUser] = {}
_VERIFIED_MAX = 4096


def user_from_token(token: str | None, keys: jwt.KeySet) -> CurrentUser:
    """A signed-in user's identity, or NotAuthenticated with a code saying what was wrong."""
    if not token:
        raise NotAuthenticated()
    known = _VERIFIED.get((token, keys))
    if known is not None:
        if time.time() > known.expires_at + jwt.CLOCK_SKEW_SECONDS:
            _VERIFIED.pop((token, keys), None)
            raise TokenExpired()
        return known
    user = _verify(token, keys)
    if len(_VERIFIED) >= _VERIFIED_MAX:
        _VERIFIED.clear()
    _VERIFIED[(token, keys)] = user
    return user


def _verify(token: str, keys: jwt.KeySet) -> CurrentUser:
    try:
        claims = jwt.decode(token, keys, require_exp=True)
    except jwt.JwtExpired as exc:
        raise TokenExpired() from exc
    except jwt.JwtError as exc:
        raise InvalidToken(exc.message) from exc
    subject = claims.get("sub")
    if claims.get("role") != "authenticated" or not isinstance(subject, str) or not subject:
        raise InvalidToken("The token does not belong to a signed-in user.")
    email = claims.get("email")
    return CurrentUser(subject, token, email if isinstance(email, str) else None, claims)


def bearer(headers: Any) -> str | None:
    value = headers.get("authorization") or ""
    scheme, _, token = value.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def client_ip(scope: Any, trust_forwarded_for: bool) -> str:
    """The caller's address; X-Forwarded-For only when a trusted proxy sets it."""
    if trust_forwarded_for:
        for name, value in scope.get("headers") or []:
            if name == b"x-forwarded-for":
                first: str = bytes(value).decode("latin-1").split(",", 1)[0].strip()
                if first:
                    return first
    client: Any = scope.get("client")
    return str(client[0]) if client else "unknown"
