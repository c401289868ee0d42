"""MFA with TOTP factors, as GoTrue serves /factors and the admin factor routes.

What supabase-js `auth.mfa.*` and supabase-py `auth.mfa.*` rely on:
- Every /factors route first requires a valid user session (401 `no_authorization` without a
  bearer, 403 `bad_jwt`... exactly as GET /user), then refuses guests (403 `no_authorization`),
  then loads the factor of the path (404 `mfa_factor_not_found` when it is not the caller's).
- Enrol (POST /factors, `factor_type: totp`): an unverified factor with a fresh secret; the answer
  carries the secret, its `otpauth://` URI and the QR code as an SVG document (the clients turn it
  into a `data:image/svg+xml` URI). A user with a verified factor must be at aal2 to add another.
  Phone and WebAuthn factors answer GoTrue's "disabled" errors, and TOTP ones too when
  supabase/config.toml's [auth.mfa.totp] enroll_enabled (enrolment) or verify_enabled (challenge
  and verify) is false.
- Challenge, then verify with a 6-digit code (30 s steps, one step of skew, like GoTrue): the
  challenge is spent, the factor verified, the session raised to aal2 with a `totp` AMR claim, a
  new access and refresh token issued, and the user's other aal1 sessions ended.
  Each of the two counts against GoTrue's MFA limit, 15 per client IP per minute (429
  `over_request_rate_limit`, ratelimits.py), so a code cannot be guessed at the client's pace.
- Unenrol: a verified factor only from an aal2 session; sessions it raised fall back to aal1.
- Admin: list a user's factors (404 `user_not_found` for a missing user, never `[]`) and delete one.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlparse
from uuid import UUID, uuid4

import asyncpg
import pyotp
import segno

from localbase.auth import account, sessions
from localbase.auth.calls import Auth, Call, Reply, bad_json
from localbase.auth.errors import AuthError, forbidden, not_found, unexpected, unprocessable, validation_failed
from localbase.auth.queries import Q
from localbase.auth.users import User, factor_json

MAX_FACTORS = 10  # GoTrue's MFA_MAX_ENROLLED_FACTORS and MFA_MAX_VERIFIED_FACTORS defaults
FACTOR_EXPIRY = timedelta(seconds=300)  # unverified factors older than this are dropped on enrolment
CHALLENGE_EXPIRY = timedelta(seconds=300)
_TYPES_MESSAGE = "factor_type needs to be totp, phone, or webauthn"
_DISABLED_ENROLL = {
    "phone": AuthError(422, "mfa_phone_enroll_not_enabled", "MFA enroll is disabled for Phone"),
    "webauthn": AuthError(422, "mfa_webauthn_enroll_not_enabled", "MFA enroll is disabled for WebAuthn"),
}
_DISABLED_VERIFY = {
    "phone": AuthError(422, "mfa_phone_verify_not_enabled", "MFA verification is disabled for Phone"),
    "webauthn": AuthError(422, "mfa_webauthn_verify_not_enabled", "MFA verification is disabled for WebAuthn"),
}
_MAX_REACHED = "Maximum number of verified factors reached, unenroll to continue"


async def route(auth: Auth, call: Call) -> Reply:
    """POST /factors, POST /factors/{id}/challenge|verify, DELETE /factors/{id} for the caller."""
    user, session_id, claims = await account.authenticate_claims(auth, call)
    if claims.get("is_anonymous") is True:
        raise forbidden("no_authorization", "Anonymous user not allowed to perform these actions")
    method, parts = call.request.method, call.request.path.rstrip("/").split("/")[2:]
    if not parts:
        if method == "POST":
            return await enroll(auth, call, user, session_id)
        raise not_found("not_found", "Not Found")
    async with auth.pool.acquire() as conn:
        factor = await _owned_factor(conn, user.id, parts[0])
    action = parts[1] if len(parts) == 2 else None
    if method == "POST" and action in ("challenge", "verify"):  # GoTrue: after loadFactor
        auth.rate_limits.take(f"factor_{action}", call.request.client_ip)
    if method == "POST" and action == "challenge":
        return await challenge(auth, call, factor)
    if method == "POST" and action == "verify":
        return await verify(auth, call, user, factor, session_id)
    if method == "DELETE" and len(parts) == 1:
        return await unenroll(auth, factor, session_id)
    raise not_found("not_found", "Not Found")


async def enroll(auth: Auth, call: Call, user: User, session_id: UUID | None) -> Reply:
    if session_id is None:
        raise unexpected("A valid session and a registered user are required to enroll a factor")
    kind = call.text("factor_type") or ""
    if kind in _DISABLED_ENROLL:
        raise _DISABLED_ENROLL[kind]
    if kind != "totp":
        raise validation_failed(_TYPES_MESSAGE)
    if not auth.settings.localbase.mfa_totp_enroll:
        raise AuthError(422, "mfa_totp_enroll_not_enabled", "MFA enroll is disabled for TOTP")
    name = call.text("friendly_name") or ""
    issuer = call.text("issuer") or urlparse(auth.settings.localbase.site_url).netloc
    secret = pyotp.random_base32()
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.email or "", issuer_name=issuer)
    qr_code = _qr_svg(uri)
    async with auth.pool.acquire() as conn, conn.transaction():
        await _check_room(conn, user.id, name, session_id)
        try:
            row = await conn.fetchrow(Q["insert_factor"], uuid4(), user.id, name, "totp", secret)
        except asyncpg.UniqueViolationError as exc:  # a concurrent enrolment took the name
            raise _name_conflict(name) from exc
    assert row is not None
    body = {
        "id": str(row["id"]),
        "type": "totp",
        "friendly_name": name,
        "totp": {"qr_code": qr_code, "secret": secret, "uri": uri},
    }
    return Reply(200, body)


async def challenge(auth: Auth, call: Call, factor: asyncpg.Record) -> Reply:
    _check_verifiable(auth, factor)
    async with auth.pool.acquire() as conn:
        row = await conn.fetchrow(Q["insert_challenge"], uuid4(), factor["id"], call.request.client_ip or "127.0.0.1")
    assert row is not None
    expires_at = int((row["created_at"] + CHALLENGE_EXPIRY).timestamp())
    return Reply(200, {"id": str(row["id"]), "type": factor["factor_type"], "expires_at": expires_at})


async def verify(auth: Auth, call: Call, user: User, factor: asyncpg.Record, session_id: UUID | None) -> Reply:
    code = call.text("code")
    challenge_id = _challenge_id(call.body.get("challenge_id"))
    if not code:
        raise validation_failed("Code needs to be non-empty")
    _check_verifiable(auth, factor)
    if session_id is None:
        raise unexpected("Cannot read SessionId claim as UUID")
    async with auth.pool.acquire() as conn, conn.transaction():
        found = await conn.fetchrow(Q["challenge_for_update"], factor["id"], challenge_id)
        if found is None:
            raise unprocessable("mfa_factor_not_found", "MFA factor with the provided challenge ID not found")
        if found["verified_at"] is not None or found["ip"] != (call.request.client_ip or "127.0.0.1"):
            raise unprocessable("mfa_ip_address_mismatch", "Challenge and verify IP addresses mismatch.")
        if found["created_at"] + CHALLENGE_EXPIRY < datetime.now(UTC):
            await conn.execute(Q["delete_challenge"], found["id"])
            expired = unprocessable(
                "mfa_challenge_expired",
                f"MFA challenge {found['id']} has expired, verify against another challenge or create a new challenge.",
            )
        elif not pyotp.TOTP(factor["secret"]).verify(code, valid_window=1):
            raise unprocessable("mfa_verification_failed", "Invalid TOTP code entered")
        else:
            await conn.execute(Q["verify_challenge"], found["id"], factor["id"], user.id, session_id)
            await conn.execute(Q["drop_aal1_sessions"], user.id, session_id)
            return Reply(200, await _reissue(conn, auth, user.id, session_id))
    raise expired  # after the transaction, so the expired challenge's deletion is kept


async def unenroll(auth: Auth, factor: asyncpg.Record, session_id: UUID | None) -> Reply:
    async with auth.pool.acquire() as conn, conn.transaction():
        aal = await conn.fetchval(Q["session_aal"], session_id)
        if factor["status"] == "verified" and aal != "aal2":
            raise unprocessable("insufficient_aal", "AAL2 required to unenroll verified factor")
        await conn.execute(Q["delete_factor"], factor["id"])
    return Reply(200, {"id": str(factor["id"])})


async def admin_list(auth: Auth, user_id: UUID) -> Reply:
    async with auth.pool.acquire() as conn:
        await _admin_user(conn, user_id)
        rows = await conn.fetch(Q["user_factors"], user_id)
    return Reply(200, [factor_json(row) for row in rows])


async def admin_delete(auth: Auth, user_id: UUID, factor_id: str) -> Reply:
    async with auth.pool.acquire() as conn, conn.transaction():
        await _admin_user(conn, user_id)
        factor = await _owned_factor(conn, user_id, factor_id)
        await conn.execute(Q["delete_factor"], factor["id"])
    return Reply(200, factor_json(factor))


async def _admin_user(conn: asyncpg.Connection, user_id: UUID) -> None:
    if await conn.fetchval(Q["user_exists"], user_id) is None:
        raise not_found("user_not_found", "User not found")


async def _owned_factor(conn: asyncpg.Connection, user_id: UUID, raw_id: str) -> asyncpg.Record:
    try:
        factor_id = UUID(raw_id)
    except ValueError as exc:
        raise not_found("validation_failed", "factor_id must be an UUID") from exc
    row = await conn.fetchrow(Q["owned_factor"], user_id, factor_id)
    if row is None:
        raise not_found("mfa_factor_not_found", "Factor not found")
    return row


async def _check_room(conn: asyncpg.Connection, user_id: UUID, name: str, session_id: UUID) -> None:
    """GoTrue's validateFactors: stale factors go, names are unique, at most 10, aal2 to add a second."""
    await conn.execute(Q["delete_stale_factors"], user_id, FACTOR_EXPIRY.total_seconds())
    factors = await conn.fetch(Q["user_factors"], user_id)
    if any((f["friendly_name"] or "") == name for f in factors):
        raise _name_conflict(name)
    verified = sum(f["status"] == "verified" for f in factors)
    if len(factors) >= MAX_FACTORS or verified >= MAX_FACTORS:
        raise unprocessable("too_many_enrolled_mfa_factors", _MAX_REACHED)
    aal = await conn.fetchval(Q["session_aal"], session_id)
    if verified > 0 and aal != "aal2":
        raise forbidden("insufficient_aal", "AAL2 required to enroll a new factor")


def _check_verifiable(auth: Auth, factor: asyncpg.Record) -> None:
    kind = factor["factor_type"]
    if kind in _DISABLED_VERIFY:
        raise _DISABLED_VERIFY[kind]
    if kind != "totp":
        raise validation_failed(_TYPES_MESSAGE)
    if not auth.settings.localbase.mfa_totp_verify:
        raise AuthError(422, "mfa_totp_verify_not_enabled", "MFA verification is disabled for TOTP")


def _challenge_id(value: object) -> UUID:
    """The body's challenge_id as Go's uuid decoder reads it: absent is the zero UUID, junk is bad JSON."""
    if value is None or value == "":
        return UUID(int=0)
    if not isinstance(value, str):
        raise bad_json("challenge_id must be a string")
    try:
        return UUID(value)
    except ValueError as exc:
        raise bad_json(f"uuid: incorrect UUID length {len(value)} in string {json.dumps(value)}") from exc


def _qr_svg(uri: str) -> str:
    """The URI as a standalone SVG document (error correction H, 3 px modules, like GoTrue's). The
    clients put it after `data:image/svg+xml;utf-8,` unencoded, so it must hold no `#` (which would
    start a URL fragment): segno's `#000` stroke is written as `black`."""
    out = io.BytesIO()
    segno.make(uri, error="h").save(out, kind="svg", xmldecl=False, svgns=True, scale=3, svgclass=None, lineclass=None)
    return out.getvalue().decode().replace('"#000"', '"black"')


def _name_conflict(name: str) -> AuthError:
    message = f"A factor with the friendly name {json.dumps(name)} for this user already exists"
    return unprocessable("mfa_factor_name_conflict", message)


async def _reissue(conn: asyncpg.Connection, auth: Auth, user_id: UUID, session_id: UUID) -> dict[str, Any]:
    """The aal2 Session after a verification: the refresh token swapped for a child, claims re-read."""
    active = await conn.fetchval(Q["active_refresh_token"], session_id)
    child = sessions.new_refresh_token()
    if active is not None:
        await conn.execute(Q["rotate_refresh_token"], active, child)
    row = await conn.fetchrow(Q["user_by_id"], user_id)
    started = await conn.fetchval(Q["session_created_at"], session_id)
    assert row is not None
    return sessions.session_json(
        auth,
        User.from_row(row),
        session_id=session_id,
        refresh_token=child,
        method="totp",
        started_at=started,
        assurance=await sessions.session_assurance(conn, session_id),
    )
