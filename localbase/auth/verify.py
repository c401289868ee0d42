"""Emailed flows: following a link (GET /verify), entering a code or hash (POST /verify), and asking
for a mail (POST /recover, /resend, /otp).

The mail-requesting endpoints answer 200 `{}` whether or not the address is registered, so they
cannot be used to find out who has an account.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from localbase.auth import addresses, anonymous, links, mail, sessions
from localbase.auth.calls import Auth, Call, Reply
from localbase.auth.creation import NewUser, insert_user
from localbase.auth.errors import (
    EMAIL_EXISTS,
    SAVE_USER_FAILED,
    SIGNUP_DISABLED,
    AuthError,
    forbidden,
    unprocessable,
    validation_failed,
)
from localbase.auth.queries import Q
from localbase.auth.redirects import referrer
from localbase.auth.users import User

_KINDS = frozenset({"signup", "invite", "magiclink", "recovery", "email_change", "email"})
_PHONE_KINDS = frozenset({"sms", "phone_change"})
_OAUTH_ERRORS = {
    400: "invalid_request",
    401: "unauthorized_client",
    403: "access_denied",
    500: "server_error",
    503: "temporarily_unavailable",
}


async def follow_link(auth: Auth, call: Call) -> Reply:
    """GET /verify: redeem the link and 303 to `redirect_to` with the session (or error, or for the
    first of an email change's two links the message to follow the other) in the fragment, marked
    `sb` as GoTrue marks its redirects."""
    redirect_to = referrer(call.request, auth.settings.localbase)
    kind, token = call.query("type") or "", call.query("token") or ""
    if not kind:  # GoTrue's VerifyParams.Validate: answered, not redirected
        raise validation_failed("Verify requires a verification type")
    if not token:
        raise validation_failed("Verify requires a token or a token hash")
    fragment: dict[str, object]
    try:
        if kind not in _KINDS:
            raise validation_failed("Invalid email verification type")
        session = await _redeem(auth, call, kind, token, email=None, message=links.LINK_INVALID)
    except AuthError as exc:
        fragment = {"error_code": exc.code, "error_description": exc.message}
        if exc.status in _OAUTH_ERRORS:  # GoTrue's oauthErrorMap
            fragment = {"error": _OAUTH_ERRORS[exc.status], **fragment}
    else:
        if session is None:
            fragment = {"message": links.ONE_OF_TWO}
        else:
            fragment = {
                "access_token": session["access_token"],
                "expires_at": session["expires_at"],
                "expires_in": session["expires_in"],
                "refresh_token": session["refresh_token"],
                "token_type": "bearer",
                "type": kind,
            }
    location = f"{redirect_to}#{urlencode({**fragment, 'sb': ''})}"
    return Reply(303, None, [(b"location", location.encode())])


async def verify_code(auth: Auth, call: Call) -> Reply:
    """POST /verify with `{type, token, email}` or `{type, token_hash}`: a Session (for the first of
    an email change's two links, GoTrue's `{msg, code}` saying so). The fields are checked as
    GoTrue's VerifyParams.Validate checks them, in its order and words."""
    kind = call.text("type") or ""
    if not kind:
        raise validation_failed("Verify requires a verification type")
    token, token_hash = call.text("token"), call.text("token_hash")
    if (token is None) == (token_hash is None):
        raise validation_failed("Verify requires either a token or a token hash")
    raw_email, raw_phone = call.text("email"), call.text("phone")
    if token_hash is not None:
        if raw_email or raw_phone or call.text("redirect_to"):
            raise validation_failed("Only the token_hash and type should be provided")
        if kind not in _KINDS:  # phone kinds too: a hash is only ever an emailed link's
            raise validation_failed("Invalid email verification type")
        session = await _redeem(auth, call, kind, token_hash, email=None, message=links.LINK_INVALID)
    elif raw_phone and not raw_email:  # no user here has a phone: a phone's code is never valid
        addresses.phone(raw_phone)
        raise forbidden("otp_expired", links.OTP_INVALID)
    elif not raw_email or raw_phone:
        raise validation_failed("Only an email address or phone number should be provided on verify")
    else:
        try:
            email = addresses.email(raw_email)
        except AuthError:
            raise validation_failed("Invalid email format", status=422) from None
        found = await auth.pool.fetchrow(Q["user_by_email"], email)
        if found is not None and User.from_row(found).is_banned:  # GoTrue: the user, then the ban
            raise forbidden("user_banned", "User is banned")
        if kind not in _KINDS:  # GoTrue finds the address's user, then no token of that type matches
            raise forbidden("otp_expired", links.OTP_INVALID)
        hashed = mail.token_hash(email, (token or "").strip())
        session = await _redeem(auth, call, kind, hashed, email=email, message=links.OTP_INVALID)
    return Reply(200, session if session is not None else {"msg": links.ONE_OF_TWO, "code": "200"})


async def _redeem(
    auth: Auth, call: Call, kind: str, token_hash: str, *, email: str | None, message: str
) -> dict[str, Any] | None:
    """The session a followed link or entered code starts; None for the first of two email-change links."""
    async with auth.pool.acquire() as conn, conn.transaction():
        user = await links.redeem(conn, auth, kind, token_hash, email=email, message=message)
        if user is None:
            return None
        if kind == "email_change":
            await anonymous.promote(conn, user.id)  # a guest's confirmed address makes them permanent
        if user.is_banned:
            raise forbidden("user_banned", "User is banned")
        return await sessions.start(conn, auth, user.id, "otp", call.request)


async def recover(auth: Auth, call: Call) -> Reply:
    if not call.text("email"):
        raise validation_failed("Password recovery requires an email")
    await _mail_existing(auth, call, "recovery")
    return Reply(200, {})


async def resend(auth: Auth, call: Call) -> Reply:
    """POST /resend, its fields checked as GoTrue's ResendConfirmationParams.Validate checks them."""
    kind = call.text("type") or ""
    if kind not in ("signup", "email_change", *_PHONE_KINDS):
        raise validation_failed("Missing one of these types: signup, email_change, sms, phone_change")
    has_email, has_phone = bool(call.text("email")), bool(call.text("phone"))
    if kind == "signup" and not has_email:
        raise validation_failed("Type provided requires an email address")
    if kind == "sms" and not has_phone:
        raise validation_failed("Type provided requires a phone number")
    if has_email and has_phone:
        raise validation_failed("Only an email address or phone number should be provided.")
    if has_phone:
        raise AuthError(400, "phone_provider_disabled", "Phone logins are disabled")
    if not has_email:
        raise validation_failed("Missing email address or phone number")
    if kind in _PHONE_KINDS:  # an address given for a phone's code: no user here has a phone
        addresses.email(call.text("email") or "")
        return Reply(200, {})
    await _mail_existing(auth, call, kind)
    return Reply(200, {})


async def otp(auth: Auth, call: Call) -> Reply:
    """POST /otp: a magic link and code for an existing user, a new unconfirmed user otherwise; its
    fields checked as GoTrue's OtpParams.Validate and Otp check them."""
    has_email, has_phone = bool(call.text("email")), bool(call.text("phone"))
    if has_email and has_phone:
        raise validation_failed("Only an email address or phone number should be provided")
    if has_email and call.text("channel"):
        raise validation_failed("Channel should only be specified with Phone OTP")
    if has_phone:
        raise AuthError(400, "phone_provider_disabled", "Unsupported phone provider")
    if not has_email:
        raise validation_failed("One of email or phone must be set")
    if await _mail_existing(auth, call, "magiclink"):
        return Reply(200, {})
    if not call.flag("create_user", default=True):
        raise unprocessable("otp_disabled", "Signups not allowed for otp")
    if auth.settings.localbase.disable_signup:  # a new address signs up through GoTrue's Signup
        raise unprocessable("signup_disabled", SIGNUP_DISABLED)
    email = addresses.email(call.text("email") or "")
    token = mail.new_token(email)
    new = NewUser(email=email, confirmation_hash=token.token_hash, user_metadata=call.mapping("data") or {})
    links.before_mail(auth, None)
    async with auth.pool.acquire() as conn:
        user = await insert_user(conn, new, unprocessable("email_exists", EMAIL_EXISTS), SAVE_USER_FAILED)
    redirect_to = referrer(call.request, auth.settings.localbase)
    link = mail.action_link(auth.url, token, "signup", redirect_to)
    await mail.send(auth.settings.localbase.mail_dir, email, "signup", user.id, token=token, link=link)
    return Reply(200, {})


async def _mail_existing(auth: Auth, call: Call, kind: str) -> bool:
    """Mail a `kind` link to the body's email if such a user exists; whether one did."""
    raw = call.text("email")
    if not raw:
        raise validation_failed("An email address is required")
    email = addresses.email(raw)
    settings = auth.settings.localbase
    redirect_to = referrer(call.request, settings)
    async with auth.pool.acquire() as conn:
        row = await conn.fetchrow(Q["user_by_email"], email)
        if row is None:
            return False
        user = User.from_row(row)
        if kind == "magiclink" and user.email_confirmed_at is None:
            kind = "signup"  # an unconfirmed user confirms first, as GoTrue does
        if kind == "signup" and user.email_confirmed_at is not None:
            return True
        links.before_mail(auth, _last_sent(user, kind))
        if kind == "email_change":
            if not user.email_change:
                return True
            mails = await links.issue_email_change(conn, auth, user, user.email_change, redirect_to=redirect_to)
        else:
            token, link = await links.issue(conn, auth, user, kind, redirect_to=redirect_to)
            mails = [links.Mail(email, token, link)]
    for sent in mails:
        await mail.send(settings.mail_dir, sent.to, kind, user.id, token=sent.token, link=sent.link)
    return True


def _last_sent(user: User, kind: str) -> datetime | None:
    """When the last mail of `kind` went to the user: magic links share recovery's clock, as in GoTrue."""
    if kind == "signup":
        return user.confirmation_sent_at
    if kind == "email_change":
        return user.email_change_sent_at if user.email_change else None
    return user.recovery_sent_at
