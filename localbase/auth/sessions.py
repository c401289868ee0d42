"""Sessions: opening one at sign-in, its JSON, and refresh-token rotation with reuse detection.

Rotation follows GoTrue: a refresh revokes the presented token and issues a child (parent = old).
A revoked token presented again is answered with the session's active token when it is that
token's parent (a client that lost the response retries); within `refresh_reuse_interval` of its
revocation it gets another child (concurrent tabs); otherwise it is a replay: every token of the
session is revoked and 400 `refresh_token_already_used` returned. With rotation turned off
(`enable_refresh_token_rotation = false`) that reuse detection is off too, as in GoTrue. Refreshes of one session are
serialised by locking the session row, so two concurrent refreshes of one token cannot both mint.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg

from localbase.auth.calls import Auth
from localbase.auth.errors import AuthError, bad_request, validation_failed
from localbase.auth.queries import Q
from localbase.auth.tokens import mint_access_token
from localbase.auth.users import User
from localbase.http import Request

log = logging.getLogger(__name__)

_NOT_FOUND = "Invalid Refresh Token: Refresh Token Not Found"


def new_refresh_token() -> str:
    """GoTrue's refresh token (crypto.SecureAlphanumeric(12)): 12 characters of lowercase base32."""
    return base64.b32encode(secrets.token_bytes(8)).decode().lower()[:12]


_LEGACY_TOKEN = re.compile(r"[a-z0-9]{12}")
# GoTrue's signed refresh tokens (crypto.ParseRefreshToken): version 0, a session id, a counter,
# a 16-byte signature and a 4-byte checksum, base64url without padding. This stack issues none,
# but tells one from a malformed text as GoTrue does.
_SIGNATURE, _CHECKSUM = 16, 4
_SIGNED_MIN = 1 + 16 + 1 + _SIGNATURE + _CHECKSUM


def _signed_token_shape(token: str) -> bool:
    if len(token) % 4 == 1 or not re.fullmatch(r"[A-Za-z0-9_-]*", token):
        return False
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    if len(raw) < _SIGNED_MIN or raw[0] != 0:
        return False
    if hashlib.sha256(raw[:-_CHECKSUM]).digest()[:_CHECKSUM] != raw[-_CHECKSUM:]:
        return False
    rest = raw[17:-_CHECKSUM]
    ends = next((i for i, byte in enumerate(rest[:10]) if byte < 0x80), None)  # the counter, a uvarint
    return ends is not None and len(rest) - ends - 1 == _SIGNATURE


def valid_refresh_token(token: str | None) -> bool:
    """GoTrue's RefreshTokenGrantParams.Validate: 12 characters of [a-z0-9], or a signed token."""
    if not token or len(token) < 12:
        return False
    if len(token) == 12:
        return _LEGACY_TOKEN.fullmatch(token) is not None
    return _signed_token_shape(token)


def session_json(
    auth: Auth,
    user: User,
    *,
    session_id: UUID,
    refresh_token: str,
    method: str,
    started_at: datetime,
    assurance: tuple[str, list[dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    access_token, expires_at = mint_access_token(
        user, session_id, method, started_at, auth.settings, assurance=assurance
    )
    return {
        "access_token": access_token,
        "token_type": "bearer",
        "expires_in": auth.settings.localbase.jwt_expiry,
        "expires_at": expires_at,
        "refresh_token": refresh_token,
        "user": user.to_json(),
    }


async def start(conn: asyncpg.Connection, auth: Auth, user_id: UUID, method: str, request: Request) -> dict[str, Any]:
    """Open a session for the user (stamping last_sign_in_at) and answer it as a Session."""
    session_id, refresh_token = uuid4(), new_refresh_token()
    row = await conn.fetchrow(
        Q["start_session"],
        user_id,
        session_id,
        refresh_token,
        request.headers.get("user-agent"),
        request.client_ip or None,
    )
    if row is None:
        raise AuthError(404, "user_not_found", "User not found")
    await conn.execute(Q["add_amr_claim"], session_id, method)  # the session's first AMR claim
    return session_json(
        auth,
        User.from_row(row),
        session_id=session_id,
        refresh_token=refresh_token,
        method=method,
        started_at=row["session_started_at"],
    )


async def refresh(auth: Auth, token: str | None, request: Request) -> dict[str, Any]:
    if token is None or not valid_refresh_token(token):  # before anything is looked up, as GoTrue
        raise validation_failed("Refresh token is not valid")
    async with auth.pool.acquire() as conn, conn.transaction():
        outcome = await _rotate(conn, auth, token, request.client_ip)
    if isinstance(outcome, AuthError):
        raise outcome
    return outcome


async def _rotate(conn: asyncpg.Connection, auth: Auth, token: str, ip: str) -> dict[str, Any] | AuthError:
    """The new Session, or the reuse error to raise once the family's revocation is committed."""
    if await conn.fetchval(Q["lock_session_of_token"], token) is None:
        raise bad_request("refresh_token_not_found", _NOT_FOUND)
    row = await conn.fetchrow(Q["refresh_token_state"], token)
    if row is None:
        raise bad_request("refresh_token_not_found", _NOT_FOUND)
    user = User.from_row(row)
    if user.deleted_at is not None:
        raise bad_request("refresh_token_not_found", _NOT_FOUND)
    if user.is_banned:
        raise bad_request("user_banned", "Invalid Refresh Token: User Banned")
    now = datetime.now(UTC)
    if row["not_after"] is not None and row["not_after"] <= now:
        raise bad_request("session_expired", "Invalid Refresh Token: Session Expired")
    method = "anonymous" if user.is_anonymous else "password" if user.encrypted_password else "otp"
    session_id, started_at = row["session_id"], row["session_started_at"]
    assurance = await session_assurance(conn, session_id)
    if row["revoked"]:
        active = row["active_token"]
        if active is not None and row["active_parent"] == token:
            return session_json(
                auth,
                user,
                session_id=session_id,
                refresh_token=active,
                method=method,
                started_at=started_at,
                assurance=assurance,
            )
        window = timedelta(seconds=auth.settings.localbase.refresh_reuse_interval)
        detect = auth.settings.localbase.refresh_rotation  # off: a revoked token still refreshes, as GoTrue
        if detect and (active is None or row["updated_at"] + window <= now):
            await conn.execute(Q["revoke_token_family"], session_id)
            log.warning(
                "refresh token reused: every token of the session revoked",
                extra={
                    "event": "auth.refresh_token_reuse",
                    "user_id": str(user.id),
                    "session_id": str(session_id),
                    "ip": ip,
                },
            )
            return bad_request("refresh_token_already_used", "Invalid Refresh Token: Already Used")
    child = new_refresh_token()
    await conn.execute(Q["rotate_refresh_token"], token, child)
    return session_json(
        auth,
        user,
        session_id=session_id,
        refresh_token=child,
        method=method,
        started_at=started_at,
        assurance=assurance,
    )


async def session_assurance(conn: asyncpg.Connection, session_id: UUID) -> tuple[str, list[dict[str, Any]]] | None:
    """The session's AAL and AMR claims (most recent first); None for a session without claims."""
    row = await conn.fetchrow(Q["session_assurance"], session_id)
    if row is None or not row["amr"]:
        return None
    return row["aal"] or "aal1", list(row["amr"])
