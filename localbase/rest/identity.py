"""Who a request runs as: the bearer JWT verified once, then remembered until it expires.

Verifying a signature costs more than the rest of a cached request, and clients send the same token for
an hour, so verified tokens are cached by their exact text. An entry never outlives the token's
`exp` (plus Supabase's clock skew); the cache is bounded and simply emptied when full.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import msgspec

from core.jwt import CLOCK_SKEW_SECONDS, JwtError, KeySet, decode
from localbase.rest.catalog import quote_literal
from localbase.rest.errors import jwt_error

_MAX_ENTRIES = 10_000
_encoder = msgspec.json.Encoder()


@dataclass(frozen=True, slots=True)
class Identity:
    role: str
    claims_literal: str  # the claims JSON as a quoted SQL literal
    role_literal: str
    expires_at: float | None

    @property
    def anonymous(self) -> bool:
        return self.role == "anon"


class Authenticator:
    def __init__(self, keys: KeySet, anon_role: str = "anon") -> None:
        self._keys = keys
        self._cache: dict[str, Identity] = {}
        self.anonymous = _identity({"role": anon_role}, None)

    def identify(self, token: str | None) -> Identity:
        """The request's identity; raises a 401 RestError for any token that is not trustworthy."""
        if token is None:
            return self.anonymous
        cached = self._cache.get(token)
        if cached is not None:
            if cached.expires_at is None or time.time() <= cached.expires_at:
                return cached
            del self._cache[token]
        try:
            claims = decode(token, self._keys)
        except JwtError as exc:
            code = "PGRST303" if exc.code == "JwtExpired" else "PGRST301"
            raise jwt_error(code, exc.message) from exc
        role = claims.get("role", self.anonymous.role)
        if not isinstance(role, str) or not role:
            raise jwt_error("PGRST301", "JWT role claim must be a string")
        exp = claims.get("exp")
        expires_at = float(exp) + CLOCK_SKEW_SECONDS if isinstance(exp, int | float) else None
        try:
            identity = _identity(claims, expires_at)
        except ValueError as exc:
            raise jwt_error("PGRST301", "JWT claims are not valid text") from exc
        if len(self._cache) >= _MAX_ENTRIES:
            self._cache.clear()
        self._cache[token] = identity
        return identity


def _identity(claims: dict[str, object], expires_at: float | None) -> Identity:
    role = str(claims["role"])
    return Identity(role, quote_literal(_encoder.encode(claims).decode()), quote_literal(role), expires_at)
