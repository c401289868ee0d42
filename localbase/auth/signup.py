"""POST /signup and POST /token?grant_type=password: email users in, sessions out.

With autoconfirm on (the CLI default) sign-up answers a Session; with it off it answers the bare
User and "sends" the confirmation mail. An address that is already confirmed gives 422
`user_already_exists`, or (confirmations on) a fake user so the response does not reveal it. An
existing unconfirmed user only gets a fresh confirmation mail: its password is not replaced, since
whoever signed up second could otherwise choose the password of an account they cannot read mail for.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from localbase.auth import addresses, anonymous, links, mail, sessions
from localbase.auth.calls import Auth, Call, Reply
from localbase.auth.creation import NewUser, insert_user
from localbase.auth.errors import (
    INVALID_CREDENTIALS,
    SAVE_USER_FAILED,
    SIGNUP_DISABLED,
    AuthError,
    bad_request,
    unprocessable,
    validation_failed,
)
from localbase.auth.passwords import check_password, check_strength, hash_password
from localbase.auth.queries import Q
from localbase.auth.redirects import referrer
from localbase.auth.users import User, fake_user

log = logging.getLogger(__name__)

PHONE_DISABLED = AuthError(400, "phone_provider_disabled", "Phone signups are disabled")
_ALREADY = "User already registered"


async def signup(auth: Auth, call: Call) -> Reply:
    settings = auth.settings.localbase
    if settings.disable_signup:  # before anything else, guests included, as GoTrue
        raise unprocessable("signup_disabled", SIGNUP_DISABLED)
    raw_email, password, raw_phone = call.text("email"), call.text("password"), call.text("phone")
    data = call.mapping("data") or {}
    if not raw_email and not raw_phone:  # neither email nor phone: GoTrue signs in a guest
        return await anonymous.sign_up(auth, call)
    # GoTrue's order: the password (present, strong enough), one address, then its provider.
    if password is None:
        raise validation_failed("Signup requires a valid password")
    check_strength(password, settings)
    if raw_email and raw_phone:
        raise validation_failed("Only an email address or phone number should be provided on signup.")
    if raw_phone:
        raise PHONE_DISABLED
    email = addresses.email(raw_email or "")
    redirect_to = referrer(call.request, settings)
    row = await auth.pool.fetchrow(Q["user_by_email"], email)
    if row is not None:
        return await _existing(auth, User.from_row(row), data, redirect_to)
    hashed = await hash_password(password, settings.bcrypt_cost)
    token = None if settings.autoconfirm else mail.new_token(email)
    new = NewUser(
        email=email,
        password_hash=hashed,
        email_confirmed=settings.autoconfirm,
        confirmation_hash=token.token_hash if token else None,
        user_metadata=data,
    )
    if token is not None:
        links.before_mail(auth, None)
    async with auth.pool.acquire() as conn, conn.transaction():
        user = await insert_user(conn, new, unprocessable("user_already_exists", _ALREADY), SAVE_USER_FAILED)
        if token is None:
            return Reply(200, await sessions.start(conn, auth, user.id, "password", call.request))
    link = mail.action_link(auth.url, token, "signup", redirect_to)
    await mail.send(settings.mail_dir, email, "signup", user.id, token=token, link=link)
    return Reply(200, user.to_json())


async def _existing(auth: Auth, user: User, data: dict[str, Any], redirect_to: str) -> Reply:
    settings = auth.settings.localbase
    if settings.autoconfirm:
        raise unprocessable("user_already_exists", _ALREADY)
    if user.email_confirmed_at is not None:
        return Reply(200, fake_user(user.email or "", data, datetime.now(UTC)))
    links.before_mail(auth, user.confirmation_sent_at)
    async with auth.pool.acquire() as conn:
        token, link = await links.issue(conn, auth, user, "signup", redirect_to=redirect_to)
        row = await conn.fetchrow(Q["user_by_id"], user.id)
    await mail.send(settings.mail_dir, user.email or "", "signup", user.id, token=token, link=link)
    return Reply(200, User.from_row(row).to_json())


async def password_grant(auth: Auth, call: Call) -> Reply:
    raw_email, password, raw_phone = call.text("email"), call.text("password"), call.text("phone")
    # GoTrue's ResourceOwnerPasswordGrant: one address, its provider, the user, a ban, the password.
    if raw_email and raw_phone:
        raise validation_failed("Only an email address or phone number should be provided on login.")
    if raw_phone:
        raise unprocessable("phone_provider_disabled", "Phone logins are disabled")
    if not raw_email:
        raise validation_failed("missing email or phone")
    row = await auth.pool.fetchrow(Q["user_by_email"], raw_email.strip().lower())
    user = User.from_row(row) if row is not None else None
    if user is not None and user.encrypted_password and user.is_banned:
        _failed(call, "user_banned", user)
        raise bad_request("user_banned", "User is banned")
    cost = auth.settings.localbase.bcrypt_cost
    # No pooled connection is held while bcrypt runs.
    if user is None or not await check_password(password or "", user.encrypted_password, cost):
        if user is None:
            await check_password(password or "", None, cost)  # same cost as a real check
        _failed(call, "invalid_credentials", user)
        raise bad_request("invalid_credentials", INVALID_CREDENTIALS)
    if user.email_confirmed_at is None:
        _failed(call, "email_not_confirmed", user)
        raise bad_request("email_not_confirmed", "Email not confirmed")
    async with auth.pool.acquire() as conn:
        session = await sessions.start(conn, auth, user.id, "password", call.request)
    weak = _weakness(password or "", auth)
    return Reply(200, session if weak is None else {**session, "weak_password": weak})


def _weakness(password: str, auth: Auth) -> dict[str, Any] | None:
    """GoTrue signs in with a password the rules now refuse and says why (`weak_password`,
    supabase-js's `weakPassword`), so the app can ask for a new one."""
    try:
        check_strength(password, auth.settings.localbase)
    except AuthError as exc:
        if exc.code != "weak_password":
            return None
        return {"message": exc.message, **exc.extra["weak_password"]}
    return None


def _failed(call: Call, reason: str, user: User | None) -> None:
    """A security event: who failed to sign in and why, never the password or the address."""
    log.warning(
        "sign-in failed",
        extra={
            "event": "auth.signin_failed",
            "reason": reason,
            "user_id": str(user.id) if user else None,
            "ip": call.request.client_ip,
        },
    )
