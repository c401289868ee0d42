"""One-time links and codes: issuing them (hash stored on the user) and redeeming them.

Each verification kind lives in one auth.users column, as in GoTrue: sign-up and invite in
`confirmation_token`, magic link and recovery in `recovery_token`, email change in
`email_change_token_new` and, with secure email change on (`double_confirm_changes`), also in
`email_change_token_current`: a link to each address, and the change applies when both have been
followed (the first only counts, `email_change_confirm_status` 1). A token lives `mailer_otp_exp`
seconds after it was sent and is cleared when redeemed, so a link works once.

A kind's next mail to a user waits `email_max_frequency` seconds after its last ([auth.email]
max_frequency): GoTrue's validateSentWithinFrequencyLimit, checked before anything is stored or sent
by the doors a client knocks at (sign-up, resend, recover, otp, PUT /user, reauthenticate), never by
the admin's generated links; then each mail takes one of the hour's (`before_mail`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from core.settings import LocalbaseSettings
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
ONE_OF_TWO = "Confirmation link accepted. Please proceed to confirm link sent to the other email"


def check_frequency(sent_at: datetime | None, settings: LocalbaseSettings) -> None:
    """GoTrue's 429 when the last mail of this kind went less than max_frequency ago."""
    if sent_at is None:
        return
    left = sent_at + timedelta(seconds=settings.email_max_frequency) - datetime.now(UTC)
    if left > timedelta(0):
        seconds = int(left.total_seconds())  # Go's Duration / time.Second: whole seconds, truncated
        message = f"For security purposes, you can only request this after {seconds} seconds."
        raise AuthError(429, "over_email_send_rate_limit", message)


def before_mail(auth: Auth, sent_at: datetime | None) -> None:
    """What GoTrue checks before it stores and sends a mail: the kind's clock (`sent_at`, None for a
    first mail), then the hour's budget ([auth.rate_limit] email_sent)."""
    check_frequency(sent_at, auth.settings.localbase)
    auth.email_budget.take()


@dataclass(frozen=True)
class Mail:
    to: str
    token: mail.OneTimeToken
    link: str


async def issue(
    conn: asyncpg.Connection, auth: Auth, user: User, kind: str, *, redirect_to: str
) -> tuple[mail.OneTimeToken, str]:
    """Store a fresh token of `kind` (not an email change) for the user; the token and its link."""
    token = mail.new_token(user.email or "")
    await conn.execute(Q[_SET[COLUMN[kind]]], user.id, token.token_hash)
    return token, mail.action_link(auth.url, token, kind, redirect_to)


async def issue_email_change(
    conn: asyncpg.Connection, auth: Auth, user: User, new_email: str, *, redirect_to: str, ends: tuple[str, ...] = ()
) -> list[Mail]:
    """Stage the change of the user's address to `new_email`, none of its links followed yet: the
    mails to send. By default (PUT /user, resend) a link to the new address and, with secure email
    change on and an address to change from, one to the current address, any earlier ones void;
    `ends` ("new", "current": admin links) makes just those and keeps the other end's token."""
    secure = auth.settings.localbase.secure_email_change and bool(user.email)
    wanted = ends or (("new", "current") if secure else ("new",))
    address = {"new": new_email, "current": user.email or ""}
    tokens = {end: mail.new_token(address[end]) for end in wanted}
    # Per end: the new hash; else, for admin links, None (keep it), otherwise '' (none due).
    hashes = [tokens[end].token_hash if end in tokens else (None if ends else "") for end in ("new", "current")]
    await conn.execute(Q["set_email_change"], user.id, new_email, *hashes)
    return [
        Mail(address[end], token, mail.action_link(auth.url, token, "email_change", redirect_to))
        for end, token in tokens.items()
    ]


async def redeem(
    conn: asyncpg.Connection, auth: Auth, kind: str, token_hash: str, *, email: str | None, message: str
) -> User | None:
    """The user whose live token this is, after spending it (email confirmed or change applied);
    None when it was the first of a secure email change's two links (the change waits for the other)."""
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
    settings = auth.settings.localbase
    if (
        column == "email_change"
        and settings.secure_email_change
        and not settings.autoconfirm
        and user.email
        and user.email_change_confirm_status == 0
    ):
        await conn.execute(Q["confirm_email_change_end"], user.id, token_hash)
        return None
    try:
        await conn.execute(Q["consume_token"], user.id, column)
    except asyncpg.UniqueViolationError as exc:  # the new address was taken meanwhile
        raise AuthError(422, "email_exists", "A user with this email address has already been registered") from exc
    return user
