"""What storage-api accepts as a bucket name, an object key, a MIME type and a size limit.

Keys are refused (InvalidKey) when they could mean anything but a plain relative name: a leading
`/`, a `.` or `..` segment, an empty segment, a NUL byte or any character outside storage-api's
S3-safe class. Bytes are stored by version UUID, never by key, so a key never reaches the file
system; the refusal is so that `a/../b` cannot alias `b` in policies that test folder names.
"""

from __future__ import annotations

import re
from decimal import Decimal

from localbase.storage.errors import (
    invalid_bucket_name,
    invalid_key,
    invalid_request,
    mime_not_allowed,
    no_such_bucket,
    too_large,
)

_BUCKET_NAME = re.compile(r"^[A-Za-z0-9_!.*'() &$=@;:+,?-]{1,100}$")
_KEY = re.compile(r"^[A-Za-z0-9_/!.*'() &$=@;:+,?-]+$")
_MIME = re.compile(r"^([a-zA-Z0-9\-+.]+)/([a-zA-Z0-9\-+.*]+)(;\s*charset=[a-zA-Z0-9\-]+)?$|^\*$")
_HEADER_UNSAFE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # all but tab: as uvicorn refuses to send
_SIZE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)\s*(gb|mb|kb|b)$", re.IGNORECASE)
_UNITS = {"b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3}
MAX_KEY_LENGTH = 1024


def bucket_name(name: object) -> str:
    if not isinstance(name, str) or name != name.strip() or not _BUCKET_NAME.match(name):
        raise invalid_bucket_name()
    return name


def bucket_ref(bucket_id: str) -> str:
    """A bucket id from a request, to look up: one holding a NUL names no bucket (Postgres text
    cannot hold it, nor be asked for it), so it is not found rather than a database error."""
    if "\x00" in bucket_id:
        raise no_such_bucket()
    return bucket_id


def boolean(value: object, name: str) -> bool:
    """A boolean body field as storage-api's schema reads it (Ajv coercing types): a JSON boolean,
    `"true"`/`"false"`, 1/0 or null; anything else is refused, never truthy (`bool("false")`)."""
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    if value in ("true", "false") or (type(value) in (int, float) and value in (0, 1)):
        return value in ("true", 1)
    raise invalid_request(f"{name} must be boolean")


def header_value(value: str, name: str) -> str:
    """Text the object's reads will send as a header (its MIME type, its Cache-Control): what an
    HTTP header cannot carry is refused now, not found by every download later."""
    if _HEADER_UNSAFE.search(value):
        raise invalid_request(f"{name} must not contain control characters")
    return value


def object_key(key: str) -> str:
    if (
        not key
        or len(key) > MAX_KEY_LENGTH
        or "\x00" in key
        or key.startswith("/")
        or not _KEY.match(key)
        or any(part in ("", ".", "..") for part in key.rstrip("/").split("/"))
    ):
        raise invalid_key(key.replace("\x00", "\\0"))
    return key


def mime_types(value: object) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise invalid_request("allowed_mime_types must be an array of strings")
    kept = [v for v in value if v]
    for item in kept:
        if len(item) > 1000 or not _MIME.match(item):
            raise mime_not_allowed(item)
    return kept


def size_limit(value: object, global_limit: int) -> int | None:
    """A bucket's file_size_limit in bytes: an integer or `"20MB"`-style decimal units."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise invalid_request("Invalid file size format, hint: use 20GB / 20MB / 30KB / 3B")
    if isinstance(value, int):
        size = value
    elif isinstance(value, str) and value.isascii() and value.isdigit():  # isdigit() alone takes `²`
        size = int(value)
    elif isinstance(value, str) and (match := _SIZE.match(value.strip())):
        size = int(Decimal(match.group(1)) * _UNITS[match.group(2).lower()])
    else:
        raise invalid_request("Invalid file size format, hint: use 20GB / 20MB / 30KB / 3B")
    if size < 0:
        raise invalid_request("file_size_limit must be >= 0")
    if size > global_limit:
        raise too_large()
    return size


def check_mime(mimetype: str, allowed: list[str] | None) -> None:
    """Exact `type/sub` or `type/*` (parameters such as charset ignored); `*` allows all."""
    if not allowed:
        return
    base = mimetype.split(";", 1)[0].strip().lower()
    major = base.split("/", 1)[0]
    for pattern in allowed:
        wanted = pattern.split(";", 1)[0].strip().lower()
        if wanted in ("*", "*/*", base) or wanted == f"{major}/*":
            return
    raise mime_not_allowed(mimetype)


def effective_limit(bucket_limit: int | None, global_limit: int) -> int:
    return global_limit if bucket_limit is None else min(bucket_limit, global_limit)


def check_size(size: int, limit: int) -> None:
    if size > limit:
        raise too_large()


def expires_in(value: object) -> int:
    """`expiresIn` as an integer >= 1; storage3 sends it as a string."""
    try:
        seconds = int(str(value))
    except ValueError as exc:
        raise invalid_request("body/expiresIn must be integer") from exc
    if seconds < 1:
        raise invalid_request("body/expiresIn must be >= 1")
    return seconds
