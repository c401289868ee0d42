"""One-time links and codes: issuing them (hash stored on the user) and redeeming them.

Each verification kind lives in one auth.users column, as in GoTrue: sign-up and invite in
`confirmation_token`, magic link and recovery in `recovery_token`, email change in
`email_change_token_new`. A token lives `mailer_otp_exp` seconds after it was sent and is cleared
when redeemed, so a link works once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from localbase.auth import mail
from localbase.auth.calls import Auth
from localbase.auth.errors import AuthError, forbidden
from localbase.auth.queries import Q
from localbase.auth.users import User

COLUMN = {
    "signup": "confirmation",
    "invite": "confirmation",
    "magiclink": "recovery",
    "recovery": "recovery",
    "email_change": "email_change",
}
_SET = {"confirmation": "set_confirmation", "recovery": "set_recovery"}
LINK_INVALID = "Email link is invalid or has expired"
OTP_INVALID = "Token has expired or is invalid"


async def issue(
    conn: asyncpg.Connection, auth: Auth, user: User, kind: str, *, redirect_to: str, new_email: str | None = None
) -> tuple[mail.OneTimeToken, str]:
    """Store a fresh token of `kind` for the user; the token and its action link."""
    address = new_email or user.email or ""
    token = mail.new_token(address)
    column = COLUMN[kind]
    if column == "email_change":
        await conn.execute(Q["set_email_change"], user.id, new_email, token.token_hash)
    else:
        await conn.execute(Q[_SET[column]], user.id, token.token_hash)
    return token, mail.action_link(auth.url, token, kind, redirect_to)


async def redeem(
    conn: asyncpg.Connection, auth: Auth, kind: str, token_hash: str, *, email: str | None, message: str
) -> User:
    """The user whose live token this is, after spending it (email confirmed or change applied)."""
    # Spent tokens are stored as '', which must never match; and no stored hash holds a NUL, which
    # Postgres text cannot even be asked for (a link's query can carry one).
    if not token_hash or "\x00" in token_hash:
        raise forbidden("otp_expired", message)
    columns = ["confirmation", "recovery"] if kind == "email" else [COLUMN.get(kind, "")]
    for column in columns:
        row = await conn.fetchrow(Q["user_by_token"], token_hash, column, email)
        if row is not None:
            break
    else:
        raise forbidden("otp_expired", message)
    user = User.from_row(row)
    sent_at = {
        "confirmation": user.confirmation_sent_at,
        "recovery": user.recovery_sent_at,
        "email_change": user.email_change_sent_at,
    }[column]
    lifetime = timedelta(seconds=auth.settings.localbase.mailer_otp_exp)
    if sent_at is None or sent_at + lifetime < datetime.now(UTC):
        raise forbidden("otp_expired", message)
    try:
        await conn.execute(Q["consume_token"], user.id, column)
    except asyncpg.UniqueViolationError as exc:  # the new address was taken meanwhile
        raise AuthError(422, "email_exists", "A user with this email address has already been registered") from exc
    return user
