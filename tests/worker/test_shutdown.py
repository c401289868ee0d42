"""SIGTERM: a worker stops claiming and releases what it cannot finish within its grace period, so
another worker takes it over at once instead of waiting for the lease to expire."""

from __future__ import annotations

import time

import asyncpg

from tests.conftest import LocalStack
from tests.worker.conftest import (
    Owner,
    RecordingFakeScope,
    Workers,
    ask,
    final_answer,
    until,
    worker_settings,
)


async def _streaming_by(pg: asyncpg.Connection, question: str, worker_id: str) -> asyncpg.Record:
    async def probe() -> asyncpg.Record | None:
        row = await pg.fetchrow("select * from chat_messages where reply_to = $1", question)
        ok = row is not None and row["status"] == "streaming" and row["lease_owner"] == worker_id
        return row if ok and row["content"] else None

    return await until(probe, 20)


async def test_sigterm_releases_what_it_cannot_finish_to_another_worker_at_once(
    stack: LocalStack, pg: asyncpg.Connection, owner: Owner, workers: Workers, spawn_worker: object
) -> None:
    long_lease = 60.0
    async with RecordingFakeScope(ttft=0.0, tokens_per_s=20.0, tokens_per_event=1, answer_tokens=400) as fake:
        leaving = spawn_worker(  # type: ignore[operator]
            fake, WORKER_SHUTDOWN_GRACE="0.3", WORKER_LEASE_SECONDS=str(long_lease)
        )
        question = await ask(pg, owner, "a very long story, please")
        await _streaming_by(pg, question, leaving.worker_id)

        assert leaving.terminate(timeout=30) == 0
        released = await pg.fetchrow("select * from chat_messages where reply_to = $1", question)
        assert released["status"] in ("pending", "streaming")
        assert released["lease_owner"] is None or released["lease_expires_at"] <= await pg.fetchval("select now()")

        started = time.monotonic()
        await workers.start(worker_settings(stack, fake, lease_seconds=long_lease))
        row = await final_answer(pg, question, within=long_lease / 2)
        took = time.monotonic() - started

    assert row["status"] == "completed"
    assert row["attempts"] == 2
    assert took < long_lease / 2, "the answer waited for the lease to expire instead of being released"
    assert await pg.fetchval("select count(*) from chat_messages where reply_to = $1", question) == 1
