"""Documents as their text, each read from Storage and extracted once per worker.

A session's earlier documents come back on every later turn (worker/attachments.py, "follow-ups
keep the files"), so without this each turn would download every document of the conversation
again and parse it again (pypdf on a long PDF is tens to hundreds of milliseconds of CPU per
turn, in a thread but still on the worker's two cores). Here each document's text is kept after
its first use with the object's ETag; a later use asks Storage `If-None-Match: <etag>`: 304 gives
the kept text (no bytes move, nothing is parsed), 200 an object that was replaced (extracted and
kept anew), 404 drops what was kept and raises SupabaseError as a first read would. When the
caller already knows the object's current ETag (the claim carries it for every file it names) Storage
is not asked: the kept ETag gives the kept text, another one reads anew, `gone` is the 404.

Extraction (worker/extraction.py) runs off the event loop, in at most `readers` threads of its own
(LLM_DOCUMENT_READERS): in the loop's default pool (six threads on two cores), which scales images
and counts every turn's prompt tokens, six heavy documents at once held every thread, and other
turns' attachments waited up to LLM_DOCUMENT_READ_SECONDS for one (until 12-05). A document
waiting for a reader is not yet reading: its time bound starts with its reading. A reading no turn
waits for any more (its turn was stopped) stops at its next check of the time, its reader let go
(until 12-05 it read on to its bound, holding one of the few readers). A document
with no text to read raises AttachmentError `DocumentUnreadable` and nothing is kept, so the
turn is refused rather than answered without it.

Kept texts take at most `max_bytes` (LLM_DOCUMENT_CACHE_MB, counted in UTF-8), least recently used
leave first. They are keyed by object path, and a question can only name its owner's objects (the
database checks that before the question is stored), so what one turn kept is what Storage gives
any turn naming that path: nothing crosses between users.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from worker import supabase_http
from worker.extraction import DOCUMENT_TYPES, DOCX, MAX_BYTES, MAX_PAGES, SECONDS, extract
from worker.kept import Kept
from worker.pptx import PPTX
from worker.supabase_http import SupabaseError, SupabaseHttp
from worker.xlsx import XLSX

__all__ = ["BUCKET", "DOCUMENT_TYPES", "DOCX", "PPTX", "XLSX", "DocumentTexts", "extract"]

BUCKET = "attachments"
READERS = 2  # LLM_DOCUMENT_READERS's default


@dataclass(frozen=True, slots=True)
class _Kept:
    text: str
    etag: str
    size: int  # UTF-8 bytes of `text`


class DocumentTexts:
    def __init__(
        self,
        http: SupabaseHttp,
        *,
        max_bytes: int,
        max_text: int = MAX_BYTES,
        max_pages: int = MAX_PAGES,
        seconds: float = SECONDS,
        readers: int = READERS,
    ) -> None:
        self._http = http
        # threads of their own, not the loop's default pool (images' scaling, prompts' counting)
        self._readers = ThreadPoolExecutor(max_workers=readers, thread_name_prefix="documents")
        # the most one document's text may take, a PDF's pages and its reading (worker/extraction.py)
        self._read = functools.partial(extract, max_bytes=max_text, max_pages=max_pages, seconds=seconds)
        self._kept: Kept[str, _Kept] = Kept(max_bytes, lambda kept: kept.size)

    def close(self) -> None:
        """No more readings: those waiting for a thread are dropped, a running one ends by its own bound."""
        self._readers.shutdown(wait=False, cancel_futures=True)

    @property
    def kept_bytes(self) -> int:
        return self._kept.size

    async def text(self, path: str, mime_type: str, name: str, *, etag: str | None = None, gone: bool = False) -> str:
        """The text of the document at `path`; SupabaseError when Storage has none, AttachmentError
        DocumentUnreadable when it has no text to read. `etag` is the object's current ETag when
        known (the same as kept: the kept text, without asking Storage), `gone` that it is known to
        be deleted."""
        kept = self._kept.get(path)
        if gone:
            self._kept.drop(path)
            raise supabase_http.gone(path)
        if kept is not None and etag is not None and kept.etag == etag:
            self._kept.used(path)
            return kept.text
        try:
            blob, etag = await self._http.download_if_changed(BUCKET, path, kept.etag if kept else None)
        except SupabaseError:
            self._kept.drop(path)
            raise
        if blob is None and kept is not None:  # 304: the bytes the kept text was read from
            self._kept.used(path)
            return kept.text
        self._kept.drop(path)
        stop = threading.Event()
        read = functools.partial(self._read, mime_type, blob or b"", name, stop=stop)
        try:
            text = await asyncio.get_running_loop().run_in_executor(self._readers, read)
        except asyncio.CancelledError:  # its turn ended (a stop): the reader thread stops at its next check
            stop.set()
            raise
        if etag:
            self._kept.put(path, _Kept(text, etag, len(text.encode())))
        return text
