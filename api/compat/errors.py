"""OpenAI-style errors: `{"error": {"message", "type", "param", "code"}}` with OpenAI's statuses,
so the official SDKs raise their usual exception classes (AuthenticationError, NotFoundError,
RateLimitError, ...). Our own ApiErrors are translated here, in one place, for the /v1 routes.
"""

from __future__ import annotations

import logging
from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, MethodNotAllowedException, NotFoundException, ValidationException

from api.errors import (
    AccountDisabled,
    ApiError,
    BadRequest,
    FeatureNotAllowed,
    ModelNotAllowed,
    ModelNotFound,
    NotAuthenticated,
    NotFound,
    PayloadTooLarge,
    QuotaExceeded,
    RateLimited,
    RoleNotFound,
    UpstreamUnavailable,
    allowed_methods,
)

log = logging.getLogger(__name__)


class OpenAIError(Exception):
    def __init__(
        self, status: int, message: str, type_: str, code: str | None, param: str | None = None, **headers: str
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type_
        self.code = code
        self.param = param
        self.headers = headers

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


def invalid_key(message: str = "Incorrect API key provided.") -> OpenAIError:
    return OpenAIError(401, message, "invalid_request_error", "invalid_api_key")


def bad_request(message: str, param: str | None = None, code: str | None = None) -> OpenAIError:
    return OpenAIError(400, message, "invalid_request_error", code, param)


def too_many_tokens(message: str, param: str = "max_tokens") -> OpenAIError:
    """A token limit past the answering model's own (the database's MaxTokensTooLarge), as OpenAI
    refuses it: `invalid_value`, the parameter named as the request sent it (max_tokens, or
    max_completion_tokens, which the question keeps as max_tokens)."""
    if param != "max_tokens" and message.startswith("max_tokens "):
        message = param + message.removeprefix("max_tokens")
    return bad_request(message, param, "invalid_value")


def too_long_a_thought(message: str, param: str, said: str) -> OpenAIError:
    """A thinking budget past the answering model's longest thought (the database's
    ThinkingBudgetTooLarge), the key named as the request sent it: a shape's budget
    (thinking.budget_tokens, reasoning.max_tokens) by its name, an effort's saying to lower it."""
    if said.endswith("effort"):
        message = f"{message} It is the budget {said} asks for: choose a lower reasoning effort."
    elif said != "thinking_budget" and message.startswith("thinking_budget "):
        message = said + message.removeprefix("thinking_budget")
    return bad_request(message, param, "invalid_value")


def model_not_found(model: str) -> OpenAIError:
    return OpenAIError(
        404,
        f"The model `{model}` does not exist or you do not have access to it.",
        "invalid_request_error",
        "model_not_found",
        "model",
    )


def translate(exc: Exception) -> OpenAIError:
    """Any exception raised under /v1 as an OpenAI-style error."""
    if isinstance(exc, OpenAIError):
        return exc
    if isinstance(exc, QuotaExceeded):
        return OpenAIError(
            429,
            f"{exc.message} It resets at {exc.resets_at}.",
            "insufficient_quota",
            "insufficient_quota",
            **{"Retry-After": str(exc.retry_after)},
        )
    if isinstance(exc, RateLimited):
        return OpenAIError(429, exc.message, "requests", "rate_limit_exceeded", **{"Retry-After": str(exc.retry_after)})
    if isinstance(exc, AccountDisabled):
        return OpenAIError(403, exc.message, "invalid_request_error", "account_disabled")
    if isinstance(exc, FeatureNotAllowed):
        return OpenAIError(403, exc.message, "invalid_request_error", "feature_not_allowed", exc.field)
    if isinstance(exc, ModelNotAllowed):
        return OpenAIError(403, exc.message, "invalid_request_error", "model_not_allowed", "model")
    if isinstance(exc, RoleNotFound):  # `role:<slug>` naming a role that cannot answer (switched off)
        return OpenAIError(404, exc.message, "invalid_request_error", "model_not_found", "model")
    if isinstance(exc, ModelNotFound):
        return OpenAIError(404, exc.message, "invalid_request_error", "model_not_found", "model")
    if isinstance(exc, NotAuthenticated):
        return invalid_key()
    if isinstance(exc, PayloadTooLarge) or (isinstance(exc, HTTPException) and exc.status_code == 413):
        return OpenAIError(413, PayloadTooLarge().message, "invalid_request_error", "request_too_large")
    if isinstance(exc, NotFound):
        return OpenAIError(404, exc.message, "invalid_request_error", exc.code, exc.field)
    if isinstance(exc, BadRequest) and exc.code == "MaxTokensTooLarge":
        return too_many_tokens(exc.message)
    if isinstance(exc, BadRequest) and exc.code == "ThinkingBudgetTooLarge":
        return bad_request(exc.message, "thinking_budget", "invalid_value")
    if isinstance(exc, BadRequest):
        return bad_request(exc.message, exc.field)
    if isinstance(exc, UpstreamUnavailable):
        return OpenAIError(503, exc.message, "server_error", "service_unavailable")
    if isinstance(exc, ValidationException):
        return bad_request(str(exc.detail or "Invalid request body."))
    if isinstance(exc, HTTPException) and exc.status_code < 500:
        return OpenAIError(exc.status_code, str(exc.detail), "invalid_request_error", None)
    if isinstance(exc, ApiError) and exc.status < 500:
        return OpenAIError(exc.status, exc.message, "invalid_request_error", exc.code, exc.field)
    log.error("unhandled error in the OpenAI-compatible API", exc_info=exc)
    return OpenAIError(500, "The server had an error while processing your request.", "server_error", None)


# The refusals that asking again may change on its own: the send rate (its Retry-After says when).
# Every other 4xx says `x-should-retry: false`, as OpenAI's own do: the SDKs retry 408, 409 and
# 429 unless told not to (openai-python's `_should_retry`), and a used-up quota, a ban or a refused
# request sent twice more is only refused twice more (each a send counted against the rate limit).
_RETRYABLE = ("rate_limit_exceeded",)


def to_openai_response(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    if isinstance(exc, NotFoundException | MethodNotAllowedException):  # no route for it: as OpenAI says it
        message = f"Invalid URL ({request.method} {request.url.path})"
        error = OpenAIError(exc.status_code, message, "invalid_request_error", None)
    else:
        error = translate(exc)
    headers = dict(error.headers) | allowed_methods(exc)
    if 400 <= error.status < 500 and error.code not in _RETRYABLE:
        headers.setdefault("x-should-retry", "false")
    if error.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return Response(error.body(), status_code=error.status, headers=headers, media_type=MediaType.JSON)
