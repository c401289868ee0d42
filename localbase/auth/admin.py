"""The admin API (`supabase.auth.admin`): users CRUD, invites and generated links.

Every route needs a bearer whose `role` is an admin role (service_role, supabase_admin); the anon
key and user tokens get 403 `not_admin`. Deleting a user deletes the auth.users row, so foreign
keys cascade into app tables (profiles, chats) exactly as in Supabase. A password set by an admin
ends every session of the user, in the update's transaction (GoTrue's `UpdatePassword(tx, nil)`).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

import asyncpg

from localbase.auth import addresses, links, mail, mfa
from localbase.auth.calls import Auth, Call, Reply
from localbase.auth.creation import NewUser, insert_user
from localbase.auth.errors import (
    EMAIL_EXISTS,
    USER_NOT_FOUND,
    AuthError,
    not_found,
    unprocessable,
    validation_failed,
)
from localbase.auth.passwords import check_strength, hash_password
from localbase.auth.queries import Q
from localbase.auth.redirects import referrer
from localbase.auth.tokens import require_admin
from localbase.auth.users import User

_CREATE_FAILED = "Database error creating new user"
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
_MAX_DURATION_SECONDS = (2**63 - 1) / 1e9  # about 292 years, Go's longest time.Duration
_LINK_KINDS = {
    "signup": "signup",
    "invite": "invite",
    "magiclink": "magiclink",
    "recovery": "recovery",
    "email_change_current": "email_change",
    "email_change_new": "email_change",
}


async def route(auth: Auth, call: Call) -> Reply:
    """Dispatch an /admin/... or /invite request after checking the admin bearer."""
    require_admin(call.bearer, auth.settings.supabase.keys)
    method, path = call.request.method, call.request.path.rstrip("/")
    if path == "/invite" and method == "POST":
        return await invite(auth, call)
    if path == "/admin/generate_link" and method == "POST":
        return await generate_link(auth, call)
    if path == "/admin/users":
        if method == "GET":
            return await list_users(auth, call)
        if method == "POST":
            return await create_user(auth, call)
    if path.startswith("/admin/oauth"):
        raise not_found("feature_disabled", "OAuth server is disabled")
    parts = path.split("/")
    if len(parts) == 4 and parts[2] == "users":
        user_id = _user_id(parts[3])
        if method == "GET":
            return Reply(200, (await _load(auth, user_id)).to_json())
        if method == "PUT":
            return await update_user(auth, call, user_id)
        if method == "DELETE":
            return await delete_user(auth, call, user_id)
    if len(parts) in (5, 6) and parts[2] == "users" and parts[4] == "factors":
        user_id = _user_id(parts[3])
        if len(parts) == 5 and method == "GET":
            return await mfa.admin_list(auth, user_id)
        if len(parts) == 6 and method == "DELETE":
            return await mfa.admin_delete(auth, user_id, parts[5])
    raise not_found("not_found", "Not Found")


async def list_users(auth: Auth, call: Call) -> Reply:
    page = _page_number(call.query("page"), 1)
    per_page = min(_page_number(call.query("per_page"), 50), 1000)
    async with auth.pool.acquire() as conn:
        total = await conn.fetchval(Q["count_users"])
        rows = await conn.fetch(Q["list_users"], per_page, (page - 1) * per_page)
    last = max(1, -(-total // per_page))
    base = f"{auth.url}/admin/users"
    link = [f'<{base}?{urlencode({"page": page + 1, "per_page": per_page})}>; rel="next"'] if page < last else []
    link.append(f'<{base}?{urlencode({"page": last, "per_page": per_page})}>; rel="last"')
    headers = [(b"x-total-count", str(total).encode()), (b"link", ", ".join(link).encode())]
    body = {"users": [User.from_row(row).to_json() for row in rows], "aud": "authenticated"}
    return Reply(200, body, headers)


async def create_user(auth: Auth, call: Call) -> Reply:
    settings = auth.settings.localbase
    raw_email, raw_phone, password = call.text("email"), call.text("phone"), call.text("password")
    if not raw_email and not raw_phone:
        raise validation_failed("Unable to validate email address: invalid format")
    new = NewUser(
        email=addresses.email(raw_email) if raw_email else None,
        phone=addresses.phone(raw_phone) if raw_phone else None,
        email_confirmed=call.flag("email_confirm"),
        phone_confirmed=call.flag("phone_confirm"),
        role=call.text("role") or "authenticated",
        app_metadata=call.mapping("app_metadata") or {},
        user_metadata=call.mapping("user_metadata") or call.mapping("data") or {},
        banned_until=_ban(call.text("ban_duration")),
    )
    if call.text("id"):
        new.id = _user_id(call.text("id") or "", status=400)
    if password is not None:
        check_strength(password, settings)
        new.password_hash = await hash_password(password, settings.bcrypt_cost)
    async with auth.pool.acquire() as conn:
        user = await insert_user(conn, new, unprocessable("email_exists", EMAIL_EXISTS), _CREATE_FAILED)
    return Reply(200, user.to_json())


async def update_user(auth: Auth, call: Call, user_id: UUID) -> Reply:
    settings = auth.settings.localbase
    await _load(auth, user_id)
    password = call.text("password")
    password_hash = None
    if password is not None:
        check_strength(password, settings)
        password_hash = await hash_password(password, settings.bcrypt_cost)
    raw_email, raw_phone = call.text("email"), call.text("phone")
    ban = call.text("ban_duration")
    try:
        async with auth.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                Q["update_user"],
                user_id,
                call.mapping("user_metadata") or call.mapping("data"),
                call.mapping("app_metadata"),
                password_hash,
                addresses.email(raw_email) if raw_email else None,
                addresses.phone(raw_phone) if raw_phone else None,
                call.flag("email_confirm"),
                call.text("role"),
                _ban(ban),
                ban == "none",
            )
            if row is not None and password_hash is not None:
                # GoTrue's UpdatePassword(tx, nil): a password set by an admin ends every session (a
                # reset after a compromise would otherwise leave the intruder's refresh token working).
                await conn.execute(Q["end_sessions"], user_id, None, "global")
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name == "users_phone_key":
            raise unprocessable("phone_exists", "A user with this phone number has already been registered") from exc
        raise unprocessable("email_exists", EMAIL_EXISTS) from exc
    if row is None:
        raise not_found("user_not_found", USER_NOT_FOUND)
    return Reply(200, User.from_row(row).to_json())


async def delete_user(auth: Auth, call: Call, user_id: UUID) -> Reply:
    soft = call.flag("should_soft_delete")
    async with auth.pool.acquire() as conn:
        if soft:
            if await conn.fetchrow(Q["user_by_id"], user_id) is None:
                raise not_found("user_not_found", USER_NOT_FOUND)
            await conn.execute(Q["soft_delete_user"], user_id)
        elif await conn.fetchval(Q["delete_user"], user_id) is None:
            raise not_found("user_not_found", USER_NOT_FOUND)
    return Reply(200, {})


async def invite(auth: Auth, call: Call) -> Reply:
    settings = auth.settings.localbase
    user, token, link = await _prepare_link(auth, call, "invite", call.mapping("data") or {}, mailing=True)
    await mail.send(settings.mail_dir, user.email or "", "invite", user.id, token=token, link=link)
    return Reply(200, user.to_json())


async def generate_link(auth: Auth, call: Call) -> Reply:
    """The link and code a custom mailer would send; nothing is mailed."""
    kind = call.text("type") or ""
    if kind not in _LINK_KINDS:
        raise validation_failed("Invalid email action link type requested", status=422)
    user, token, link = await _prepare_link(auth, call, kind, call.mapping("data") or {})
    redirect_to = referrer(call.request, auth.settings.localbase)
    body = {
        **user.to_json(),
        "action_link": link,
        "email_otp": token.otp,
        "hashed_token": token.token_hash,
        "redirect_to": redirect_to,
        "verification_type": kind,  # GoTrue echoes the requested type; the link carries email_change
    }
    return Reply(200, body)


async def _prepare_link(
    auth: Auth, call: Call, kind: str, data: dict[str, Any], *, mailing: bool = False
) -> tuple[User, mail.OneTimeToken, str]:
    """Find or create the user a link of `kind` is for and store the link's token; `mailing` (an
    invite) takes one of the hour's mails first, so a refused invite keeps nothing."""
    settings = auth.settings.localbase
    email = addresses.email(call.text("email") or "")
    redirect_to = referrer(call.request, settings)
    verification = _LINK_KINDS.get(kind, kind)
    async with auth.pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(Q["user_by_email"], email)
        user = User.from_row(row) if row is not None else None
        if kind in ("signup", "invite"):
            if user is not None and user.email_confirmed_at is not None:
                raise unprocessable("email_exists", EMAIL_EXISTS)
            if user is None:
                user = await _new_unconfirmed(auth, call, conn, email, kind=kind, data=data)
        elif user is None:
            raise not_found("user_not_found", USER_NOT_FOUND)
        if mailing:
            auth.email_budget.take()
        if verification == "email_change":
            if kind == "email_change_current" and not settings.secure_email_change:
                raise validation_failed("Enable secure email change to generate link for current email")
            new_email = addresses.email(call.text("new_email") or "")
            end = "current" if kind == "email_change_current" else "new"
            (made,) = await links.issue_email_change(conn, auth, user, new_email, redirect_to=redirect_to, ends=(end,))
            token, link = made.token, made.link
        else:
            token, link = await links.issue(conn, auth, user, verification, redirect_to=redirect_to)
        fresh = await conn.fetchrow(Q["user_by_id"], user.id)
    return User.from_row(fresh), token, link


async def _new_unconfirmed(
    auth: Auth, call: Call, conn: asyncpg.Connection, email: str, *, kind: str, data: dict[str, Any]
) -> User:
    new = NewUser(email=email, user_metadata=data, invited=kind == "invite")
    password = call.text("password")
    if kind == "signup":
        if password is None:
            raise validation_failed("Signup requires a valid password")
        check_strength(password, auth.settings.localbase)
        new.password_hash = await hash_password(password, auth.settings.localbase.bcrypt_cost)
    return await insert_user(conn, new, unprocessable("email_exists", EMAIL_EXISTS), _CREATE_FAILED)


async def _load(auth: Auth, user_id: UUID) -> User:
    row = await auth.pool.fetchrow(Q["user_by_id"], user_id)
    if row is None:
        raise not_found("user_not_found", USER_NOT_FOUND)
    return User.from_row(row)


def _user_id(text: str, status: int = 404) -> UUID:
    try:
        return UUID(text)
    except ValueError as exc:
        if status == 404:
            raise not_found("user_not_found", USER_NOT_FOUND) from exc
        raise validation_failed("user id must be a UUID") from exc


def _page_number(text: str | None, default: int) -> int:
    """`page`/`per_page` as GoTrue's paginate reads them (Go's ParseUint): junk is 400
    `validation_failed` "Bad Pagination Parameters: ..."; 0 reads as the default."""
    if not text:
        return default
    if not text.isascii() or not text.isdigit():
        raise validation_failed(f'Bad Pagination Parameters: strconv.ParseUint: parsing "{text}": invalid syntax')
    if int(text) >= 2**64:
        raise validation_failed(f'Bad Pagination Parameters: strconv.ParseUint: parsing "{text}": value out of range')
    return int(text) or default


def _ban(duration: str | None) -> datetime | None:
    """`ban_duration` as GoTrue takes it: a Go duration ("24h", "1h30m") or "none" (lift the ban)."""
    if duration is None or duration == "none":
        return None
    parts = _DURATION.findall(duration)
    if not parts or "".join(n + u for n, u in parts) != duration:
        raise AuthError(400, "validation_failed", "invalid format for ban duration")
    seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in parts)
    if seconds > _MAX_DURATION_SECONDS:  # Go's ParseDuration refuses what overflows int64 nanoseconds
        raise AuthError(400, "validation_failed", "invalid format for ban duration")
    return datetime.now(UTC) + timedelta(seconds=seconds)
