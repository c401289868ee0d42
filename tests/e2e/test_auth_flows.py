"""The Auth journey (web/e2e/auth.mjs) in headless Chromium against the running product: a guest
tries the product, chats, signs up and keeps the conversation (zh, and en on a phone); the new
member turns on two-factor sign-in and the next sign-in asks for the code. Each test is one step,
checked against the database. Screenshots land in tests/e2e/screenshots/auth/."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.e2e.conftest import Product, no_page_errors, passed, query
from tests.e2e.journeys import SCREENSHOTS, Journey

pytestmark = pytest.mark.timeout(420)


@pytest.fixture(scope="module")
def journey(journeys: dict[str, Journey]) -> dict[str, Any]:
    return journeys["auth"].result()


def test_guest_tries_the_product(journey: dict[str, Any]) -> None:
    step = passed(journey, "a visitor tries the product without an account")
    assert "20" in step["detail"]["left"]


def test_guest_chats_within_the_limit(journey: dict[str, Any]) -> None:
    step = passed(journey, "the guest chats and the banner counts down")
    assert "19" in step["detail"]["left"]


def test_guest_signs_up_and_keeps_the_conversation(journey: dict[str, Any], product: Product) -> None:
    passed(journey, "the guest signs up and keeps the conversation")
    guest = journey["guest"]
    rows = asyncio.run(
        query(
            product,
            """select u.is_anonymous, p.username, a.status,
                      (select count(*) from auth.identities i where i.user_id = u.id and i.provider = 'email') as ids
                 from auth.users u
                 join public.profiles p on p.id = u.id
                 join public.chat_messages q on q.user_id = u.id and q.content like '%' || $2
                 join public.chat_messages a on a.reply_to = q.id
                where u.email = $1""",
            guest["email"],
            guest["probe"],
        )
    )
    # The question asked as a guest belongs to the signed-up user: same id, now permanent.
    assert [(r["is_anonymous"], r["username"], r["status"], r["ids"]) for r in rows] == [
        (False, guest["username"], "completed", 1)
    ]


def test_two_factor_is_turned_on_from_the_profile(journey: dict[str, Any], product: Product) -> None:
    passed(journey, "turn on two-factor sign-in from the profile page")
    rows = asyncio.run(
        query(
            product,
            """select f.factor_type::text, f.status::text, f.secret from auth.mfa_factors f
                 join auth.users u on u.id = f.user_id where u.email = $1""",
            journey["guest"]["email"],
        )
    )
    found = [(r["factor_type"], r["status"], r["secret"]) for r in rows]
    assert found == [("totp", "verified", journey["mfa"]["secret"])]


def test_sign_in_asks_for_the_code(journey: dict[str, Any], product: Product) -> None:
    step = passed(journey, "signing in again asks for the code")
    assert "验证码不正确" in step["detail"]["wrong"]
    # On the code page the header showed the avatar and 退出登录 of a user not signed in yet.
    assert step["detail"]["header"] == {"header-avatar": 0, "logout": 0, "nav": 0, "mfa-other-account": 1}
    assert step["detail"]["signedIn"] == {"avatar": 1, "logout": 1}
    # The newest session of the user was raised to aal2 by the code.
    rows = asyncio.run(
        query(
            product,
            """select s.aal, array(select c.authentication_method from auth.mfa_amr_claims c
                                    where c.session_id = s.id order by c.authentication_method) as amr
                 from auth.sessions s join auth.users u on u.id = s.user_id
                where u.email = $1 order by s.created_at desc limit 1""",
            journey["guest"]["email"],
        )
    )
    assert [(r["aal"], r["amr"]) for r in rows] == [("aal2", ["password", "totp"])]


def test_guest_on_a_phone_in_english(journey: dict[str, Any]) -> None:
    step = passed(journey, "a guest on a phone sees the banner in English, and no key form")
    assert "sign up" in step["detail"]["notice"]
    assert step["detail"]["form"] == 0


def test_no_page_errors(journey: dict[str, Any]) -> None:
    no_page_errors(journey)


def test_screenshots(journey: dict[str, Any]) -> None:
    names = {p.stem for p in (SCREENSHOTS / "auth").glob("*.png")}
    assert {"guest-01-banner", "guest-02-chatting", "guest-03-sign-up", "guest-04-kept", "guest-05-phone"} <= names
    assert {"mfa-01-scan", "mfa-02-on", "mfa-03-code"} <= names
