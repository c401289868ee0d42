"""GoTrue's error contract: a status, a stable snake_case code and a message, shaped by API version.

Clients that send `X-Supabase-Api-Version: 2024-01-01` (all current ones) get `{code, message}` and
the header echoed back; gotrue-py reads `code` only when that header is on the response. Older
clients get `{code: <status>, error_code, msg}` plus `x-sb-error-code`. (GoTrue's token endpoint
answers in the same shapes: its OAuth-style `{error, error_description}` bodies belong to the OAuth
2.1 server and external providers, which the local stack leaves out.)
"""

from __future__ import annotations

import uuid
from typing import Any

API_VERSION = "2024-01-01"


class AuthError(Exception):
    """A GoTrue error answered to the client; `extra` adds fields such as `weak_password`."""

    def __init__(self, status: int, code: str, message: str, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra or {}

    def body(self, versioned: bool) -> dict[str, Any]:
        if versioned:
            return {"code": self.code, "message": self.message, **self.extra}
        body: dict[str, Any] = {"code": self.status, "error_code": self.code, "msg": self.message, **self.extra}
        if self.status >= 500:
            body["error_id"] = str(uuid.uuid4())
        return body


def bad_request(code: str, message: str) -> AuthError:
    return AuthError(400, code, message)


def validation_failed(message: str, status: int = 400) -> AuthError:
    return AuthError(status, "validation_failed", message)


def forbidden(code: str, message: str) -> AuthError:
    return AuthError(403, code, message)


def not_found(code: str, message: str) -> AuthError:
    return AuthError(404, code, message)


def unprocessable(code: str, message: str) -> AuthError:
    return AuthError(422, code, message)


def unexpected(message: str = "Unexpected failure, please check server logs for more information") -> AuthError:
    return AuthError(500, "unexpected_failure", message)


INVALID_CREDENTIALS = "Invalid login credentials"
USER_NOT_FOUND = "User not found"
EMAIL_EXISTS = "A user with this email address has already been registered"
SAVE_USER_FAILED = "Database error saving new user"
SIGNUP_DISABLED = "Signups not allowed for this instance"  # [auth] enable_signup = false
