"""Anonymous sign-ins, guest limits, converting a guest, and reauthentication (issue 12, item 11),
through supabase-py and supabase-js against the local stack (guests on, as the product sets it)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import jwt
import pytest
from postgrest.exceptions import APIError
from supabase import Client
from supabase_auth.errors import AuthApiError

from tests.conftest import LocalStack, launch_stack, rows_of
from tests.localbase.auth.conftest import client, mail_dir, new_email
from tests.localbase.auth.js import run_js

PASSWORD = "Password123"


@pytest.fixture(scope="module")
def hardened(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """A project with guests off and secure password change on."""
    local = launch_stack(
        stack.dsn,
        tmp_path_factory,
        LOCALBASE_ANONYMOUS_SIGN_INS="false",
        LOCALBASE_SECURE_PASSWORD_CHANGE="true",
    )
    try:
        yield local
    finally:
        local.stop()


def _claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def _mail(stack: LocalStack, email: str, kind: str) -> dict[str, Any]:
    """The newest `kind` mail to `email` (written before the request that sent it answered)."""
    found: list[dict[str, Any]] = [
        json.loads(p.read_text()) for p in sorted(Path(mail_dir(stack)).glob(f"*-{kind}-*.json"))
    ]
    matching = [mail for mail in found if mail["to"] == email]
    assert matching, f"no {kind} mail to {email}"
    return matching[-1]


def _guest(stack: LocalStack) -> Client:
    guest = client(stack)
    guest.auth.sign_in_anonymously()
    return guest


def test_supabase_py_signs_in_a_guest(stack: LocalStack) -> None:
    guest = client(stack)
    response = guest.auth.sign_in_anonymously({"options": {"data": {"theme": "dark", "n": [1, 2]}}})
    assert response.user is not None
    assert response.session is not None
    user = response.user
    assert user.is_anonymous is True
    assert (user.email, user.phone, user.role, user.aud) == ("", "", "authenticated", "authenticated")
    assert user.identities == []
    assert user.app_metadata == {}
    assert user.user_metadata == {"theme": "dark", "n": [1, 2]}  # exactly as sent
    claims = _claims(response.session.access_token)
    assert claims["is_anonymous"] is True
    assert claims["role"] == "authenticated"
    assert [a["method"] for a in claims["amr"]] == ["anonymous"]
    assert claims["sub"] == user.id
    # The guest is a real user with a profile that RLS lets them (and only them) read.
    rows = rows_of(guest.table("profiles").select("id,username").execute().data)
    assert [row["id"] for row in rows] == [user.id]
    refreshed = guest.auth.refresh_session()
    assert refreshed.session is not None
    assert _claims(refreshed.session.access_token)["is_anonymous"] is True


def test_supabase_js_signs_in_a_guest(stack: LocalStack) -> None:
    out = run_js(
        """
        const sb = client();
        const { data, error } = await sb.auth.signInAnonymously({ options: { data: { from: 'js' } } });
        const me = await sb.auth.getUser();
        const claims = await sb.auth.getClaims();
        return { error, user: data.user, session: !!data.session, me: me.data.user,
                 claim: claims.data && claims.data.claims.is_anonymous };
        """,
        url=stack.url,
        anonKey=stack.anon_key,
    )
    assert out["error"] is None
    assert out["session"] is True
    assert out["user"]["is_anonymous"] is True
    assert out["user"]["user_metadata"] == {"from": "js"}
    assert out["me"]["id"] == out["user"]["id"]
    assert out["me"]["is_anonymous"] is True
    assert out["claim"] is True


def test_guests_are_refused_when_the_project_turns_them_off(hardened: LocalStack, stack: LocalStack) -> None:
    with pytest.raises(AuthApiError) as caught:
        client(hardened).auth.sign_in_anonymously()
    assert (caught.value.status, caught.value.code) == (422, "anonymous_provider_disabled")
    assert caught.value.message == "Anonymous sign-ins are disabled"
    out = run_js(
        "const r = await client().auth.signInAnonymously(); return { status: r.error.status, code: r.error.code };",
        url=hardened.url,
        anonKey=hardened.anon_key,
    )
    assert out == {"status": 422, "code": "anonymous_provider_disabled"}
    settings = {s.url: client(s).auth._request("GET", "settings").json() for s in (hardened, stack)}
    assert settings[hardened.url]["external"]["anonymous_users"] is False
    assert settings[stack.url]["external"]["anonymous_users"] is True


async def test_guest_limits_are_enforced_by_the_database(stack: LocalStack) -> None:
    guest = _guest(stack)
    session = rows_of(guest.table("chat_sessions").insert({"title": "try"}).execute().data)[0]
    assert guest.rpc("guest_messages_left").execute().data == 20
    rows = [{"session_id": session["id"], "content": f"q{i}"} for i in range(20)]
    guest.table("chat_messages").insert(rows).execute()
    assert guest.rpc("guest_messages_left").execute().data == 0
    with pytest.raises(APIError) as caught:
        guest.table("chat_messages").insert({"session_id": session["id"], "content": "one more"}).execute()
    assert caught.value.code == "42501"
    with pytest.raises(APIError) as role:
        guest.table("ai_roles").insert({"slug": f"g{uuid.uuid4().hex[:8]}", "name": "mine", "system_prompt": "x",
                                        "created_by": guest.auth.get_user().user.id}).execute()  # type: ignore[union-attr]  # fmt: skip
    assert role.value.code == "42501"
    # A signed-up user has no guest limit.
    member = client(stack)
    member.auth.sign_up({"email": new_email(), "password": PASSWORD})
    assert member.rpc("guest_messages_left").execute().data is None
    conn = await asyncpg.connect(stack.dsn)
    try:
        stored = await conn.fetchval(
            "select count(*) from chat_messages where session_id = $1", uuid.UUID(session["id"])
        )
    finally:
        await conn.close()
    assert stored == 20


def test_converting_a_guest_keeps_their_id_and_conversations(stack: LocalStack) -> None:
    guest = _guest(stack)
    guest_id = guest.auth.get_user().user.id  # type: ignore[union-attr]
    session = rows_of(guest.table("chat_sessions").insert({"title": "before sign-up"}).execute().data)[0]
    for _ in range(20):
        guest.table("chat_messages").insert({"session_id": session["id"], "content": "hi"}).execute()
    with pytest.raises(AuthApiError) as caught:  # a password alone cannot make a guest permanent
        guest.auth.update_user({"password": PASSWORD})
    assert (caught.value.status, caught.value.code) == (422, "validation_failed")
    assert caught.value.message == "Updating password of an anonymous user without an email or phone is not allowed"
    email = new_email()
    updated = guest.auth.update_user({"email": email, "password": PASSWORD})
    user = updated.user
    assert user is not None
    assert (user.id, user.email, user.is_anonymous) == (guest_id, email, False)
    assert user.email_confirmed_at is not None
    assert [i.provider for i in user.identities or []] == ["email"]
    assert user.app_metadata == {"provider": "email", "providers": ["email"]}
    refreshed = guest.auth.refresh_session()
    assert refreshed.session is not None
    assert _claims(refreshed.session.access_token)["is_anonymous"] is False
    # No guest limit now, and the conversation is theirs under the same id.
    guest.table("chat_messages").insert({"session_id": session["id"], "content": "21st"}).execute()
    again = client(stack)
    signed_in = again.auth.sign_in_with_password({"email": email, "password": PASSWORD})
    assert signed_in.user is not None
    assert signed_in.user.id == guest_id
    titles = [row["title"] for row in rows_of(again.table("chat_sessions").select("title").execute().data)]
    assert titles == ["before sign-up"]


def test_converting_a_guest_with_email_confirmation_through_supabase_js(confirming_stack: LocalStack) -> None:
    email = new_email()
    out = run_js(
        """
        const sb = client();
        const guest = await sb.auth.signInAnonymously();
        const asked = await sb.auth.updateUser({ email: input.email });
        return { id: guest.data.user.id, asked: asked.data.user, error: asked.error };
        """,
        url=confirming_stack.url,
        anonKey=confirming_stack.anon_key,
        email=email,
    )
    assert out["error"] is None
    assert out["asked"]["is_anonymous"] is True  # still a guest until the address is confirmed
    assert out["asked"]["new_email"] == email
    assert out["asked"]["email"] == ""
    mail = _mail(confirming_stack, email, "email_change")
    done = run_js(
        """
        const sb = client();
        const { data, error } = await sb.auth.verifyOtp({ token_hash: input.hash, type: 'email_change' });
        return { error, user: data.user, claims: data.session && JSON.parse(
          Buffer.from(data.session.access_token.split('.')[1], 'base64url').toString()) };
        """,
        url=confirming_stack.url,
        anonKey=confirming_stack.anon_key,
        hash=mail["token_hash"],
    )
    assert done["error"] is None
    assert done["user"]["id"] == out["id"]
    assert done["user"]["email"] == email
    assert done["user"]["is_anonymous"] is False
    assert [i["provider"] for i in done["user"]["identities"]] == ["email"]
    assert done["claims"]["is_anonymous"] is False


async def test_reauthenticate_gates_a_password_change(hardened: LocalStack) -> None:
    email = new_email()
    member = client(hardened)
    member.auth.sign_up({"email": email, "password": PASSWORD})
    # A fresh session (under 24 h) changes the password without a code.
    member.auth.update_user({"password": "Password1234"})
    conn = await asyncpg.connect(hardened.dsn)
    try:
        user_id = uuid.UUID(member.auth.get_user().user.id)  # type: ignore[union-attr]
        await conn.execute(
            "update auth.sessions set created_at = now() - interval '2 days' where user_id = $1", user_id
        )
    finally:
        await conn.close()
    with pytest.raises(AuthApiError) as needed:
        member.auth.update_user({"password": "Password12345"})
    assert (needed.value.status, needed.value.code) == (400, "reauthentication_needed")
    assert needed.value.message == "Password update requires reauthentication"
    assert member.auth.reauthenticate().user is None  # 200 {} : nothing but the mail
    code = _mail(hardened, email, "reauthentication")["otp"]
    with pytest.raises(AuthApiError) as wrong:
        member.auth.update_user({"password": "Password12345", "nonce": "000000" if code != "000000" else "111111"})
    assert (wrong.value.status, wrong.value.code) == (422, "reauthentication_not_valid")
    assert wrong.value.message == "Nonce has expired or is invalid"
    member.auth.update_user({"password": "Password12345", "nonce": code})
    with pytest.raises(AuthApiError) as reused:
        member.auth.update_user({"password": "Password123456", "nonce": code})
    assert reused.value.code == "reauthentication_not_valid"
    assert client(hardened).auth.sign_in_with_password({"email": email, "password": "Password12345"}).user is not None


def test_reauthenticate_needs_an_address_and_a_session(stack: LocalStack) -> None:
    guest = _guest(stack)
    with pytest.raises(AuthApiError) as caught:
        guest.auth.reauthenticate()
    assert (caught.value.status, caught.value.code) == (400, "validation_failed")
    assert caught.value.message == "Reauthentication requires the user to have an email or a phone number"
    out = run_js(
        """
        const sb = client();
        const r = await sb.auth.reauthenticate();
        const raw = await fetch(input.url + '/auth/v1/reauthenticate', { headers: { apikey: input.anonKey,
          'X-Supabase-Api-Version': '2024-01-01' } });
        return { name: r.error && r.error.name, status: raw.status, body: await raw.json() };
        """,
        url=stack.url,
        anonKey=stack.anon_key,
    )
    assert out["name"] == "AuthSessionMissingError"
    # The anon key stands in as the bearer, as supabase-js sends it: no user in it, so GoTrue's 403.
    assert out["status"] == 403
    assert out["body"] == {"code": "bad_jwt", "message": "invalid claim: missing sub claim"}
