"""Documents are read in threads of their own (LLM_DOCUMENT_READERS), not in the event loop's
default pool, which scales images and counts prompt tokens for every turn: six heavy documents at
once (the pool's size on two cores) held all of it, and other turns' attachments waited up to
LLM_DOCUMENT_READ_SECONDS (30 s) for a thread.

Proven by order, not by time: each document's reading is held on an event the test sets only once a
call in the default pool has run meanwhile; were the documents in that pool, the call would wait for
the holds to end at their bound (the test's failure)."""

from __future__ import annotations

import asyncio
import os
import threading
from typing import Any, cast

import pytest

from worker import documents as module
from worker.documents import DocumentTexts
from worker.supabase_http import SupabaseHttp

HOLD = 10.0  # how long a held reading waits for the test: only a failing run waits it out
READERS = 2
# the event loop's default pool on Python 3.11 (ThreadPoolExecutor's default size): one document more
DOCUMENTS = min(32, (os.cpu_count() or 1) + 4) + 1


class Storage:
    """Every path a text of its own, with an ETag."""

    async def download_if_changed(self, bucket: str, path: str, etag: str | None) -> tuple[bytes, str]:
        return f"the text of {path}".encode(), f'"{path}"'


async def test_documents_read_at_once_leave_the_default_pool_to_the_other_turns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loop = asyncio.get_running_loop()
    release = threading.Event()
    released: list[bool] = []
    lock = threading.Lock()
    reading, most = 0, 0
    entered = asyncio.Event()

    def held(mime_type: str, blob: bytes, name: str = "", **_: Any) -> str:
        nonlocal reading, most
        with lock:
            reading += 1
            most = max(most, reading)
            if reading == READERS:
                loop.call_soon_threadsafe(entered.set)
        released.append(release.wait(HOLD))  # False: the default pool waited for this to end
        with lock:
            reading -= 1
        return blob.decode()

    monkeypatch.setattr(module, "extract", held)
    texts = DocumentTexts(cast(SupabaseHttp, Storage()), max_bytes=1 << 20, readers=READERS)
    try:
        reads = [asyncio.create_task(texts.text(f"u/{n}.txt", "text/plain", f"{n}.txt")) for n in range(DOCUMENTS)]
        await entered.wait()
        assert await asyncio.to_thread(lambda: "scaled") == "scaled"  # an image's scaling, a prompt's count
        release.set()
        assert await asyncio.gather(*reads) == [f"the text of u/{n}.txt" for n in range(DOCUMENTS)]
    finally:
        release.set()
        texts.close()
    assert released == [True] * DOCUMENTS
    assert most == READERS  # at most LLM_DOCUMENT_READERS documents are read at once
