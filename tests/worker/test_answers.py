"""The happy path: a user message gets exactly one completed answer, with the provider's usage."""

from __future__ import annotations

import asyncio
import logging

import asyncpg
import pytest

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


async def test_a_joined_subscription_sets_its_gauge_and_warns_of_nothing(
    stack: LocalStack, fake: RecordingFakeScope, workers: Workers, caplog: pytest.LogCaptureFixture
) -> None:
    # Stopped (by the fixture) right after it joined: the join kicks the sweeper, and a stop in
    # that moment used to hang (worker/waits.py).
    worker = await workers.start(worker_settings(stack, fake))
    await asyncio.wait_for(worker.listening(), 15)
    assert sample(worker, "worker_listening") == 1  # what a deployment (and bench/) waits for
    assert not [r for r in caplog.records if r.name == "worker.listener" and r.levelno >= logging.WARNING]


async def test_inserted_question_gets_one_completed_answer_with_provider_usage(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    # A sweep only at start: the question below can only arrive through realtime.
    worker = await workers.start(worker_settings(stack, fake, sweep_interval=3600.0))
    await asyncio.wait_for(worker.listening(), 15)
    assert sample(worker, "worker_listening") == 1  # what a deployment (and bench/) waits for
    question = await ask(pg, owner)

    row = await final_answer(pg, question)

    assert row["status"] == "completed"
    assert row["message_type"] == "assistant"
    assert str(row["user_id"]) == owner.user_id
    assert str(row["session_id"]) == owner.session_id
    assert row["content"]
    assert (row["input_tokens"], row["output_tokens"]) == (fake.stats.input_tokens, fake.stats.output_tokens)
    assert row["tokens_used"] == row["input_tokens"] + row["output_tokens"]
    assert row["finish_reason"] == "stop"
    assert row["model"] == "qwen-turbo"
    assert row["response_time"] is not None
    assert row["response_time"] >= 0
    assert (row["lease_owner"], row["lease_expires_at"], row["attempts"]) == (None, None, 1)
    assert fake.stats.calls == 1
    [sent] = fake.requests
    assert sent["input"]["messages"][0]["role"] == "system"
    assert sent["input"]["messages"][-1] == {"role": "user", "content": "你好, what is 2+2?"}
    assert sample(worker, "worker_offers_total", source="realtime") == 1
    assert await pg.fetchval("select count(*) from chat_messages where reply_to = $1", question) == 1
    # the first token's hops the worker sees: the question's event, its claim, the chunks' POSTs
    assert sample(worker, "worker_notify_delay_seconds_count") == 1
    assert sample(worker, "worker_claim_seconds_count") >= 1

    async def posted() -> float | None:
        return sample(worker, "worker_broadcast_seconds_count") or None

    assert await until(posted) >= 1
