"""E-mail verification in the browser (web/e2e/signup_email.mjs) against a product whose Auth runs
with supabase/config.toml as it is (confirmations on) and the local mailbox: each test is one step,
and the database is checked for what the page claimed. Screenshots: tests/e2e/screenshots/signup_email/."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from localbase.postgres import Cluster
from tests.conftest import PRODUCT_AUTH_ENV, free_port, isolated_stack, wait_for_http
from tests.e2e.conftest import ROOT, Product, no_page_errors, passed, spawn
from tests.e2e.journeys import SCREENSHOTS, Journey, launcher, prepare_journey
from tests.mailbox import Mailbox

pytestmark = pytest.mark.timeout(420)


@contextmanager
def mail_serving(
    cluster: Cluster, web_dist: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Product, Mailbox]]:
    """The SPA, a gateway with the product's Auth settings and its mailbox (no model or worker:
    nothing here asks a question)."""
    logs = tmp_path_factory.mktemp("web-mail")
    with isolated_stack(cluster, "cg_web_mail", tmp_path_factory, **PRODUCT_AUTH_ENV) as stack:
        base = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "PYTHONPATH": str(ROOT)}
        port = free_port()
        web = spawn(
            "webserve",
            ["-m", "webserve", "--port", str(port), "--dist", str(web_dist)],
            {**base, "SUPABASE_URL": stack.url, "SUPABASE_JWT_SECRET": stack.jwt_secret},
            logs / "webserve.log",
        )
        try:
            wait_for_http(f"http://127.0.0.1:{port}/config.js", web.process)
            with Mailbox.start(stack, logs) as box:
                yield Product(stack, f"http://127.0.0.1:{port}", [web]), box
        finally:
            web.stop()


@launcher("signup_email")
def start(request: pytest.FixtureRequest, servers: ExitStack) -> Journey:
    """Its own gateway, SPA and mailbox, then the journey (started with the others by `journeys`)."""
    request.getfixturevalue("template_dsn")  # the template the gateway's database is cloned from
    product, box = servers.enter_context(
        mail_serving(
            request.getfixturevalue("pg_cluster"),
            request.getfixturevalue("web_dist"),
            request.getfixturevalue("tmp_path_factory"),
        )
    )
    chromium_path: str = request.getfixturevalue("chromium_path")
    journey = prepare_journey(product, chromium_path, "signup_email", env={"MAILBOX_URL": box.url})
    journey.extras["box"] = box
    journey.extras["product"] = product
    return journey


@pytest.fixture(scope="module")
def mail_product(journeys: dict[str, Journey]) -> tuple[Product, Mailbox]:
    extras = journeys["signup_email"].extras
    product: Product = extras["product"]
    box: Mailbox = extras["box"]
    return product, box


@pytest.fixture(scope="module")
def journey(journeys: dict[str, Journey]) -> dict[str, Any]:
    return journeys["signup_email"].result()


async def _user(product: Product, username: str) -> asyncpg.Record | None:
    conn = await asyncpg.connect(product.stack.dsn)
    try:
        return await conn.fetchrow(
            "select u.email_confirmed_at, u.email, u.email_change, p.email as profile_email"
            " from auth.users u join public.profiles p on p.id = u.id where p.username = $1",
            username,
        )
    finally:
        await conn.close()


def test_sign_up_says_check_your_mailbox(journey: dict[str, Any], mail_product: tuple[Product, Mailbox]) -> None:
    passed(journey, "sign-up says check your mailbox")
    mails = mail_product[1].search(f"to:{journey['user']['email']}")
    assert [m["Subject"] for m in mails][-1] == "Confirm Your Signup"


def test_resend(journey: dict[str, Any]) -> None:
    passed(journey, "resend mails the link again")


def test_login_before_confirming(journey: dict[str, Any]) -> None:
    passed(journey, "logging in before confirming says to confirm first")


def test_the_link_confirms_and_signs_in(journey: dict[str, Any], mail_product: tuple[Product, Mailbox]) -> None:
    passed(journey, "the mailbox link confirms the address and signs in")
    row = asyncio.run(_user(mail_product[0], journey["user"]["username"]))
    assert row is not None
    assert row["email_confirmed_at"] is not None


def test_password_reset_through_the_mailbox(journey: dict[str, Any]) -> None:
    passed(journey, "a forgotten password is reset through the mailbox")


def test_an_address_change_confirmed_from_both_addresses(
    journey: dict[str, Any], mail_product: tuple[Product, Mailbox]
) -> None:
    """The product's config.toml has double_confirm_changes: a mail to each address, and the new
    one applies (in Auth and in the profile) after both links, checked step by step in the page."""
    passed(journey, "a new address applies once the links to both addresses are followed")
    row = asyncio.run(_user(mail_product[0], journey["user"]["username"]))
    assert row is not None
    assert (row["email"], row["email_change"], row["profile_email"]) == (journey["movedTo"], "", journey["movedTo"])
    for address in (journey["user"]["email"], journey["movedTo"]):
        subjects = [m["Subject"] for m in mail_product[1].search(f"to:{address}")]
        assert subjects.count("Confirm Email Change") == 1, (address, subjects)


def test_a_reset_with_two_factor_on_asks_for_the_code(journey: dict[str, Any]) -> None:
    """Auth changes a two-factor user's password only from an aal2 session: the reset page asks
    for the app's code with the new password, and the new password (and code) sign in."""
    step = passed(journey, "with two-factor sign-in on, a reset link asks for the code with the new password")
    # Owing the code the user is not signed in: the header's sign-out gave way to the page's own.
    assert step["detail"]["header"] == {"logout": 0, "out": 1}


def test_a_used_link_is_refused(journey: dict[str, Any]) -> None:
    passed(journey, "a used link says it no longer works (phone)")


def test_on_a_touch_screen_the_small_text_buttons_are_finger_sized(journey: dict[str, Any]) -> None:
    """On a phone, the mailbox notice's "resend" (after sign-up, on a sign-in with the address not
    confirmed yet, on the callback page of a used link, with its "back to sign-in") and the
    two-factor code page's "use another account" are at least 44px each way, as every other control
    a finger meets: they were 20px tall text."""
    detail = passed(journey, 'on a touch screen the resend button and "use another account" are finger-sized')["detail"]
    sizes = {f"{page} {name}": size for page, found in detail.items() for name, size in found.items()}
    assert len(sizes) == 5
    assert {name: size for name, size in sizes.items() if min(size) < 44} == {}


def test_no_page_errors(journey: dict[str, Any]) -> None:
    no_page_errors(journey)


def test_screenshots(journey: dict[str, Any]) -> None:
    names = {p.stem for p in (SCREENSHOTS / "signup_email").glob("*.png")}
    assert {"01-check-mailbox", "03-mailbox", "04-email-confirmed", "06-new-password", "07-link-used-phone"} <= names
    assert {"08-email-change-mailed", "09-email-change-one-of-two", "10-email-changed", "11-reset-with-code"} <= names
