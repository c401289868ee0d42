"""Sign-up, sign-in, refresh, sign-out and "who am I", over Supabase Auth (supabase-auth).

Usernames are checked for availability first (`username_available` RPC) so a taken name is a
clear 409 rather than the database error a failed sign-up trigger would give.
"""

from __future__ import annotations

from typing import Any

import httpx
from litestar import Controller, get, post
from postgrest import AsyncPostgrestClient
from supabase_auth.errors import AuthError
from supabase_auth.types import AuthResponse, Session

from api import rules
from api.audit import SecurityEvents
from api.autherrors import auth_call, auth_error, transport_error
from api.docs import errors
from api.errors import (
    ApiError,
    BadRequest,
    InvalidCredentials,
    InvalidToken,
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

    @post("/register", status_code=201, responses=errors(409, 413, 422, 429, signed_in=False))
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
        # Taken is answered above; a sign-up that loses a race for the name between that check and
        # its insert gets the generated name (the profile trigger never fails on a username,
        # migrations/20261203194500_sign_up_never_fails_on_its_username.sql), renamed in the profile.
        async with auth_call():
            result = await upstream.auth().sign_up(
                {"email": email, "password": password, "options": {"data": {"username": username}}}
            )
        if result.user is None:
            raise ApiError("Auth signed the user up but returned no user.")
        return RegisterResponse(success=True, message="Registration successful", user_id=result.user.id)

    @post("/login", status_code=200, responses=errors(401, 403, 413, 422, 429, signed_in=False))
    async def login(
        self, data: LoginRequest, upstream: Upstream, limiter: RateLimiter, events: SecurityEvents, ip: str
    ) -> LoginResponse:
        email = data.email.strip()
        if not email or not data.password or "\x00" in email + data.password:
            # No account has a blank e-mail or password, or a NUL in either (Postgres and bcrypt refuse it).
            raise InvalidCredentials()
        await limiter.check_auth(ip)
        try:
            result = await upstream.auth().sign_in_with_password({"email": email, "password": data.password})
        except AuthError as exc:
            error = auth_error(exc)
            if isinstance(error, InvalidCredentials):
                events.record("login_failed", ip=ip, email=email.lower()[:320])
            raise error from exc
        except httpx.HTTPError as exc:
            raise transport_error(exc) from exc
        return await _session_response(upstream, result)

    @post("/refresh", status_code=200, responses=errors(401, 413, 429, signed_in=False))
    async def refresh(
        self, data: RefreshRequest, upstream: Upstream, limiter: RateLimiter, events: SecurityEvents, ip: str
    ) -> LoginResponse:
        if not data.refresh_token.strip():
            raise BadRequest("refresh_token is required.", field="refresh_token")
        await limiter.check_auth(ip)
        try:
            result = await upstream.auth().refresh_session(data.refresh_token.strip())
        except AuthError as exc:
            code = getattr(exc, "code", None)
            if code == "refresh_token_already_used":
                events.record("refresh_token_reuse", ip=ip)
            if code == "validation_failed":  # GoTrue: not even the shape of a refresh token (under 12 characters)
                raise InvalidToken("The refresh token is invalid or was already used.") from exc
            raise auth_error(exc) from exc
        except httpx.HTTPError as exc:
            raise transport_error(exc) from exc
        return await _session_response(upstream, result)

    @post("/logout", status_code=200, responses=errors())
    async def logout(self, user: CurrentUser, upstream: Upstream) -> Ok:
        async with auth_call():
            await upstream.auth().admin.sign_out(user.token, "global")
        return Ok(message="Signed out")

    @get("/me", responses=errors())
    async def me(self, user: CurrentUser, upstream: Upstream) -> MeResponse:
        async with auth_call():
            found: Any = await upstream.auth().get_user(user.token)
        if found is None or found.user is None:
            raise InvalidToken()
        profile = await _profile_user(upstream.rest(user.token), user.id, found.user.email, str(found.user.created_at))
        return MeResponse(success=True, user=profile)
