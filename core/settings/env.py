"""Environment variables read as typed values: an unset or empty variable is its default."""

from __future__ import annotations

import os


def env_str(name: str, default: str) -> str:
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return default if not value else int(value)


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return default if not value else float(value)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if not value:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}
