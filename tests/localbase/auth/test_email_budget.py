"""[auth.rate_limit] email_sent, counted as GoTrue counts it (internal/api/mail.go sendEmail): a mail
the project is about to send takes one of the hour's mails, whichever door asked for it (sign-up,
resend, recover, otp, an address change through PUT /user, the reauthentication code, an invite),
and a request that sends nothing takes none (a reset or a code for an unknown address, a sign-up
again of a confirmed one). The mail past the limit is refused 429 `over_email_send_rate_limit`
"email rate limit exceeded", and nothing it would have made is kept. As in GoTrue the limit
applies while confirmations are on."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from supabase_auth.errors import AuthApiError

from tests.conftest import LocalStack
from tests.localbase.auth.conftest import client, new_email, second_gateway

PASSWORD = "password123"


@pytest.fixture
def budget(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """A gateway of its own, so its hour starts empty: three mails an hour."""
    folder = tmp_path_factory.mktemp("localbase-budget")
    settings = {"LOCALBASE_AUTOCONFIRM": "false", "GOTRUE_RATE_LIMIT_EMAIL_SENT": "3"}
    yield from second_gateway(stack, folder, settings)


def _over(attempt: object) -> None:
    assert callable(attempt)
    with pytest.raises(AuthApiError) as error:
        attempt()
    assert (error.value.status, error.value.code) == (429, "over_email_send_rate_limit")
    assert error.value.message == "email rate limit exceeded"


def test_only_mails_sent_count_and_every_door_counts_them(budget: LocalStack) -> None:
    anon = client(budget)
    admin = client(budget, budget.service_role_key)
    member = new_email()
    admin.auth.admin.create_user({"email": member, "password": PASSWORD, "email_confirm": True})
    for _ in range(4):  # nothing is sent to an address no one has, nor to a confirmed one signing up
        anon.auth.reset_password_for_email(new_email())
        anon.auth.resend({"type": "signup", "email": new_email()})
        anon.auth.sign_up({"email": member, "password": PASSWORD})
    anon.auth.sign_up({"email": new_email(), "password": PASSWORD})  # 1
    signed_in = client(budget)
    signed_in.auth.sign_in_with_password({"email": member, "password": PASSWORD})
    signed_in.auth.update_user({"email": new_email()})  # 2: the new address's link (and the current's)
    signed_in.auth.reauthenticate()  # 3
    _over(lambda: anon.auth.reset_password_for_email(member))
    late = new_email()
    _over(lambda: anon.auth.sign_up({"email": late, "password": PASSWORD}))
    _over(lambda: admin.auth.admin.invite_user_by_email(new_email()))
    listed = {user.email for user in admin.auth.admin.list_users(page=1, per_page=1000)}
    assert late not in listed  # refused before the account was made, as GoTrue's rollback
