"""One answer per question whatever the workers do: races, a worker killed mid-answer, missed events."""

from __future__ import annotations

import asyncio

import asyncpg

from tests.conftest import LocalStack
from tests.worker.conftest import (
    Owner,
    RecordingFakeScope,
    Workers,
    ask,
    final_answer,
    sample,
    until,
    worker_settings,
)


async def test_two_workers_racing_produce_one_answer_per_question(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    # The claim race alone: no early calls. With them, a follow-up's model call starts beside its
    # claim, so a call can reach the provider and then lose the claim (closed unread, nothing
    # written): that trade, and the deferral that keeps it rare with several workers, is
    # tests/worker/test_early.py's. Here every call must follow a won claim. (In the fresh clone of
    # 9c248cc, under load, one early call lost its follow-up's race: 21 calls for 20 answers.)
    first = await workers.start(worker_settings(stack, fake, sweep_interval=3600.0, early_calls=0))
    second = await workers.start(worker_settings(stack, fake, sweep_interval=3600.0, early_calls=0))
    await asyncio.wait_for(asyncio.gather(first.listening(), second.listening()), 15)

    questions = [await ask(pg, owner, f"question {i}") for i in range(20)]
    rows = [await final_answer(pg, q) for q in questions]

    assert {r["status"] for r in rows} == {"completed"}
    counts = await pg.fetch(
        "select reply_to, count(*) from chat_messages where reply_to = any($1::uuid[]) group by reply_to", questions
    )
    assert sorted(c["count"] for c in counts) == [1] * 20
    assert fake.stats.calls == 20  # a lost claim never reaches the provider
    completed = [sample(w, "worker_turns_total", status="completed") for w in (first, second)]
    assert sum(completed) == 20
    # Both workers saw every question; each question was won by exactly one of them.
    assert [sample(w, "worker_offers_total", source="realtime") for w in (first, second)] == [20, 20]


async def test_worker_killed_mid_answer_is_finished_by_another_once(
    stack: LocalStack, pg: asyncpg.Connection, workers: Workers, owner: Owner, spawn_worker: object
) -> None:
    async with RecordingFakeScope(ttft=0.0, tokens_per_s=40.0, tokens_per_event=2, answer_tokens=120) as slow:
        doomed = spawn_worker(slow)  # type: ignore[operator]
        question = await ask(pg, owner, "tell me a long story")

        async def streaming() -> asyncpg.Record | None:
            row = await pg.fetchrow("select * from chat_messages where reply_to = $1", question)
            ok = row is not None and row["status"] == "streaming" and row["lease_owner"] == doomed.worker_id
            return row if ok and row["content"] else None

        partial = (await until(streaming, 20))["content"]
        doomed.kill()

        await slow.script({"tokens_per_s": 0.0})  # only the kill must land mid-answer: the retake is unpaced
        survivor = await workers.start(worker_settings(stack, slow))
        row = await final_answer(pg, question, within=30)

    assert row["status"] == "completed"
    assert row["attempts"] == 2
    assert row["content"].startswith(partial)  # the same deterministic answer, restarted on the same row
    assert row["output_tokens"] > 0
    assert row["input_tokens"] > 0
    assert await pg.fetchval("select count(*) from chat_messages where reply_to = $1", question) == 1
    assert sample(survivor, "worker_lease_retakes_total") == 1
    assert slow.stats.calls == 2


async def test_question_inserted_while_no_worker_ran_is_answered_by_the_sweep(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    question = await ask(pg, owner, "anyone there?")
    worker = await workers.start(worker_settings(stack, fake))

    row = await final_answer(pg, question)

    assert row["status"] == "completed"
    assert sample(worker, "worker_offers_total", source="sweep") >= 1
    assert sample(worker, "worker_offers_total", source="realtime") == 0
