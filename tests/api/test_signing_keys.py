"""The API verifies asymmetric access tokens (issue 12, item 12): with the project's JWKs
configured it accepts the ES256 tokens Auth mints, the legacy HS256 tokens, and refuses forgeries."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest

from core.jwt import generate_jwk
from tests.api.conftest import ApiProcess, start_api
from tests.conftest import LocalStack, launch_stack

ES256 = generate_jwk("ES256")


@pytest.fixture(scope="module")
def keyed(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalStack, ApiProcess]]:
    keys = json.dumps([ES256])
    gateway = launch_stack(stack.dsn, tmp_path_factory, SUPABASE_JWT_KEYS=keys)
    try:
        api = start_api(gateway, Path(tmp_path_factory.mktemp("api-keyed")) / "api.log", SUPABASE_JWT_KEYS=keys)
        try:
            yield gateway, api
        finally:
            api.stop()
    finally:
        gateway.stop()


def test_api_accepts_asymmetric_and_legacy_tokens_and_refuses_forgeries(keyed: tuple[LocalStack, ApiProcess]) -> None:
    gateway, api = keyed
    email = f"keys-{time.time_ns()}@example.com"
    signed = httpx.post(f"{gateway.url}/auth/v1/signup", headers={"apikey": gateway.anon_key},
                        json={"email": email, "password": "Password123"}).json()  # fmt: skip
    token, user_id = signed["access_token"], signed["user"]["id"]
    assert jwt.get_unverified_header(token)["kid"] == ES256["kid"]
    now = int(time.time())
    claims = {"sub": user_id, "role": "authenticated", "aud": "authenticated", "email": email, "exp": now + 600}
    legacy = jwt.encode(claims, gateway.jwt_secret, algorithm="HS256")
    forged = jwt.encode(claims, jwt.PyJWK(generate_jwk("ES256")).key, algorithm="ES256", headers={"kid": ES256["kid"]})
    seen = {}
    for name, bearer in (("es256", token), ("legacy", legacy), ("forged", forged)):
        response = httpx.get(f"{api.url}/api/auth/me", headers={"Authorization": f"Bearer {bearer}"}, timeout=20)
        body = response.json()
        seen[name] = (response.status_code, body["user"]["id"] if "user" in body else body["error"]["code"])
    assert seen == {"es256": (200, user_id), "legacy": (200, user_id), "forged": (401, "InvalidToken")}
