"""A stop while the question's files are still being read ends the answer at once: the reading is
cancelled (a document's reading may take up to LLM_DOCUMENT_READ_SECONDS), the model never called,
nothing charged."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import asyncpg
import pytest

from tests.conftest import LocalStack
from tests.worker.conftest import Owner, RecordingFakeScope, Workers, final_answer, until, worker_settings
from tests.worker.test_attachments import upload
from tests.worker.test_document_bounds import heavy_pdf
from tests.worker.test_image_refs import LoggedHttp
from tests.worker.test_settlement import ask_as, charge_of, stop
from worker import documents
from worker.errors import AttachmentError


async def test_a_stop_while_a_document_is_read_ends_the_answer_without_waiting_for_the_reading(
    *,
    stack: LocalStack,
    pg: asyncpg.Connection,
    fake: RecordingFakeScope,
    workers: Workers,
    owner: Owner,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The document's reading (in a reader thread) holds until the test lets it go, which it does only
    once the answer has ended: the stop ends the answer while the reading still runs."""
    reading, release = threading.Event(), threading.Event()
    extract = documents.extract

    def slow_extract(*args: Any, **kwargs: Any) -> str:
        reading.set()
        release.wait(60)  # the longest a test may hold a reader: released at the end in any case
        return extract(*args, **kwargs)

    monkeypatch.setattr(documents, "extract", slow_extract)
    item = await upload(stack, owner, "notes.txt", b"The meeting is on Tuesday.", "text/plain")
    try:
        worker = await workers.start(worker_settings(stack, fake))
        question = await ask_as(stack, owner, "When is the meeting?", attachments=[item])

        async def read() -> bool:
            return reading.is_set()

        await until(read, 10)
        await stop(stack, owner, question)
        row = await final_answer(pg, question, within=10)
        still_reading = not release.is_set()
        assert worker.turns is not None
        active = dict(worker.turns.active)
    finally:
        release.set()

    assert still_reading
    assert not active  # the turn is over, not waiting for its reading
    assert (row["status"], row["content"], fake.stats.calls) == ("cancelled", "", 0)
    assert (row["input_tokens"], row["output_tokens"], row["tokens_used"]) == (None, None, 0)
    charge = await charge_of(pg, question)
    assert (charge["state"], charge["charged"]) == ("settled", 0)


async def test_a_documents_reading_the_turn_no_longer_waits_for_stops_its_reader_thread(
    stack: LocalStack, owner: Owner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A PDF that takes pypdf about 90 s to read (100 pages of 20,000 drawn lines, 24 KB): cancelled
    once its reader thread runs, the thread stops at its next check (every 1,024 operators) rather
    than read on to LLM_DOCUMENT_READ_SECONDS, holding one of the worker's few readers meanwhile."""
    started, ended = threading.Event(), threading.Event()
    outcome: list[str] = []
    extract = documents.extract

    def watched(*args: Any, **kwargs: Any) -> str:
        started.set()
        try:
            text = extract(*args, **kwargs)
            outcome.append("read")
            return text
        except AttachmentError as stopped:
            outcome.append(stopped.code)
            raise
        finally:
            ended.set()

    monkeypatch.setattr(documents, "extract", watched)
    item = await upload(stack, owner, "drawing.pdf", heavy_pdf(100, 20_000), "application/pdf")
    http = LoggedHttp(stack)
    texts = documents.DocumentTexts(http, max_bytes=1 << 20, seconds=600.0)
    try:
        reading = asyncio.create_task(texts.text(str(item["path"]), "application/pdf", "drawing.pdf"))

        async def running() -> bool:
            return started.is_set()

        await until(running, 20)
        reading.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reading
        assert await asyncio.to_thread(ended.wait, 60)  # its bound, 600 s, is far off
    finally:
        texts.close()
        await http.aclose()

    assert outcome == ["ReadingStopped"]
    assert texts.kept_bytes == 0
