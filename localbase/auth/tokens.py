"""GoTrue access tokens: minting them with GoTrue's exact claims, and checking a bearer the way
GoTrue's `requireAuthentication` does (401 without one, 403 `bad_jwt` for anything untrustworthy).

Other packages verify a user JWT with `verify_user_token`; it checks signature, expiry (30 s skew)
and a UUID `sub`, not whether the session still exists, which needs the database (the Auth
service's GET /user does both).
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from typing import Any

from core.jwt import JwtError, KeySet, decode
from core.settings import Settings
from localbase.auth.errors import AuthError, forbidden
from localbase.auth.users import User

ADMIN_ROLES = frozenset({"service_role", "supabase_admin"})


def issuer(settings: Settings) -> str:
    return settings.supabase.url.rstrip("/") + "/auth/v1"


def mint_access_token(
    user: User,
    session_id: uuid.UUID,
    method: str,
    started_at: datetime,
    settings: Settings,
    *,
    assurance: tuple[str, list[dict[str, Any]]] | None = None,
) -> tuple[str, int]:
    """A signed access token for `user` in `session_id` and its `exp` (unix seconds). `assurance` is
    the session's (aal, amr claims) when known; otherwise aal1 and the one method the session began with."""
    now = int(time.time())
    expires_at = now + settings.localbase.jwt_expiry
    claims = {
        "iss": issuer(settings),
        "sub": str(user.id),
        "aud": user.aud or "authenticated",
        "exp": expires_at,
        "iat": now,
        "email": user.email or "",
        "phone": user.phone or "",
        "app_metadata": user.app_metadata,
        "user_metadata": user.user_metadata,
        "role": user.role or "authenticated",
        "aal": assurance[0] if assurance else "aal1",
        "amr": assurance[1] if assurance else [{"method": method, "timestamp": int(started_at.timestamp())}],
        "session_id": str(session_id),
        "is_anonymous": user.is_anonymous,
    }
    return settings.supabase.keys.sign(claims), expires_at


def verify_bearer(token: str | None, keys: KeySet) -> dict[str, Any]:
    """The claims of a validly signed, unexpired bearer token, whatever its role."""
    if not token:
        raise AuthError(401, "no_authorization", "This endpoint requires a valid Bearer token")
    try:
        return decode(token, keys)
    except JwtError as exc:
        raise forbidden("bad_jwt", f"invalid JWT: unable to parse or verify signature, {exc.message}") from exc


def verify_user_token(token: str | None, keys: KeySet) -> dict[str, Any]:
    """The claims of a user's access token; `claims["sub"]` is then a valid UUID string."""
    claims = verify_bearer(token, keys)
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise forbidden("bad_jwt", "invalid claim: missing sub claim")
    try:
        uuid.UUID(subject)
    except ValueError as exc:
        raise AuthError(400, "bad_jwt", "invalid claim: sub claim must be a UUID") from exc
    session_id = claims.get("session_id")
    if session_id is not None and not _is_uuid(session_id):
        raise AuthError(400, "bad_jwt", "invalid claim: session_id claim must be a UUID")
    return claims


def require_admin(token: str | None, keys: KeySet) -> dict[str, Any]:
    """GoTrue's `requireAdmin`: a valid token whose `role` is an admin role."""
    claims = verify_bearer(token, keys)
    if claims.get("role") not in ADMIN_ROLES:
        raise forbidden("not_admin", "User not allowed")
    return claims


def _is_uuid(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
