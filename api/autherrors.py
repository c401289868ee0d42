"""Supabase Auth failures as API errors: the one mapping every route that calls Auth goes through.

Guarantees, whatever supabase-auth raises:
- the caller's fault is a 4xx with a stable code: the client library's own validation errors
  (a blank email, a missing session, a malformed JWT), every 4xx Auth answers, known or not;
- 503 `UpstreamUnavailable` only when Auth does not answer: the connection fails or times out, or
  a gateway in front of it answers 502/503/504;
- anything else (Auth's own 500, an answer that is not JSON, a request our side could not even
  build) is a 500 `InternalError`, which `api.errors.to_response` logs with the request id.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from supabase_auth.errors import (
    AuthApiError,
    AuthError,
    AuthImplicitGrantRedirectError,
    AuthInvalidJwtError,
    AuthRetryableError,
    AuthSessionMissingError,
    AuthUnknownError,
    CustomAuthError,
    UserDoesntExist,
)

from api.errors import (
    ApiError,
    BadRequest,
    Conflict,
    EmailNotConfirmed,
    EmailTaken,
    Forbidden,
    InvalidCredentials,
    InvalidToken,
    NotFound,
    RateLimited,
    Unprocessable,
    UpstreamUnavailable,
)

# Seconds a client is told to wait when Auth rate-limits (Auth does not say how long).
AUTH_RETRY_AFTER = 60

_REFRESH = frozenset({"refresh_token_not_found", "refresh_token_already_used", "session_not_found", "session_expired"})
_TOKEN = frozenset({"bad_jwt", "invalid_jwt", "no_authorization", "user_not_found"})
_RATE = frozenset({"over_request_rate_limit", "over_email_send_rate_limit", "over_sms_send_rate_limit"})


def transport_error(exc: httpx.HTTPError) -> ApiError:
    """An httpx failure: Auth/REST not answering is 503; a request we could not build is our bug."""
    if isinstance(exc, httpx.LocalProtocolError | httpx.UnsupportedProtocol | httpx.DecodingError):
        return ApiError()
    if isinstance(exc, httpx.TransportError):
        return UpstreamUnavailable()
    return ApiError()


def auth_error(exc: AuthError) -> ApiError:
    """The API error for a supabase-auth exception (see the module's guarantees)."""
    if isinstance(exc, AuthRetryableError):
        cause = exc.__cause__
        if exc.status == 0 and isinstance(cause, httpx.HTTPError):
            return transport_error(cause)
        return UpstreamUnavailable() if exc.status else ApiError()
    if isinstance(exc, AuthUnknownError | AuthImplicitGrantRedirectError):
        return ApiError()
    code = exc.code
    if code in {"user_already_exists", "email_exists"}:
        return EmailTaken(field="email")
    if code == "email_not_confirmed":
        return EmailNotConfirmed()
    if code in {"invalid_credentials", "user_banned"}:
        return InvalidCredentials()
    if code in _REFRESH:
        return InvalidToken("The refresh token is invalid or was already used.")
    if code in _TOKEN or isinstance(exc, AuthSessionMissingError | AuthInvalidJwtError | UserDoesntExist):
        return InvalidToken()
    if code == "weak_password":
        return Unprocessable(exc.message, field="password", code="WeakPassword")
    if code == "email_address_invalid":
        return Unprocessable(exc.message, field="email", code="InvalidEmail")
    if code in _RATE:
        return RateLimited(AUTH_RETRY_AFTER, exc.message)
    if code == "validation_failed":
        return BadRequest(exc.message)
    status = exc.status if isinstance(exc, AuthApiError | CustomAuthError) else 500
    return _by_status(status, exc.message)


def _by_status(status: int, message: str) -> ApiError:
    """An Auth answer whose code we do not know, by its HTTP status."""
    if status >= 500:
        return ApiError()
    if status == 401:
        return InvalidToken()
    if status == 403:
        return Forbidden(message)
    if status == 404:
        return NotFound(message)
    if status == 409:
        return Conflict(message)
    if status == 422:
        return Unprocessable(message)
    if status == 429:
        return RateLimited(AUTH_RETRY_AFTER, message)
    return BadRequest(message)


@asynccontextmanager
async def auth_call() -> AsyncIterator[None]:
    """Run an Auth call, raising its failure as the API error above."""
    try:
        yield
    except AuthError as exc:
        raise auth_error(exc) from exc
    except httpx.HTTPError as exc:
        raise transport_error(exc) from exc
