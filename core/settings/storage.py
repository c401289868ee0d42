"""The local Storage service's disk and limits ([storage] in supabase/config.toml)."""

from __future__ import annotations

from dataclasses import dataclass, field

import core.settings.projectconfig as config
from core.settings.env import env_bool, env_float, env_int, env_str


@dataclass(frozen=True)
class StorageSettings:
    """The local Storage service (/storage/v1): where bytes live and the stack-wide limits."""

    root: str = field(default_factory=lambda: env_str("STORAGE_ROOT", ".localbase/storage"))
    # Largest object any bucket may hold, in bytes (a bucket's own file_size_limit can only lower it).
    file_size_limit: int = field(
        default_factory=lambda: config.setting_size(("STORAGE_FILE_SIZE_LIMIT",), "storage.file_size_limit", 52_428_800)
    )
    upload_url_expiry: int = field(default_factory=lambda: env_int("STORAGE_SIGNED_UPLOAD_URL_EXPIRATION_TIME", 7200))
    # Bytes no row names (a crash between placing them and committing the row) are removed once
    # older than this; it must exceed the longest gap between the two steps of one upload.
    orphan_grace_seconds: float = field(default_factory=lambda: env_float("STORAGE_ORPHAN_GRACE_SECONDS", 600.0))
    empty_bucket_service_only: bool = field(
        default_factory=lambda: env_bool("STORAGE_EMPTY_BUCKET_SERVICE_ONLY", False)
    )
    # How long a gateway reuses a public object's row for downloads (0 turns it off); see
    # localbase/storage/context.py for what may be stale for that long.
    public_cache_seconds: float = field(default_factory=lambda: env_float("STORAGE_PUBLIC_CACHE_SECONDS", 1.0))
