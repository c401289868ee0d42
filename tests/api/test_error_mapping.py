"""Whose fault is it: the API answers a 4xx with a stable code for bad input, 503 only when a
backing service does not answer, and a logged 500 (with its request id) for anything else.

The regression: `POST /api/auth/login` with `{"email": " "}` answered 503 UpstreamUnavailable,
because every Auth error the mapping did not know was sent to 503. The failures here are real:
supabase-py's own exceptions against the local Auth, an Auth address nobody listens on, and an
HTTP server standing in for an Auth that answers 500.
"""

from __future__ import annotations

import http.server
import json
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from postgrest import APIError
from supabase_auth import SyncGoTrueClient
from supabase_auth.errors import (
    AuthApiError,
    AuthError,
    AuthInvalidCredentialsError,
    AuthRetryableError,
    AuthSessionMissingError,
    AuthUnknownError,
)

from api.autherrors import auth_error
from api.database import database_error
from api.upstream import rest_error
from tests.api.conftest import ApiProcess, ApiUser, start_api
from tests.conftest import LocalStack, free_port
from tests.db.actors import create_user


@pytest.mark.parametrize(
    ("email", "password"),
    [
        (" ", "password123"),  # the case the fuzz test found
        ("\t\n", "password123"),
        ("\u200f", "password123"),
        ("nobody@example.com", " "),
        ("a" * 400 + "@example.com", "password123"),
        ("x@y", "\ud800".encode("utf-8", "surrogatepass").decode("utf-8", "replace")),
        ("'; drop table auth.users; --", "password123"),
    ],
)
async def test_bad_login_input_is_the_callers_fault(http: httpx.AsyncClient, email: str, password: str) -> None:
    response = await http.post("/api/auth/login", json={"email": email, "password": password})
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "InvalidCredentials"


async def test_bad_register_input_is_the_callers_fault(http: httpx.AsyncClient) -> None:
    for body in (
        {"username": "blank_mail", "email": " ", "password": "password123"},
        {"username": " ", "email": "ok@example.com", "password": "password123"},
        {"username": "nul_pw", "email": "ok@example.com", "password": "pass\x00word123"},
    ):
        response = await http.post("/api/auth/register", json=body)
        assert 400 <= response.status_code < 500, (body, response.text)
        assert response.json()["error"]["code"] in {
            "ValidationError",
            "InvalidEmail",
            "InvalidUsername",
            "InvalidText",
            "WeakPassword",
            "EmptyValue",
            "InvalidValue",
        }


async def test_account_delete_with_a_blank_password_is_forbidden_not_503(
    http: httpx.AsyncClient, alice: ApiUser
) -> None:
    response = await http.request("DELETE", "/api/account", json={"password": ""}, headers=alice.headers)
    assert response.status_code == 403, response.text
    assert response.json()["error"]["code"] == "InvalidPassword"
    still_there = await http.get("/api/auth/me", headers=alice.headers)
    assert still_there.status_code == 200


def test_supabase_py_errors_map_to_the_callers_fault(stack: LocalStack) -> None:
    """What supabase-py raises for bad input, client-side or from the local Auth, is a 4xx."""
    client = SyncGoTrueClient(url=f"{stack.url}/auth/v1", headers={"apikey": stack.anon_key}, auto_refresh_token=False)
    raised: list[AuthError] = []
    for credentials in ({"email": " ", "password": "password123"}, {"email": "", "password": "password123"}):
        with pytest.raises(AuthError) as caught:
            client.sign_in_with_password(credentials)  # type: ignore[arg-type]
        raised.append(caught.value)
    with pytest.raises(AuthError) as caught:
        client.refresh_session()  # no session: the client refuses before any request
    raised.append(caught.value)
    server_side, client_side, no_session = raised
    assert isinstance(server_side, AuthApiError)
    assert 400 <= server_side.status < 500
    assert isinstance(client_side, AuthInvalidCredentialsError)
    assert isinstance(no_session, AuthSessionMissingError)
    assert [(auth_error(e).status, auth_error(e).code) for e in raised] == [
        (401, "InvalidCredentials"),
        (400, "ValidationError"),
        (401, "InvalidToken"),
    ]


@pytest.mark.parametrize(
    "sql",
    [
        r"""select '"\u0000"'::jsonb""",  # 22P05: jsonb holds no NUL
        r"select convert_from('\x00'::bytea, 'UTF8')",  # 22021: nor does text
    ],
)
async def test_a_nul_the_database_cannot_store_is_the_callers_400(pg: asyncpg.Connection, sql: str) -> None:
    """As a NUL in /v1's `stop` met it in the question's parameters (a 500 until 12-05)."""
    with pytest.raises(asyncpg.PostgresError) as refused:
        await pg.fetchval(sql)
    error = database_error(refused.value)
    assert (error.status, error.code) == (400, "ValidationError")


def test_auth_not_answering_is_503_and_anything_else_is_500() -> None:
    closed = f"http://127.0.0.1:{free_port()}/auth/v1"
    with pytest.raises(AuthRetryableError) as caught:
        SyncGoTrueClient(url=closed, headers={"apikey": "k"}).sign_in_with_password(
            {"email": "a@example.com", "password": "password123"}
        )
    assert (auth_error(caught.value).status, auth_error(caught.value).code) == (503, "UpstreamUnavailable")
    gateway_down = AuthRetryableError("Bad Gateway", 502)
    assert auth_error(gateway_down).status == 503
    auth_bug = AuthApiError("Database error querying schema", 500, "unexpected_failure")
    assert (auth_error(auth_bug).status, auth_error(auth_bug).code) == (500, "InternalError")
    unreadable = AuthUnknownError("<html>", ValueError("not JSON"))
    assert auth_error(unreadable).status == 500
    unknown_4xx = AuthApiError("something new", 418, None)
    assert (auth_error(unknown_4xx).status, auth_error(unknown_4xx).code) == (400, "ValidationError")
    limited = AuthApiError("slow down", 429, "over_request_rate_limit")
    assert (auth_error(limited).status, auth_error(limited).code) == (429, "RateLimited")


class _BrokenAuth(http.server.BaseHTTPRequestHandler):
    """Answers every request the way a failing GoTrue does: 500 unexpected_failure."""

    def _answer(self) -> None:
        body = json.dumps({"code": "unexpected_failure", "message": "Database error querying schema"}).encode()
        self.send_response(500)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Supabase-Api-Version", "2024-01-01")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def broken_auth() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _BrokenAuth)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _api_against(url: str, stack: LocalStack, tmp_path: Path, name: str) -> ApiProcess:
    """An API whose Supabase is at `url` (start_api reads only the address and the JWT secret)."""
    elsewhere = LocalStack(url, 0, stack.dsn, stack.anon_key, stack.service_role_key, stack.jwt_secret, {})
    return start_api(elsewhere, tmp_path / f"{name}.log")


@pytest.mark.parametrize("case", [("closed", 503, "UpstreamUnavailable"), ("broken", 500, "InternalError")])
def test_login_when_auth_fails_is_503_only_if_it_does_not_answer(
    case: tuple[str, int, str], broken_auth: str, stack: LocalStack, tmp_path: Path
) -> None:
    which, status, code = case
    url = broken_auth if which == "broken" else f"http://127.0.0.1:{free_port()}"
    api = _api_against(url, stack, tmp_path, which)
    try:
        response = httpx.post(
            f"{api.url}/api/auth/login",
            json={"email": "someone@example.com", "password": "password123"},
            headers={"X-Request-ID": f"req-{which}-1"},
            trust_env=False,
            timeout=30,
        )
    finally:
        api.stop()
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["code"] == code
    assert body["request_id"] == f"req-{which}-1"
    logged = [json.loads(line) for line in api.log.read_text().splitlines() if line.startswith("{")]
    errors = [e for e in logged if e.get("request_id") == f"req-{which}-1" and e["level"] in {"ERROR", "WARNING"}]
    assert errors, logged[-5:]
    assert errors[0]["level"] == ("ERROR" if status == 500 else "WARNING")
    if status == 500:
        assert "AuthApiError" in errors[0]["exception"]


async def test_a_write_missing_an_account_is_an_invalid_token_and_any_other_missing_key_not_found(
    pg: asyncpg.Connection,
) -> None:
    """A foreign key violation naming Auth's users or profiles means the caller's account is gone
    (its token outlived it); one naming anything else is the caller's 404, as before."""
    missing = f"'{uuid.uuid4()}'"
    user = await create_user(pg, f"fk-{uuid.uuid4().hex[:8]}")
    for sql, expected in (
        (f"insert into chat_sessions (user_id) values ({missing})", (401, "InvalidToken")),
        (f"insert into user_plans (user_id, plan_id) values ({missing}, 'free')", (401, "InvalidToken")),
        (f"insert into chat_sessions (user_id, role_id) values ('{user}', {missing})", (404, "NotFound")),
    ):
        with pytest.raises(asyncpg.ForeignKeyViolationError) as refused:
            await pg.execute(sql)
        error = database_error(refused.value)
        assert (error.status, error.code) == expected, sql
    for details, expected in (
        ('Key is not present in table "users".', (401, "InvalidToken")),
        ('Key is not present in table "chat_sessions".', (404, "NotFound")),
    ):
        error = rest_error(APIError({"code": "23503", "details": details, "message": "violates foreign key"}))
        assert (error.status, error.code) == expected
