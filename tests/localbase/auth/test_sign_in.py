"""Password sign-in, /user and PUT /user through supabase-py."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import asyncpg
import httpx
import pytest
from supabase import Client
from supabase_auth.errors import AuthApiError

from tests.conftest import LocalStack
from tests.localbase.auth.conftest import async_client, client, new_email, new_username

PHONES_OFF = "Phone logins are disabled"
BOTH = "Only an email address or phone number should be provided on login."


def _signed_up(anon: Client, password: str = "password123") -> str:
    email = new_email()
    anon.auth.sign_up({"email": email, "password": password, "options": {"data": {"username": new_username()}}})
    return email


async def test_sign_in_stamps_last_sign_in_on_user_and_profile(anon: Client, pg: asyncpg.Connection) -> None:
    email = _signed_up(anon)
    before = await pg.fetchval("select last_sign_in_at from auth.users where email = $1", email)
    response = anon.auth.sign_in_with_password({"email": email, "password": "password123"})
    assert response.session is not None
    assert response.user is not None
    after = await pg.fetchrow(
        "select u.last_sign_in_at, p.last_login_at"
        " from auth.users u join public.profiles p using (id) where u.email = $1",
        email,
    )
    assert after["last_sign_in_at"] > before
    assert after["last_login_at"] == after["last_sign_in_at"]


@pytest.mark.parametrize("case", ["wrong password", "unknown email"])
def test_bad_credentials_are_invalid_credentials(anon: Client, case: str) -> None:
    email = _signed_up(anon) if case == "wrong password" else new_email()
    with pytest.raises(AuthApiError) as caught:
        anon.auth.sign_in_with_password({"email": email, "password": "wrong-password1"})
    assert (caught.value.status, caught.value.code) == (400, "invalid_credentials")
    assert caught.value.message == "Invalid login credentials"


@pytest.mark.parametrize(
    ("body", "status", "code", "message"),
    [
        ({"phone": "+8613800000000", "password": "password123"}, 422, "phone_provider_disabled", PHONES_OFF),
        (
            {"email": "a@example.com", "phone": "+8613800000000", "password": "password123"},
            400,
            "validation_failed",
            BOTH,
        ),
        ({"password": "password123"}, 400, "validation_failed", "missing email or phone"),
    ],
)
def test_password_sign_in_checks_its_fields_as_gotrue(
    stack: LocalStack, body: dict[str, str], status: int, code: str, message: str
) -> None:
    # GoTrue's ResourceOwnerPasswordGrant (internal/api/token.go).
    answer = httpx.post(
        f"{stack.url}/auth/v1/token?grant_type=password",
        json=body,
        headers={"apikey": stack.anon_key, "X-Supabase-Api-Version": "2024-01-01"},
    )
    assert (answer.status_code, answer.json()) == (status, {"code": code, "message": message})


def test_a_ban_is_named_before_the_password_is_checked(stack: LocalStack, anon: Client) -> None:
    # GoTrue finds the user, refuses a ban, and only then compares the password.
    admin = client(stack, stack.service_role_key)
    email = new_email()
    user = admin.auth.admin.create_user({"email": email, "password": "password123", "email_confirm": True}).user
    admin.auth.admin.update_user_by_id(user.id, {"ban_duration": "24h"})
    with pytest.raises(AuthApiError) as caught:
        anon.auth.sign_in_with_password({"email": email, "password": "wrong-password1"})
    assert (caught.value.status, caught.value.code, caught.value.message) == (400, "user_banned", "User is banned")


def test_failed_sign_in_is_logged_without_secrets(anon: Client, stack: LocalStack) -> None:
    email = _signed_up(anon)
    with pytest.raises(AuthApiError):
        anon.auth.sign_in_with_password({"email": email, "password": "secret-guess-42"})
    log = Path(stack.env["LOCALBASE_LOG"]).read_text(encoding="utf-8")
    assert '"event": "auth.signin_failed"' in log
    assert "secret-guess-42" not in log


async def test_access_token_carries_gotrue_claims_and_get_user_works(stack: LocalStack) -> None:
    anon = await async_client(stack)
    email = new_email()
    await anon.auth.sign_up({"email": email, "password": "password123"})
    session = (await anon.auth.sign_in_with_password({"email": email, "password": "password123"})).session
    assert session is not None
    claims = await anon.auth.get_claims(session.access_token)
    assert claims is not None
    # supabase-auth's JWTPayload names only some of GoTrue's claims (not aud, email, ...): read them as JSON.
    payload = cast(dict[str, Any], claims["claims"])
    assert {
        "iss",
        "sub",
        "aud",
        "iat",
        "exp",
        "email",
        "phone",
        "app_metadata",
        "user_metadata",
        "role",
        "aal",
        "amr",
        "session_id",
        "is_anonymous",
    } <= set(payload)
    assert payload["iss"] == f"{stack.url}/auth/v1"
    assert (payload["role"], payload["aud"], payload["aal"]) == ("authenticated", "authenticated", "aal1")
    assert payload["amr"][0]["method"] == "password"
    assert payload["exp"] - payload["iat"] == 3600


def test_update_user_merges_metadata_and_changes_password(stack: LocalStack) -> None:
    anon = client(stack)
    email = new_email()
    anon.auth.sign_up({"email": email, "password": "password123", "options": {"data": {"theme": "dark", "lang": "zh"}}})
    updated = anon.auth.update_user({"data": {"lang": "en", "theme": None, "avatar": "a.png"}})
    assert updated is not None
    metadata = updated.user.user_metadata
    assert (metadata.get("lang"), metadata.get("avatar"), "theme" in metadata) == ("en", "a.png", False)
    anon.auth.update_user({"password": "newpassword456"})
    with pytest.raises(AuthApiError) as caught:
        client(stack).auth.sign_in_with_password({"email": email, "password": "password123"})
    assert caught.value.code == "invalid_credentials"
    assert client(stack).auth.sign_in_with_password({"email": email, "password": "newpassword456"}).session


def test_same_password_is_refused(stack: LocalStack) -> None:
    anon = client(stack)
    anon.auth.sign_up({"email": new_email(), "password": "password123"})
    with pytest.raises(AuthApiError) as caught:
        anon.auth.update_user({"password": "password123"})
    assert (caught.value.status, caught.value.code) == (422, "same_password")


def test_a_user_cannot_set_their_app_metadata(stack: LocalStack) -> None:
    # GoTrue's UserUpdate: app_metadata from anyone but an admin role is 403 not_admin, and nothing
    # of the request is applied (the local gateway answered 200 and dropped it).
    member = client(stack)
    email = _signed_up(member)
    member.auth.sign_in_with_password({"email": email, "password": "password123"})
    session = member.auth.get_session()
    assert session is not None
    answer = httpx.put(
        f"{stack.url}/auth/v1/user",
        json={"app_metadata": {"role": "admin"}, "data": {"nickname": "x"}},
        headers={
            "apikey": stack.anon_key,
            "Authorization": f"Bearer {session.access_token}",
            "X-Supabase-Api-Version": "2024-01-01",
        },
    )
    assert (answer.status_code, answer.json()) == (
        403,
        {"code": "not_admin", "message": "Updating app_metadata requires admin privileges"},
    )
    user = member.auth.get_user()
    assert user is not None
    assert "role" not in user.user.app_metadata
    assert "nickname" not in user.user.user_metadata
