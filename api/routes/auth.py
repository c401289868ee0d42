"""Sign-up, sign-in, refresh, sign-out and "who am I", over Supabase Auth (supabase-auth).

Usernames are checked for availability first (`username_available` RPC) so a taken name is a
clear 409 rather than the database error a failed sign-up trigger would give.
"""

from __future__ import annotations

from typing import Any

import httpx
from litestar import Controller, get, post
from postgrest import AsyncPostgrestClient
from supabase_auth.errors import AuthApiError, AuthError, AuthRetryableError
from supabase_auth.types import AuthResponse, Session

from api import rules
from api.audit import SecurityEvents
from api.errors import (
    ApiError,
    BadRequest,
    EmailTaken,
    InvalidCredentials,
    InvalidToken,
    UpstreamUnavailable,
    UsernameTaken,
)
from api.ratelimit import RateLimiter
from api.schemas import (
    LoginRequest,
    LoginResponse,
    MeResponse,
    Ok,
    RefreshRequest,
    RegisterRequest,
    RegisterResponse,
    UserOut,
)
from api.security import CurrentUser
from api.upstream import Upstream, call, rows


def _auth_error(exc: AuthError) -> ApiError:
    code = getattr(exc, "code", None)
    if isinstance(exc, AuthRetryableError):
        return UpstreamUnavailable()
    if code in {"user_already_exists", "email_exists"}:
        return EmailTaken(field="email")
    if code in {"invalid_credentials", "email_not_confirmed", "user_banned"}:
        return InvalidCredentials()
    if code in {"refresh_token_not_found", "refresh_token_already_used", "session_not_found", "session_expired"}:
        return InvalidToken("The refresh token is invalid or was already used.")
    if code in {"bad_jwt", "no_authorization", "user_not_found"}:
        return InvalidToken()
    if code == "weak_password":
        return BadRequest(exc.message, field="password", code="WeakPassword")
    if code == "validation_failed":
        return BadRequest(exc.message, code="ValidationError")
    if isinstance(exc, AuthApiError) and 400 <= exc.status < 500:
        return BadRequest(exc.message)
    return UpstreamUnavailable()


async def _profile_user(rest: AsyncPostgrestClient, user_id: str, email: str | None, created_at: str | None) -> UserOut:
    response = await call(
        rest.from_("profiles").select("username,avatar_url,last_login_at,created_at").eq("id", user_id).execute()
    )
    profile = next(iter(rows(response.data)), {})
    return UserOut(
        id=user_id,
        email=email,
        username=profile.get("username"),
        avatar_url=profile.get("avatar_url"),
        created_at=profile.get("created_at") or created_at,
        last_login_at=profile.get("last_login_at"),
    )


async def _session_response(upstream: Upstream, result: AuthResponse) -> LoginResponse:
    session: Session | None = result.session
    if session is None or result.user is None:
        raise InvalidCredentials()
    user = await _profile_user(
        upstream.rest(session.access_token), result.user.id, result.user.email, str(result.user.created_at)
    )
    return LoginResponse(
        success=True,
        access_token=session.access_token,
        refresh_token=session.refresh_token,
        user=user,
        expires_in=session.expires_in,
        expires_at=session.expires_at,
    )


class AuthController(Controller):
    path = "/api/auth"
    tags = ["auth"]  # noqa: RUF012 - Litestar reads it as a class attribute

    @post("/register", status_code=201)
    async def register(
        self, data: RegisterRequest, upstream: Upstream, limiter: RateLimiter, ip: str
    ) -> RegisterResponse:
        username = rules.username(data.username)
        email = rules.email(data.email)
        password = rules.password(data.password)
        await limiter.check_auth(ip)
        available = await call(upstream.rest_anon().rpc("username_available", {"name": username}).execute())
        if available.data is False:
            raise UsernameTaken(field="username")
        try:
            result = await upstream.auth().sign_up(
                {"email": email, "password": password, "options": {"data": {"username": username}}}
            )
        except AuthError as exc:
            if "Database error" in exc.message:  # the profile trigger lost a race for the name
                raise UsernameTaken(field="username") from exc
            raise _auth_error(exc) from exc
        except httpx.TransportError as exc:
            raise UpstreamUnavailable() from exc
        if result.user is None:
            raise UpstreamUnavailable()
        return RegisterResponse(success=True, message="Registration successful", user_id=result.user.id)

    @post("/login", status_code=200)
    async def login(
        self, data: LoginRequest, upstream: Upstream, limiter: RateLimiter, events: SecurityEvents, ip: str
    ) -> LoginResponse:
        if not data.email or not data.password or "\x00" in data.email + data.password:
            raise InvalidCredentials()  # no account has a NUL in either; Postgres and bcrypt refuse it
        await limiter.check_auth(ip)
        try:
            result = await upstream.auth().sign_in_with_password(
                {"email": data.email.strip(), "password": data.password}
            )
        except AuthError as exc:
            error = _auth_error(exc)
            if isinstance(error, InvalidCredentials):
                events.record("login_failed", ip=ip, email=data.email.strip().lower()[:320])
            raise error from exc
        except httpx.TransportError as exc:
            raise UpstreamUnavailable() from exc
        return await _session_response(upstream, result)

    @post("/refresh", status_code=200)
    async def refresh(
        self, data: RefreshRequest, upstream: Upstream, limiter: RateLimiter, events: SecurityEvents, ip: str
    ) -> LoginResponse:
        if not data.refresh_token.strip():
            raise BadRequest("refresh_token is required.", field="refresh_token")
        await limiter.check_auth(ip)
        try:
            result = await upstream.auth().refresh_session(data.refresh_token.strip())
        except AuthError as exc:
            if getattr(exc, "code", None) == "refresh_token_already_used":
                events.record("refresh_token_reuse", ip=ip)
            raise _auth_error(exc) from exc
        except httpx.TransportError as exc:
            raise UpstreamUnavailable() from exc
        return await _session_response(upstream, result)

    @post("/logout", status_code=200)
    async def logout(self, user: CurrentUser, upstream: Upstream) -> Ok:
        try:
            await upstream.auth().admin.sign_out(user.token, "global")
        except AuthError as exc:
            raise _auth_error(exc) from exc
        except httpx.TransportError as exc:
            raise UpstreamUnavailable() from exc
        return Ok(message="Signed out")

    @get("/me")
    async def me(self, user: CurrentUser, upstream: Upstream) -> MeResponse:
        try:
            found: Any = await upstream.auth().get_user(user.token)
        except AuthError as exc:
            raise _auth_error(exc) from exc
        except httpx.TransportError as exc:
            raise UpstreamUnavailable() from exc
        if found is None or found.user is None:
            raise InvalidToken()
        profile = await _profile_user(upstream.rest(user.token), user.id, found.user.email, str(found.user.created_at))
        return MeResponse(success=True, user=profile)
