"""The API's errors: one tree with stable codes, mapped to HTTP and WebSocket close codes here only.

    ApiError (500 InternalError)
    ├── BadRequest (400 ValidationError) ── Unprocessable (422: WeakPassword, InvalidEmail, ...)
    ├── NotAuthenticated (401)  ── InvalidCredentials, TokenExpired, InvalidToken
    ├── Forbidden (403)         ── RoleNotEditable, EmailNotConfirmed, TokenUserMismatch, ...
    ├── NotFound (404)          ── SessionNotFound, RoleNotFound, MessageNotFound, ShareNotFound, RouteNotFound
    ├── MethodNotAllowed (405)
    ├── Conflict (409)          ── UsernameTaken, EmailTaken, SlugTaken, MessageIdTaken, SessionIdTaken,
    │                              ShareIdTaken
    ├── PayloadTooLarge (413)
    ├── RateLimited (429, Retry-After) ── QuotaExceeded (carries resets_at)
    ├── UpstreamUnavailable (503)
    └── AnswerTimeout (504, carries message_id)

Every error leaves the API as {"success": false, "error": {"code", "message", "field"?,
"message_id"?}, "request_id"}; `to_response` below is the only place that shape is built, and it
logs every 5xx with its request id (a 500 with the exception that caused it).
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import msgspec
from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.exceptions import HTTPException, MethodNotAllowedException, NotFoundException, ValidationException

log = logging.getLogger(__name__)


class ApiError(Exception):
    """Something went wrong on our side."""

    status: ClassVar[int] = 500
    code: str = "InternalError"
    ws_close: ClassVar[int] = 1011

    def __init__(
        self, message: str | None = None, *, field: str | None = None, code: str | None = None, **extra: Any
    ) -> None:
        self.message = message or (self.__doc__ or self.code).strip()
        self.field = field
        if code:
            self.code = code
        self.extra = extra
        super().__init__(self.message)


class BadRequest(ApiError):
    """The request is malformed."""

    status, code, ws_close = 400, "ValidationError", 4400


class Unprocessable(BadRequest):
    """The request is well-formed but a value breaks a rule."""

    status, code = 422, "InvalidValue"


class NotAuthenticated(ApiError):
    """This endpoint requires a valid Bearer token."""

    status, code, ws_close = 401, "NotAuthenticated", 4401


class Forbidden(ApiError):
    """You may not do this."""

    status, code, ws_close = 403, "Forbidden", 4403


class NotFound(ApiError):
    """Not found."""

    status, code, ws_close = 404, "NotFound", 4404


class Conflict(ApiError):
    """That conflicts with existing data."""

    status, code, ws_close = 409, "Conflict", 4409


class MethodNotAllowed(ApiError):
    """Method not allowed on this endpoint."""

    status, code, ws_close = 405, "MethodNotAllowed", 4405


class PayloadTooLarge(ApiError):
    """The request body is too large."""

    status, code, ws_close = 413, "PayloadTooLarge", 1009


class RateLimited(ApiError):
    """Too many requests; retry after the number of seconds in Retry-After."""

    status, code, ws_close = 429, "RateLimited", 4429

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class QuotaExceeded(RateLimited):
    """Your plan's token allowance is used up until it resets."""

    code = "QuotaExceeded"

    def __init__(self, retry_after: int, resets_at: str | None, message: str | None = None) -> None:
        super().__init__(retry_after, message)
        self.resets_at = resets_at


class UpstreamUnavailable(ApiError):
    """A backing service (Supabase auth, REST or realtime) is not answering."""

    status, code, ws_close = 503, "UpstreamUnavailable", 1013


class AnswerTimeout(ApiError):
    """The answer did not complete in time; it will still appear in the history."""

    status, code, ws_close = 504, "AnswerTimeout", 1011


def _error_class(base: type[ApiError], code: str, doc: str) -> type[ApiError]:
    return type(code, (base,), {"code": code, "__doc__": doc})


InvalidCredentials = _error_class(NotAuthenticated, "InvalidCredentials", "Invalid login credentials.")
InvalidToken = _error_class(NotAuthenticated, "InvalidToken", "The token is invalid.")
TokenExpired = _error_class(NotAuthenticated, "TokenExpired", "The token has expired.")
SessionNotFound = _error_class(NotFound, "SessionNotFound", "No such chat session.")
RoleNotFound = _error_class(NotFound, "RoleNotFound", "No such AI role.")
MessageNotFound = _error_class(NotFound, "MessageNotFound", "No such message.")
ShareNotFound = _error_class(NotFound, "ShareNotFound", "No such share link, or it was revoked.")
RoleNotEditable = _error_class(Forbidden, "RoleNotEditable", "Built-in roles cannot be changed.")
SecondFactorRequired = _error_class(
    Forbidden,
    "SecondFactorRequired",
    "Two-factor sign-in is on for this account: sign in again with your code first.",
)
EmailNotConfirmed = _error_class(
    Forbidden, "EmailNotConfirmed", "Confirm your e-mail address first: follow the link in the mail we sent you."
)
UsernameTaken = _error_class(Conflict, "UsernameTaken", "That username is already taken.")
EmailTaken = _error_class(Conflict, "EmailTaken", "A user with this email address is already registered.")
SlugTaken = _error_class(Conflict, "SlugTaken", "You already have a role with that id.")
MessageIdTaken = _error_class(
    Conflict, "MessageIdTaken", "That message_id is another message's: a retry sends the same question with it."
)
SessionIdTaken = _error_class(Conflict, "SessionIdTaken", "That id is another user's chat session.")
ShareIdTaken = _error_class(
    Conflict,
    "ShareIdTaken",
    "That share_id names a share link already: its token was in the answer that made it. Delete it if that"
    " answer was lost, and share again under a new id.",
)
RouteNotFound = _error_class(NotFound, "RouteNotFound", "No such endpoint.")
AccountDisabled = _error_class(Forbidden, "AccountDisabled", "This account is disabled.")
ModelNotAllowed = _error_class(Forbidden, "ModelNotAllowed", "Your plan does not include this model.")
FeatureNotAllowed = _error_class(Forbidden, "FeatureNotAllowed", "Your plan does not include this feature.")
# A ModelNotAllowed of its own (/v1: model_not_allowed): images need a model that sees, and the plan has none.
VisionModelNotAllowed = _error_class(
    ModelNotAllowed, "VisionModelNotAllowed", "Your plan includes no model that reads images."
)
ModelNotFound = _error_class(BadRequest, "ModelNotFound", "No such model.")
AdminOnly = _error_class(Forbidden, "AdminOnly", "This needs an administrator.")
TokenUserMismatch = _error_class(
    Forbidden, "TokenUserMismatch", "That token is another user's: a socket keeps the user it was opened for."
)
UserNotFound = _error_class(NotFound, "UserNotFound", "No such user.")
PlanNotFound = _error_class(NotFound, "PlanNotFound", "No such plan.")


class ErrorBody(msgspec.Struct, omit_defaults=True):
    code: str
    message: str
    field: str | None = None
    message_id: str | None = None
    resets_at: str | None = None


class ErrorEnvelope(msgspec.Struct):
    success: bool
    error: ErrorBody
    request_id: str | None


def request_id_of(scope: Any) -> str | None:
    state = scope.get("state") or {}
    value = state.get("request_id")
    return value if isinstance(value, str) else None


def _from_framework(exc: Exception) -> ApiError:
    """Litestar's own exceptions (routing, body decoding, size limits) as ApiErrors."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, ValidationException):
        field, message = _validation_detail(exc)
        return BadRequest(message, field=field)
    if isinstance(exc, NotFoundException):
        return RouteNotFound()
    if isinstance(exc, HTTPException):
        if exc.status_code == 413:
            return PayloadTooLarge()
        if exc.status_code == 405:
            return MethodNotAllowed()
        if exc.status_code < 500:
            return BadRequest(exc.detail or None)
    return ApiError()


def _validation_detail(exc: ValidationException) -> tuple[str | None, str]:
    """The offending field from msgspec's `... - at `$.username`` or Litestar's `key` extra."""
    extra = exc.extra if isinstance(exc.extra, list) else []
    for item in extra:
        if isinstance(item, dict):
            key = item.get("key")
            message = str(item.get("message") or exc.detail)
            if "unknown field `" in message and "at `$." not in message:  # the body's own key, not `data`
                key = message.split("unknown field `", 1)[1].split("`", 1)[0]
            elif not key and "at `$." in message:
                key = message.rsplit("at `$.", 1)[1].rstrip("`").split("[", 1)[0].split(".", 1)[0]
            return (str(key) if key else None), message
    return None, str(exc.detail or "Invalid request")


def to_response(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorEnvelope]:
    """The single mapping from any exception to the error envelope."""
    error = _from_framework(exc)
    request_id = request_id_of(request.scope)
    if error.status >= 500:
        log_server_error(request, exc, error)
    message_id = error.extra.get("message_id")
    body = ErrorEnvelope(
        success=False,
        error=ErrorBody(
            error.code,
            error.message,
            error.field,
            str(message_id) if message_id else None,
            error.resets_at if isinstance(error, QuotaExceeded) else None,
        ),
        request_id=request_id,
    )
    headers = {"Retry-After": str(error.retry_after)} if isinstance(error, RateLimited) else {}
    if error.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return Response(body, status_code=error.status, headers=headers | allowed_methods(exc))


def allowed_methods(exc: Exception) -> dict[str, str]:
    """A 405's `Allow` header (RFC 9110 requires it), as the router made it."""
    if isinstance(exc, MethodNotAllowedException) and exc.headers:
        return {name: value for name, value in exc.headers.items() if name.lower() == "allow"}
    return {}


def log_server_error(connection: ASGIConnection[Any, Any, Any, Any], exc: Exception, error: ApiError) -> None:
    """A 500 is our bug: logged as an error with the exception chain. A 503/504 is a warning. The
    connection is a request, or a chat socket (method "WS") whose error frame carries the code."""
    method = connection.scope.get("method") or "WS"
    extra = {"request_id": request_id_of(connection.scope), "code": error.code, "method": method}
    extra["path"] = connection.url.path
    if error.status == 500:
        cause = exc if not isinstance(exc, ApiError) else (exc.__cause__ or exc)
        log.error("internal error", exc_info=cause, extra=extra)
    else:
        log.warning("%s: %s", error.code, error.message, extra={**extra, "cause": repr(exc.__cause__ or exc)})


def ws_close_code(error: ApiError) -> int:
    return error.ws_close
