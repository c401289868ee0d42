"""supabase/config.toml, read the way `supabase start` reads it, as the local Auth's defaults.

One file declares the product's auth settings for every stack: the Supabase CLI pushes it to a
hosted project and starts its local GoTrue from it, and `core.settings` takes the same keys as the
defaults of the local stack. Environment variables still win over it (ours, then GoTrue's own
GOTRUE_* names; see docs/ENVS.md). `SUPABASE_CONFIG` names another file; `SUPABASE_CONFIG=none`
ignores any file (the built-in defaults, which are the CLI's).

Read here: [api] schemas, max_rows; [auth] site_url, additional_redirect_urls, jwt_expiry,
enable_refresh_token_rotation, refresh_token_reuse_interval, minimum_password_length,
password_requirements, enable_signup; [auth.email] enable_confirmations, double_confirm_changes,
secure_password_change, otp_expiry; [auth.mfa.totp] enroll_enabled, verify_enabled;
[auth.rate_limit] email_sent, anonymous_users, sign_in_sign_ups, token_refresh, token_verifications, web3; [storage]
file_size_limit; [inbucket] port (the mailbox). A file that is not valid TOML is an error at
start-up, not a silent fallback.

A value written `env(NAME)` is the variable NAME, as the CLI reads it (decode_hooks.go
LoadEnvHook, then mapstructure's weak decoding): anywhere in the file, list items too, when NAME is
set and not empty; a number or a switch is then read from its text (Go's ParseInt and ParseBool),
and a list given as one text is split at ",". An unset or empty NAME leaves the literal
`env(NAME)`: a text keeps it, with the CLI's warning, and a number or a switch cannot be read from
it, so the start fails naming the key, as `supabase start` does.

As the CLI, a key is also overridden by the variable SUPABASE_<KEY PATH> (`auth.site_url` by
SUPABASE_AUTH_SITE_URL, set and not empty; our own and GoTrue's names still win over it), and the
`.env` files the CLI loads first (supabase/.env, .env.local, .env.<SUPABASE_ENV>, ... then the
project's: core/settings/dotenv.py) are seen by env() and by those overrides, never over the
process's own variables.
"""

from __future__ import annotations

import logging
import os
import re
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any

from core.settings import dotenv

log = logging.getLogger(__name__)

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "supabase" / "config.toml"

# GoTrue's `password_requirements` values as the character sets each of which must appear.
_LOWER, _UPPER, _DIGITS = "abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789"
# GoTrue's symbol set without ":", which separates the sets here.
_SYMBOLS = "!@#$%^&*()_+-=[]{};'\\\"|<>?,./`~"
PASSWORD_REQUIREMENTS = {
    "": "",
    "letters_digits": f"{_LOWER}{_UPPER}:{_DIGITS}",
    "lower_upper_letters_digits": f"{_LOWER}:{_UPPER}:{_DIGITS}",
    "lower_upper_letters_digits_symbols": f"{_LOWER}:{_UPPER}:{_DIGITS}:{_SYMBOLS}",
}


def config_path() -> Path | None:
    """The config file in use, or None when there is none (or SUPABASE_CONFIG=none)."""
    named = os.environ.get("SUPABASE_CONFIG", "")
    if named.lower() == "none":
        return None
    path = Path(named) if named else DEFAULT_PATH
    return path if path.is_file() else None


@lru_cache(maxsize=8)
def _load(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    with path.open("rb") as handle:
        return tomllib.load(handle)


# The CLI's envPattern: the whole text (Go's $ without the m flag is the very end, Python's \Z).
_ENV_REFERENCE = re.compile(r"^env\((.*)\)\Z")


def _substituted(node: Any, environment: dict[str, str]) -> Any:
    """`node` with each text that is exactly `env(NAME)` replaced by NAME's value, if set and not empty."""
    if isinstance(node, dict):
        return {key: _substituted(item, environment) for key, item in node.items()}
    if isinstance(node, list):
        return [_substituted(item, environment) for item in node]
    if isinstance(node, str) and (match := _ENV_REFERENCE.match(node)):
        found = environment.get(match.group(1), "")
        if found:
            return found
        log.warning("environment variable is unset: %s", match.group(1))
    return node


def cli_environment() -> dict[str, str]:
    """The environment the CLI reads config.toml with: the process's over the `.env` files beside
    the file in use (or, with none, beside the project's supabase/config.toml) and its parent's."""
    return dotenv.environment((config_path() or DEFAULT_PATH).parent)


def value(dotted: str, default: Any) -> Any:
    """`section.sub.key` as the CLI reads it: the variable SUPABASE_SECTION_SUB_KEY when set and not
    empty (viper's AutomaticEnv), else the config file's value, its env() references read now; or
    `default` when the file or the key is missing."""
    environment = cli_environment()
    override = environment.get("SUPABASE_" + dotted.upper().replace(".", "_"), "")
    if override:
        return _substituted(override, environment)
    node: Any = _load(config_path())
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return _substituted(node, environment)


def _integer(dotted: str, configured: Any) -> int:
    """A number from the file: TOML's, or a text as Go's ParseInt reads it (an env() reference's)."""
    if isinstance(configured, int) and not isinstance(configured, bool):
        return configured
    try:
        return int(str(configured).strip(), 0)
    except ValueError:
        raise ValueError(f"supabase/config.toml: {dotted} = {configured!r} is not a whole number") from None


# Go's strconv.ParseBool, which the CLI's weak decoding reads a text switch with.
_TRUE, _FALSE = {"1", "t", "T", "TRUE", "true", "True"}, {"0", "f", "F", "FALSE", "false", "False"}


def _switch(dotted: str, configured: Any) -> bool:
    if isinstance(configured, bool):
        return configured
    if isinstance(configured, str) and configured in _TRUE | _FALSE:
        return configured in _TRUE
    raise ValueError(f"supabase/config.toml: {dotted} = {configured!r} is not true or false")


def _env(names: tuple[str, ...]) -> str | None:
    for name in names:
        found = os.environ.get(name)
        if found not in (None, ""):
            return found
    return None


def setting_str(names: tuple[str, ...], dotted: str, default: str) -> str:
    """The first set environment variable of `names`, else the config's `dotted`, else `default`."""
    found = _env(names)
    return found if found is not None else str(value(dotted, default))


def setting_int(names: tuple[str, ...], dotted: str, default: int) -> int:
    found = _env(names)
    return int(found) if found is not None else _integer(dotted, value(dotted, default))


def setting_float(names: tuple[str, ...], dotted: str, default: float) -> float:
    """A rate: GoTrue reads its limits as floats (a variable), the CLI's file holds whole numbers."""
    found = _env(names)
    return float(found) if found is not None else float(_integer(dotted, value(dotted, default)))


def setting_bool(names: tuple[str, ...], dotted: str, default: bool, *, invert: bool = False) -> bool:
    """Like setting_str; `invert` when the config key says the opposite (enable_confirmations vs autoconfirm)."""
    found = _env(names)
    if found is not None:
        return found.strip().lower() in {"1", "true", "yes", "on"}
    configured = value(dotted, None)
    if configured is None:
        return default
    return (not _switch(dotted, configured)) if invert else _switch(dotted, configured)


def setting_list(names: tuple[str, ...], dotted: str) -> tuple[str, ...]:
    """A comma-separated variable, else the config's list."""
    found = _env(names)
    if found is not None:
        return tuple(item.strip() for item in found.split(",") if item.strip())
    configured = value(dotted, [])
    if isinstance(configured, str):  # one text (an env() reference's): the CLI splits it at ","
        configured = [item for item in configured.split(",") if item.strip()]
    return tuple(str(item) for item in configured) if isinstance(configured, list) else ()


def password_characters(names: tuple[str, ...], default: str) -> str:
    """GoTrue's required character sets, from a variable or the config's `password_requirements`."""
    found = _env(names)
    if found is not None:
        return found
    configured = value("auth.password_requirements", None)
    if configured is None:
        return default
    if configured not in PASSWORD_REQUIREMENTS:
        raise ValueError(f"supabase/config.toml: unknown auth.password_requirements {configured!r}")
    return PASSWORD_REQUIREMENTS[str(configured)]


# docker/go-units' RAMInBytes, which the CLI reads `file_size_limit` with: 1024-based whatever the
# spelling (50MiB, 50MB, 50M), a bare number is bytes.
_SIZE = re.compile(r"^(\d+(?:\.\d+)?) ?([kmgtp])?i?b?$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def size_in_bytes(text: str | int) -> int:
    """`50MiB` as 52428800, as the CLI reads sizes; ValueError for anything else."""
    if isinstance(text, int):
        return text
    match = _SIZE.match(text.strip())
    if match is None:
        raise ValueError(f"supabase/config.toml: not a size: {text!r} (say e.g. 50MiB)")
    return int(float(match.group(1)) * _SIZE_UNITS[(match.group(2) or "").lower()])


def setting_size(names: tuple[str, ...], dotted: str, default: int) -> int:
    """Bytes from a variable (a number) or the config's size (`50MiB`), else `default`."""
    found = _env(names)
    if found is not None:
        return int(found)
    configured = value(dotted, None)
    return default if configured is None else size_in_bytes(configured)


# Go's time.ParseDuration, which the CLI (and GoTrue, for GOTRUE_* variables) reads durations with.
_DURATION = re.compile(r"[-+]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+\Z")
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def duration_seconds(text: str | int) -> float:
    """`1m30s` as 90.0, as Go reads a duration (a TOML integer is nanoseconds, as the CLI decodes it)."""
    if isinstance(text, int):
        return text * 1e-9
    if text in {"0", "+0", "-0"}:
        return 0.0
    if not _DURATION.match(text):
        raise ValueError(f"not a duration: {text!r} (say e.g. 1s, 1m30s, 500ms)")
    total = sum(float(number) * _DURATION_UNITS[unit] for number, unit in _DURATION_PART.findall(text))
    return -total if text.startswith("-") else total


def setting_duration(names: tuple[str, ...], dotted: str, default: str) -> float:
    """Seconds from a variable or the config's duration (both Go's `1m30s`), else `default`."""
    found = _env(names)
    return duration_seconds(found if found is not None else value(dotted, default))
