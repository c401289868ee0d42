"""[auth.email] max_frequency, as GoTrue applies it (SMTP_MAX_FREQUENCY, internal/api/mail.go): a second
mail of one kind to one user within the window is refused 429 `over_email_send_rate_limit`, "For
security purposes, you can only request this after N seconds." (N the whole seconds left). Each kind
has its own clock: the confirmation (sign-up again, resend), the recovery (password reset and magic
link share it), the address change (PUT /user, resend) and the reauthentication code. The admin's
generated links are not held back. supabase-py raises it as AuthApiError with that status and code.

The gateway here waits 60 s between mails; a test steps past the window by moving the user's
`*_sent_at` back, never by sleeping."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from supabase_auth.errors import AuthApiError

from core.settings import LocalbaseSettings
from tests.conftest import LocalStack
from tests.localbase.auth.conftest import client, new_email, second_gateway

WAIT = re.compile(r"For security purposes, you can only request this after (59|60) seconds\.")
PASSWORD = "password123"


@pytest.fixture(scope="module")
def paced(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    folder = tmp_path_factory.mktemp("localbase-paced")
    yield from second_gateway(stack, folder, {"LOCALBASE_AUTOCONFIRM": "false", "GOTRUE_SMTP_MAX_FREQUENCY": "1m"})


def _refused(attempt: object) -> None:
    assert callable(attempt)
    with pytest.raises(AuthApiError) as error:
        attempt()
    assert (error.value.status, error.value.code) == (429, "over_email_send_rate_limit")
    assert WAIT.fullmatch(error.value.message), error.value.message


def _step_back(stack: LocalStack, email: str, column: str) -> None:
    """As if the last mail of that kind had gone 61 seconds ago."""

    async def run() -> None:
        conn = await asyncpg.connect(stack.dsn)
        try:
            await conn.execute(
                f"update auth.users set {column} = {column} - interval '61 seconds' where email = $1",
                email,
            )
        finally:
            await conn.close()

    asyncio.run(run())


def _confirmed(stack: LocalStack) -> str:
    email = new_email()
    admin = client(stack, stack.service_role_key)
    admin.auth.admin.create_user({"email": email, "password": PASSWORD, "email_confirm": True})
    return email


def test_a_confirmation_mail_waits_for_the_window(paced: LocalStack) -> None:
    email = new_email()
    anon = client(paced)
    anon.auth.sign_up({"email": email, "password": PASSWORD})
    _refused(lambda: anon.auth.resend({"type": "signup", "email": email}))
    _refused(lambda: anon.auth.sign_up({"email": email, "password": PASSWORD}))  # sign-up again
    _refused(lambda: anon.auth.sign_in_with_otp({"email": email}))  # unconfirmed: a confirmation
    _step_back(paced, email, "confirmation_sent_at")
    anon.auth.resend({"type": "signup", "email": email})
    _refused(lambda: anon.auth.resend({"type": "signup", "email": email}))  # and the clock starts again


def test_recovery_and_magic_links_share_a_clock(paced: LocalStack) -> None:
    email = _confirmed(paced)
    anon = client(paced)
    anon.auth.reset_password_for_email(email)
    _refused(lambda: anon.auth.reset_password_for_email(email))
    _refused(lambda: anon.auth.sign_in_with_otp({"email": email, "options": {"should_create_user": False}}))
    anon.auth.reset_password_for_email(_confirmed(paced))  # another user's clock is their own
    _step_back(paced, email, "recovery_sent_at")
    anon.auth.sign_in_with_otp({"email": email, "options": {"should_create_user": False}})
    # the admin's generated links are not held back (GoTrue's adminGenerateLink checks no clock)
    admin = client(paced, paced.service_role_key)
    admin.auth.admin.generate_link({"type": "recovery", "email": email})


def test_an_address_change_and_the_reauthentication_code_wait_too(paced: LocalStack) -> None:
    email = _confirmed(paced)
    member = client(paced)
    member.auth.sign_in_with_password({"email": email, "password": PASSWORD})
    member.auth.update_user({"email": new_email()})
    _refused(lambda: member.auth.update_user({"email": new_email()}))
    _refused(lambda: member.auth.resend({"type": "email_change", "email": email}))
    _step_back(paced, email, "email_change_sent_at")
    member.auth.resend({"type": "email_change", "email": email})
    member.auth.reauthenticate()
    _refused(member.auth.reauthenticate)
    _step_back(paced, email, "reauthentication_sent_at")
    member.auth.reauthenticate()


@pytest.mark.parametrize(
    ("written", "seconds"),
    [("1s", 1.0), ("1m30s", 90.0), ("500ms", 0.5), ("2h", 7200.0), ("0s", 60.0), ("0", 60.0), ("1.5s", 1.5)],
)
def test_the_window_is_read_as_go_reads_a_duration(
    written: str, seconds: float, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 0 is GoTrue's "unset": a minute. Without the key the CLI's template gives 1s.
    for name in ("LOCALBASE_EMAIL_MAX_FREQUENCY", "GOTRUE_SMTP_MAX_FREQUENCY"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "config.toml"
    path.write_text(f'[auth.email]\nmax_frequency = "{written}"\n')
    monkeypatch.setenv("SUPABASE_CONFIG", str(path))
    assert LocalbaseSettings().email_max_frequency == seconds
    without = tmp_path / "without.toml"  # (a file is read once per process)
    without.write_text("[auth.email]\n")
    monkeypatch.setenv("SUPABASE_CONFIG", str(without))
    assert LocalbaseSettings().email_max_frequency == 1.0
    monkeypatch.setenv("GOTRUE_SMTP_MAX_FREQUENCY", written)
    assert LocalbaseSettings().email_max_frequency == seconds
    monkeypatch.setenv("GOTRUE_SMTP_MAX_FREQUENCY", "soon")
    with pytest.raises(ValueError, match="soon"):
        LocalbaseSettings()
