"""The Supabase CLI's `.env` files and `SUPABASE_<SECTION>_<KEY>` overrides of config.toml
(apps/cli-go/pkg/config/config.go: loadNestedEnv, loadDefaultEnv, viper's AutomaticEnv with the
SUPABASE prefix), read by the local stack as the CLI reads them: `supabase/.env*` then the
project's, the first value of a name winning and the process environment over all; the values they
set are what `env(NAME)` sees and what overrides a key of the file, as `supabase start` would."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import LocalbaseSettings, StorageSettings
from core.settings.dotenv import parse
from tests.conftest import PRODUCT_AUTH_ENV

CONFIG = """
[auth]
site_url = "env(CG_DOTENV_SITE_URL)"
jwt_expiry = 600
additional_redirect_urls = ["https://fixed.example.com/**"]

[auth.email]
enable_confirmations = true
"""
# Our names and GoTrue's for the settings read here, which win over the file and its overrides.
OURS = (
    *PRODUCT_AUTH_ENV,
    "SITE_URL",
    "GOTRUE_SITE_URL",
    "JWT_EXPIRY",
    "GOTRUE_JWT_EXP",
    "LOCALBASE_AUTOCONFIRM",
    "LOCALBASE_REDIRECT_ALLOW_LIST",
    "GOTRUE_URI_ALLOW_LIST",
    "STORAGE_FILE_SIZE_LIMIT",
    "SUPABASE_ENV",
    "CG_DOTENV_SITE_URL",
    "SUPABASE_AUTH_SITE_URL",
    "SUPABASE_AUTH_JWT_EXPIRY",
    "SUPABASE_AUTH_EMAIL_ENABLE_CONFIRMATIONS",
    "SUPABASE_AUTH_ADDITIONAL_REDIRECT_URLS",
    "SUPABASE_AUTH_RATE_LIMIT_SIGN_IN_SIGN_UPS",
    "SUPABASE_STORAGE_FILE_SIZE_LIMIT",
)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder whose supabase/config.toml is the one in use; returns the project folder."""
    (tmp_path / "supabase").mkdir()
    (tmp_path / "supabase" / "config.toml").write_text(CONFIG)
    for name in OURS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SUPABASE_CONFIG", str(tmp_path / "supabase" / "config.toml"))
    return tmp_path


def test_supabase_dotenv_feeds_env_references(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (project / "supabase" / ".env").write_text("CG_DOTENV_SITE_URL=https://from-supabase.example.com\n")
    (project / ".env").write_text("CG_DOTENV_SITE_URL=https://from-project.example.com\n")
    assert LocalbaseSettings().site_url == "https://from-supabase.example.com"  # supabase/ first
    (project / "supabase" / ".env.local").write_text("export CG_DOTENV_SITE_URL='https://local.example.com'\n")
    assert LocalbaseSettings().site_url == "https://local.example.com"  # .env.local before .env
    monkeypatch.setenv("SUPABASE_ENV", "test")  # the CLI skips .env.local for "test"
    assert LocalbaseSettings().site_url == "https://from-supabase.example.com"
    (project / ".env.test").write_text("CG_DOTENV_SITE_URL=https://test.example.com\n")
    assert LocalbaseSettings().site_url == "https://from-supabase.example.com"  # the folder's order first
    (project / "supabase" / ".env.test").write_text('CG_DOTENV_SITE_URL="https://supabase-test.example.com"\n')
    assert LocalbaseSettings().site_url == "https://supabase-test.example.com"
    monkeypatch.setenv("CG_DOTENV_SITE_URL", "https://process.example.com")  # the process wins
    assert LocalbaseSettings().site_url == "https://process.example.com"


def test_supabase_prefixed_variables_override_the_file(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CG_DOTENV_SITE_URL", "https://referenced.example.com")
    monkeypatch.setenv("SUPABASE_AUTH_SITE_URL", "https://override.example.com")
    monkeypatch.setenv("SUPABASE_AUTH_JWT_EXPIRY", "900")
    monkeypatch.setenv("SUPABASE_AUTH_EMAIL_ENABLE_CONFIRMATIONS", "false")
    monkeypatch.setenv("SUPABASE_AUTH_ADDITIONAL_REDIRECT_URLS", "https://a.example.com/**,https://b.example.com/**")
    settings = LocalbaseSettings()
    assert (settings.site_url, settings.jwt_expiry, settings.autoconfirm) == ("https://override.example.com", 900, True)
    assert settings.redirect_allow_list == ("https://a.example.com/**", "https://b.example.com/**")
    # A key the file does not hold is overridden too (the CLI knows every key), from a .env as well.
    (project / "supabase" / ".env").write_text(
        "SUPABASE_AUTH_RATE_LIMIT_SIGN_IN_SIGN_UPS=7\nSUPABASE_STORAGE_FILE_SIZE_LIMIT=5MiB # five\n"
    )
    assert LocalbaseSettings().rate_sign_in_sign_ups == 7
    assert StorageSettings().file_size_limit == 5 * 1024 * 1024
    monkeypatch.setenv("SUPABASE_AUTH_JWT_EXPIRY", "")  # empty is unset, as viper reads it
    assert LocalbaseSettings().jwt_expiry == 600
    monkeypatch.setenv("GOTRUE_JWT_EXP", "300")  # GoTrue's own name (and ours) still win
    assert LocalbaseSettings().jwt_expiry == 300


def test_a_dotenv_sets_no_variable_of_ours_or_gotrue_s(project: Path) -> None:
    """The CLI hands GoTrue only what it builds from config.toml: a GOTRUE_* line in supabase/.env
    changes nothing."""
    (project / "supabase" / ".env").write_text("GOTRUE_JWT_EXP=300\nJWT_EXPIRY=300\nCG_DOTENV_SITE_URL=x\n")
    assert LocalbaseSettings().jwt_expiry == 600


def test_dotenv_lines_as_godotenv_reads_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CG_DOTENV_HOME", "/home/me")
    text = (
        "# a comment\n"
        "\n"
        "PLAIN=value # trailing comment\n"
        "export EXPORTED=yes\n"
        "SINGLE='kept $PLAIN # as is'\n"
        'DOUBLE="line\\nbreak ${PLAIN} \\"quoted\\""\n'
        "EXPANDED=${CG_DOTENV_HOME}/x and $PLAIN\n"
        "COLON: spaced\n"
        "EMPTY=\n"
    )
    assert parse(text) == {
        "PLAIN": "value",
        "EXPORTED": "yes",
        "SINGLE": "kept $PLAIN # as is",
        "DOUBLE": 'line\nbreak value "quoted"',
        "EXPANDED": "/home/me/x and value",
        "COLON": "spaced",
        "EMPTY": "",
    }
