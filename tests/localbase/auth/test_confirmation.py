"""Email confirmations on (a second gateway): no session at sign-up, the mail's link, then sign-in."""

from __future__ import annotations

import json
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from supabase_auth.errors import AuthApiError

from tests.conftest import LocalStack
from tests.localbase.auth.conftest import client, mail_dir, new_email


def _mail_to(stack: LocalStack, email: str, kind: str, timeout: float = 5.0) -> dict[str, str]:
    """The newest mail of `kind` to `email`, polled until it is written."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found: list[dict[str, str]] = [
            json.loads(path.read_text(encoding="utf-8"))
            for path in sorted(Path(mail_dir(stack)).glob(f"*-{kind}-*.json"))
        ]
        matching = [mail for mail in found if mail["to"] == email]
        if matching:
            return matching[-1]
        time.sleep(0.05)
    raise AssertionError(f"no {kind} mail to {email}")


def test_sign_up_confirm_by_link_then_sign_in(confirming_stack: LocalStack) -> None:
    anon = client(confirming_stack)
    email = new_email()
    signed_up = anon.auth.sign_up(
        {"email": email, "password": "password123", "options": {"email_redirect_to": "http://127.0.0.1:3000/welcome"}}
    )
    assert signed_up.session is None
    assert signed_up.user is not None
    assert signed_up.user.confirmation_sent_at is not None

    with pytest.raises(AuthApiError) as caught:
        client(confirming_stack).auth.sign_in_with_password({"email": email, "password": "password123"})
    assert (caught.value.status, caught.value.code) == (400, "email_not_confirmed")

    mail = _mail_to(confirming_stack, email, "signup")
    link = mail["action_link"]
    assert link.startswith(f"{confirming_stack.url}/auth/v1/verify?")
    assert "type=signup" in link
    followed = httpx.get(link)
    assert followed.status_code == 303
    location = urlsplit(followed.headers["location"])
    assert (location.netloc, location.path) == ("127.0.0.1:3000", "/welcome")
    fragment = parse_qs(location.fragment)
    assert fragment["type"] == ["signup"]
    assert fragment["token_type"] == ["bearer"]
    assert client(confirming_stack).auth.get_user(fragment["access_token"][0]) is not None

    signed_in = client(confirming_stack).auth.sign_in_with_password({"email": email, "password": "password123"})
    assert signed_in.session is not None
    assert signed_in.user is not None
    assert signed_in.user.email_confirmed_at is not None

    again = httpx.get(link)
    assert parse_qs(urlsplit(again.headers["location"]).fragment)["error_code"] == ["otp_expired"]


def test_a_link_whose_token_holds_a_nul_is_just_a_wrong_link(confirming_stack: LocalStack) -> None:
    # Postgres text cannot hold a NUL: once a 500 (found by `make fuzz`).
    for token in ("abc%00def", "%00"):
        followed = httpx.get(f"{confirming_stack.url}/auth/v1/verify?token={token}&type=signup")
        assert followed.status_code == 303
        fragment = parse_qs(urlsplit(followed.headers["location"]).fragment)
        assert (fragment["error"], fragment["error_code"]) == (["access_denied"], ["otp_expired"])


def test_confirm_with_the_mailed_code(confirming_stack: LocalStack) -> None:
    email = new_email()
    client(confirming_stack).auth.sign_up({"email": email, "password": "password123"})
    code = _mail_to(confirming_stack, email, "signup")["otp"]
    with pytest.raises(AuthApiError) as wrong:
        client(confirming_stack).auth.verify_otp(
            {"type": "email", "email": email, "token": "000000" if code != "000000" else "111111"}
        )
    assert (wrong.value.status, wrong.value.code) == (403, "otp_expired")
    verified = client(confirming_stack).auth.verify_otp({"type": "email", "email": email, "token": code})
    assert verified.session is not None


def test_foreign_redirects_fall_back_to_the_site_url(confirming_stack: LocalStack) -> None:
    email = new_email()
    client(confirming_stack).auth.sign_up(
        {"email": email, "password": "password123", "options": {"email_redirect_to": "https://evil.example/steal"}}
    )
    followed = httpx.get(_mail_to(confirming_stack, email, "signup")["action_link"])
    assert urlsplit(followed.headers["location"]).netloc == "127.0.0.1:3000"


def test_a_redirect_holding_control_characters_falls_back_to_the_site_url(confirming_stack: LocalStack) -> None:
    # As GoTrue, whose URL parser refuses them; they once reached the Location header, which the
    # server cannot send, and the connection dropped (found by `make fuzz`'s Storage twin).
    for target in ("a%0d%0aSet-Cookie:%20x=1", "a%00b", "a%01b", "a%7fb"):
        followed = httpx.get(
            f"{confirming_stack.url}/auth/v1/verify?type=signup&token=x&redirect_to=http://127.0.0.1:3000/{target}"
        )
        assert followed.status_code == 303
        location = urlsplit(followed.headers["location"])
        assert (location.netloc, location.path) == ("127.0.0.1:3000", "")
        assert parse_qs(location.fragment)["error_code"] == ["otp_expired"]


def test_confirmed_email_re_sign_up_returns_a_fake_user(confirming_stack: LocalStack) -> None:
    admin = client(confirming_stack, confirming_stack.service_role_key)
    email = new_email()
    real = admin.auth.admin.create_user({"email": email, "password": "password123", "email_confirm": True}).user
    again = client(confirming_stack).auth.sign_up({"email": email, "password": "password456"})
    assert again.session is None
    assert again.user is not None
    assert again.user.id != real.id
    assert again.user.identities == []


def test_password_recovery_link_opens_a_session(confirming_stack: LocalStack) -> None:
    admin = client(confirming_stack, confirming_stack.service_role_key)
    email = new_email()
    admin.auth.admin.create_user({"email": email, "password": "password123", "email_confirm": True})
    anon = client(confirming_stack)
    anon.auth.reset_password_for_email(email)
    followed = httpx.get(_mail_to(confirming_stack, email, "recovery")["action_link"])
    fragment = parse_qs(urlsplit(followed.headers["location"]).fragment)
    assert fragment["type"] == ["recovery"]
    anon.auth.set_session(fragment["access_token"][0], fragment["refresh_token"][0])
    anon.auth.update_user({"password": "recovered789"})
    assert client(confirming_stack).auth.sign_in_with_password({"email": email, "password": "recovered789"}).session


def _verified(stack: LocalStack, kind: str, email: str, code: str) -> tuple[int, str]:
    answer = httpx.post(
        f"{stack.url}/auth/v1/verify",
        json={"type": kind, "email": email, "token": code},
        headers={"apikey": stack.anon_key, "X-Supabase-Api-Version": "2024-01-01"},
    )
    return answer.status_code, answer.json().get("code", "")


def test_a_new_password_voids_the_links_and_codes_mailed_before_it(confirming_stack: LocalStack) -> None:
    """GoTrue's UpdatePassword clears the recovery, confirmation, email-change and reauthentication
    tokens: a reset or change of address asked for before the owner changed the password (or an
    admin reset it) opens nothing afterwards."""
    admin = client(confirming_stack, confirming_stack.service_role_key)
    email, new = new_email(), new_email()
    user = admin.auth.admin.create_user({"email": email, "password": "password123", "email_confirm": True}).user
    member = client(confirming_stack)
    member.auth.sign_in_with_password({"email": email, "password": "password123"})
    member.auth.reset_password_for_email(email)
    recovery = _mail_to(confirming_stack, email, "recovery")
    member.auth.update_user({"email": new})
    change = _mail_to(confirming_stack, new, "email_change")

    member.auth.update_user({"password": "changed789"})
    assert _verified(confirming_stack, "recovery", email, recovery["otp"]) == (403, "otp_expired")
    followed = httpx.get(recovery["action_link"])
    assert parse_qs(urlsplit(followed.headers["location"]).fragment)["error_code"] == ["otp_expired"]
    assert _verified(confirming_stack, "email_change", new, change["otp"]) == (403, "otp_expired")

    member.auth.reset_password_for_email(email)  # and an admin's reset voids them too
    again = _mail_to(confirming_stack, email, "recovery")
    assert again["otp"] != recovery["otp"]
    admin.auth.admin.update_user_by_id(user.id, {"password": "reset-by-admin-1"})
    assert _verified(confirming_stack, "recovery", email, again["otp"]) == (403, "otp_expired")


def test_without_redirect_to_the_link_returns_to_the_referring_page(confirming_stack: LocalStack) -> None:
    # GoTrue's GetReferrer: a redirect_to header or query first, then the Referer header, each only
    # when allowed, else the site URL.
    url = f"{confirming_stack.url}/auth/v1/signup"
    headers = {"apikey": confirming_stack.anon_key, "X-Supabase-Api-Version": "2024-01-01"}
    cases = [
        ({"Referer": "http://127.0.0.1:3000/join?from=ad"}, "http://127.0.0.1:3000/join?from=ad"),
        ({"Referer": "https://evil.example/x"}, "http://127.0.0.1:3000"),
        ({"redirect_to": "http://127.0.0.1:3000/by-header", "Referer": "http://127.0.0.1:3000/r"}, None),
    ]
    for extra, expected in cases:
        email = new_email()
        answer = httpx.post(url, json={"email": email, "password": "password123"}, headers={**headers, **extra})
        assert answer.status_code == 200
        link = _mail_to(confirming_stack, email, "signup")["action_link"]
        assert parse_qs(urlsplit(link).query)["redirect_to"] == [expected or "http://127.0.0.1:3000/by-header"]
