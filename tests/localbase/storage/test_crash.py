"""A gateway killed (SIGKILL) in the middle of an upload: afterwards there is no row without bytes
and, once it is back, no bytes without a row; what was committed before survives the restart."""

from __future__ import annotations

import contextlib
import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from localbase.storage.blobs import BlobStore
from tests.conftest import launch_stack


def _rows(dsn: str, bucket: str) -> list[str]:
    async def fetch() -> list[str]:
        conn = await asyncpg.connect(dsn)
        try:
            return [
                r["name"] for r in await conn.fetch("select name from storage.objects where bucket_id = $1", bucket)
            ]
        finally:
            await conn.close()

    import asyncio

    return sorted(asyncio.run(fetch()))


def test_kill_mid_upload_leaves_nothing_half_done(stack_db_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    gateway = launch_stack(stack_db_dsn, tmp_path_factory)
    root = Path(gateway.env["STORAGE_ROOT"])  # shared with the session's gateway on this database
    others = {p.name for p in (root / "blobs").glob("*/*")}
    headers = {"apikey": gateway.service_role_key, "Authorization": f"Bearer {gateway.service_role_key}"}
    bucket = f"crash-{uuid.uuid4().hex[:8]}"
    try:
        base = f"{gateway.url}/storage/v1"
        assert httpx.post(f"{base}/bucket", json={"name": bucket}, headers=headers).status_code == 200
        kept = httpx.post(f"{base}/object/{bucket}/kept.txt", content=b"kept", headers=headers)
        assert kept.status_code == 200
        release = threading.Event()

        def body() -> Iterator[bytes]:
            yield b"a" * 65536
            release.wait(30)
            yield b"b" * 65536

        def send() -> None:
            with contextlib.suppress(httpx.HTTPError):
                httpx.post(f"{base}/object/{bucket}/partial.bin", content=body(), headers=headers, timeout=30)

        sender = threading.Thread(target=send)
        sender.start()
        deadline = time.monotonic() + 20
        while not any(p.stat().st_size > 0 for p in (root / "tmp").glob("*.part")):
            assert time.monotonic() < deadline, "the upload never reached the temp file"
            time.sleep(0.02)
        assert gateway.process is not None
        gateway.process.kill()
        gateway.process.wait()
        release.set()
        sender.join()
        assert _rows(stack_db_dsn, bucket) == ["kept.txt"]  # no row for the half upload
        assert len(list((root / "tmp").glob("*.part"))) == 1
        # Bytes placed but never committed (a crash between rename and commit): old ones go, fresh
        # ones (an upload of another gateway about to commit) stay until the grace period passes.
        stale, fresh = root / "blobs" / "00" / str(uuid.uuid4()), root / "blobs" / "00" / str(uuid.uuid4())
        stale.parent.mkdir(exist_ok=True)
        stale.write_bytes(b"orphan")
        fresh.write_bytes(b"young")
        os.utime(stale, (time.time() - 3600, time.time() - 3600))
        gateway.start()
        assert list((root / "tmp").glob("*.part")) == []
        assert not stale.exists()
        assert fresh.exists()
        assert httpx.get(f"{base}/object/{bucket}/kept.txt", headers=headers).content == b"kept"
        # The restart's sweep kept every referenced blob (the other gateway's too) and the fresh one.
        assert {p.name for p in (root / "blobs").glob("*/*")} - {fresh.name} == others | {
            httpx.get(f"{base}/object/info/{bucket}/kept.txt", headers=headers).json()["version"]
        }
        httpx.post(f"{base}/bucket/{bucket}/empty", json={}, headers=headers)
        httpx.request("DELETE", f"{base}/bucket/{bucket}", json={}, headers=headers)
    finally:
        gateway.stop()


async def test_a_copy_not_yet_committed_survives_a_sweep(db_dsn: str, tmp_path: Path) -> None:
    """A copy links the source's bytes under a new version, then commits the row naming it; a sweep
    (another gateway starting, the hourly one) between the two must not take the new version for a
    crashed upload's leftover. The link shares the source's inode, and so its modification time:
    a copy of a file older than the grace period was removed at once, and its row named no bytes."""
    store = BlobStore(str(tmp_path), orphan_grace_seconds=600)
    upload = store.new_upload()
    upload.write(b"uploaded an hour ago")
    source = store.place(upload.finish())
    an_hour_ago = time.time() - 3600
    os.utime(store.path(source), (an_hour_ago, an_hour_ago))
    pool = await asyncpg.create_pool(db_dsn, min_size=1, max_size=1)
    try:
        copied = store.link_copy(source)  # the copy's row is not committed yet
        await store.sweep(pool)
    finally:
        await pool.close()
    assert store.path(copied).read_bytes() == b"uploaded an hour ago"
