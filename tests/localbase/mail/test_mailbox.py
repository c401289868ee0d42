"""E-mail verification the way `supabase start` does it: with the product's config.toml (confirmations
on) sign-up mails a link, the mailbox on :54324 shows it through Mailpit's API and a web page,
following the link signs the user in, and signing in before that answers `email_not_confirmed`.
Through supabase-py, supabase-js and plain HTTP against the real gateway and mailbox."""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from supabase_auth.errors import AuthApiError

from tests.conftest import LocalStack
from tests.localbase.auth.conftest import client
from tests.localbase.auth.js import run_js
from tests.mailbox import Mailbox

CONFIRM, RESET = "Confirm Your Signup", "Reset Your Password"


def _email() -> str:
    return f"mail-{uuid.uuid4().hex[:12]}@example.com"


def _follow(link: str) -> dict[str, list[str]]:
    """GET the link as a browser would and read the fragment it is redirected to."""
    response = httpx.get(link, follow_redirects=False, trust_env=False, timeout=10)
    assert response.status_code == 303, response.text
    return parse_qs(urlsplit(response.headers["location"]).fragment)


def test_settings_say_confirmations_are_on(product_stack: LocalStack) -> None:
    settings = httpx.get(f"{product_stack.url}/auth/v1/settings", headers={"apikey": product_stack.anon_key}).json()
    assert settings["mailer_autoconfirm"] is False


def test_sign_up_mails_a_link_that_confirms_and_signs_in(product_stack: LocalStack, mailbox: Mailbox) -> None:
    anon = client(product_stack)
    email = _email()
    signed_up = anon.auth.sign_up(
        {
            "email": email,
            "password": "password123",
            "options": {"email_redirect_to": "http://127.0.0.1:3000/auth/callback"},
        }
    )
    assert signed_up.session is None
    assert signed_up.user is not None
    assert signed_up.user.email_confirmed_at is None

    with pytest.raises(AuthApiError) as refused:
        client(product_stack).auth.sign_in_with_password({"email": email, "password": "password123"})
    assert refused.value.code == "email_not_confirmed"

    mail = mailbox.wait_for(email, CONFIRM)
    assert mail["To"] == [{"Name": "", "Address": email}]
    assert mail["From"]["Address"]
    link = Mailbox.link(mail)
    assert link in mail["HTML"].replace("&amp;", "&")
    fragment = _follow(link)
    assert fragment["type"] == ["signup"]
    assert fragment["access_token"][0].count(".") == 2
    assert urlsplit(httpx.get(link, follow_redirects=False).headers["location"]).path == "/auth/callback"

    session = client(product_stack).auth.sign_in_with_password({"email": email, "password": "password123"})
    assert session.user is not None
    assert session.user.email_confirmed_at is not None
    again = _follow(link)  # a link works once
    assert again["error_code"] == ["otp_expired"]


def test_resend_mails_a_new_link_and_only_the_newest_works(product_stack: LocalStack, mailbox: Mailbox) -> None:
    email = _email()
    client(product_stack).auth.sign_up({"email": email, "password": "password123"})
    first = Mailbox.link(mailbox.wait_for(email, CONFIRM))
    client(product_stack).auth.resend({"type": "signup", "email": email})
    second = mailbox.wait_for(email, CONFIRM, count=2)
    assert Mailbox.link(second) != first
    assert _follow(first)["error_code"] == ["otp_expired"]
    assert _follow(Mailbox.link(second))["type"] == ["signup"]


def test_recovery_mail_signs_in_for_a_new_password(product_stack: LocalStack, mailbox: Mailbox) -> None:
    email = _email()
    client(product_stack).auth.sign_up({"email": email, "password": "password123"})
    _follow(Mailbox.link(mailbox.wait_for(email, CONFIRM)))
    client(product_stack).auth.reset_password_for_email(email)
    fragment = _follow(Mailbox.link(mailbox.wait_for(email, RESET)))
    assert fragment["type"] == ["recovery"]
    recovering = client(product_stack)
    recovering.auth.set_session(fragment["access_token"][0], fragment["refresh_token"][0])
    recovering.auth.update_user({"password": "newpassword456"})
    assert client(product_stack).auth.sign_in_with_password({"email": email, "password": "newpassword456"}).session


def test_supabase_js_confirms_with_the_mailed_code(product_stack: LocalStack, mailbox: Mailbox) -> None:
    email = _email()
    before = run_js(
        """
        const c = client();
        const up = await c.auth.signUp({ email: input.email, password: 'password123' });
        const early = await c.auth.signInWithPassword({ email: input.email, password: 'password123' });
        const confirmed = up.data.user.email_confirmed_at ?? null;
        return { session: up.data.session, confirmed, early: early.error.code };
        """,
        url=product_stack.url,
        anonKey=product_stack.anon_key,
        email=email,
    )
    assert before == {"session": None, "confirmed": None, "early": "email_not_confirmed"}
    code = Mailbox.code(mailbox.wait_for(email, CONFIRM))
    after = run_js(
        """
        const c = client();
        const { data, error } = await c.auth.verifyOtp({ email: input.email, token: input.code, type: 'signup' });
        if (error) throw error;
        const signedIn = await c.auth.signInWithPassword({ email: input.email, password: 'password123' });
        return { confirmed: !!data.user.email_confirmed_at, signedIn: !!signedIn.data.session };
        """,
        url=product_stack.url,
        anonKey=product_stack.anon_key,
        email=email,
        code=code,
    )
    assert after == {"confirmed": True, "signedIn": True}


def test_mailbox_api_lists_reads_and_deletes(product_stack: LocalStack, mailbox: Mailbox) -> None:
    email = _email()
    client(product_stack).auth.sign_up({"email": email, "password": "password123"})
    listed = mailbox.api("GET", "/messages", params={"limit": 5}).json()
    assert set(listed) >= {"total", "unread", "count", "start", "tags", "messages"}
    assert listed["count"] <= 5
    newest = listed["messages"][0]
    assert newest["To"][0]["Address"] == email
    assert newest["Read"] is False
    assert newest["Subject"] == CONFIRM
    latest = mailbox.api("GET", "/message/latest").json()
    assert latest["ID"] == newest["ID"]
    assert mailbox.search(f"to:{email} is:unread") == []  # reading marked it read
    raw = mailbox.api("GET", f"/message/{newest['ID']}/raw").text
    assert f"To: {email}" in raw

    page = httpx.get(mailbox.url, trust_env=False)
    assert page.status_code == 200
    assert "script-src" not in page.headers["content-security-policy"]
    assert email in page.text
    assert Mailbox.link(latest).replace("&", "&amp;") in page.text

    for hostile in ("../../etc/passwd", "..%2F..%2Fetc%2Fpasswd", "%00", "x" * 300):
        assert mailbox.api("GET", f"/message/{hostile}").status_code == 404
    assert mailbox.api("DELETE", "/messages", json={"IDs": [newest["ID"]]}).status_code == 200
    assert mailbox.search(f"to:{email}") == []
    assert mailbox.api("GET", f"/message/{newest['ID']}").status_code == 404
