"""Refresh-token rotation, retries, reuse detection and sign-out, through supabase-py."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
from pathlib import Path

import httpx
import jwt
import pytest
from supabase import Client
from supabase_auth.errors import AuthApiError

from tests.conftest import LocalStack
from tests.localbase.auth.conftest import async_client, client, new_email

HEADERS = {"X-Supabase-Api-Version": "2024-01-01"}


def _refresh(stack: LocalStack, token: str) -> httpx.Response:
    return httpx.post(
        f"{stack.url}/auth/v1/token",
        params={"grant_type": "refresh_token"},
        headers={**HEADERS, "apikey": stack.anon_key},
        json={"refresh_token": token},
    )


def _signed_in(stack: LocalStack) -> Client:
    anon = client(stack)
    anon.auth.sign_up({"email": new_email(), "password": "password123"})
    return anon


def test_refresh_rotates_the_token_in_the_same_session(stack: LocalStack) -> None:
    anon = _signed_in(stack)
    first = anon.auth.get_session()
    assert first is not None
    second = anon.auth.refresh_session().session
    assert second is not None
    assert second.refresh_token != first.refresh_token
    first_claims = jwt.decode(first.access_token, stack.jwt_secret, algorithms=["HS256"], audience="authenticated")
    second_claims = jwt.decode(second.access_token, stack.jwt_secret, algorithms=["HS256"], audience="authenticated")
    assert second_claims["session_id"] == first_claims["session_id"]
    assert anon.auth.get_user(second.access_token) is not None


def test_retrying_the_parent_returns_the_active_token(stack: LocalStack) -> None:
    anon = _signed_in(stack)
    parent = anon.auth.get_session()
    assert parent is not None
    child = _refresh(stack, parent.refresh_token).json()["refresh_token"]
    again = _refresh(stack, parent.refresh_token)
    assert again.status_code == 200
    assert again.json()["refresh_token"] == child


def test_older_token_within_the_reuse_window_gets_a_new_child(stack: LocalStack) -> None:
    anon = _signed_in(stack)
    t0 = anon.auth.get_session()
    assert t0 is not None
    t1 = _refresh(stack, t0.refresh_token).json()["refresh_token"]
    t2 = _refresh(stack, t1).json()["refresh_token"]
    replay = _refresh(stack, t0.refresh_token)
    assert replay.status_code == 200  # GoTrue's 10 s reuse interval covers concurrent tabs
    assert replay.json()["refresh_token"] not in (t0.refresh_token, t1, t2)


def test_reused_token_revokes_the_whole_family(confirming_stack: LocalStack) -> None:
    """With no reuse window, replaying a token two rotations old is theft: everything is revoked."""
    admin = client(confirming_stack, confirming_stack.service_role_key)
    email = new_email()
    admin.auth.admin.create_user({"email": email, "password": "password123", "email_confirm": True})
    anon = client(confirming_stack)
    t0 = anon.auth.sign_in_with_password({"email": email, "password": "password123"}).session
    assert t0 is not None
    t1 = _refresh(confirming_stack, t0.refresh_token).json()["refresh_token"]
    t2 = _refresh(confirming_stack, t1).json()["refresh_token"]
    replay = _refresh(confirming_stack, t0.refresh_token)
    assert (replay.status_code, replay.json()["code"]) == (400, "refresh_token_already_used")
    current = _refresh(confirming_stack, t2)
    assert (current.status_code, current.json()["code"]) == (400, "refresh_token_already_used")
    with pytest.raises(AuthApiError) as caught:
        client(confirming_stack).auth.refresh_session(t2)
    # GoTrue's code, missing from supabase-auth's ErrorCode Literal.
    assert caught.value.code == "refresh_token_already_used"  # type: ignore[comparison-overlap]
    log = Path(confirming_stack.env["LOCALBASE_LOG"]).read_text(encoding="utf-8")
    assert '"event": "auth.refresh_token_reuse"' in log
    assert t0.refresh_token not in log


async def test_concurrent_refreshes_of_one_token_agree(stack: LocalStack) -> None:
    anon = await async_client(stack)
    session = (await anon.auth.sign_up({"email": new_email(), "password": "password123"})).session
    assert session is not None
    async with httpx.AsyncClient() as http:
        replies = await asyncio.gather(
            *(
                http.post(
                    f"{stack.url}/auth/v1/token?grant_type=refresh_token",
                    headers={**HEADERS, "apikey": stack.anon_key},
                    json={"refresh_token": session.refresh_token},
                )
                for _ in range(5)
            )
        )
    assert [reply.status_code for reply in replies] == [200] * 5
    assert len({reply.json()["refresh_token"] for reply in replies}) == 1  # one child, handed to every retry


def _v2_token(session_id: bytes, counter: int = 1) -> str:
    """A refresh token in GoTrue's signed format (crypto.RefreshToken.Encode), its signature made up."""
    body = bytes([0]) + session_id + bytes([counter]) + bytes(16)
    return base64.urlsafe_b64encode(body + hashlib.sha256(body).digest()[:4]).decode().rstrip("=")


def test_unknown_and_malformed_refresh_tokens(stack: LocalStack) -> None:
    """As GoTrue's RefreshTokenGrantParams.Validate: a token of neither of its shapes (12 characters
    of [a-z0-9], or its signed format) is 400 validation_failed before anything is looked up; one of
    those shapes that no session holds is 400 refresh_token_not_found."""
    for unknown_token in ("abcdefghijk2", _v2_token(bytes(range(16)))):
        unknown = _refresh(stack, unknown_token)
        assert (unknown.status_code, unknown.json()) == (
            400,
            {"code": "refresh_token_not_found", "message": "Invalid Refresh Token: Refresh Token Not Found"},
        ), unknown_token
    signed = _v2_token(bytes(range(16)))
    malformed = (
        "",
        "abc",
        "no-such-token",
        "ABCDEFGHIJKL",
        "abcdefghij-k",
        "abcdefghijklmnop",
        signed[:-1] + ("A" if signed[-1] != "A" else "B"),  # checksum off
        "B" + signed[1:],  # not version 0
        signed + "AAAA",
    )
    for token in malformed:
        answer = _refresh(stack, token)
        assert (answer.status_code, answer.json()) == (
            400,
            {"code": "validation_failed", "message": "Refresh token is not valid"},
        ), token
    with pytest.raises(AuthApiError) as caught:
        client(stack).auth.refresh_session("abcdefghijklmnop")
    assert (caught.value.status, caught.value.code) == (400, "validation_failed")


def test_refresh_tokens_have_gotrue_s_shape(stack: LocalStack) -> None:
    """GoTrue's tokens (crypto.SecureAlphanumeric(12)): 12 characters of lowercase base32."""
    anon = _signed_in(stack)
    session = anon.auth.get_session()
    assert session is not None
    refreshed = anon.auth.refresh_session().session
    assert refreshed is not None
    for token in (session.refresh_token, refreshed.refresh_token):
        assert re.fullmatch(r"[a-z2-7]{12}", token), token


def test_global_sign_out_refuses_the_old_access_token(stack: LocalStack) -> None:
    anon = _signed_in(stack)
    session = anon.auth.get_session()
    assert session is not None
    anon.auth.sign_out()
    with pytest.raises(AuthApiError) as caught:
        client(stack).auth.get_user(session.access_token)
    assert (caught.value.status, caught.value.code) == (403, "session_not_found")
    refreshed = _refresh(stack, session.refresh_token)
    assert refreshed.json()["code"] == "refresh_token_not_found"


def test_local_sign_out_ends_only_this_session(stack: LocalStack) -> None:
    email = new_email()
    first = client(stack)
    first.auth.sign_up({"email": email, "password": "password123"})
    second = client(stack)
    second.auth.sign_in_with_password({"email": email, "password": "password123"})
    first_token = first.auth.get_session().access_token  # type: ignore[union-attr]
    second_token = second.auth.get_session().access_token  # type: ignore[union-attr]
    first.auth.sign_out({"scope": "local"})
    with pytest.raises(AuthApiError):
        client(stack).auth.get_user(first_token)
    assert client(stack).auth.get_user(second_token) is not None


def test_unknown_logout_scope_is_refused(stack: LocalStack) -> None:
    anon = _signed_in(stack)
    token = anon.auth.get_session().access_token  # type: ignore[union-attr]
    reply = httpx.post(
        f"{stack.url}/auth/v1/logout?scope=everyone",
        headers={**HEADERS, "apikey": stack.anon_key, "Authorization": f"Bearer {token}"},
    )
    assert (reply.status_code, reply.json()["code"]) == (400, "validation_failed")
