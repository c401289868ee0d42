"""Storage verifies JWTs with the stack's one KeySet: with an ES256 signing key configured, a user's
ES256 access token works through storage3 and a token signed by a stranger's key is refused."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import jwt
import pytest
from storage3.exceptions import StorageApiError
from supabase import create_client

from core.jwt import generate_jwk
from tests.conftest import LocalStack, launch_stack, sign_up

ES256 = generate_jwk("ES256")
STRANGER = {**generate_jwk("ES256"), "kid": ES256["kid"]}  # same kid, another key


@pytest.fixture(scope="module")
def keyed(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    local = launch_stack(stack.dsn, tmp_path_factory, SUPABASE_JWT_KEYS=json.dumps([ES256]))
    try:
        yield local
    finally:
        local.stop()


def test_es256_tokens_work_and_forged_ones_are_refused(keyed: LocalStack) -> None:
    user = sign_up(keyed)
    assert jwt.get_unverified_header(user.access_token)["alg"] == "ES256"
    client = create_client(keyed.url, keyed.anon_key)
    client.auth.sign_in_with_password({"email": user.email, "password": user.password})
    files = client.storage.from_("attachments")
    files.upload(f"{user.id}/k.txt", b"keyed", {"content-type": "text/plain"})
    assert files.download(f"{user.id}/k.txt") == b"keyed"
    now = int(time.time())
    claims = {"sub": user.id, "role": "authenticated", "aud": "authenticated", "iat": now, "exp": now + 600}
    forged = jwt.encode(claims, jwt.PyJWK(STRANGER).key, algorithm="ES256", headers={"kid": STRANGER["kid"]})
    response = httpx.post(
        f"{keyed.url}/storage/v1/object/list/attachments",
        json={"prefix": user.id},
        headers={"apikey": keyed.anon_key, "Authorization": f"Bearer {forged}"},
    )
    body = response.json()
    assert (response.status_code, body["statusCode"], body["code"]) == (400, "403", "AccessDenied")
    with pytest.raises(StorageApiError):
        create_client(keyed.url, keyed.anon_key).storage.from_("attachments").download(f"{user.id}/k.txt")
