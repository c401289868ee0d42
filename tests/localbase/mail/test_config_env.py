"""`env(NAME)` in supabase/config.toml, read as the Supabase CLI reads it (apps/cli-go/pkg/config,
decode_hooks.go LoadEnvHook and mapstructure's weak decoding after it): a string that is exactly
`env(NAME)` becomes the variable's value when it is set and not empty, in any section and inside
lists; a number or a switch is read from that text; an unset (or empty) variable leaves the literal
`env(NAME)`, which a text setting keeps (the CLI warns for site_url and the redirect URLs) and a
number or a switch cannot be read as (the CLI refuses to start)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import LocalbaseSettings, StorageSettings
from tests.conftest import PRODUCT_AUTH_ENV

CONFIG = """
[api]
schemas = "env(CG_TEST_SCHEMAS)"
max_rows = "env(CG_TEST_MAX_ROWS)"

[storage]
file_size_limit = "env(CG_TEST_FILE_SIZE)"

[auth]
site_url = "env(CG_TEST_SITE_URL)"
additional_redirect_urls = ["env(CG_TEST_REDIRECT)", "https://fixed.example.com/**"]
jwt_expiry = "env(CG_TEST_JWT_EXPIRY)"
enable_signup = "env(CG_TEST_ENABLE_SIGNUP)"
password_requirements = "env(CG_TEST_PASSWORD_RULE)"

[auth.email]
enable_confirmations = "env(CG_TEST_CONFIRMATIONS)"
"""
REFERENCED = (
    "CG_TEST_SCHEMAS",
    "CG_TEST_MAX_ROWS",
    "CG_TEST_FILE_SIZE",
    "CG_TEST_SITE_URL",
    "CG_TEST_REDIRECT",
    "CG_TEST_JWT_EXPIRY",
    "CG_TEST_ENABLE_SIGNUP",
    "CG_TEST_PASSWORD_RULE",
    "CG_TEST_CONFIRMATIONS",
)
# Our names and GoTrue's for the same settings, which would win over the file.
OVERRIDES = (
    *PRODUCT_AUTH_ENV,
    "PGRST_DB_SCHEMAS",
    "PGRST_DB_MAX_ROWS",
    "STORAGE_FILE_SIZE_LIMIT",
    "SITE_URL",
    "GOTRUE_SITE_URL",
    "LOCALBASE_REDIRECT_ALLOW_LIST",
    "GOTRUE_URI_ALLOW_LIST",
    "JWT_EXPIRY",
    "GOTRUE_JWT_EXP",
    "LOCALBASE_DISABLE_SIGNUP",
    "GOTRUE_DISABLE_SIGNUP",
    "LOCALBASE_PASSWORD_REQUIRED_CHARACTERS",
    "GOTRUE_PASSWORD_REQUIRED_CHARACTERS",
    "LOCALBASE_AUTOCONFIRM",
)


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    for name in (*OVERRIDES, *REFERENCED):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SUPABASE_CONFIG", str(path))
    return path


def test_env_references_take_the_variables_values(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CG_TEST_SCHEMAS", "public,extra")  # a list given as one text: split at ","
    monkeypatch.setenv("CG_TEST_MAX_ROWS", "250")
    monkeypatch.setenv("CG_TEST_FILE_SIZE", "5MiB")
    monkeypatch.setenv("CG_TEST_SITE_URL", "https://chat.example.com")
    monkeypatch.setenv("CG_TEST_REDIRECT", "https://chat.example.com/auth/**")
    monkeypatch.setenv("CG_TEST_JWT_EXPIRY", "900")
    monkeypatch.setenv("CG_TEST_ENABLE_SIGNUP", "false")
    monkeypatch.setenv("CG_TEST_PASSWORD_RULE", "lower_upper_letters_digits")
    monkeypatch.setenv("CG_TEST_CONFIRMATIONS", "false")
    settings = LocalbaseSettings()
    assert settings.exposed_schemas == ("public", "extra")
    assert settings.max_rows == 250
    assert settings.site_url == "https://chat.example.com"
    assert settings.redirect_allow_list == ("https://chat.example.com/auth/**", "https://fixed.example.com/**")
    assert settings.jwt_expiry == 900
    assert settings.disable_signup is True  # "false" is false, not a non-empty (true) text
    assert settings.autoconfirm is True  # confirmations "false": accounts are confirmed at once
    assert settings.password_required_characters.count(":") == 2  # three sets: lower, upper, digits
    assert StorageSettings().file_size_limit == 5 * 1024 * 1024
    monkeypatch.setenv("CG_TEST_ENABLE_SIGNUP", "true")
    monkeypatch.setenv("CG_TEST_CONFIRMATIONS", "1")
    flipped = LocalbaseSettings()
    assert (flipped.disable_signup, flipped.autoconfirm) == (False, False)


def test_an_unset_variable_leaves_the_literal_as_the_cli_does(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Texts keep "env(NAME)" (the CLI warns "environment variable is unset"), an empty variable
    # counts as unset; numbers and switches cannot be read from it and stop the start, naming it.
    monkeypatch.setenv("CG_TEST_JWT_EXPIRY", "900")
    monkeypatch.setenv("CG_TEST_ENABLE_SIGNUP", "true")
    monkeypatch.setenv("CG_TEST_CONFIRMATIONS", "true")
    monkeypatch.setenv("CG_TEST_PASSWORD_RULE", "")
    monkeypatch.setenv("CG_TEST_MAX_ROWS", "1000")
    monkeypatch.setenv("CG_TEST_SCHEMAS", "")
    with pytest.raises(ValueError, match=r"password_requirements"):
        LocalbaseSettings()
    monkeypatch.setenv("CG_TEST_PASSWORD_RULE", "letters_digits")
    kept = LocalbaseSettings()
    assert kept.site_url == "env(CG_TEST_SITE_URL)"
    assert kept.redirect_allow_list == ("env(CG_TEST_REDIRECT)", "https://fixed.example.com/**")
    assert kept.exposed_schemas == ("env(CG_TEST_SCHEMAS)",)
    monkeypatch.delenv("CG_TEST_JWT_EXPIRY")
    with pytest.raises(ValueError, match=r"auth\.jwt_expiry.*env\(CG_TEST_JWT_EXPIRY\)"):
        LocalbaseSettings()
    monkeypatch.setenv("CG_TEST_JWT_EXPIRY", "900")
    monkeypatch.delenv("CG_TEST_CONFIRMATIONS")
    with pytest.raises(ValueError, match=r"auth\.email\.enable_confirmations.*env\(CG_TEST_CONFIRMATIONS\)"):
        LocalbaseSettings()
    monkeypatch.setenv("CG_TEST_CONFIRMATIONS", "yes")  # Go's ParseBool knows no "yes"
    with pytest.raises(ValueError, match=r"auth\.email\.enable_confirmations.*'yes'"):
        LocalbaseSettings()
    with pytest.raises(ValueError, match=r"env\(CG_TEST_FILE_SIZE\)"):
        StorageSettings()


def test_the_environment_still_wins_over_a_reference(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CG_TEST_JWT_EXPIRY", "900")
    monkeypatch.setenv("GOTRUE_JWT_EXP", "300")
    monkeypatch.setenv("CG_TEST_MAX_ROWS", "1000")
    monkeypatch.setenv("CG_TEST_ENABLE_SIGNUP", "true")
    monkeypatch.setenv("CG_TEST_CONFIRMATIONS", "true")
    monkeypatch.setenv("CG_TEST_PASSWORD_RULE", "letters_digits")
    monkeypatch.setenv("SITE_URL", "http://127.0.0.1:3000")
    settings = LocalbaseSettings()
    assert (settings.jwt_expiry, settings.site_url) == (300, "http://127.0.0.1:3000")
