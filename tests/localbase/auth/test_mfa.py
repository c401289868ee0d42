"""MFA with TOTP factors (issue 12, item 10) through supabase-py and supabase-js: enrol, challenge,
verify to aal2, sign in again with the code, unenrol, admin listing and deletion, and GoTrue's
refusals (no session first, guests, other users' factors, disabled factor types)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pyotp
import pytest
from postgrest.exceptions import APIError
from supabase import Client
from supabase_auth.errors import AuthApiError

from tests.conftest import LocalStack, rows_of
from tests.localbase.auth.conftest import client, new_email, second_gateway
from tests.localbase.auth.js import run_js

PASSWORD = "Password123"
VERSIONED = {"X-Supabase-Api-Version": "2024-01-01"}


def _claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def _member(stack: LocalStack) -> tuple[Client, str]:
    email = new_email()
    member = client(stack)
    member.auth.sign_up({"email": email, "password": PASSWORD})
    return member, email


def _enrolled(member: Client, name: str = "phone app") -> tuple[str, str]:
    """Enrol and verify a TOTP factor; its id and secret."""
    enrolled = member.auth.mfa.enroll({"factor_type": "totp", "friendly_name": name})
    secret = enrolled.totp.secret  # type: ignore[union-attr]
    member.auth.mfa.challenge_and_verify({"factor_id": enrolled.id, "code": pyotp.TOTP(secret).now()})
    return enrolled.id, secret


def test_enrol_challenge_verify_through_supabase_py(stack: LocalStack) -> None:
    member, email = _member(stack)
    enrolled = member.auth.mfa.enroll({"factor_type": "totp", "friendly_name": "phone app", "issuer": "ChatGalaxy"})
    assert enrolled.type == "totp"
    assert enrolled.friendly_name == "phone app"
    totp = enrolled.totp
    assert totp is not None
    assert totp.qr_code.startswith('data:image/svg+xml;utf-8,<svg xmlns="http://www.w3.org/2000/svg"')  # GoTrue's SVG
    assert "#" not in totp.qr_code  # the client does not encode it: a "#" would cut the data URI short
    assert len(totp.secret) == 32
    assert totp.uri.startswith(f"otpauth://totp/ChatGalaxy:{email.replace('@', '%40')}?secret={totp.secret}")
    user = member.auth.get_user().user  # type: ignore[union-attr]
    assert [(f.id, f.status, f.factor_type, f.friendly_name) for f in user.factors or []] == [
        (enrolled.id, "unverified", "totp", "phone app")
    ]
    assert member.auth.mfa.list_factors().totp == []  # only verified factors count
    level = member.auth.mfa.get_authenticator_assurance_level()
    assert (level.current_level, level.next_level) == ("aal1", "aal1")

    challenge = member.auth.mfa.challenge({"factor_id": enrolled.id})
    assert challenge.factor_type == "totp"
    assert abs(challenge.expires_at - (time.time() + 300)) < 60
    wrong = f"{(int(pyotp.TOTP(totp.secret).now()) + 500_000) % 1_000_000:06d}"
    with pytest.raises(AuthApiError) as caught:
        member.auth.mfa.verify({"factor_id": enrolled.id, "challenge_id": challenge.id, "code": wrong})
    assert (caught.value.status, caught.value.code, caught.value.message) == (
        422, "mfa_verification_failed", "Invalid TOTP code entered"
    )  # fmt: skip
    code = pyotp.TOTP(totp.secret).now()
    verified = member.auth.mfa.verify({"factor_id": enrolled.id, "challenge_id": challenge.id, "code": code})
    claims = _claims(verified.access_token)
    assert claims["aal"] == "aal2"
    assert [a["method"] for a in claims["amr"]] == ["totp", "password"]
    assert verified.user.factors[0].status == "verified"  # type: ignore[index]
    level = member.auth.mfa.get_authenticator_assurance_level()
    assert (level.current_level, level.next_level) == ("aal2", "aal2")
    assert [f.id for f in member.auth.mfa.list_factors().totp] == [enrolled.id]
    # A challenge is spent once; a refresh keeps aal2.
    with pytest.raises(AuthApiError) as spent:
        member.auth.mfa.verify({"factor_id": enrolled.id, "challenge_id": challenge.id, "code": code})
    assert spent.value.code == "mfa_ip_address_mismatch"
    refreshed = member.auth.refresh_session()
    assert _claims(refreshed.session.access_token)["aal"] == "aal2"  # type: ignore[union-attr]


def test_sign_in_asks_for_the_code_through_supabase_js(stack: LocalStack) -> None:
    member, email = _member(stack)
    factor_id, secret = _enrolled(member)
    script = """
      const sb = client();
      const signed = await sb.auth.signInWithPassword({ email: input.email, password: input.password });
      const before = await sb.auth.mfa.getAuthenticatorAssuranceLevel();
      const factors = await sb.auth.mfa.listFactors();
      const bad = await sb.auth.mfa.challengeAndVerify({ factorId: input.factorId, code: '12345' });
      const done = await sb.auth.mfa.challengeAndVerify({ factorId: input.factorId, code: input.code });
      const after = await sb.auth.mfa.getAuthenticatorAssuranceLevel();
      const rows = await sb.from('profiles').select('email');
      return { signedError: signed.error, before: before.data, totp: factors.data.totp.map((f) => f.id),
               bad: bad.error && { status: bad.error.status, code: bad.error.code }, doneError: done.error,
               after: after.data, rows: rows.data };
    """
    out = run_js(script, url=stack.url, anonKey=stack.anon_key, email=email, password=PASSWORD,
                 factorId=factor_id, code=pyotp.TOTP(secret).now())  # fmt: skip
    assert out["signedError"] is None
    assert (out["before"]["currentLevel"], out["before"]["nextLevel"]) == ("aal1", "aal2")  # ask for the code
    assert out["totp"] == [factor_id]
    assert out["bad"] == {"status": 422, "code": "mfa_verification_failed"}
    assert out["doneError"] is None
    assert (out["after"]["currentLevel"], out["after"]["nextLevel"]) == ("aal2", "aal2")
    assert [m["method"] for m in out["after"]["currentAuthenticationMethods"]] == ["totp", "password"]
    assert out["rows"] == [{"email": email}]


def test_verifying_ends_other_aal1_sessions(stack: LocalStack) -> None:
    member, email = _member(stack)
    other = client(stack)
    other.auth.sign_in_with_password({"email": email, "password": PASSWORD})
    _enrolled(member)
    with pytest.raises(AuthApiError) as caught:
        other.auth.get_user()
    assert (caught.value.status, caught.value.code) == (403, "session_not_found")


def test_second_factor_and_unenrol_need_aal2(stack: LocalStack) -> None:
    member, email = _member(stack)
    factor_id, _secret = _enrolled(member)
    weak = client(stack)
    weak.auth.sign_in_with_password({"email": email, "password": PASSWORD})  # aal1 only
    with pytest.raises(AuthApiError) as more:
        weak.auth.mfa.enroll({"factor_type": "totp", "friendly_name": "second"})
    assert (more.value.status, more.value.code, more.value.message) == (
        403, "insufficient_aal", "AAL2 required to enroll a new factor"
    )  # fmt: skip
    with pytest.raises(AuthApiError) as drop:
        weak.auth.mfa.unenroll({"factor_id": factor_id})
    assert (drop.value.status, drop.value.code, drop.value.message) == (
        422, "insufficient_aal", "AAL2 required to unenroll verified factor"
    )  # fmt: skip
    assert member.auth.mfa.unenroll({"factor_id": factor_id}).id == factor_id
    me = member.auth.get_user()
    assert me is not None
    assert me.user.factors is None or me.user.factors == []
    # The session it raised is aal1 again at its next refresh.
    assert _claims(member.auth.refresh_session().session.access_token)["aal"] == "aal1"  # type: ignore[union-attr]


def test_password_and_email_changes_need_aal2_once_mfa_is_on(stack: LocalStack) -> None:
    """As GoTrue: with a verified factor, an aal1 session (a password alone) changes neither; the
    same address and other profile data still update, and the aal2 session changes both."""
    member, email = _member(stack)
    _enrolled(member)
    weak = client(stack)
    weak.auth.sign_in_with_password({"email": email, "password": PASSWORD})
    for change in ({"password": "Another1234"}, {"email": new_email()}):
        with pytest.raises(AuthApiError) as refused:
            weak.auth.update_user(change)  # type: ignore[arg-type]
        assert (refused.value.status, refused.value.code, refused.value.message) == (
            401, "insufficient_aal", "AAL2 session is required to update email or password when MFA is enabled."
        )  # fmt: skip
    kept = weak.auth.update_user({"email": email.upper(), "data": {"theme": "dark"}})
    assert kept.user is not None
    assert kept.user.user_metadata["theme"] == "dark"
    member.auth.update_user({"password": "Another1234"})  # aal2
    client(stack).auth.sign_in_with_password({"email": email, "password": "Another1234"})


def test_refusals_come_in_gotrues_order(stack: LocalStack) -> None:
    url = f"{stack.url}/auth/v1/factors"
    body = {"factor_type": "totp"}
    no_bearer = httpx.post(url, json=body, headers={"apikey": stack.anon_key, "Authorization": "", **VERSIONED})
    assert (no_bearer.status_code, no_bearer.json()["code"]) == (401, "no_authorization")
    anon_key = httpx.post(url, json={"factor_type": "nonsense"}, headers={"apikey": stack.anon_key, **VERSIONED})
    assert (anon_key.status_code, anon_key.json()) == (
        403,
        {"code": "bad_jwt", "message": "invalid claim: missing sub claim"},
    )
    guest = client(stack)
    token = guest.auth.sign_in_anonymously().session.access_token  # type: ignore[union-attr]
    refused = httpx.post(
        url, json=body, headers={"apikey": stack.anon_key, "Authorization": f"Bearer {token}", **VERSIONED}
    )
    assert (refused.status_code, refused.json()) == (
        403, {"code": "no_authorization", "message": "Anonymous user not allowed to perform these actions"}
    )  # fmt: skip
    owner, _ = _member(stack)
    theirs = owner.auth.mfa.enroll({"factor_type": "totp"}).id
    intruder, _ = _member(stack)
    with pytest.raises(AuthApiError) as caught:
        intruder.auth.mfa.challenge({"factor_id": theirs})
    assert (caught.value.status, caught.value.code, caught.value.message) == (
        404,
        "mfa_factor_not_found",
        "Factor not found",
    )
    with pytest.raises(AuthApiError) as junk:
        intruder.auth.mfa.unenroll({"factor_id": "not-a-uuid"})
    assert (junk.value.status, junk.value.code) == (404, "validation_failed")


@pytest.mark.parametrize(
    ("factor_type", "status", "code", "message"),
    [
        ("phone", 422, "mfa_phone_enroll_not_enabled", "MFA enroll is disabled for Phone"),
        ("webauthn", 422, "mfa_webauthn_enroll_not_enabled", "MFA enroll is disabled for WebAuthn"),
        ("sms", 400, "validation_failed", "factor_type needs to be totp, phone, or webauthn"),
    ],
)
def test_disabled_factor_types(stack: LocalStack, factor_type: str, status: int, code: str, message: str) -> None:
    member, _ = _member(stack)
    out = run_js(
        """
        const sb = client();
        await sb.auth.signInWithPassword({ email: input.email, password: input.password });
        const r = await sb.auth.mfa.enroll({ factorType: input.type, phone: '+8613800000000', friendlyName: 'x' });
        return { status: r.error.status, code: r.error.code, message: r.error.message };
        """,
        url=stack.url,
        anonKey=stack.anon_key,
        email=member.auth.get_user().user.email,  # type: ignore[union-attr]
        password=PASSWORD,
        type=factor_type,
    )
    assert out == {"status": status, "code": code, "message": message}


def test_friendly_names_are_unique_per_user(stack: LocalStack) -> None:
    member, _ = _member(stack)
    member.auth.mfa.enroll({"factor_type": "totp", "friendly_name": "work"})
    with pytest.raises(AuthApiError) as caught:
        member.auth.mfa.enroll({"factor_type": "totp", "friendly_name": "work"})
    assert (caught.value.status, caught.value.code) == (422, "mfa_factor_name_conflict")
    assert caught.value.message == 'A factor with the friendly name "work" for this user already exists'


def test_admin_lists_and_deletes_factors(stack: LocalStack) -> None:
    member, _ = _member(stack)
    user_id = member.auth.get_user().user.id  # type: ignore[union-attr]
    factor_id, _ = _enrolled(member)
    admin = client(stack, stack.service_role_key).auth.admin
    listed = admin.mfa.list_factors({"user_id": user_id})
    assert [(f.id, f.status, f.factor_type) for f in listed] == [(factor_id, "verified", "totp")]
    with pytest.raises(AuthApiError) as missing:
        admin.mfa.list_factors({"user_id": str(uuid.uuid4())})
    assert (missing.value.status, missing.value.code, missing.value.message) == (
        404,
        "user_not_found",
        "User not found",
    )
    with pytest.raises(AuthApiError) as gone:
        admin.mfa.delete_factor({"user_id": user_id, "id": str(uuid.uuid4())})
    assert (gone.value.status, gone.value.code) == (404, "mfa_factor_not_found")
    assert admin.mfa.delete_factor({"user_id": user_id, "id": factor_id}).id == factor_id
    assert admin.mfa.list_factors({"user_id": user_id}) == []
    assert _claims(member.auth.refresh_session().session.access_token)["aal"] == "aal1"  # type: ignore[union-attr]


def test_the_database_keeps_two_factor_users_out_until_the_code(stack: LocalStack) -> None:
    member, email = _member(stack)
    member.table("chat_sessions").insert({"title": "secret plans"}).execute()
    _, secret = _enrolled(member)
    # The password alone gives an aal1 session: RLS shows and accepts nothing of the user's.
    thief = client(stack)
    thief.auth.sign_in_with_password({"email": email, "password": PASSWORD})
    assert thief.table("chat_sessions").select("title").execute().data == []
    assert thief.table("profiles").select("id").execute().data == []
    with pytest.raises(APIError) as caught:
        thief.table("chat_sessions").insert({"title": "planted"}).execute()
    assert caught.value.code == "42501"
    # With the code the same session reaches the data.
    factor = thief.auth.mfa.list_factors().totp[0]
    thief.auth.mfa.challenge_and_verify({"factor_id": factor.id, "code": pyotp.TOTP(secret).now()})
    assert [r["title"] for r in rows_of(thief.table("chat_sessions").select("title").execute().data)] == [
        "secret plans"
    ]


@pytest.fixture
def mfa_limited(stack: LocalStack, tmp_path: Path) -> Iterator[LocalStack]:
    """A gateway of its own, its buckets full, refilling one TOTP try a minute (so none within a test)."""
    yield from second_gateway(stack, tmp_path, {"GOTRUE_MFA_RATE_LIMIT_CHALLENGE_AND_VERIFY": "1"})


def test_totp_challenges_and_verifications_are_limited_per_minute_as_gotrue(mfa_limited: LocalStack) -> None:
    """With a stolen password the 6-digit code is what is left: GoTrue gives one address a bucket
    of 30 challenges and one of 30 verifications, refilled at MFA_RATE_LIMIT_CHALLENGE_AND_VERIFY a
    minute (15 unless set), so a code cannot be guessed at the client's pace."""
    member, email = _member(mfa_limited)
    factor_id, secret = _enrolled(member)  # one challenge, one verification
    attacker = client(mfa_limited)
    token = attacker.auth.sign_in_with_password({"email": email, "password": PASSWORD}).session.access_token  # type: ignore[union-attr]
    headers = {"apikey": mfa_limited.anon_key, "Authorization": f"Bearer {token}", **VERSIONED}
    with httpx.Client(base_url=f"{mfa_limited.url}/auth/v1", headers=headers, trust_env=False) as raw:
        challenge_id = raw.post(f"/factors/{factor_id}/challenge").json()["id"]
        current = int(pyotp.TOTP(secret).now())
        verifications = []
        for n in range(1, 31):
            wrong = f"{(current + 100_000 + n) % 1_000_000:06d}"
            answer = raw.post(f"/factors/{factor_id}/verify", json={"challenge_id": challenge_id, "code": wrong})
            verifications.append((answer.status_code, answer.json()["code"]))
        challenges = [raw.post(f"/factors/{factor_id}/challenge").status_code for _ in range(30)]
        right = raw.post(
            f"/factors/{factor_id}/verify", json={"challenge_id": challenge_id, "code": pyotp.TOTP(secret).now()}
        )
    assert verifications == [(422, "mfa_verification_failed")] * 29 + [(429, "over_request_rate_limit")]
    assert challenges == [200] * 28 + [429] * 2  # counted apart from the verifications
    assert (right.status_code, right.json()["code"]) == (429, "over_request_rate_limit")  # even the right code
