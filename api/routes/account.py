"""The caller's account as a whole: export everything (`GET /api/account/export`) and delete it
with all its data (`DELETE /api/account`, password re-entered; a guest, who has none, is deleted
on their session alone, which already reads and deletes every chat of theirs).

Deletion is the API's one admin action: after the password is proven by a fresh sign-in, Auth's
admin API (service key) deletes the user, and `auth.users` cascades to the profile, custom roles,
sessions and messages. Both are security events. A user with a verified second factor deletes only
from an aal2 session (the code entered), as RLS (`public.mfa_satisfied`) lets them reach their data:
a password alone is refused 403 `SecondFactorRequired` before it is even checked. The export is
refused the same way (it would read nothing), and so is a deleted account's token (401 InvalidToken).
"""

from __future__ import annotations

from litestar import Controller, delete, get
from litestar.response import Stream
from msgspec import Struct
from supabase_auth.types import User

from api.audit import SecurityEvents
from api.autherrors import auth_call
from api.docs import errors
from api.errors import BadRequest, Forbidden, InvalidCredentials, InvalidToken, SecondFactorRequired
from api.export import export_document
from api.ratelimit import RateLimiter
from api.schemas import Ok
from api.security import CurrentUser
from api.upstream import Upstream


class AccountDeleteRequest(Struct):
    password: str | None = None  # a member's, required (absent or blank: InvalidPassword); a guest sends none


async def _account_of(user: CurrentUser, upstream: Upstream) -> User:
    """The caller as Auth has them now (the token's `email` is the one it was issued with, maybe
    changed since); SecondFactorRequired while a user with a verified factor holds only an aal1
    token (public.mfa_satisfied's rule: the code not entered)."""
    async with auth_call():
        found = await upstream.auth().get_user(user.token)
    if found is None:
        raise InvalidToken()
    verified = any(factor.status == "verified" for factor in found.user.factors or ())
    if verified and user.claims.get("aal") != "aal2":
        raise SecondFactorRequired()
    return found.user


class AccountController(Controller):
    path = "/api/account"
    tags = ["account"]  # noqa: RUF012

    @get("/export", responses=errors(403))
    async def export(self, user: CurrentUser, upstream: Upstream, events: SecurityEvents, ip: str) -> Stream:
        """Everything of the caller's as one JSON document, streamed (any size). Asked of Auth first,
        as a deletion is: RLS hides a two-factor user's data at aal1, and a deleted account's
        still-valid token reads nothing, so either would stream a well-formed but empty document."""
        await _account_of(user, upstream)
        events.record("account_exported", user_id=user.id, ip=ip)
        return Stream(
            export_document(
                upstream.rest(user.token), upstream.storage(user.token), user.id, upstream.export_link_seconds
            ),
            media_type="application/json",
            headers={
                "Content-Disposition": 'attachment; filename="chatgalaxy-export.json"',
                "Cache-Control": "no-store",
            },
        )

    @delete("/", status_code=200, responses=errors(403, 413, 429))
    async def delete_account(
        self,
        *,
        data: AccountDeleteRequest,
        user: CurrentUser,
        upstream: Upstream,
        limiter: RateLimiter,
        events: SecurityEvents,
        ip: str,
    ) -> Ok:
        """Delete the caller's account and all their data, once they re-entered their password (a
        guest has none: their session is the key)."""
        await limiter.check_auth(ip)
        account = await _account_of(user, upstream)
        if not account.is_anonymous:
            await _check_password(account, data.password or "", user=user, upstream=upstream, events=events, ip=ip)
        async with auth_call():
            await upstream.auth_admin().admin.delete_user(user.id)
        if account.is_anonymous:
            events.record("account_deleted", user_id=user.id, ip=ip, guest=True)
        else:
            events.record("account_deleted", user_id=user.id, ip=ip)
        return Ok(message="Account deleted")


async def _check_password(
    account: User, password: str, *, user: CurrentUser, upstream: Upstream, events: SecurityEvents, ip: str
) -> None:
    """A fresh sign-in with the member's current address; InvalidPassword when it fails."""
    if not account.email:
        raise InvalidToken()
    try:
        async with auth_call():
            await upstream.auth().sign_in_with_password({"email": account.email, "password": password})
    except (InvalidCredentials, BadRequest) as exc:
        # A wrong password, or one Auth refuses to even check (blank, NUL): the same answer.
        events.record("login_failed", user_id=user.id, ip=ip, during="account_delete")
        raise Forbidden("The password is not correct.", field="password", code="InvalidPassword") from exc
