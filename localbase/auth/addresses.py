"""Email and phone inputs checked as GoTrue checks them, and normalised as it stores them."""

from __future__ import annotations

import re

from localbase.auth.errors import validation_failed

# GoTrue's (and the HTML5 spec's) email pattern.
_EMAIL = re.compile(
    r"^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
    r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$"
)
_PHONE = re.compile(r"^[1-9]\d{7,14}$")
MAX_EMAIL = 255


def email(value: str) -> str:
    """The address lower-cased, or 400 `validation_failed`."""
    address = value.strip().lower()
    if len(address) > MAX_EMAIL:
        raise validation_failed("An email address is too long")
    if not _EMAIL.fullmatch(address):
        raise validation_failed("Unable to validate email address: invalid format")
    return address


def phone(value: str) -> str:
    """E.164 digits without the `+`, as GoTrue stores them, or 400 `validation_failed`."""
    digits = re.sub(r"[\s\-()]", "", value).removeprefix("+")
    if not _PHONE.fullmatch(digits):
        raise validation_failed("Invalid phone number format (E.164 required)")
    return digits
