"""Changing a signed-in user's address, as GoTrue does it with secure email change on (the
product's `double_confirm_changes = true`): PUT /user mails a link to the new address and one to
the current one; the first followed only counts (a redirect saying so, no session; POST /verify
answers `{msg, code}`), the second applies the change and signs in. Off, the new address's link
alone applies it. Through supabase-py, and the links followed as a browser would (303 and its
fragment)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from supabase import Client
from supabase_auth.errors import AuthApiError

from tests.conftest import LocalStack
from tests.localbase.auth.conftest import client, mail_dir, new_email, second_gateway

PASSWORD = "Password123"
ONE_OF_TWO = "Confirmation link accepted. Please proceed to confirm link sent to the other email"


@pytest.fixture(scope="module")
def single_confirm_stack(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    folder = tmp_path_factory.mktemp("localbase-single-confirm")
    settings = {"LOCALBASE_AUTOCONFIRM": "false", "LOCALBASE_SECURE_EMAIL_CHANGE": "false"}
    yield from second_gateway(stack, folder, settings)


def _member(stack: LocalStack) -> tuple[Client, str, str]:
    """A confirmed user signed in with a password, their address and their id."""
    email = new_email()
    made = client(stack, stack.service_role_key).auth.admin.create_user(
        {"email": email, "password": PASSWORD, "email_confirm": True}
    )
    member = client(stack)
    member.auth.sign_in_with_password({"email": email, "password": PASSWORD})
    return member, email, made.user.id


def _mails(stack: LocalStack, to: str) -> list[dict[str, Any]]:
    """Every email_change mail to `to`, oldest first."""
    found = [json.loads(p.read_text()) for p in sorted(Path(mail_dir(stack)).glob("*-email_change-*.json"))]
    return [mail for mail in found if mail["to"] == to]


def _follow(link: str) -> dict[str, list[str]]:
    """Follow a mailed link as a browser would: the fragment of the redirect it answers with."""
    answer = httpx.get(link, follow_redirects=False)
    assert answer.status_code == 303
    return parse_qs(urlsplit(answer.headers["location"]).fragment, keep_blank_values=True)


def _address(stack: LocalStack, user_id: str) -> tuple[str, str | None]:
    """The user's address and the one waiting to replace it, as the admin API reads them."""
    user = client(stack, stack.service_role_key).auth.admin.get_user_by_id(user_id).user
    return user.email or "", user.new_email


def test_the_change_waits_for_the_links_to_both_addresses(confirming_stack: LocalStack) -> None:
    member, old, user_id = _member(confirming_stack)
    new = new_email()
    asked = member.auth.update_user({"email": new})
    assert asked.user is not None
    assert (asked.user.email, asked.user.new_email) == (old, new)
    (to_new,) = _mails(confirming_stack, new)
    (to_old,) = _mails(confirming_stack, old)
    assert to_new["token_hash"] != to_old["token_hash"]

    first = _follow(to_new["action_link"])
    assert first == {"message": [ONE_OF_TWO], "sb": [""]}  # no session: the other link is due
    assert _address(confirming_stack, user_id) == (old, new)
    again = _follow(to_new["action_link"])  # a link works once
    assert again["error_code"] == ["otp_expired"]

    second = _follow(to_old["action_link"])
    assert second["type"] == ["email_change"]
    assert second["access_token"][0]
    assert second["sb"] == [""]
    assert _address(confirming_stack, user_id) == (new, None)
    signed_in = client(confirming_stack)
    signed_in.auth.sign_in_with_password({"email": new, "password": PASSWORD})
    with pytest.raises(AuthApiError) as refused:
        client(confirming_stack).auth.sign_in_with_password({"email": old, "password": PASSWORD})
    assert refused.value.code == "invalid_credentials"


def test_codes_confirm_both_ends_too(confirming_stack: LocalStack) -> None:
    member, old, user_id = _member(confirming_stack)
    new = new_email()
    member.auth.update_user({"email": new})
    (to_new,), (to_old,) = _mails(confirming_stack, new), _mails(confirming_stack, old)
    verify = f"{confirming_stack.url}/auth/v1/verify"
    headers = {"apikey": confirming_stack.anon_key}
    wrong = httpx.post(verify, headers=headers, json={"type": "email_change", "email": old, "token": to_new["otp"]})
    assert (wrong.status_code, wrong.json()["error_code"]) == (403, "otp_expired")  # each code is its address's
    first = httpx.post(verify, headers=headers, json={"type": "email_change", "email": old, "token": to_old["otp"]})
    assert (first.status_code, first.json()) == (200, {"msg": ONE_OF_TWO, "code": "200"})
    assert _address(confirming_stack, user_id) == (old, new)
    done = client(confirming_stack).auth.verify_otp({"type": "email_change", "email": new, "token": to_new["otp"]})
    assert done.user is not None
    assert done.user.email == new
    assert done.session is not None


def test_asking_again_voids_the_earlier_links(confirming_stack: LocalStack) -> None:
    member, old, user_id = _member(confirming_stack)
    new = new_email()
    member.auth.update_user({"email": new})
    client(confirming_stack).auth.resend({"type": "email_change", "email": old})  # by the current address
    first_new, second_new = _mails(confirming_stack, new)
    first_old, second_old = _mails(confirming_stack, old)
    assert _follow(first_old["action_link"])["error_code"] == ["otp_expired"]
    assert _follow(first_new["action_link"])["error_code"] == ["otp_expired"]
    assert _follow(second_old["action_link"]) == {"message": [ONE_OF_TWO], "sb": [""]}
    assert _follow(second_new["action_link"])["type"] == ["email_change"]
    assert _address(confirming_stack, user_id) == (new, None)


def test_without_secure_change_the_new_address_alone_applies_it(single_confirm_stack: LocalStack) -> None:
    member, old, user_id = _member(single_confirm_stack)
    new = new_email()
    member.auth.update_user({"email": new})
    assert _mails(single_confirm_stack, old) == []
    (to_new,) = _mails(single_confirm_stack, new)
    assert _follow(to_new["action_link"])["type"] == ["email_change"]
    assert _address(single_confirm_stack, user_id) == (new, None)
    # An admin link for the current address needs secure email change, as in GoTrue.
    admin = client(single_confirm_stack, single_confirm_stack.service_role_key).auth.admin
    with pytest.raises(AuthApiError) as refused:
        admin.generate_link({"type": "email_change_current", "email": new, "new_email": new_email()})
    assert (refused.value.status, refused.value.code) == (400, "validation_failed")


def test_with_autoconfirm_a_members_new_address_still_waits_for_a_link(stack: LocalStack) -> None:
    """GoTrue applies an address at once only for a guest adding one ("permanent users always need
    to verify their email address when changing it"): with autoconfirm on, a stolen session alone
    still cannot move the account. Autoconfirm only makes either link enough, as GoTrue's."""
    member, old, user_id = _member(stack)
    new = new_email()
    asked = member.auth.update_user({"email": new})
    assert asked.user is not None
    assert (asked.user.email, asked.user.new_email) == (old, new)
    assert _address(stack, user_id) == (old, new)
    (to_new,), (to_old,) = _mails(stack, new), _mails(stack, old)
    assert to_new["token_hash"] != to_old["token_hash"]
    assert _follow(to_new["action_link"])["type"] == ["email_change"]
    assert _address(stack, user_id) == (new, None)
