"""Register, login, refresh, logout and me through the API, with the seed's own example."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.api.conftest import ApiUser, error_of


async def test_seed_register_example_works_verbatim(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/api/auth/register", json={"username": "张三", "email": "zhangsan@example.com", "password": "password123"}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["success"] is True
    assert body["message"]
    uuid.UUID(body["user_id"])


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("username", "ab", "InvalidUsername"),
        ("username", "x" * 51, "InvalidUsername"),
        ("password", "short1", "WeakPassword"),
        ("password", "lettersonly", "WeakPassword"),
        ("password", "12345678", "WeakPassword"),
        ("email", "not-an-email", "InvalidEmail"),
    ],
)
async def test_register_rejects_bad_values_with_field_and_code(
    http: httpx.AsyncClient, field: str, value: str, code: str
) -> None:
    tag = uuid.uuid4().hex[:8]
    body = {"username": f"u_{tag}", "email": f"{tag}@example.com", "password": "password123", field: value}
    response = await http.post("/api/auth/register", json=body)
    assert response.status_code == 422
    assert error_of(response) | {"message": ""} == {"code": code, "field": field, "message": ""}


async def test_register_with_a_wrong_type_is_a_400_naming_the_field(http: httpx.AsyncClient) -> None:
    response = await http.post("/api/auth/register", json={"username": 5, "email": "a@example.com", "password": "x"})
    assert response.status_code == 400
    error = error_of(response)
    assert (error["code"], error["field"]) == ("ValidationError", "username")


async def test_taken_username_and_email_are_409(http: httpx.AsyncClient, alice: ApiUser) -> None:
    same_name = await http.post(
        "/api/auth/register",
        json={
            "username": alice.username.upper(),
            "email": f"{uuid.uuid4().hex[:8]}@example.com",
            "password": "password123",
        },
    )
    assert same_name.status_code == 409
    assert error_of(same_name)["code"] == "UsernameTaken"
    same_email = await http.post(
        "/api/auth/register",
        json={"username": f"n_{uuid.uuid4().hex[:8]}", "email": alice.email, "password": "password123"},
    )
    assert same_email.status_code == 409
    assert error_of(same_email)["code"] == "EmailTaken"


async def test_login_returns_tokens_and_the_user(http: httpx.AsyncClient, alice: ApiUser) -> None:
    response = await http.post("/api/auth/login", json={"email": alice.email, "password": alice.password})
    body = response.json()
    assert body["success"] is True
    assert body["access_token"].count(".") == 2
    assert body["refresh_token"]
    assert body["user"]["id"] == alice.id
    assert body["user"]["username"] == alice.username
    assert body["user"]["email"] == alice.email


async def test_wrong_password_is_401(http: httpx.AsyncClient, alice: ApiUser) -> None:
    response = await http.post("/api/auth/login", json={"email": alice.email, "password": "wrongpass123"})
    assert response.status_code == 401
    assert error_of(response)["code"] == "InvalidCredentials"


async def test_refresh_rotates_and_the_old_refresh_token_stops_working_later(
    http: httpx.AsyncClient, alice: ApiUser
) -> None:
    response = await http.post("/api/auth/refresh", json={"refresh_token": alice.refresh_token})
    assert response.status_code == 200, response.text
    fresh = response.json()
    assert fresh["refresh_token"] != alice.refresh_token
    me = await http.get("/api/auth/me", headers={"Authorization": f"Bearer {fresh['access_token']}"})
    assert me.json()["user"]["id"] == alice.id
    bogus = await http.post("/api/auth/refresh", json={"refresh_token": "not-a-token"})
    assert bogus.status_code == 401
    assert error_of(bogus)["code"] == "InvalidToken"


async def test_me_needs_a_token(http: httpx.AsyncClient) -> None:
    missing = await http.get("/api/auth/me")
    assert missing.status_code == 401
    assert error_of(missing)["code"] == "NotAuthenticated"
    forged = await http.get("/api/auth/me", headers={"Authorization": "Bearer a.b.c"})
    assert forged.status_code == 401
    assert error_of(forged)["code"] == "InvalidToken"


async def test_me_returns_the_profile(http: httpx.AsyncClient, alice: ApiUser) -> None:
    response = await http.get("/api/auth/me", headers=alice.headers)
    assert response.json()["user"] | {"created_at": None, "last_login_at": None} == {
        "id": alice.id,
        "email": alice.email,
        "username": alice.username,
        "avatar_url": None,
        "created_at": None,
        "last_login_at": None,
    }


async def test_logout_ends_the_session(http: httpx.AsyncClient, alice: ApiUser) -> None:
    response = await http.post("/api/auth/logout", headers=alice.headers)
    assert response.json() == {"success": True, "message": "Signed out"}
    refreshed = await http.post("/api/auth/refresh", json={"refresh_token": alice.refresh_token})
    assert refreshed.status_code == 401
