"""What every storage handler works with, and the small conversions they share."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg

from localbase.storage import rules
from localbase.storage.access import Access
from localbase.storage.blobs import BlobStore
from localbase.storage.errors import no_such_bucket


@dataclass
class Storage:
    access: Access
    store: BlobStore
    global_limit: int
    url_secret: str
    upload_url_expiry: int
    empty_bucket_service_only: bool
    # Rows of objects in public buckets, kept for `public_cache_seconds` (see `cached_public`).
    public_cache_seconds: float = 0.0
    _public: dict[tuple[str, str], tuple[float, asyncpg.Record]] = field(default_factory=dict)

    async def drain(self) -> None:
        await self.store.drain(self.access.admin)

    def cached_public(self, bucket_id: str, key: str) -> asyncpg.Record | None:
        """A public object's row read less than `public_cache_seconds` ago by this gateway.

        Public downloads need no authorization, so the row is all a download reads; caching it
        saves the one query. Every write through this gateway empties the cache; a write through
        another gateway (a move, a bucket made private) shows here within the TTL. Deleted or
        replaced bytes are unlinked at once, and a cached row whose file is gone is read again.
        """
        hit = self._public.get((bucket_id, key))
        if hit is None or hit[0] < time.monotonic():
            return None
        return hit[1]

    def remember_public(self, bucket_id: str, key: str, row: asyncpg.Record) -> None:
        if self.public_cache_seconds <= 0:
            return
        if len(self._public) >= _PUBLIC_CACHE_ROWS:
            self._public.clear()
        self._public[(bucket_id, key)] = (time.monotonic() + self.public_cache_seconds, row)

    def forget_public(self) -> None:
        self._public.clear()


_PUBLIC_CACHE_ROWS = 10_000


@dataclass(frozen=True)
class Bucket:
    id: str
    public: bool
    file_size_limit: int | None
    allowed_mime_types: list[str] | None


async def bucket_as_admin(storage: Storage, bucket_id: str) -> Bucket:
    async with storage.access.admin.acquire() as conn:
        row = await conn.fetchrow(
            "select id, public, file_size_limit, allowed_mime_types from storage.buckets where id = $1",
            rules.bucket_ref(bucket_id),
        )
    if row is None:
        raise no_such_bucket()
    return Bucket(row["id"], bool(row["public"]), row["file_size_limit"], row["allowed_mime_types"])


def iso(moment: datetime | None) -> str | None:
    """node-pg's Date.toISOString(): UTC, milliseconds, `Z`."""
    if moment is None:
        return None
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def record(row: asyncpg.Record, keys: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in keys:
        value = row[key]
        if isinstance(value, datetime):
            value = iso(value)
        elif isinstance(value, uuid.UUID):
            value = str(value)
        out[key] = value
    return out
