"""The local Auth takes its settings from supabase/config.toml as `supabase start` does, and the
environment overrides them (ours first, then GoTrue's GOTRUE_* names). A gateway started on a
config file of its own proves each setting through supabase-py and plain HTTP."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from supabase_auth.errors import AuthApiError, AuthError

from core.settings import LocalbaseSettings, StorageSettings
from core.settings.projectconfig import PASSWORD_REQUIREMENTS, value
from localbase.auth.redirects import is_allowed
from tests.conftest import PRODUCT_AUTH_ENV, LocalStack, launch_stack
from tests.localbase.auth.conftest import client

CONFIG = """
[api]
schemas = ["public"]

[inbucket]
port = 54999

[auth]
site_url = "http://127.0.0.1:4999"
additional_redirect_urls = ["https://app.example.com/**"]
jwt_expiry = 120
enable_refresh_token_rotation = false
refresh_token_reuse_interval = 0
minimum_password_length = 12
password_requirements = "lower_upper_letters_digits"

[auth.rate_limit]
sign_in_sign_ups = 4
anonymous_users = 2

[auth.email]
enable_confirmations = false
otp_expiry = 600

[auth.mfa.totp]
enroll_enabled = false
verify_enabled = false
"""
GOOD = "Password1234"  # 12 characters, lower, upper and digits


@pytest.fixture(scope="module")
def config_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("config") / "config.toml"
    path.write_text(CONFIG)
    return path


@pytest.fixture(scope="module")
def configured(stack: LocalStack, config_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    local = launch_stack(stack.dsn, tmp_path_factory, **PRODUCT_AUTH_ENV, SUPABASE_CONFIG=str(config_file))
    try:
        yield local
    finally:
        local.stop()


def test_settings_come_from_the_file_and_the_environment_wins(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in (
        *PRODUCT_AUTH_ENV,
        "JWT_EXPIRY",
        "SITE_URL",
        "LOCALBASE_AUTOCONFIRM",
        "GOTRUE_JWT_EXP",
        "PGRST_DB_SCHEMAS",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SUPABASE_CONFIG", str(config_file))
    from_file = LocalbaseSettings()
    assert (from_file.jwt_expiry, from_file.site_url, from_file.autoconfirm) == (120, "http://127.0.0.1:4999", True)
    assert from_file.redirect_allow_list == ("https://app.example.com/**",)
    assert (from_file.refresh_rotation, from_file.refresh_reuse_interval) == (False, 0)
    assert from_file.password_min_length == 12
    assert from_file.password_required_characters == PASSWORD_REQUIREMENTS["lower_upper_letters_digits"]
    assert (from_file.rate_sign_in_sign_ups, from_file.mailer_otp_exp, from_file.mail_port) == (4, 600, 54999)
    assert (from_file.rate_anonymous_users, from_file.rate_token_refresh) == (2, 150)  # the CLI's default
    assert from_file.exposed_schemas == ("public",)  # [api] schemas, as PostgREST is given them
    monkeypatch.setenv("PGRST_DB_SCHEMAS", "public, graphql_public")
    assert LocalbaseSettings().exposed_schemas == ("public", "graphql_public")
    monkeypatch.delenv("PGRST_DB_SCHEMAS")
    monkeypatch.setenv("GOTRUE_JWT_EXP", "300")
    monkeypatch.setenv("GOTRUE_MAILER_AUTOCONFIRM", "false")
    assert (LocalbaseSettings().jwt_expiry, LocalbaseSettings().autoconfirm) == (300, False)
    monkeypatch.setenv("JWT_EXPIRY", "900")  # our name beats GoTrue's
    assert LocalbaseSettings().jwt_expiry == 900
    monkeypatch.setenv("SUPABASE_CONFIG", "none")
    monkeypatch.delenv("JWT_EXPIRY")
    monkeypatch.delenv("GOTRUE_JWT_EXP")
    assert LocalbaseSettings().jwt_expiry == 3600  # no file: the CLI's defaults


def test_the_product_file_turns_confirmations_on(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*PRODUCT_AUTH_ENV, "LOCALBASE_AUTOCONFIRM", "SUPABASE_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    product = LocalbaseSettings()
    assert product.autoconfirm is False
    assert product.rate_email_sent > 0
    # The product asks for TOTP (account security); the file says so itself, as the CLI's own
    # template turns it off for `supabase start` and `supabase config push` would push that.
    assert value("auth.mfa.totp.enroll_enabled", None) is True
    assert value("auth.mfa.totp.verify_enabled", None) is True
    assert (product.mfa_totp_enroll, product.mfa_totp_verify) == (True, True)
    assert value("auth.enable_anonymous_sign_ins", None) is True  # guests
    assert product.anonymous_sign_ins is True
    assert product.disable_signup is False
    assert StorageSettings().file_size_limit == 52_428_800  # [storage] file_size_limit = "50MiB"


@pytest.mark.parametrize(
    ("size", "expected"), [("50MiB", 52_428_800), ("10MB", 10_485_760), ("512KiB", 524_288), ("1GiB", 1 << 30)]
)
def test_the_storage_limit_comes_from_the_file(
    size: str, expected: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As the CLI reads it (docker/go-units' RAMInBytes: 1024-based whatever the spelling); the
    # environment wins, in bytes.
    path = tmp_path / "config.toml"
    path.write_text(f'[storage]\nfile_size_limit = "{size}"\n')
    monkeypatch.delenv("STORAGE_FILE_SIZE_LIMIT", raising=False)
    monkeypatch.setenv("SUPABASE_CONFIG", str(path))
    assert StorageSettings().file_size_limit == expected
    monkeypatch.setenv("STORAGE_FILE_SIZE_LIMIT", "1000")
    assert StorageSettings().file_size_limit == 1000


@pytest.fixture(scope="module")
def closed(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """A gateway whose file closes sign-ups ([auth] enable_signup = false)."""
    path = tmp_path_factory.mktemp("closed") / "config.toml"
    path.write_text("[auth]\nenable_signup = false\n")
    local = launch_stack(stack.dsn, tmp_path_factory, SUPABASE_CONFIG=str(path))
    try:
        yield local
    finally:
        local.stop()


def test_signups_closed_in_the_file_are_refused_as_gotrue_does(stack: LocalStack, closed: LocalStack) -> None:
    email = f"cfg-{uuid.uuid4().hex[:8]}@example.com"
    client(stack).auth.sign_up({"email": email, "password": GOOD})  # an account from before
    there = client(closed)
    refused = []
    for attempt in (
        lambda: there.auth.sign_up({"email": f"new-{uuid.uuid4().hex[:8]}@example.com", "password": GOOD}),
        there.auth.sign_in_anonymously,
        lambda: there.auth.sign_in_with_otp({"email": f"new-{uuid.uuid4().hex[:8]}@example.com"}),
    ):
        with pytest.raises(AuthApiError) as error:
            attempt()
        refused.append((error.value.status, error.value.code, error.value.message))
    assert refused == [(422, "signup_disabled", "Signups not allowed for this instance")] * 3
    assert there.auth.sign_in_with_password({"email": email, "password": GOOD}).session is not None
    settings = httpx.get(f"{closed.url}/auth/v1/settings", headers={"apikey": closed.anon_key}).json()
    assert settings["disable_signup"] is True


def test_the_web_apps_callback_is_an_allowed_redirect(monkeypatch: pytest.MonkeyPatch) -> None:
    # GoTrue (`supabase start`, hosted) matches additional_redirect_urls as globs over the whole
    # URL, `**` crossing "/", and lets through without them only site_url's own host (and loopback
    # IP literals): a developer on localhost:3000 must find the app's callback in the list.
    monkeypatch.delenv("SUPABASE_CONFIG", raising=False)
    assert urlsplit(str(value("auth.site_url", ""))).hostname == "127.0.0.1"
    patterns = tuple(str(p) for p in value("auth.additional_redirect_urls", []))
    elsewhere = LocalbaseSettings(site_url="https://site.invalid", redirect_allow_list=patterns)
    for origin in ("http://127.0.0.1:3000", "http://localhost:3000"):
        callback = f"{origin}/auth/callback"  # web/src/stores/auth.ts callbackUrl()
        assert is_allowed(callback, elsewhere), callback  # by the list alone, GoTrue's globs


def test_totp_switched_off_in_the_file_is_refused_as_gotrue_does(stack: LocalStack, configured: LocalStack) -> None:
    email = f"cfg-{uuid.uuid4().hex[:8]}@example.com"
    member = client(stack)
    member.auth.sign_up({"email": email, "password": GOOD})
    enrolled = member.auth.mfa.enroll({"factor_type": "totp", "friendly_name": "app"})  # on: the default

    there = client(configured)
    there.auth.sign_in_with_password({"email": email, "password": GOOD})
    with pytest.raises(AuthApiError) as enroll:
        there.auth.mfa.enroll({"factor_type": "totp", "friendly_name": "other"})
    assert (enroll.value.status, enroll.value.code) == (422, "mfa_totp_enroll_not_enabled")
    assert enroll.value.message == "MFA enroll is disabled for TOTP"
    with pytest.raises(AuthApiError) as challenge:
        there.auth.mfa.challenge({"factor_id": enrolled.id})
    assert (challenge.value.status, challenge.value.code) == (422, "mfa_totp_verify_not_enabled")
    assert challenge.value.message == "MFA verification is disabled for TOTP"
    factors = member.auth.mfa.list_factors().all
    assert [f.friendly_name for f in factors] == ["app"]  # nothing enrolled there


def test_a_gateway_applies_the_file(configured: LocalStack) -> None:
    anon = client(configured)
    with pytest.raises(AuthError) as weak:
        anon.auth.sign_up({"email": f"cfg-{uuid.uuid4().hex[:8]}@example.com", "password": "password1234"})
    assert weak.value.code == "weak_password"  # no upper-case letter
    email = f"cfg-{uuid.uuid4().hex[:8]}@example.com"
    session = anon.auth.sign_up({"email": email, "password": GOOD}).session
    assert session is not None  # enable_confirmations = false in this file
    assert session.expires_in == 120
    token = session.refresh_token
    first = client(configured).auth.refresh_session(token)
    second = client(configured).auth.refresh_session(token)  # rotation off: no reuse detection
    assert first.session is not None
    assert second.session is not None
    verify = httpx.get(
        f"{configured.url}/auth/v1/verify",
        params={"token": "nope", "type": "signup", "redirect_to": "https://evil.example.net/"},
        follow_redirects=False,
    )
    assert verify.headers["location"].startswith("http://127.0.0.1:4999#")  # not an allowed redirect
    allowed = httpx.get(
        f"{configured.url}/auth/v1/verify",
        params={"token": "nope", "type": "signup", "redirect_to": "https://app.example.com/welcome"},
        follow_redirects=False,
    )
    assert allowed.headers["location"].startswith("https://app.example.com/welcome#")


@pytest.fixture
def limited(stack: LocalStack, config_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """A gateway of its own on the same file, so its rate-limit buckets start full."""
    local = launch_stack(stack.dsn, tmp_path_factory, **PRODUCT_AUTH_ENV, SUPABASE_CONFIG=str(config_file))
    try:
        yield local
    finally:
        local.stop()


def test_guest_rate_limit_from_the_file(limited: LocalStack) -> None:
    """[auth.rate_limit] anonymous_users: guest sign-ups per client IP an hour, a bucket of that many
    (GoTrue's other buckets hold 30 whatever the rate, so this one shows the file's number)."""
    statuses = []
    for _ in range(3):
        reply = httpx.post(
            f"{limited.url}/auth/v1/signup",
            headers={"apikey": limited.anon_key, "X-Supabase-Api-Version": "2024-01-01"},
            json={},
        )
        statuses.append((reply.status_code, reply.json().get("code")))
    assert statuses == [(200, None)] * 2 + [(429, "over_request_rate_limit")]


def test_a_sign_in_whose_password_the_rules_now_refuse_says_so(stack: LocalStack, limited: LocalStack) -> None:
    # GoTrue's password grant signs in with a password that has become too weak and adds
    # weak_password {message, reasons} to the session, which supabase-js returns as weakPassword.
    weak, strong = f"cfg-{uuid.uuid4().hex[:8]}@example.com", f"cfg-{uuid.uuid4().hex[:8]}@example.com"
    client(stack).auth.sign_up({"email": weak, "password": "password123"})  # the default rule's
    client(stack).auth.sign_up({"email": strong, "password": GOOD})
    url = f"{limited.url}/auth/v1/token?grant_type=password"
    headers = {"apikey": limited.anon_key, "X-Supabase-Api-Version": "2024-01-01"}
    signed_in = httpx.post(url, json={"email": weak, "password": "password123"}, headers=headers)
    assert signed_in.status_code == 200
    body = signed_in.json()
    assert body["access_token"]
    assert set(body["weak_password"]["reasons"]) == {"length", "characters"}
    assert body["weak_password"]["message"]
    good = httpx.post(url, json={"email": strong, "password": GOOD}, headers=headers).json()
    assert good["access_token"]
    assert "weak_password" not in good
