"""Asymmetric JWT signing keys (issue 12, item 12): a gateway configured with an ES256 signing key
and an older RS256 key kept for verification, as a project after a key rotation.

Checked through the real clients: the JWKS that supabase-js fetches, `kid` in the header, tokens
that REST, Realtime and Auth accept, HS256 demo keys still accepted, forgeries and algorithm
confusion refused, and supabase-js `getClaims()` verifying locally without calling /user.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import asyncpg
import httpx
import jwt
import pytest
from realtime import AsyncRealtimeClient, RealtimeSubscribeStates

from core.jwt import generate_jwk
from tests.conftest import LocalStack, channel_options, launch_stack, rows_of
from tests.localbase.auth.conftest import client, new_email
from tests.localbase.auth.js import run_js

ES256 = generate_jwk("ES256")
RS256_OLD = {**generate_jwk("RS256"), "key_ops": ["verify"]}  # rotated out: verifies, never signs
VERSIONED = {"X-Supabase-Api-Version": "2024-01-01"}


@pytest.fixture(scope="module")
def keyed(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    local = launch_stack(stack.dsn, tmp_path_factory, SUPABASE_JWT_KEYS=json.dumps([ES256, RS256_OLD]))
    try:
        yield local
    finally:
        local.stop()


def _sign_up(stack: LocalStack) -> tuple[str, str, str]:
    email = new_email()
    response = client(stack).auth.sign_up({"email": email, "password": "Password123"})
    assert response.session is not None
    assert response.user is not None
    return response.user.id, email, response.session.access_token


def _private(jwk_dict: dict[str, Any]) -> Any:
    return jwt.PyJWK(jwk_dict).key


def _claims(user_id: str) -> dict[str, Any]:
    now = int(time.time())
    return {"sub": user_id, "role": "authenticated", "aud": "authenticated", "iat": now, "exp": now + 600}


def test_jwks_publishes_only_public_keys(keyed: LocalStack, stack: LocalStack) -> None:
    body = httpx.get(f"{keyed.url}/auth/v1/.well-known/jwks.json", headers={"apikey": keyed.anon_key}).json()
    by_kid = {key["kid"]: key for key in body["keys"]}
    assert set(by_kid) == {ES256["kid"], RS256_OLD["kid"]}
    es, rs = by_kid[ES256["kid"]], by_kid[RS256_OLD["kid"]]
    assert {k: es[k] for k in ("kty", "crv", "x", "y", "alg", "use")} == {
        "kty": "EC", "crv": "P-256", "x": ES256["x"], "y": ES256["y"], "alg": "ES256", "use": "sig",
    }  # fmt: skip
    assert (rs["kty"], rs["n"], rs["e"], rs["alg"]) == ("RSA", RS256_OLD["n"], RS256_OLD["e"], "RS256")
    for key in body["keys"]:
        assert key["key_ops"] == ["verify"]
        assert not {"d", "p", "q", "dp", "dq", "qi", "k"} & set(key), "a private part was published"
    # The default stack signs with the shared secret only, which is never published.
    assert httpx.get(f"{stack.url}/auth/v1/.well-known/jwks.json").json() == {"keys": []}


def test_access_tokens_carry_the_kid_and_verify_with_the_published_key(keyed: LocalStack) -> None:
    user_id, _, token = _sign_up(keyed)
    header = jwt.get_unverified_header(token)
    assert (header["alg"], header["kid"], header["typ"]) == ("ES256", ES256["kid"], "JWT")
    jwks = httpx.get(f"{keyed.url}/auth/v1/.well-known/jwks.json").json()
    public = jwt.PyJWK(next(k for k in jwks["keys"] if k["kid"] == header["kid"])).key
    claims = jwt.decode(token, public, algorithms=["ES256"], audience="authenticated")
    assert claims["sub"] == user_id
    assert claims["iss"] == f"{keyed.url}/auth/v1"
    with pytest.raises(jwt.InvalidAlgorithmError):  # not an HS256 token: the secret cannot vouch for it
        jwt.decode(token, keyed.jwt_secret, algorithms=["HS256"], audience="authenticated")
    # The same user reaches Auth and REST with it through supabase-py; RLS sees the subject.
    signed_in = client(keyed)
    signed_in.auth.sign_in_with_password({"email": _email_of(keyed, user_id), "password": "Password123"})
    assert signed_in.auth.get_user().user.id == user_id  # type: ignore[union-attr]
    rows = rows_of(signed_in.table("profiles").select("id").execute().data)
    assert [row["id"] for row in rows] == [user_id]


def test_legacy_hs256_keys_still_work_next_to_the_signing_key(keyed: LocalStack) -> None:
    # The anon key is accepted as the anon role (which may not read chat data), a wrong one is not.
    wrong = jwt.encode({"role": "anon", "exp": int(time.time()) + 60}, "x" * 40, algorithm="HS256")
    codes = {}
    for name, key in (("anon", keyed.anon_key), ("wrong", wrong)):
        response = httpx.get(f"{keyed.url}/rest/v1/ai_roles?select=id", headers={"apikey": key, **VERSIONED})
        codes[name] = (response.status_code, response.json()["code"])
    assert codes == {"anon": (401, "42501"), "wrong": (401, "PGRST301")}
    users = client(keyed, keyed.service_role_key).auth.admin.list_users(per_page=1)
    assert len(users) == 1  # the HS256 service key is still an admin for Auth
    # An HS256 user token (no kid) from before the switch keeps working until it expires.
    user_id, _, _ = _sign_up(keyed)
    old = jwt.encode(_claims(user_id), keyed.jwt_secret, algorithm="HS256")
    response = httpx.get(f"{keyed.url}/rest/v1/profiles?select=id", headers={"apikey": keyed.anon_key,
                         "Authorization": f"Bearer {old}"})  # fmt: skip
    assert response.status_code == 200
    assert [r["id"] for r in response.json()] == [user_id]


def test_a_rotated_out_key_still_verifies(keyed: LocalStack) -> None:
    user_id, _, _ = _sign_up(keyed)
    old = jwt.encode(_claims(user_id), _private(RS256_OLD), algorithm="RS256", headers={"kid": RS256_OLD["kid"]})
    auth = httpx.get(f"{keyed.url}/auth/v1/user", headers={"apikey": keyed.anon_key, "Authorization": f"Bearer {old}"})
    assert auth.status_code == 200
    assert auth.json()["id"] == user_id
    rest = httpx.get(f"{keyed.url}/rest/v1/profiles?select=id", headers={"apikey": keyed.anon_key,
                     "Authorization": f"Bearer {old}"})  # fmt: skip
    assert [r["id"] for r in rest.json()] == [user_id]


@pytest.mark.parametrize("forgery", ["other_key_same_kid", "hs256_with_es_kid", "unknown_kid", "alg_none"])
def test_forged_tokens_are_refused_everywhere(keyed: LocalStack, forgery: str) -> None:
    user_id, _, _ = _sign_up(keyed)
    claims = _claims(user_id)
    if forgery == "other_key_same_kid":
        token = jwt.encode(claims, _private(generate_jwk("ES256")), algorithm="ES256", headers={"kid": ES256["kid"]})
    elif forgery == "hs256_with_es_kid":  # algorithm confusion: the kid selects ES256, HMAC is refused
        token = jwt.encode(claims, keyed.jwt_secret, algorithm="HS256", headers={"kid": ES256["kid"]})
    elif forgery == "unknown_kid":
        token = jwt.encode(claims, _private(generate_jwk("ES256")), algorithm="ES256", headers={"kid": "nope"})
    else:
        token = jwt.encode(claims, None, algorithm="none")  # type: ignore[arg-type]
    headers = {"apikey": keyed.anon_key, "Authorization": f"Bearer {token}", **VERSIONED}
    auth = httpx.get(f"{keyed.url}/auth/v1/user", headers=headers)
    assert (auth.status_code, auth.json()["code"]) == (403, "bad_jwt"), auth.text
    rest = httpx.get(f"{keyed.url}/rest/v1/profiles?select=id", headers=headers)
    assert (rest.status_code, rest.json()["code"]) == (401, "PGRST301"), rest.text


async def test_realtime_accepts_asymmetric_tokens_and_refuses_forgeries(keyed: LocalStack) -> None:
    user_id, _, token = _sign_up(keyed)
    conn = await asyncpg.connect(keyed.dsn)
    try:
        session_id = await conn.fetchval("insert into chat_sessions (user_id, title) values ($1, 't') returning id",
                                         uuid.UUID(user_id))  # fmt: skip
    finally:
        await conn.close()
    forged = jwt.encode(_claims(user_id), _private(generate_jwk("ES256")), algorithm="ES256",
                        headers={"kid": ES256["kid"]})  # fmt: skip
    outcomes = {}
    for name, bearer in (("real", token), ("forged", forged)):
        realtime = AsyncRealtimeClient(f"{keyed.url.replace('http', 'ws')}/realtime/v1", keyed.anon_key)
        try:
            await realtime.set_auth(bearer)
            states: list[Any] = []
            replied = asyncio.Event()

            def heard(state: Any, error: Any, out: list[Any] = states, done: asyncio.Event = replied) -> None:
                out.append((state, error))
                done.set()

            channel = realtime.channel(f"chat:{session_id}", channel_options(private=True))
            await channel.subscribe(heard)
            await asyncio.wait_for(replied.wait(), 10)
            outcomes[name] = states[0] if states else None
        finally:
            await realtime.close()
    assert outcomes["real"] is not None
    assert outcomes["real"][0] == RealtimeSubscribeStates.SUBSCRIBED
    assert outcomes["forged"] is not None
    assert outcomes["forged"][0] == RealtimeSubscribeStates.CHANNEL_ERROR
    assert "signature" in str(outcomes["forged"][1]).lower()


def test_supabase_js_get_claims_verifies_locally(keyed: LocalStack, stack: LocalStack) -> None:
    email = new_email()
    source = """
      const sb = client();
      const up = await sb.auth.signUp({ email: input.email, password: 'Password123' });
      if (up.error) throw up.error;
      calls.length = 0;
      const first = await sb.auth.getClaims();
      const second = await sb.auth.getClaims();
      const [h, p, sig] = up.data.session.access_token.split('.');
      const tampered = [h, p, (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1)].join('.');
      const bad = await sb.auth.getClaims(tampered);
      return { claims: first.data && first.data.claims, header: first.data && first.data.header,
               error: first.error, again: second.data && second.data.claims.sub, calls,
               bad: bad.error && { name: bad.error.name, message: bad.error.message } };
    """
    out = run_js(source, url=keyed.url, anonKey=keyed.anon_key, email=email)
    assert out["error"] is None
    assert out["header"]["alg"] == "ES256"
    assert out["header"]["kid"] == ES256["kid"]
    claims = out["claims"]
    assert claims["email"] == email
    assert claims["role"] == "authenticated"
    assert claims["aal"] == "aal1"
    assert claims["is_anonymous"] is False
    assert out["again"] == claims["sub"]
    # One JWKS fetch (then cached); never /user.
    assert out["calls"].count("GET /auth/v1/.well-known/jwks.json") == 1, out["calls"]
    assert "GET /auth/v1/user" not in out["calls"], out["calls"]
    assert out["bad"] is not None
    assert out["bad"]["message"] == "Invalid JWT signature"
    # On an HS256-only project supabase-js cannot verify locally and asks /user instead.
    plain = run_js(source, url=stack.url, anonKey=stack.anon_key, email=new_email())
    assert plain["error"] is None
    assert plain["header"]["alg"] == "HS256"
    assert "kid" not in plain["header"]
    assert "GET /auth/v1/user" in plain["calls"]


def _email_of(stack: LocalStack, user_id: str) -> str:
    users = client(stack, stack.service_role_key).auth.admin.get_user_by_id(user_id)
    return users.user.email or ""
