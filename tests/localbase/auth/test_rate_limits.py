"""Auth's per-IP rate limits, shaped as GoTrue's (internal/api/apilimiter.go, token.go, api.go).

Each limited door has a bucket of 30 per client IP refilled at its configured rate: every POST
/token (password sign-ins and refreshes together) at `token_refresh`, e-mail sign-ups and each of
/recover, /resend, /magiclink, /otp and PUT /user at `sign_in_sign_ups` (the CLI's
GOTRUE_RATE_LIMIT_OTP), /verify at `token_verifications`, guests at `anonymous_users` an hour
with a bucket of that many. A rate of 0 is not "off": a guest's bucket then holds none, and
`email_sent` 0 sends no mail at all, confirmations on or off (GoTrue's sendEmail).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from supabase_auth.errors import AuthApiError

from core.settings import LocalbaseSettings
from localbase.auth.errors import AuthError
from localbase.auth.ratelimits import AuthRateLimits
from tests.conftest import LocalStack
from tests.localbase.auth.conftest import client, new_email, second_gateway

PASSWORD = "password123"
VERSIONED = {"X-Supabase-Api-Version": "2024-01-01"}


@pytest.fixture
def limited(stack: LocalStack, tmp_path: Path) -> Iterator[LocalStack]:
    """A gateway of its own (its buckets full) whose rates refill nothing within a test."""
    settings = {
        "GOTRUE_RATE_LIMIT_OTP": "1",
        "GOTRUE_RATE_LIMIT_TOKEN_REFRESH": "1",
        "GOTRUE_RATE_LIMIT_VERIFY": "1",
        "GOTRUE_RATE_LIMIT_ANONYMOUS_USERS": "3",
        "GOTRUE_MFA_RATE_LIMIT_CHALLENGE_AND_VERIFY": "1",
    }
    yield from second_gateway(stack, tmp_path, settings)


def _code(answer: httpx.Response) -> tuple[int, str]:
    return answer.status_code, answer.json().get("code", "")


def test_each_door_has_a_bucket_of_30_and_sign_ins_share_the_refreshes(limited: LocalStack) -> None:
    base = f"{limited.url}/auth/v1"
    headers = {"apikey": limited.anon_key, **VERSIONED}
    with httpx.Client(base_url=base, headers=headers, trust_env=False, timeout=30) as http:
        emails = [new_email() for _ in range(30)]
        signed_up = [http.post("/signup", json={"email": e, "password": PASSWORD}) for e in emails]
        assert [answer.status_code for answer in signed_up] == [200] * 30
        over = http.post("/signup", json={"email": new_email(), "password": PASSWORD})
        assert _code(over) == (429, "over_request_rate_limit")
        assert over.json()["message"] == "Request rate limit reached"
        # The resets have a bucket of their own, and the guests theirs (3 an hour, a bucket of 3).
        assert http.post("/recover", json={"email": emails[0]}).status_code == 200
        guests = [http.post("/signup", json={}).status_code for _ in range(4)]
        assert guests == [200, 200, 200, 429]
        # Every POST /token takes from one bucket: 15 sign-ins and 15 refreshes, then neither.
        tokens = [answer.json()["refresh_token"] for answer in signed_up[:15]]
        for email in emails[:15]:
            grant = http.post("/token", params={"grant_type": "password"}, json={"email": email, "password": PASSWORD})
            assert grant.status_code == 200, grant.text
        for token in tokens:
            refreshed = http.post("/token", params={"grant_type": "refresh_token"}, json={"refresh_token": token})
            assert refreshed.status_code == 200, refreshed.text
    supabase = client(limited)
    with pytest.raises(AuthApiError) as refused:
        supabase.auth.sign_in_with_password({"email": emails[20], "password": PASSWORD})
    assert (refused.value.status, refused.value.code) == (429, "over_request_rate_limit")


def test_the_signed_in_doors_count_only_requests_that_pass_their_checks(limited: LocalStack) -> None:
    """GoTrue limits PUT /user after the session is checked, and a factor's challenge and verify
    after the caller's factor is found: 30 refused for that reason take nothing from the buckets."""
    anon = client(limited)
    session = anon.auth.sign_up({"email": new_email(), "password": PASSWORD}).session
    assert session is not None
    base = f"{limited.url}/auth/v1"
    signed_in = {"apikey": limited.anon_key, "Authorization": f"Bearer {session.access_token}", **VERSIONED}
    with httpx.Client(base_url=base, headers=signed_in, trust_env=False, timeout=30) as http:
        stranger = {"apikey": limited.anon_key, "Authorization": "Bearer not-a-jwt", **VERSIONED}
        refused = [http.put("/user", json={"data": {"n": 1}}, headers=stranger).status_code for _ in range(30)]
        assert refused == [403] * 30  # bad_jwt
        assert http.put("/user", json={"data": {"n": 2}}).status_code == 200
        factor = http.post("/factors", json={"factor_type": "totp"}).json()["id"]
        missing = "00000000-0000-4000-8000-000000000000"
        unknown = [http.post(f"/factors/{missing}/challenge").status_code for _ in range(30)]
        assert unknown == [404] * 30
        assert http.post(f"/factors/{factor}/challenge").status_code == 200


@pytest.fixture
def zero(stack: LocalStack, tmp_path: Path) -> Iterator[LocalStack]:
    settings = {"GOTRUE_RATE_LIMIT_ANONYMOUS_USERS": "0", "GOTRUE_RATE_LIMIT_EMAIL_SENT": "0"}
    yield from second_gateway(stack, tmp_path, settings)


def test_a_rate_of_zero_allows_nothing_as_in_gotrue(zero: LocalStack) -> None:
    """`email_sent` 0 is GoTrue's "no mail": a reset for a member is refused though confirmations
    are off; `anonymous_users` 0 is a guest bucket holding none."""
    anon = client(zero)
    email = new_email()
    anon.auth.sign_up({"email": email, "password": PASSWORD})  # confirmations off: no mail to send
    with pytest.raises(AuthApiError) as no_mail:
        anon.auth.reset_password_for_email(email)
    assert (no_mail.value.status, no_mail.value.code) == (429, "over_email_send_rate_limit")
    with pytest.raises(AuthApiError) as no_guest:
        client(zero).auth.sign_in_anonymously()
    assert (no_guest.value.status, no_guest.value.code) == (429, "over_request_rate_limit")


def _settings(**rates: float) -> LocalbaseSettings:
    settings = LocalbaseSettings()
    for name, rate in rates.items():
        object.__setattr__(settings, name, rate)
    return settings


def test_a_bucket_refills_at_its_rate_and_is_forgotten_after_its_hour() -> None:
    """x/time/rate as tollbooth keeps it: 30 at once, then one per (5 minutes / rate); the bucket is
    made again (full) an hour after it was made."""
    limits = AuthRateLimits(_settings(rate_token_refresh=150.0))  # one every 2 seconds
    for _ in range(30):
        limits.check("POST", "/token", "refresh_token", "10.0.0.1", now=1000.0)
    with pytest.raises(AuthError):
        limits.check("POST", "/token", "password", "10.0.0.1", now=1000.0)
    limits.check("POST", "/token", "refresh_token", "10.0.0.2", now=1000.0)  # another address
    limits.check("POST", "/token", "password", "10.0.0.1", now=1002.0)
    with pytest.raises(AuthError):
        limits.check("POST", "/token", "password", "10.0.0.1", now=1003.0)
    for _ in range(30):
        limits.check("POST", "/token", "password", "10.0.0.1", now=4600.0)
    zero = AuthRateLimits(_settings(rate_sign_in_sign_ups=0.0))
    for _ in range(30):
        zero.check("POST", "/recover", None, "10.0.0.1", now=0.0)
    with pytest.raises(AuthError):
        zero.check("POST", "/recover", None, "10.0.0.1", now=3599.0)  # 0 refills nothing
    zero.check("POST", "/resend", None, "10.0.0.1", now=0.0)  # a bucket of its own
