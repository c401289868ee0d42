"""JWT checks as Realtime makes them: `role` and `exp` required, expiry without leeway.

Realtime re-checks a channel's token when it expires, so a token accepted at join must not be
already past `exp` (the REST services' 30 s skew would let a client rejoin into a loop of expiries).
"""

from __future__ import annotations

import time
from functools import lru_cache
from typing import Any

import jwt as pyjwt

from core.jwt import JwtError, JwtExpired, KeySet, decode


class TokenError(Exception):
    """Why a token was refused: `code` for join replies, `message` for humans and handshakes."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def reason(self) -> str:
        return f"{self.code}: {self.message}"


def verify(token: str, keys: KeySet) -> dict[str, Any]:
    """The claims of a valid, unexpired token carrying `role` and `exp`.

    Claims are read-only everywhere in the service, so sockets and channels presenting the same
    token share one dict (a decoded token is ~1 KB; thousands of idle sockets often share one).
    """
    claims = _decoded(token, keys)
    exp = claims.get("exp")
    if not isinstance(claims.get("role"), str) or not isinstance(exp, int | float):
        raise TokenError("InvalidJWTToken", "Fields `role` and `exp` are required in JWT")
    return unexpired(claims)


def unexpired(claims: dict[str, Any]) -> dict[str, Any]:
    """`claims` (verified, with `exp`) while still before their `exp`; a socket's handshake claims
    are checked again at each join that takes them, as Realtime verifies the socket's token."""
    expired_for = int(time.time() - float(claims["exp"]))
    if expired_for >= 0:
        raise TokenError("InvalidJWTToken", f"Token has expired {expired_for} seconds ago")
    return claims


@lru_cache(maxsize=4096)
def _decoded(token: str, keys: KeySet) -> dict[str, Any]:
    try:
        return decode(token, keys)
    except JwtExpired as exc:
        # Expired past the 30 s skew the shared check allows: its signature held (PyJWT checks it
        # before `exp`), so its `exp` is the token's own; say how long ago, as Realtime does.
        exp = pyjwt.decode(token, options={"verify_signature": False}).get("exp")
        message = expiry_message({"exp": exp}) if isinstance(exp, int | float) else "Token has expired"
        raise TokenError("InvalidJWTToken", message) from exc
    except JwtError as exc:
        if exc.code == "JwtSignatureError":
            raise TokenError("JwtSignatureError", "Failed to validate JWT signature") from exc
        raise TokenError("MalformedJWT", "The token provided is not a valid JWT") from exc


def expiry_message(claims: dict[str, Any]) -> str:
    return f"Token has expired {max(0, int(time.time() - float(claims['exp'])))} seconds ago"
