"""A stop while the question's files are still being read ends the answer at once: the reading is
cancelled (a document's reading may take up to LLM_DOCUMENT_READ_SECONDS), the model never called,
nothing charged."""

from __future__ import annotations

import threading
from typing import Any

import asyncpg
import pytest

from tests.conftest import LocalStack
from tests.worker.conftest import Owner, RecordingFakeScope, Workers, final_answer, until, worker_settings
from tests.worker.test_attachments import upload
from tests.worker.test_settlement import ask_as, charge_of, stop
from worker import documents


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
