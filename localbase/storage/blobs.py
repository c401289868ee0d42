"""Object bytes on local disk, written so that a crash never leaves a row without its bytes.

Layout under the root (`STORAGE_ROOT`): `blobs/<vv>/<version>` holds one immutable version of an
object, named by the row's `version` (a fresh UUID per write; a move keeps it, a copy links it
under a new one); `tmp/<pid>-<uuid>.part` holds uploads in flight.

Write order, and what a crash at each point leaves:
1. The body streams into `tmp/` in chunks (never whole in memory) while its MD5 is computed.
   Crash: a temp file of a dead process, removed at the next start (`sweep`).
2. The temp file is fsynced and renamed to `blobs/<vv>/<version>`, and the folder fsynced.
   Crash: a blob no row names yet; `sweep` removes unreferenced blobs older than a grace period
   longer than any upload's last step.
3. The row (insert or upsert naming `version`) commits. Only now can a reader find the object,
   and its bytes are complete. If the commit fails, the blob is removed at once.
Deletion is the reverse: the row goes first (API delete, upsert replacing a version, or a cascade
in SQL), and the same transaction queues the old version in `storage.blob_deletions` (a trigger
of the storage schema). `drain` unlinks queued blobs and only then deletes the queue rows, so a
crash between the two just unlinks again. A restart therefore loses nothing that was committed.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import asyncpg

log = logging.getLogger(__name__)

_DRAIN_BATCH = 500


@dataclass
class Written:
    """A finished temp file: its path, size and quoted MD5 ETag."""

    path: Path
    size: int
    etag: str


class TempUpload:
    """One upload streaming to a temp file; `write` blocks briefly per chunk, never the whole body."""

    def __init__(self, tmp_dir: Path) -> None:
        self.path = tmp_dir / f"{os.getpid()}-{uuid.uuid4().hex}.part"
        self._file = open(self.path, "wb")  # noqa: SIM115 - closed in finish/discard
        self._md5 = hashlib.md5(usedforsecurity=False)
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self._file.write(chunk)
        self._md5.update(chunk)
        self.size += len(chunk)

    def finish(self) -> Written:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        return Written(self.path, self.size, f'"{self._md5.hexdigest()}"')

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            self._file.close()
        self.path.unlink(missing_ok=True)


class BlobStore:
    def __init__(self, root: str, orphan_grace_seconds: float) -> None:
        self.root = Path(root).resolve()
        self.blobs = self.root / "blobs"
        self.tmp = self.root / "tmp"
        self.orphan_grace = orphan_grace_seconds
        self.blobs.mkdir(parents=True, exist_ok=True)
        self.tmp.mkdir(parents=True, exist_ok=True)

    def path(self, version: str) -> Path:
        """Where a version lives; versions are UUIDs we generate, never caller text."""
        canonical = str(uuid.UUID(version))
        return self.blobs / canonical[:2] / canonical

    def new_upload(self) -> TempUpload:
        return TempUpload(self.tmp)

    def place(self, written: Written) -> str:
        """Step 2: rename the finished temp file into place under a fresh version; the version."""
        version = str(uuid.uuid4())
        target = self.path(version)
        target.parent.mkdir(exist_ok=True)
        os.replace(written.path, target)
        _fsync_dir(target.parent)
        return version

    def link_copy(self, version: str) -> str:
        """A new version with the same bytes (a hard link: copies cost no space or time)."""
        new_version = str(uuid.uuid4())
        target = self.path(new_version)
        target.parent.mkdir(exist_ok=True)
        os.link(self.path(version), target)
        # The link shares the source's inode and so its mtime: without a fresh one, the sweep would
        # take a copy of an old file for an orphan before its row commits (the source's mtime moves
        # too, which only delays that file's own sweep).
        os.utime(target)
        _fsync_dir(target.parent)
        return new_version

    def remove(self, version: str) -> None:
        with contextlib.suppress(ValueError):
            self.path(version).unlink(missing_ok=True)

    async def drain(self, pool: asyncpg.Pool) -> int:
        """Unlink queued versions, then forget them; safe to run from any number of gateways."""
        removed = 0
        while True:
            async with pool.acquire() as conn, conn.transaction():
                rows = await conn.fetch(
                    "select id, version from storage.blob_deletions order by id limit $1 for update skip locked",
                    _DRAIN_BATCH,
                )
                if not rows:
                    return removed
                for row in rows:
                    self.remove(row["version"])
                await conn.execute(
                    "delete from storage.blob_deletions where id = any($1::bigint[])", [r["id"] for r in rows]
                )
                removed += len(rows)

    async def sweep(self, pool: asyncpg.Pool) -> int:
        """Remove temp files of dead processes and unreferenced blobs older than the grace period."""
        removed = 0
        for part in self.tmp.glob("*.part"):
            pid = part.name.split("-", 1)[0]
            if pid.isdigit() and not _alive(int(pid)):
                part.unlink(missing_ok=True)
                removed += 1
        cutoff = time.time() - self.orphan_grace
        candidates = [p for p in self.blobs.glob("*/*") if _mtime(p) < cutoff]
        for start in range(0, len(candidates), 1000):
            batch = candidates[start : start + 1000]
            async with pool.acquire() as conn:
                referenced = {
                    r["version"]
                    for r in await conn.fetch(
                        "select version from storage.objects where version = any($1::text[])", [p.name for p in batch]
                    )
                }
            for blob in batch:
                if blob.name not in referenced:
                    blob.unlink(missing_ok=True)
                    removed += 1
        if removed:
            log.info("storage sweep removed %d orphaned files", removed)
        return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return time.time()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
