"""The signed-in user's own endpoints: GET/PUT /user, GET /reauthenticate and POST /logout.

A user token is trusted only while its user exists and its session does (GoTrue's
`maybeLoadUserOrSession`): logout ends sessions, so their still-unexpired access tokens are refused.
PUT /user with a new address mails its link(s) (links.issue_email_change) whatever autoconfirm
says; only a guest adding an address with autoconfirm on has it at once, confirmed, as GoTrue.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from localbase.auth import addresses, anonymous, links, mail
from localbase.auth.calls import Auth, Call, Reply
from localbase.auth.errors import EMAIL_EXISTS, AuthError, forbidden, unprocessable, validation_failed
from localbase.auth.passwords import check_password, check_strength, hash_password
from localbase.auth.queries import Q
from localbase.auth.redirects import referrer
from localbase.auth.tokens import verify_user_token
from localbase.auth.users import User

LOGOUT_SCOPES = ("global", "local", "others")


async def authenticate(auth: Auth, call: Call) -> tuple[User, UUID | None]:
    """The caller's user and session id, or GoTrue's 401/403."""
    user, session_id, _ = await authenticate_claims(auth, call)
    return user, session_id


async def authenticate_claims(auth: Auth, call: Call) -> tuple[User, UUID | None, dict[str, Any]]:
    """`authenticate` plus the verified token's claims."""
    claims = verify_user_token(call.bearer, auth.settings.supabase.keys)
    session_id = UUID(claims["session_id"]) if claims.get("session_id") else None
    row = await auth.pool.fetchrow(Q["user_for_token"], UUID(claims["sub"]), session_id)
    if row is None:
        raise forbidden("user_not_found", "User from sub claim in JWT does not exist")
    if not row["session_found"]:
        raise forbidden("session_not_found", "Session from session_id claim in JWT does not exist")
    return User.from_row(row), session_id, claims


async def get_user(auth: Auth, call: Call) -> Reply:
    user, _ = await authenticate(auth, call)
    return Reply(200, user.to_json())


async def update_user(auth: Auth, call: Call) -> Reply:
    user, session_id = await authenticate(auth, call)
    auth.rate_limits.take("user", call.request.client_ip)  # GoTrue: after requireAuthentication
    settings = auth.settings.localbase
    if call.text("phone"):
        raise validation_failed("Phone changes are not supported", status=422)
    data = call.mapping("data")
    password = call.text("password")
    raw_email = call.text("email")
    new_email = addresses.email(raw_email) if raw_email else None
    if password is not None:  # GoTrue validates the fields first
        check_strength(password, settings)
    if call.mapping("app_metadata") is not None:  # a user's own token is never an admin role's
        raise forbidden("not_admin", "Updating app_metadata requires admin privileges")
    if password or (new_email and new_email != user.email):
        await _check_assurance(auth, user.id, session_id)
    password_hash = None
    if password is not None:
        if await check_password(password, user.encrypted_password, settings.bcrypt_cost):
            raise unprocessable("same_password", "New password should be different from the old password.")
        password_hash = await hash_password(password, settings.bcrypt_cost)
    if new_email == user.email:
        new_email = None
    anonymous.check_update(user, password, new_email)
    async with auth.pool.acquire() as conn, conn.transaction():
        if password_hash is not None:
            await anonymous.check_password_change(conn, auth, user, session_id, call.text("nonce"))
        if new_email and await conn.fetchrow(Q["user_by_email"], new_email):
            raise unprocessable("email_exists", EMAIL_EXISTS)
        if new_email and not (user.is_anonymous and settings.autoconfirm):  # its link(s) will be mailed
            links.before_mail(auth, user.email_change_sent_at)
        # Only a guest adding an email with autoconfirm on has it at once, confirmed, like signing up;
        # anyone else's new address waits for its link(s), autoconfirm or not (GoTrue: "permanent
        # users always need to verify their email address when changing it").
        confirm = new_email is not None and user.is_anonymous and settings.autoconfirm
        row = await _update(conn, user.id, data, password_hash, new_email if confirm else None, confirm=confirm)
        if confirm:
            await anonymous.promote(conn, user.id)
            row = await conn.fetchrow(Q["user_by_id"], user.id)
        if password_hash is not None:  # a new password signs out every other session
            await conn.execute(Q["end_sessions"], user.id, session_id, "others")
        mails: list[links.Mail] = []
        if new_email and not confirm:
            redirect_to = referrer(call.request, settings)
            mails = await links.issue_email_change(conn, auth, User.from_row(row), new_email, redirect_to=redirect_to)
            row = await conn.fetchrow(Q["user_by_id"], user.id)
    for sent in mails:
        await mail.send(settings.mail_dir, sent.to, "email_change", user.id, token=sent.token, link=sent.link)
    return Reply(200, User.from_row(row).to_json())


async def _check_assurance(auth: Auth, user_id: UUID, session_id: UUID | None) -> None:
    """GoTrue: a user with a verified second factor changes their email or password only from an
    aal2 session, so a stolen password alone cannot take the account over."""
    async with auth.pool.acquire() as conn:
        factors = await conn.fetch(Q["user_factors"], user_id)
        if (
            any(f["status"] == "verified" for f in factors)
            and await conn.fetchval(Q["session_aal"], session_id) != "aal2"
        ):
            raise AuthError(
                401, "insufficient_aal", "AAL2 session is required to update email or password when MFA is enabled."
            )


async def _update(
    conn: asyncpg.Connection,
    user_id: UUID,
    data: dict[str, Any] | None,
    password_hash: str | None,
    email: str | None,
    *,
    confirm: bool,
) -> asyncpg.Record:
    try:
        row = await conn.fetchrow(
            Q["update_user"], user_id, data, None, password_hash, email, None, confirm, None, None, False
        )
    except asyncpg.UniqueViolationError as exc:
        raise unprocessable("email_exists", EMAIL_EXISTS) from exc
    if row is None:
        raise forbidden("user_not_found", "User from sub claim in JWT does not exist")
    return row


async def reauthenticate(auth: Auth, call: Call) -> Reply:
    user, _ = await authenticate(auth, call)
    return await anonymous.reauthenticate(auth, user)


async def logout(auth: Auth, call: Call) -> Reply:
    scope = call.query("scope") or "global"
    if scope not in LOGOUT_SCOPES:
        raise validation_failed(f'Unsupported logout scope "{scope}"')
    try:
        user, session_id = await authenticate(auth, call)
    except AuthError as exc:
        if exc.code in ("session_not_found", "user_not_found"):  # already signed out
            return Reply(204)
        raise
    await auth.pool.execute(Q["end_sessions"], user.id, session_id, scope)
    return Reply(204)
