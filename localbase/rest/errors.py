"""PostgREST's error shape and its SQLSTATE-to-HTTP mapping, in one place.

Every error body has all four keys (`code`, `message`, `details`, `hint`) and every error
response carries `Proxy-Status: PostgREST; error=<code>`, which postgrest-py falls back to when
a body is not JSON.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import msgspec

_encoder = msgspec.json.Encoder()


class RestError(Exception):
    """An error answered in PostgREST's shape; `code` is a PGRST code or a SQLSTATE."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Any = None,  # a string, or JSON (PGRST201's list of relationships, a PGRST raise's)
        hint: Any = None,
        *,
        headers: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.hint = hint
        self.headers = headers or []

    def body(self) -> bytes:
        payload: dict[str, Any] = {
            "code": self.code,
            "details": self.details,
            "hint": self.hint,
            "message": self.message,
        }
        return _encoder.encode(payload)

    def response_headers(self) -> list[tuple[bytes, bytes]]:
        return [
            (b"content-type", b"application/json; charset=utf-8"),
            (b"proxy-status", f"PostgREST; error={self.code}".encode()),
            *self.headers,
        ]


def jwt_error(code: str, message: str) -> RestError:
    description = message.replace('"', "'")
    challenge = f'Bearer error="invalid_token", error_description="{description}"'
    return RestError(401, code, message, headers=[(b"www-authenticate", challenge.encode())])


def status_for_sqlstate(state: str, message: str, anonymous: bool) -> int:
    """PostgREST's mapping (src/PostgREST/Error.hs, `pgErrorStatus`)."""
    if state == "42501":
        return 401 if anonymous else 403
    if state in ("23503", "23505"):
        return 409
    if state in ("42883", "42P01"):
        return 404
    if state == "25006":
        return 405
    if state == "P0001":
        return 400
    if state.startswith("PT") and state[2:].isdigit():
        return int(state[2:])
    if state == "22023" and "role" in message and "does not exist" in message:
        return 401
    if state == "53400":
        return 500
    if state.startswith(("08", "53")) or state == "57P01":
        return 503
    if state.startswith(("0L", "0P", "28")):
        return 403
    if state == "21000":
        return 400 if "requires a WHERE clause" in message else 500
    if state == "42P17":
        return 500
    if state[:2] in ("09", "25", "2D", "38", "39", "3B", "40", "54", "55", "57", "58", "F0", "HV", "XX", "P0"):
        return 500
    return 400


def from_postgres(exc: asyncpg.PostgresError, role: str) -> RestError:
    state = str(exc.sqlstate or "XX000")
    message = str(getattr(exc, "message", None) or exc)
    if state == "PGRST":
        return _raised_pgrst(message, getattr(exc, "detail", None))
    return RestError(
        status_for_sqlstate(state, message, role == "anon"),
        state,
        message,
        getattr(exc, "detail", None),
        getattr(exc, "hint", None),
    )


def _raised_pgrst(message: str, detail: str | None) -> RestError:
    """`RAISE SQLSTATE 'PGRST'`: the message is the JSON body, the detail {status, headers}
    (PostgREST's full response control; PGRST121 when either is not the expected JSON)."""
    try:
        body = msgspec.json.decode(message)
        control = msgspec.json.decode(detail or "")
        if not isinstance(body, dict) or not isinstance(control, dict):
            raise ValueError("not objects")
        status = int(control["status"])
        headers = control.get("headers") or {}
        if not isinstance(headers, dict) or not 100 <= status <= 599:
            raise ValueError("bad status or headers")
        return RestError(
            status,
            str(body.get("code", "")),
            str(body.get("message", "")),
            body.get("details"),
            body.get("hint"),
            headers=[(str(k).lower().encode(), str(v).encode()) for k, v in headers.items()],
        )
    except (msgspec.DecodeError, KeyError, TypeError, ValueError):
        return RestError(
            500,
            "PGRST121",
            "Could not parse JSON in the RAISE SQLSTATE 'PGRST' error",
            f"Invalid JSON value for MESSAGE: '{message}'",
        )


def not_found_table(schema: str, name: str) -> RestError:
    return RestError(404, "PGRST205", f"Could not find the table '{schema}.{name}' in the schema cache")


def missing_column(table: str, column: str) -> RestError:
    return RestError(400, "PGRST204", f"Could not find the '{column}' column of '{table}' in the schema cache")


def undefined_column(table: str, column: str) -> RestError:
    return RestError(400, "42703", f"column {table}.{column} does not exist")
