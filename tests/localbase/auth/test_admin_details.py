"""Admin API and sign-in details as GoTrue answers them (issue 12, item 13): user_metadata exactly
as sent, page/per_page validation, OTP without sign-ups (`otp_disabled`), and the grants and
features a project leaves off (web3, manual identity linking), through supabase-py and supabase-js."""

from __future__ import annotations

import httpx
import pytest
from supabase_auth.errors import AuthApiError

from tests.conftest import LocalStack
from tests.localbase.auth.conftest import client, new_email
from tests.localbase.auth.js import run_js

VERSIONED = {"X-Supabase-Api-Version": "2024-01-01"}


def test_user_metadata_is_exactly_what_was_sent(stack: LocalStack) -> None:
    signed = client(stack).auth.sign_up(
        {"email": new_email(), "password": "Password123", "options": {"data": {"a": 1}}}
    )
    assert signed.user is not None
    assert signed.user.user_metadata == {"a": 1, "email_verified": True}  # autoconfirm confirms, as GoTrue's Confirm
    identity = (signed.user.identities or [])[0]
    assert identity.identity_data["sub"] == signed.user.id  # identity fields live on the identity
    admin = client(stack, stack.service_role_key).auth.admin
    created = admin.create_user(
        {"email": new_email(), "password": "Password123", "user_metadata": {"n": [1, {"x": None}]}}
    )
    assert created.user.user_metadata == {"n": [1, {"x": None}]}
    confirmed = admin.create_user({"email": new_email(), "email_confirm": True, "user_metadata": {}})
    assert confirmed.user.user_metadata == {"email_verified": True}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("page=abc", 'Bad Pagination Parameters: strconv.ParseUint: parsing "abc": invalid syntax'),
        ("per_page=-1", 'Bad Pagination Parameters: strconv.ParseUint: parsing "-1": invalid syntax'),
        (
            "page=99999999999999999999",
            'Bad Pagination Parameters: strconv.ParseUint: parsing "99999999999999999999": value out of range',
        ),
    ],
)
def test_admin_pagination_is_validated(stack: LocalStack, query: str, message: str) -> None:
    headers = {"apikey": stack.service_role_key, "Authorization": f"Bearer {stack.service_role_key}", **VERSIONED}
    reply = httpx.get(f"{stack.url}/auth/v1/admin/users?{query}", headers=headers)
    assert (reply.status_code, reply.json()) == (400, {"code": "validation_failed", "message": message})


def test_otp_without_sign_ups_for_an_unknown_email(stack: LocalStack) -> None:
    with pytest.raises(AuthApiError) as caught:
        client(stack).auth.sign_in_with_otp({"email": new_email(), "options": {"should_create_user": False}})
    assert (caught.value.status, caught.value.code, caught.value.message) == (
        422, "otp_disabled", "Signups not allowed for otp"
    )  # fmt: skip
    known = new_email()
    client(stack).auth.sign_up({"email": known, "password": "Password123"})
    out = run_js(
        """
        const sb = client();
        const unknown = await sb.auth.signInWithOtp({ email: input.unknown, options: { shouldCreateUser: false } });
        const known = await sb.auth.signInWithOtp({ email: input.known, options: { shouldCreateUser: false } });
        return { unknown: { status: unknown.error.status, code: unknown.error.code }, known: known.error };
        """,
        url=stack.url,
        anonKey=stack.anon_key,
        unknown=new_email(),
        known=known,
    )
    assert out == {"unknown": {"status": 422, "code": "otp_disabled"}, "known": None}


def test_disabled_grants_and_features(stack: LocalStack) -> None:
    headers = {"apikey": stack.anon_key, **VERSIONED}
    web3 = httpx.post(f"{stack.url}/auth/v1/token?grant_type=web3", headers=headers, json={"chain": "solana"})
    assert (web3.status_code, web3.json()) == (
        422,
        {"code": "web3_provider_disabled", "message": "Web3 provider is disabled"},
    )
    out = run_js(
        """
        const sb = client();
        await sb.auth.signUp({ email: input.email, password: 'Password123' });
        const linked = await sb.auth.linkIdentity({ provider: 'github', options: { skipBrowserRedirect: true } });
        return { status: linked.error.status, code: linked.error.code, message: linked.error.message };
        """,
        url=stack.url,
        anonKey=stack.anon_key,
        email=new_email(),
    )
    assert out == {"status": 404, "code": "manual_linking_disabled", "message": "Manual linking is disabled"}


@pytest.mark.parametrize(
    ("kind", "verification"),
    [
        ("signup", "signup"),
        ("invite", "invite"),
        ("magiclink", "magiclink"),
        ("recovery", "recovery"),
        ("email_change_current", "email_change"),
        ("email_change_new", "email_change"),
    ],
)
def test_generate_link_for_every_type(stack: LocalStack, kind: str, verification: str) -> None:
    admin = client(stack, stack.service_role_key).auth.admin
    email = new_email()
    if kind not in ("signup", "invite"):
        admin.create_user({"email": email, "password": "Password123", "email_confirm": True})
    params: dict[str, object] = {"type": kind, "email": email}
    if kind == "signup":
        params["password"] = "Password123"
    if kind.startswith("email_change"):
        params["new_email"] = new_email()
    link = admin.generate_link(params)  # type: ignore[arg-type]
    props = link.properties
    assert props.verification_type == kind  # GoTrue echoes the requested type
    assert f"type={verification}" in props.action_link
    assert len(props.email_otp) == 6
    assert link.user.email == email
