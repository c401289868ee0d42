"""SIGTERM: a worker stops claiming, finishes what it can within its grace period, and releases
the rest so another worker takes it over at once instead of waiting for the lease to expire."""

from __future__ import annotations

import asyncio
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


async def test_sigterm_finishes_an_answer_within_the_grace_period(
    pg: asyncpg.Connection, owner: Owner, spawn_worker: object
) -> None:
    async with RecordingFakeScope(ttft=0.0, tokens_per_s=60.0, tokens_per_event=2, answer_tokens=60) as fake:
        worker = spawn_worker(fake, WORKER_SHUTDOWN_GRACE="20")  # type: ignore[operator]
        question = await ask(pg, owner, "a short story, please")
        await _streaming_by(pg, question, worker.worker_id)

        # terminate() waits synchronously; off the loop, which also serves the fake model
        assert await asyncio.to_thread(worker.terminate, 30) == 0
        row = await pg.fetchrow("select * from chat_messages where reply_to = $1", question)

    assert row["status"] == "completed", "the answer in flight was not finished before exiting"
    assert row["attempts"] == 1
    assert fake.stats.calls == 1


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

        assert await asyncio.to_thread(leaving.terminate, 30) == 0
        released = await pg.fetchrow("select * from chat_messages where reply_to = $1", question)
        assert released["status"] in ("pending", "streaming")
        assert released["lease_owner"] is None or released["lease_expires_at"] <= await pg.fetchval("select now()")

    # The taker's model is unpaced: how soon it starts is what this test measures, not its stream.
    async with RecordingFakeScope(ttft=0.0, tokens_per_s=0.0, answer_tokens=400) as quick:
        started = time.monotonic()
        await workers.start(worker_settings(stack, quick, lease_seconds=long_lease))
        row = await final_answer(pg, question, within=long_lease / 2)
        took = time.monotonic() - started

    assert row["status"] == "completed"
    assert row["attempts"] == 2
    assert took < long_lease / 2, "the answer waited for the lease to expire instead of being released"
    assert await pg.fetchval("select count(*) from chat_messages where reply_to = $1", question) == 1


async def test_deploys_that_hand_an_answer_back_do_not_spend_its_attempts(
    stack: LocalStack, pg: asyncpg.Connection, owner: Owner, workers: Workers, spawn_worker: object
) -> None:
    """A long answer through more graceful shutdowns (SIGTERM, a deploy) than WORKER_MAX_ATTEMPTS:
    each hands it back, and the worker that stays answers it, not `AttemptsExhausted`."""
    max_attempts = 2
    async with RecordingFakeScope(ttft=0.0, tokens_per_s=20.0, tokens_per_event=1, answer_tokens=400) as fake:
        question = await ask(pg, owner, "a very long story, please")
        for _ in range(max_attempts):
            leaving = spawn_worker(  # type: ignore[operator]
                fake, WORKER_SHUTDOWN_GRACE="0.3", WORKER_MAX_ATTEMPTS=str(max_attempts)
            )
            await _streaming_by(pg, question, leaving.worker_id)
            assert await asyncio.to_thread(leaving.terminate, 30) == 0
    async with RecordingFakeScope(ttft=0.0, tokens_per_s=0.0, answer_tokens=40) as quick:
        await workers.start(worker_settings(stack, quick, max_attempts=max_attempts))
        row = await final_answer(pg, question)

    assert (row["status"], row["error_code"], row["attempts"]) == ("completed", None, max_attempts + 1)
    assert quick.stats.calls == 1
