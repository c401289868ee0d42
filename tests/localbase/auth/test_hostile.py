"""Untrustworthy input: forged, expired and garbage JWTs, oversized bodies, the error contract."""

from __future__ import annotations

import base64
import json
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from supabase_auth.errors import AuthApiError

from tests.conftest import LocalStack
from tests.localbase.auth.conftest import client, new_email

V2024 = {"X-Supabase-Api-Version": "2024-01-01"}
TOKEN_OR_HASH = "Verify requires either a token or a token hash"
ONE_ADDRESS = "Only an email address or phone number should be provided on verify"
ONLY_HASH = "Only the token_hash and type should be provided"
ONE_ADDRESS_DOT = "Only an email address or phone number should be provided."
ONE_ADDRESS_OTP = "Only an email address or phone number should be provided"


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(sub: str) -> dict[str, object]:
    now = int(time.time())
    return {"sub": sub, "role": "authenticated", "aud": "authenticated", "iat": now, "exp": now + 3600}


def _get_user(stack: LocalStack, token: str) -> httpx.Response:
    return httpx.get(
        f"{stack.url}/auth/v1/user", headers={**V2024, "apikey": stack.anon_key, "Authorization": f"Bearer {token}"}
    )


@pytest.fixture
def user_id(stack: LocalStack) -> str:
    response = client(stack).auth.sign_up({"email": new_email(), "password": "password123"})
    assert response.user is not None
    return response.user.id


def test_forged_and_broken_tokens_are_bad_jwt(stack: LocalStack, user_id: str) -> None:
    forged = {
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims(user_id))}.",
        "wrong secret": jwt.encode(_claims(user_id), "another-secret-that-is-at-least-32-chars", algorithm="HS256"),
        "expired": jwt.encode({**_claims(user_id), "exp": int(time.time()) - 120}, stack.jwt_secret, algorithm="HS256"),
        "garbage": "not.a.jwt",
        "two parts": "abc.def",
    }
    for case, token in forged.items():
        reply = _get_user(stack, token)
        assert (reply.status_code, reply.json()["code"]) == (403, "bad_jwt"), case


def test_tokens_without_a_live_user_or_session_are_refused(stack: LocalStack, user_id: str) -> None:
    anon_key = _get_user(stack, stack.anon_key)
    assert (anon_key.status_code, anon_key.json()["code"]) == (403, "bad_jwt")
    ghost = jwt.encode(_claims(str(uuid.uuid4())), stack.jwt_secret, algorithm="HS256")
    assert _get_user(stack, ghost).json()["code"] == "user_not_found"
    no_session = jwt.encode({**_claims(user_id), "session_id": str(uuid.uuid4())}, stack.jwt_secret, algorithm="HS256")
    assert (_get_user(stack, no_session).status_code, _get_user(stack, no_session).json()["code"]) == (
        403,
        "session_not_found",
    )


def test_missing_bearer_is_no_authorization(stack: LocalStack) -> None:
    reply = httpx.get(f"{stack.url}/auth/v1/user", headers=V2024)
    assert (reply.status_code, reply.json()["code"]) == (401, "no_authorization")


def test_supabase_py_raises_auth_api_error_for_a_forged_token(stack: LocalStack, user_id: str) -> None:
    forged = jwt.encode(_claims(user_id), "another-secret-that-is-at-least-32-chars", algorithm="HS256")
    with pytest.raises(AuthApiError) as caught:
        client(stack).auth.get_user(forged)
    assert (caught.value.status, caught.value.code) == (403, "bad_jwt")


def test_error_body_follows_the_api_version_header(stack: LocalStack) -> None:
    body = {"email": new_email(), "password": "wrong-password1"}
    url = f"{stack.url}/auth/v1/token?grant_type=password"
    current = httpx.post(url, headers={**V2024, "apikey": stack.anon_key}, json=body)
    assert current.json() == {"code": "invalid_credentials", "message": "Invalid login credentials"}
    assert current.headers["x-supabase-api-version"] == "2024-01-01"
    legacy = httpx.post(url, headers={"apikey": stack.anon_key}, json=body)
    assert legacy.json() == {"code": 400, "error_code": "invalid_credentials", "msg": "Invalid login credentials"}
    assert legacy.headers["x-sb-error-code"] == "invalid_credentials"
    assert "x-supabase-api-version" not in legacy.headers


def test_oversized_and_malformed_bodies_are_clear_4xx(stack: LocalStack) -> None:
    headers = {**V2024, "apikey": stack.anon_key, "content-type": "application/json"}
    huge = b'{"email": "a@example.com", "password": "' + b"x" * 2_000_000 + b'"}'
    too_large = httpx.post(f"{stack.url}/auth/v1/signup", headers=headers, content=huge)
    assert (too_large.status_code, too_large.json()["code"]) == (413, "request_too_large")
    garbage = httpx.post(f"{stack.url}/auth/v1/signup", headers=headers, content=b"{not json")
    assert (garbage.status_code, garbage.json()["code"]) == (400, "bad_json")
    wrong_type = httpx.post(f"{stack.url}/auth/v1/signup", headers=headers, json={"email": 42, "password": "x"})
    assert (wrong_type.status_code, wrong_type.json()["code"]) == (400, "bad_json")
    long_password = httpx.post(
        f"{stack.url}/auth/v1/signup", headers=headers, json={"email": new_email(), "password": "a1" * 40}
    )
    assert (long_password.status_code, long_password.json()["code"]) == (422, "validation_failed")


@pytest.mark.parametrize("path", ["/signup", "/token?grant_type=password"])
def test_nul_characters_are_refused_not_a_server_error(stack: LocalStack, path: str) -> None:
    headers = {**V2024, "apikey": stack.anon_key}
    body = {"email": "nul\u0000@example.com", "password": "pass\u0000word1"}
    response = httpx.post(f"{stack.url}/auth/v1{path}", headers=headers, json=body)
    assert (response.status_code, response.json()["code"]) == (400, "validation_failed")


def test_unsupported_features_answer_gotrue_errors(stack: LocalStack) -> None:
    headers = {**V2024, "apikey": stack.anon_key}
    cases = {
        ("POST", "/sso"): (404, "saml_provider_disabled"),
        ("POST", "/factors"): (403, "bad_jwt"),  # a session is required before anything else
        ("GET", "/authorize?provider=google"): (400, "validation_failed"),
        ("POST", "/token?grant_type=pkce"): (404, "flow_state_not_found"),
        ("GET", "/no/such/route"): (404, "not_found"),
        ("POST", "/passkeys/authentication/options"): (404, "passkey_disabled"),
        ("POST", "/oauth/clients/register"): (404, "feature_disabled"),
        ("GET", "/user/identities/authorize?provider=github"): (403, "bad_jwt"),  # session first
    }
    for (method, path), expected in cases.items():
        reply = httpx.request(method, f"{stack.url}/auth/v1{path}", headers=headers, json={})
        assert (reply.status_code, reply.json()["code"]) == expected, path


def test_open_endpoints(stack: LocalStack) -> None:
    assert httpx.get(f"{stack.url}/auth/v1/health").json()["name"] == "GoTrue"
    assert httpx.get(f"{stack.url}/auth/v1/.well-known/jwks.json").json() == {"keys": []}
    settings = httpx.get(f"{stack.url}/auth/v1/settings", headers={"apikey": stack.anon_key}).json()
    assert settings["external"]["email"] is True
    assert settings["mailer_autoconfirm"] is True


def test_mail_endpoints_do_not_reveal_who_is_registered(stack: LocalStack) -> None:
    headers = {**V2024, "apikey": stack.anon_key}
    known = new_email()
    client(stack).auth.sign_up({"email": known, "password": "password123"})
    for email in (known, new_email()):
        reply = httpx.post(f"{stack.url}/auth/v1/recover", headers=headers, json={"email": email})
        assert (reply.status_code, reply.json()) == (200, {}), email
    # GoTrue's /otp with create_user false does tell an unknown address apart: 422 otp_disabled
    # (see test_admin_details.py); with create_user true it answers 200 either way.
    for email in (known, new_email()):
        reply = httpx.post(f"{stack.url}/auth/v1/otp", headers=headers, json={"email": email})
        assert (reply.status_code, reply.json()) == (200, {}), email


@pytest.mark.parametrize("grant", ["bogus", ""])
def test_an_unsupported_grant_is_refused_as_gotrue_refuses_it(stack: LocalStack, grant: str) -> None:
    # GoTrue's Token handler (internal/api/token.go): 400 invalid_credentials "unsupported_grant_type",
    # in the versioned shape and the old one, not an OAuth {"error"} body.
    url = f"{stack.url}/auth/v1/token?grant_type={grant}"
    body = {"email": new_email(), "password": "password123"}
    versioned = httpx.post(url, json=body, headers={**V2024, "apikey": stack.anon_key})
    assert versioned.status_code == 400
    assert versioned.json() == {"code": "invalid_credentials", "message": "unsupported_grant_type"}
    legacy = httpx.post(url, json=body, headers={"apikey": stack.anon_key})
    assert legacy.status_code == 400
    assert legacy.json() == {"code": 400, "error_code": "invalid_credentials", "msg": "unsupported_grant_type"}
    assert legacy.headers["x-sb-error-code"] == "invalid_credentials"


@pytest.mark.parametrize(
    ("body", "status", "code", "message"),
    [
        (
            {"token": "123456", "email": "a@example.com"},
            400,
            "validation_failed",
            "Verify requires a verification type",
        ),
        ({"type": "email", "email": "a@example.com"}, 400, "validation_failed", TOKEN_OR_HASH),
        ({"type": "email", "token": "123456", "token_hash": "abc"}, 400, "validation_failed", TOKEN_OR_HASH),
        ({"type": "email", "token": "123456"}, 400, "validation_failed", ONE_ADDRESS),
        (
            {"type": "email", "token": "1", "email": "a@example.com", "phone": "+15555550100"},
            400,
            "validation_failed",
            ONE_ADDRESS,
        ),
        ({"type": "email", "token_hash": "abc", "email": "a@example.com"}, 400, "validation_failed", ONLY_HASH),
        (
            {"type": "email", "token": "123456", "email": "not-an-address"},
            422,
            "validation_failed",
            "Invalid email format",
        ),
        ({"type": "bogus", "token_hash": "abc"}, 400, "validation_failed", "Invalid email verification type"),
        (
            {"type": "bogus", "token": "123456", "email": "a@example.com"},
            403,
            "otp_expired",
            "Token has expired or is invalid",
        ),
    ],
)
def test_verify_checks_its_fields_as_gotrue_does(
    stack: LocalStack, body: dict[str, str], status: int, code: str, message: str
) -> None:
    # GoTrue's VerifyParams.Validate and verifyTokenHash / verifyUserAndToken (internal/api/verify.go).
    answer = httpx.post(f"{stack.url}/auth/v1/verify", json=body, headers={**V2024, "apikey": stack.anon_key})
    assert (answer.status_code, answer.json()) == (status, {"code": code, "message": message})


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("recover", {}, "Password recovery requires an email"),
        ("resend", {"type": "signup"}, "Type provided requires an email address"),
        ("resend", {"type": "sms"}, "Type provided requires a phone number"),
        ("resend", {"type": "email_change"}, "Missing email address or phone number"),
        ("resend", {"type": "signup", "email": "a@example.com", "phone": "+15555550100"}, ONE_ADDRESS_DOT),
        ("otp", {}, "One of email or phone must be set"),
        ("otp", {"email": "a@example.com", "phone": "+15555550100"}, ONE_ADDRESS_OTP),
        ("otp", {"email": "a@example.com", "channel": "sms"}, "Channel should only be specified with Phone OTP"),
    ],
)
def test_mail_requests_check_their_fields_as_gotrue_does(
    stack: LocalStack, path: str, body: dict[str, str], message: str
) -> None:
    # GoTrue's RecoverParams, ResendConfirmationParams and OtpParams Validate (internal/api).
    answer = httpx.post(f"{stack.url}/auth/v1/{path}", json=body, headers={**V2024, "apikey": stack.anon_key})
    assert (answer.status_code, answer.json()) == (400, {"code": "validation_failed", "message": message})


def test_a_phone_otp_is_refused_as_gotrue_refuses_it_without_sms(stack: LocalStack) -> None:
    answer = httpx.post(
        f"{stack.url}/auth/v1/otp", json={"phone": "+15555550100"}, headers={**V2024, "apikey": stack.anon_key}
    )
    assert (answer.status_code, answer.json()) == (
        400,
        {"code": "phone_provider_disabled", "message": "Unsupported phone provider"},
    )


def test_a_banned_user_verifying_is_refused_403_as_gotrue(stack: LocalStack) -> None:
    # verifyUserAndToken and verifyTokenHash: the user is found, then a ban refuses 403 user_banned.
    admin = client(stack, stack.service_role_key)
    email = new_email()
    created = admin.auth.admin.create_user({"email": email, "password": "password123", "email_confirm": True})
    link = admin.auth.admin.generate_link({"type": "magiclink", "email": email})
    admin.auth.admin.update_user_by_id(created.user.id, {"ban_duration": "24h"})
    for body in (
        {"type": "magiclink", "token_hash": link.properties.hashed_token},
        {"type": "email", "email": email, "token": link.properties.email_otp},
        {"type": "email", "email": email, "token": "000000"},
    ):
        answer = httpx.post(f"{stack.url}/auth/v1/verify", json=body, headers={**V2024, "apikey": stack.anon_key})
        assert (answer.status_code, answer.json()) == (403, {"code": "user_banned", "message": "User is banned"})


def test_following_a_link_is_checked_as_gotrue_checks_it(stack: LocalStack) -> None:
    # GoTrue's GET /verify: a link without a type or a token is a 400 JSON error, not a redirect;
    # other refusals redirect with the OAuth error of their status (400 invalid_request, 403
    # access_denied), the error code and its description in the fragment.
    url = f"{stack.url}/auth/v1/verify"
    headers = {**V2024, "apikey": stack.anon_key}
    untyped = httpx.get(url, params={"token": "x"}, headers=headers)
    assert (untyped.status_code, untyped.json()) == (
        400,
        {"code": "validation_failed", "message": "Verify requires a verification type"},
    )
    tokenless = httpx.get(url, params={"type": "signup"}, headers=headers)
    assert (tokenless.status_code, tokenless.json()) == (
        400,
        {"code": "validation_failed", "message": "Verify requires a token or a token hash"},
    )
    for kind, error, code, description in (
        ("bogus", "invalid_request", "validation_failed", "Invalid email verification type"),
        ("signup", "access_denied", "otp_expired", "Email link is invalid or has expired"),
    ):
        followed = httpx.get(url, params={"type": kind, "token": "x"}, headers=headers)
        assert followed.status_code == 303
        fragment = parse_qs(urlsplit(followed.headers["location"]).fragment, keep_blank_values=True)
        assert fragment == {"error": [error], "error_code": [code], "error_description": [description], "sb": [""]}
