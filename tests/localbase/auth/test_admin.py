"""supabase-py `auth.admin` against the stack: users CRUD, cascades, and who may call it."""

from __future__ import annotations

import asyncpg
import httpx
import pytest
from supabase import Client
from supabase_auth.errors import AuthApiError

from tests.conftest import LocalStack
from tests.localbase.auth.conftest import client, new_email, new_username


async def test_admin_user_lifecycle(stack: LocalStack, service: Client, pg: asyncpg.Connection) -> None:
    email, username = new_email(), new_username()
    created = service.auth.admin.create_user(
        {
            "email": email,
            "password": "password123",
            "email_confirm": True,
            "user_metadata": {"username": username},
            "app_metadata": {"plan": "pro"},
        }
    ).user
    assert created.email == email
    assert created.email_confirmed_at is not None
    assert created.app_metadata == {"provider": "email", "providers": ["email"], "plan": "pro"}
    assert await pg.fetchval("select username from public.profiles where id = $1", created.id) == username

    fetched = service.auth.admin.get_user_by_id(created.id).user
    assert fetched.id == created.id
    listed = service.auth.admin.list_users(page=1, per_page=1000)
    assert created.id in {user.id for user in listed}

    updated = service.auth.admin.update_user_by_id(
        created.id, {"user_metadata": {"nickname": "Z"}, "app_metadata": {"plan": None}, "password": "another123"}
    ).user
    assert updated.user_metadata["nickname"] == "Z"
    assert updated.user_metadata["username"] == username
    assert "plan" not in updated.app_metadata
    assert client(stack).auth.sign_in_with_password({"email": email, "password": "another123"}).session

    service.auth.admin.delete_user(created.id)
    assert await pg.fetchval("select count(*) from auth.users where id = $1", created.id) == 0
    assert await pg.fetchval("select count(*) from public.profiles where id = $1", created.id) == 0
    with pytest.raises(AuthApiError) as caught:
        service.auth.admin.get_user_by_id(created.id)
    assert (caught.value.status, caught.value.code) == (404, "user_not_found")


def test_admin_create_defaults_to_unconfirmed_and_refuses_duplicates(service: Client, anon: Client) -> None:
    email = new_email()
    user = service.auth.admin.create_user({"email": email, "password": "password123"}).user
    assert user.email_confirmed_at is None
    with pytest.raises(AuthApiError) as unconfirmed:
        anon.auth.sign_in_with_password({"email": email, "password": "password123"})
    assert unconfirmed.value.code == "email_not_confirmed"
    with pytest.raises(AuthApiError) as duplicate:
        service.auth.admin.create_user({"email": email, "password": "password123"})
    assert (duplicate.value.status, duplicate.value.code) == (422, "email_exists")


def test_banned_user_cannot_sign_in(service: Client, anon: Client) -> None:
    email = new_email()
    user = service.auth.admin.create_user({"email": email, "password": "password123", "email_confirm": True}).user
    service.auth.admin.update_user_by_id(user.id, {"ban_duration": "24h"})
    with pytest.raises(AuthApiError) as caught:
        anon.auth.sign_in_with_password({"email": email, "password": "password123"})
    assert caught.value.code == "user_banned"
    service.auth.admin.update_user_by_id(user.id, {"ban_duration": "none"})
    session = anon.auth.sign_in_with_password({"email": email, "password": "password123"}).session
    assert session is not None
    service.auth.admin.update_user_by_id(user.id, {"ban_duration": "24h"})
    with pytest.raises(AuthApiError) as refused:  # GoTrue's token service words it so
        anon.auth.refresh_session(session.refresh_token)
    assert (refused.value.status, refused.value.code) == (400, "user_banned")
    assert refused.value.message == "Invalid Refresh Token: User Banned"


@pytest.mark.parametrize("duration", ["99999999999h", "2562048h", "1e3h", "24"])
def test_a_ban_duration_go_cannot_parse_is_a_400_as_gotrue(service: Client, duration: str) -> None:
    """GoTrue parses ban_duration with Go's time.ParseDuration, which refuses a duration past int64
    nanoseconds (about 292 years) as any malformed one: 400 validation_failed, never a 500."""
    email = new_email()
    user = service.auth.admin.create_user({"email": email, "password": "password123", "email_confirm": True}).user
    with pytest.raises(AuthApiError) as updating:
        service.auth.admin.update_user_by_id(user.id, {"ban_duration": duration})
    with pytest.raises(AuthApiError) as creating:
        service.auth.admin.create_user({"email": new_email(), "ban_duration": duration})
    for refused in (updating, creating):
        assert (refused.value.status, refused.value.code) == (400, "validation_failed")
        assert refused.value.message.startswith("invalid format for ban duration")
    banned = service.auth.admin.update_user_by_id(user.id, {"ban_duration": "2562047h"}).user  # Go's longest
    assert banned.banned_until is not None


def test_an_admin_password_reset_signs_the_user_out_everywhere(stack: LocalStack, service: Client) -> None:
    """GoTrue's admin update with a password runs UpdatePassword(tx, nil), which logs the user out:
    whoever held the compromised account's refresh token is out, and a metadata change alone is not."""
    email = new_email()
    user = service.auth.admin.create_user({"email": email, "password": "password123", "email_confirm": True}).user
    first, second = client(stack), client(stack)
    for device in (first, second):
        device.auth.sign_in_with_password({"email": email, "password": "password123"})
    service.auth.admin.update_user_by_id(user.id, {"user_metadata": {"nickname": "Z"}})
    assert first.auth.get_user() is not None  # no password, no sign-out

    service.auth.admin.update_user_by_id(user.id, {"password": "a-brand-new-password-1"})
    for device in (first, second):
        with pytest.raises(AuthApiError) as ended:
            device.auth.get_user()
        assert (ended.value.status, ended.value.code) == (403, "session_not_found")
        with pytest.raises(AuthApiError) as refused:
            device.auth.refresh_session()
        assert (refused.value.status, refused.value.code) == (400, "refresh_token_not_found")
    assert client(stack).auth.sign_in_with_password({"email": email, "password": "a-brand-new-password-1"}).session


def test_admin_routes_refuse_anon_key_and_user_tokens(stack: LocalStack, anon: Client) -> None:
    session = anon.auth.sign_up({"email": new_email(), "password": "password123"}).session
    assert session is not None
    for bearer in (stack.anon_key, session.access_token):
        with pytest.raises(AuthApiError) as caught:
            client(stack, bearer).auth.admin.list_users()
        assert (caught.value.status, caught.value.code) == (403, "not_admin")
    bare = httpx.get(f"{stack.url}/auth/v1/admin/users", headers={"X-Supabase-Api-Version": "2024-01-01"})
    assert (bare.status_code, bare.json()["code"]) == (401, "no_authorization")


def test_list_users_pages_with_total_count(stack: LocalStack, service: Client) -> None:
    for _ in range(2):
        service.auth.admin.create_user({"email": new_email()})
    reply = httpx.get(
        f"{stack.url}/auth/v1/admin/users",
        params={"page": 1, "per_page": 1},
        headers={"apikey": stack.service_role_key, "X-Supabase-Api-Version": "2024-01-01"},
    )
    assert reply.status_code == 200
    assert len(reply.json()["users"]) == 1
    assert reply.json()["aud"] == "authenticated"
    assert int(reply.headers["x-total-count"]) >= 2
    assert 'rel="next"' in reply.headers["link"]


def test_generate_link_then_verify_signs_in(stack: LocalStack, service: Client) -> None:
    email = new_email()
    service.auth.admin.create_user({"email": email, "password": "password123", "email_confirm": True})
    link = service.auth.admin.generate_link({"type": "magiclink", "email": email})
    assert link.properties.verification_type == "magiclink"
    verified = client(stack).auth.verify_otp({"type": "magiclink", "token_hash": link.properties.hashed_token})
    assert verified.session is not None
    assert verified.user is not None
    assert verified.user.email == email
    with pytest.raises(AuthApiError) as spent:
        client(stack).auth.verify_otp({"type": "magiclink", "token_hash": link.properties.hashed_token})
    assert (spent.value.status, spent.value.code) == (403, "otp_expired")


def test_invite_creates_an_invited_user(service: Client) -> None:
    user = service.auth.admin.invite_user_by_email(new_email(), {"data": {"username": new_username()}}).user
    assert user.invited_at is not None
    assert user.email_confirmed_at is None
