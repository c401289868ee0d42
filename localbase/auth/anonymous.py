"""Anonymous sign-ins (guests), their conversion to permanent users, and reauthentication.

GoTrue's behaviour, which supabase-js `signInAnonymously()`, `updateUser()` and `reauthenticate()`
rely on:
- POST /signup with neither email nor phone signs in a new anonymous user when
  `enable_anonymous_sign_ins` is on (422 `anonymous_provider_disabled` otherwise): no identity,
  empty app_metadata, `is_anonymous: true` in the user and in the JWT, `amr` method `anonymous`.
- An anonymous user becomes permanent by adding an email (PUT /user): with autoconfirm the address
  is confirmed at once, otherwise when the emailed link is followed; either way an email identity
  appears and `is_anonymous` turns false (the next refreshed token says so). A password alone,
  without an email, is refused.
- GET /reauthenticate mails a 6-digit code to the user's confirmed address; with
  `secure_password_change` on, PUT /user with a new password needs that code (`nonce`) unless the
  session began within 24 hours. A code works once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import asyncpg

from localbase.auth import links, mail, sessions
from localbase.auth.calls import Auth, Call, Reply
from localbase.auth.errors import AuthError, unexpected, unprocessable, validation_failed
from localbase.auth.queries import Q
from localbase.auth.users import User

DISABLED = unprocessable("anonymous_provider_disabled", "Anonymous sign-ins are disabled")
_PASSWORD_ONLY = "Updating password of an anonymous user without an email or phone is not allowed"  # noqa: S105
_NONCE_INVALID = "Nonce has expired or is invalid"
_FRESH_SESSION = timedelta(hours=24)


async def sign_up(auth: Auth, call: Call) -> Reply:
    """POST /signup with no email or phone: a guest's Session."""
    if not auth.settings.localbase.anonymous_sign_ins:
        raise DISABLED
    data = call.mapping("data") or {}
    async with auth.pool.acquire() as conn, conn.transaction():
        try:
            row = await conn.fetchrow(Q["insert_anonymous_user"], uuid4(), data)
        except asyncpg.PostgresError as exc:
            raise unexpected("Database error creating anonymous user") from exc
        assert row is not None
        return Reply(200, await sessions.start(conn, auth, row["id"], "anonymous", call.request))


def check_update(user: User, password: str | None, email: str | None) -> None:
    """GoTrue's refusal of a password for a guest who gives no email with it."""
    if user.is_anonymous and password is not None and email is None:
        raise unprocessable("validation_failed", _PASSWORD_ONLY)


async def promote(conn: asyncpg.Connection, user_id: UUID) -> None:
    """Make a guest with a confirmed email permanent (no-op for everyone else)."""
    await conn.execute(Q["promote_anonymous"], user_id)


async def reauthenticate(auth: Auth, user: User) -> Reply:
    """GET /reauthenticate (the caller authenticated): mail a one-time code to their confirmed address."""
    if not user.email and not user.phone:
        raise validation_failed("Reauthentication requires the user to have an email or a phone number")
    if user.email_confirmed_at is None:
        raise unprocessable("email_not_confirmed", "Please verify your email first.")
    links.before_mail(auth, await auth.pool.fetchval(Q["reauthentication_sent_at"], user.id))
    email = user.email or ""
    token = mail.new_token(email)
    await auth.pool.execute(Q["set_reauthentication"], user.id, token.token_hash)
    await mail.send(auth.settings.localbase.mail_dir, email, "reauthentication", user.id, token=token, link="")
    return Reply(200, {})


async def check_password_change(
    conn: asyncpg.Connection, auth: Auth, user: User, session_id: UUID | None, nonce: str | None
) -> None:
    """With `secure_password_change`: a session older than 24 h needs the reauthentication code."""
    if not auth.settings.localbase.secure_password_change:
        return
    started = await conn.fetchval(Q["session_created_at"], session_id) if session_id else None
    if started is not None and datetime.now(UTC) < started + _FRESH_SESSION:
        return
    if not nonce:
        raise AuthError(400, "reauthentication_needed", "Password update requires reauthentication")
    spent = await conn.fetchval(
        Q["spend_reauthentication"],
        user.id,
        mail.token_hash(user.email or "", nonce.strip()),
        float(auth.settings.localbase.mailer_otp_exp),
    )
    if spent is None:
        raise unprocessable("reauthentication_not_valid", _NONCE_INVALID)
