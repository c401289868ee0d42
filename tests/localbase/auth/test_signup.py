"""Sign-up through the unmodified supabase-py clients: sessions, profiles, and refusals."""

from __future__ import annotations

import asyncpg
import httpx
import pytest
from supabase import Client
from supabase_auth.errors import AuthApiError, AuthWeakPasswordError

from tests.conftest import LocalStack
from tests.localbase.auth.conftest import async_client, new_email, new_username


async def test_sign_up_returns_a_session_and_creates_the_profile(anon: Client, pg: asyncpg.Connection) -> None:
    email, username = new_email(), new_username()
    response = anon.auth.sign_up(
        {"email": email.upper(), "password": "password123", "options": {"data": {"username": username}}}
    )
    assert response.session is not None
    assert response.user is not None
    assert response.user.email == email  # stored lower-cased
    assert response.session.expires_at is not None
    assert response.user.user_metadata["username"] == username
    assert response.user.app_metadata == {"provider": "email", "providers": ["email"]}
    assert [identity.provider for identity in response.user.identities or []] == ["email"]
    profile = await pg.fetchrow("select username, email from public.profiles where id = $1", response.user.id)
    assert profile is not None
    assert dict(profile) == {"username": username, "email": email}
    stored = await pg.fetchval("select encrypted_password from auth.users where id = $1", response.user.id)
    assert stored.startswith("$2")
    assert "password123" not in stored


async def test_async_client_signs_up_too(stack: LocalStack) -> None:
    client = await async_client(stack)
    response = await client.auth.sign_up({"email": new_email(), "password": "password123"})
    assert response.session is not None
    user = await client.auth.get_user(response.session.access_token)
    assert user is not None
    assert response.user is not None
    assert user.user.id == response.user.id


def test_duplicate_email_is_user_already_exists(anon: Client) -> None:
    email = new_email()
    anon.auth.sign_up({"email": email, "password": "password123"})
    with pytest.raises(AuthApiError) as caught:
        anon.auth.sign_up({"email": email, "password": "password456"})
    assert (caught.value.status, caught.value.code) == (422, "user_already_exists")


@pytest.mark.parametrize(
    ("password", "reasons"),
    [
        ("abc1", ["length"]),
        ("onlyletters", ["characters"]),
        ("12345678", ["characters"]),
        ("ab", ["length", "characters"]),
    ],
)
def test_weak_passwords_are_refused_with_reasons(anon: Client, password: str, reasons: list[str]) -> None:
    with pytest.raises(AuthWeakPasswordError) as caught:
        anon.auth.sign_up({"email": new_email(), "password": password})
    assert caught.value.status == 422
    assert caught.value.code == "weak_password"
    assert caught.value.reasons == reasons


@pytest.mark.parametrize("email", ["not-an-email", "a@", "@example.com", "x' OR '1'='1@example.com", "a b@example.com"])
def test_bad_email_is_validation_failed(anon: Client, email: str) -> None:
    with pytest.raises(AuthApiError) as caught:
        anon.auth.sign_up({"email": email, "password": "password123"})
    assert (caught.value.status, caught.value.code) == (400, "validation_failed")
    assert "invalid format" in caught.value.message


async def test_sql_like_input_is_stored_verbatim(anon: Client, pg: asyncpg.Connection) -> None:
    email = f"o'brien-{new_username()}@example.com"
    password = "pw1'); drop table auth.users; --"
    response = anon.auth.sign_up({"email": email, "password": password})
    assert response.user is not None
    assert response.user.email == email
    assert anon.auth.sign_in_with_password({"email": email, "password": password}).session is not None
    assert await pg.fetchval("select count(*) from auth.users where email = $1", email) == 1


async def test_a_failing_trigger_fails_the_sign_up(anon: Client, pg: asyncpg.Connection) -> None:
    """As GoTrue: an error in a trigger on auth.users is a 500 with its message, and nothing is kept."""
    await pg.execute(
        """create function public.fail_on_purpose() returns trigger language plpgsql as $$
           begin
             if new.email like 'fail-on-purpose-%' then raise exception 'refused on purpose'; end if;
             return new;
           end $$;
           create trigger fail_on_purpose before insert on auth.users
             for each row execute function public.fail_on_purpose()"""
    )
    try:
        email = f"fail-on-purpose-{new_email()}"
        with pytest.raises(AuthApiError) as caught:
            anon.auth.sign_up({"email": email, "password": "password123"})
        assert (caught.value.status, caught.value.code) == (500, "unexpected_failure")
        assert caught.value.message == "Database error saving new user"
        assert await pg.fetchval("select count(*) from auth.users where email = $1", email) == 0
    finally:
        await pg.execute("drop trigger fail_on_purpose on auth.users; drop function public.fail_on_purpose()")


async def test_an_unusable_or_taken_username_gives_way_to_a_generated_one(anon: Client, pg: asyncpg.Connection) -> None:
    """The profile trigger never fails on what a caller sends (a 500 at the Auth door otherwise)."""
    username = new_username()
    anon.auth.sign_up({"email": new_email(), "password": "password123", "options": {"data": {"username": username}}})
    email = new_email()
    taken = anon.auth.sign_up(
        {"email": email, "password": "password123", "options": {"data": {"username": username.upper()}}}
    )
    assert taken.user is not None
    profile = await pg.fetchval("select username from profiles where id = $1", taken.user.id)
    assert profile == f"{email.split('@')[0][:20]}_{taken.user.id.replace('-', '')[:8]}"
    for unusable in ("ab", "a" * 51, "张" * 26):  # too short, too long, too wide
        guest = anon.auth.sign_in_anonymously({"options": {"data": {"username": unusable, "avatar_url": "x" * 2001}}})
        assert guest.user is not None
        assert guest.user.is_anonymous
        row = await pg.fetchrow("select username, avatar_url from profiles where id = $1", guest.user.id)
        assert row is not None
        assert row["avatar_url"] is None
        assert row["username"] == f"user_{guest.user.id.replace('-', '')[:8]}", unusable


PHONES_OFF = "Phone signups are disabled"


def test_phone_sign_ups_are_disabled(stack: LocalStack) -> None:
    # Anonymous sign-ups (no email, no phone) are on for the product: see test_anonymous.py.
    headers = {"apikey": stack.anon_key, "X-Supabase-Api-Version": "2024-01-01"}
    phone = httpx.post(
        f"{stack.url}/auth/v1/signup", headers=headers, json={"phone": "+8613800000000", "password": "password123"}
    )
    assert (phone.status_code, phone.json()["code"]) == (400, "phone_provider_disabled")


@pytest.mark.parametrize(
    ("body", "status", "code", "message"),
    [
        ({"email": "not-an-address"}, 400, "validation_failed", "Signup requires a valid password"),
        ({"phone": "+8613800000000"}, 400, "validation_failed", "Signup requires a valid password"),
        ({"phone": "+8613800000000", "password": "x"}, 422, "weak_password", None),
        (
            {"email": "both@example.com", "phone": "+8613800000000", "password": "password123"},
            400,
            "validation_failed",
            "Only an email address or phone number should be provided on signup.",
        ),
        ({"phone": "+8613800000000", "password": "password123"}, 400, "phone_provider_disabled", PHONES_OFF),
    ],
)
def test_sign_up_checks_its_fields_in_gotrues_order(
    stack: LocalStack, body: dict[str, str], status: int, code: str, message: str | None
) -> None:
    # GoTrue's Signup: the password (present, then strong enough), one address, then the provider.
    headers = {"apikey": stack.anon_key, "X-Supabase-Api-Version": "2024-01-01"}
    answer = httpx.post(f"{stack.url}/auth/v1/signup", headers=headers, json=body)
    assert (answer.status_code, answer.json()["code"]) == (status, code)
    if message is not None:
        assert answer.json()["message"] == message
