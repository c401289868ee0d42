"""HS256 JSON Web Tokens as Supabase issues and checks them."""

from __future__ import annotations

from typing import Any

import jwt as _pyjwt

ALGORITHM = "HS256"
CLOCK_SKEW_SECONDS = 30


class JwtError(Exception):
    """A token that cannot be trusted; `code` is stable, the message says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class JwtExpired(JwtError):
    def __init__(self, message: str = "JWT expired") -> None:
        super().__init__("JwtExpired", message)


def encode(claims: dict[str, Any], secret: str) -> str:
    return _pyjwt.encode(claims, secret, algorithm=ALGORITHM)


def decode(token: str, secret: str, *, require_exp: bool = False) -> dict[str, Any]:
    """Verify signature and expiry (with Supabase's 30 s skew); audience is not checked."""
    if token.count(".") != 2:
        raise JwtError("MalformedJWT", f"Expected 3 parts in JWT; got {token.count('.') + 1}")
    options: _pyjwt.types.Options = {"verify_aud": False, "require": ["exp"] if require_exp else []}
    try:
        claims: dict[str, Any] = _pyjwt.decode(
            token, secret, algorithms=[ALGORITHM], options=options, leeway=CLOCK_SKEW_SECONDS
        )
    except _pyjwt.ExpiredSignatureError as exc:
        raise JwtExpired() from exc
    except _pyjwt.InvalidAlgorithmError as exc:
        raise JwtError("JwtSignatureError", "JWT algorithm is not allowed") from exc
    except _pyjwt.InvalidSignatureError as exc:
        raise JwtError("JwtSignatureError", "JWT cryptographic operation failed") from exc
    except _pyjwt.MissingRequiredClaimError as exc:
        raise JwtError("JwtClaimsInvalid", str(exc)) from exc
    except _pyjwt.PyJWTError as exc:
        raise JwtError("MalformedJWT", f"The token provided is not a valid JWT: {exc}") from exc
    if not isinstance(claims, dict):
        raise JwtError("MalformedJWT", "JWT payload is not an object")
    return claims
