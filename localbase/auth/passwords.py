"""Passwords: bcrypt as GoTrue stores them, run in a thread, and the product's strength rule.

bcrypt at cost 10 takes ~100-250 ms of CPU; on the event loop that would stall every other
request, so hashing and checking happen in the default executor. A sign-in for an unknown email
still checks against a dummy hash so that response time does not reveal which emails exist.
"""

from __future__ import annotations

import asyncio
from functools import lru_cache

import bcrypt

from core.settings import LocalbaseSettings
from localbase.auth.errors import AuthError, validation_failed

MAX_BYTES = 72  # bcrypt ignores (bcrypt 5 refuses) anything longer


async def hash_password(password: str, cost: int) -> str:
    hashed = await asyncio.to_thread(bcrypt.hashpw, password.encode(), bcrypt.gensalt(cost))
    return hashed.decode()


async def check_password(password: str, hashed: str | None, cost: int) -> bool:
    """Whether `password` matches; a missing hash costs the same time and never matches."""
    candidate = password.encode()
    if len(candidate) > MAX_BYTES:
        return False
    return await asyncio.to_thread(_check, candidate, hashed, cost)


def _check(candidate: bytes, hashed: str | None, cost: int) -> bool:
    try:
        matched = bcrypt.checkpw(candidate, hashed.encode() if hashed else _dummy_hash(cost))
    except ValueError:  # a stored value that is not a bcrypt hash
        return False
    return matched and hashed is not None


def check_strength(password: str, settings: LocalbaseSettings) -> None:
    """Refuse a weak password with GoTrue's 422 `weak_password` and its list of reasons."""
    if len(password.encode()) > MAX_BYTES:
        raise validation_failed(f"Password cannot be longer than {MAX_BYTES} characters", status=422)
    reasons: list[str] = []
    messages: list[str] = []
    if len(password) < settings.password_min_length:
        reasons.append("length")
        messages.append(f"Password should be at least {settings.password_min_length} characters.")
    groups = [group for group in settings.password_required_characters.split(":") if group]
    if any(not any(char in group for char in password) for group in groups):
        reasons.append("characters")
        messages.append(f"Password should contain at least one character of each: {', '.join(groups)}.")
    if reasons:
        raise AuthError(422, "weak_password", " ".join(messages), {"weak_password": {"reasons": reasons}})


@lru_cache(maxsize=4)
def _dummy_hash(cost: int) -> bytes:
    return bcrypt.hashpw(b"localbase-timing-equaliser", bcrypt.gensalt(cost))
