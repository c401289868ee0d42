"""Value rules for what users type: usernames, passwords, emails, slugs, message text.

Each failure is an `Unprocessable` (422) naming the field and a stable code, so forms can point
at the right box. The username width matches the database's `username_width()`: a CJK
character counts as two, which is how "张三" (the seed's own example) passes the 3-50 rule.
"""

from __future__ import annotations

import re
import unicodedata

from api.errors import ApiError, Unprocessable
from api.schemas import RoleTexts
from core.webaddress import is_web_address

_WIDE = re.compile("[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]")
_EMAIL = re.compile(r"^[^@\s\x00-\x1f]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9-]{1,63})+$")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{1,63}$")
LOCALES = ("en", "zh")  # the web app's languages; ai_roles_translations_shape allows these keys only
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def _invalid(code: str, field: str, message: str) -> ApiError:
    return Unprocessable(message, field=field, code=code)


def username(value: str) -> str:
    width = len(value) + len(_WIDE.findall(value))
    if value != value.strip() or not 3 <= width <= 50 or len(value) > 50 or _has(value, ("Cc", "Cf")):
        raise _invalid(
            "InvalidUsername",
            "username",
            "Username must be 3-50 characters (a Chinese character counts as two), without surrounding spaces,"
            " control characters or invisible formatting characters.",
        )
    return value


def _has(value: str, categories: tuple[str, ...], allowed: str = "") -> bool:
    """Whether `value` holds a character of these Unicode general categories (`Cc` control, `Cf`
    format: zero-width spaces and joiners, direction marks), other than those `allowed`."""
    return any(unicodedata.category(c) in categories and c not in allowed for c in value)


def password(value: str) -> str:
    if len(value) < 8 or len(value) > 72 or not re.search(r"[A-Za-z]", value) or not re.search(r"\d", value):
        raise _invalid("WeakPassword", "password", "Password must be 8-72 characters with letters and digits.")
    return value


def email(value: str) -> str:
    value = value.strip()
    if len(value) > 254 or not _EMAIL.match(value):
        raise _invalid("InvalidEmail", "email", "Email address is not valid.")
    return value.lower()


def slug(value: str, field: str = "id") -> str:
    if not _SLUG.match(value):
        raise _invalid("InvalidRoleId", field, "Role id must be 2-64 of a-z, 0-9, '_' and '-', starting alphanumeric.")
    return value


# The blanks a role's texts are kept without: JavaScript's String.prototype.trim() set (the web
# app's trim), which the database strips as well (public.trim_blanks, ai_roles_trim_texts).
BLANKS = (
    "\t\n\v\f\r \u00a0\u1680" + "".join(chr(c) for c in range(0x2000, 0x200B)) + "\u2028\u2029\u202f\u205f\u3000\ufeff"
)


def trimmed(value: str) -> str:
    return value.strip(BLANKS)


def text(value: str, field: str, *, max_chars: int, required: bool = True) -> str:
    if required and not value.strip():
        raise _invalid("EmptyValue", field, f"{field} must not be empty.")
    if len(value) > max_chars:
        raise _invalid("TooLong", field, f"{field} must be at most {max_chars} characters.")
    if "\x00" in value:
        raise _invalid("InvalidText", field, f"{field} must not contain NUL characters.")
    return value


def role_text(value: str, field: str, *, max_chars: int) -> str:
    """A role's name or system prompt as it is kept, trimmed: required, at most `max_chars` once
    trimmed, and no control character but a line break or a tab (the database checks the same on
    ai_roles, after trimming it the same way)."""
    value = text(trimmed(value), field, max_chars=max_chars)
    if _has(value, ("Cc",), allowed="\n\t"):
        raise _invalid(
            "InvalidText", field, f"{field} must not contain control characters other than line breaks and tabs."
        )
    return value


def role_description(value: str | None) -> str | None:
    """A role's description as it is kept: trimmed, at most 2000 characters then; blank is none."""
    kept = trimmed(value or "")
    return text(kept, "description", max_chars=2000, required=False) if kept else None


def avatar_url(value: str, field: str = "avatar_url", *, max_chars: int) -> str:
    """An absolute http(s) URL with a host (a Storage public URL, or any image on the web)."""
    if len(value) > max_chars:
        raise _invalid("TooLong", field, f"{field} must be at most {max_chars} characters.")
    if not is_web_address(value):
        raise _invalid("InvalidUrl", field, f"{field} must be an absolute http:// or https:// URL.")
    return value


def message(value: str, max_chars: int) -> str:
    if not value.strip():
        raise _invalid("EmptyMessage", "message", "Message must not be empty.")
    if len(value) > max_chars:
        raise _invalid("MessageTooLong", "message", f"Message must be at most {max_chars} characters.")
    if "\x00" in value:
        raise _invalid("InvalidText", "message", "Message must not contain NUL characters.")
    return value


def is_uuid(value: str) -> bool:
    """The canonical 8-4-4-4-12 hex spelling only, the one every door passes on as it came: Python's
    `uuid.UUID()` also reads `urn:uuid:...`, braces and other spellings Postgres refuses (400)."""
    return _UUID.fullmatch(value) is not None


def uuid_field(value: str, field: str) -> str:
    if not is_uuid(value):
        raise _invalid("InvalidId", field, f"{field} must be a UUID.")
    return value.lower()


def role_translations(value: dict[str, RoleTexts] | None) -> dict[str, dict[str, str]]:
    """A role's texts per language as ai_roles.translations stores them. A blank text is no text
    (the stored one stands in), and a language left with none is dropped; a language the web app
    does not have is `InvalidLocale`, a text over the column's limit `TooLong`."""
    stored: dict[str, dict[str, str]] = {}
    for locale, texts in (value or {}).items():
        if locale not in LOCALES:
            raise _invalid("InvalidLocale", "translations", f"Translations are for {', '.join(LOCALES)} only.")
        kept = {}
        name, description = trimmed(texts.name or ""), trimmed(texts.description or "")
        if name:
            kept["name"] = text(name, f"translations.{locale}.name", max_chars=100)
        if description:
            kept["description"] = text(description, f"translations.{locale}.description", max_chars=2000)
        if kept:
            stored[locale] = kept
    return stored
