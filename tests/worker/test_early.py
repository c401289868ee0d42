"""Early calls (worker/early.py): a follow-up's model call starts when the question is heard, and
its turn takes it only if the claim gives the very prompt it was sent; otherwise, or when the
question is not claimed here, it is closed unread and nothing of it reaches the row or anyone."""

from __future__ import annotations

import dataclasses
from typing import Any, cast

import asyncpg
from prometheus_client import CollectorRegistry, Counter

from core.settings import LlmSettings
from tests.conftest import LocalStack
from tests.worker.conftest import (
    Owner,
    RecordingFakeScope,
    Workers,
    ask,
    final_answer,
    make_owner,
    sample,
    until,
    worker_settings,
)
from worker.app import Worker
from worker.early import EarlyCalls
from worker.histories import Histories, HistoryItem
from worker.llm import Provider
from worker.models import Catalog
from worker.store import Claim


def _early(worker: Worker, outcome: str) -> float:
    return sample(worker, "worker_early_calls_total", outcome=outcome)


def _conversation(sent: dict[str, Any]) -> list[tuple[str, str]]:
    return [(m["role"], m["content"]) for m in sent["input"]["messages"]][1:]


async def test_a_follow_up_is_called_while_it_is_claimed_and_answered_once(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    worker = await workers.start(worker_settings(stack, fake))
    first = await final_answer(pg, await ask(pg, owner, "first question"))
    assert _early(worker, "started") == 0  # nothing answered in the session yet: nothing to tell a prompt from
    second_id = await ask(pg, owner, "second question")
    second = await final_answer(pg, second_id)

    assert (first["status"], second["status"]) == ("completed", "completed")
    assert (_early(worker, "started"), _early(worker, "taken"), _early(worker, "discarded")) == (1, 1, 0)
    assert len(fake.requests) == 2  # the early call was the turn's only call
    assert _conversation(fake.requests[1]) == [
        ("user", "first question"),
        ("assistant", first["content"]),
        ("user", "second question"),
    ]
    answers = await pg.fetch("select content, status from chat_messages where reply_to = $1", second_id)
    assert [(a["content"], a["status"]) for a in answers] == [(second["content"], "completed")]


async def test_an_early_call_that_fails_is_retried_as_any_call(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    """The early call is refused (rate limited) before its first token: the turn that took it
    retries with a call of its own, as it would have retried its own first call."""
    worker = await workers.start(worker_settings(stack, fake))
    await final_answer(pg, await ask(pg, owner, "first question"))
    await fake.script({"fault": "rate_quota", "retry_after": 0.1})
    second = await final_answer(pg, await ask(pg, owner, "second question"))

    assert second["status"] == "completed", second["error_code"]
    assert (_early(worker, "started"), _early(worker, "taken")) == (1, 1)
    assert sample(worker, "worker_provider_errors_total", code="RateLimited") == 1
    assert len(fake.requests) == 3  # the first question's, the refused early call, the retry
    assert _conversation(fake.requests[1]) == _conversation(fake.requests[2])


async def test_a_follow_up_that_must_wait_for_a_free_slot_is_not_called_early(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    """With every slot taken the question waits for one, and so does its model call: a call left
    open that long may never be taken."""
    worker = await workers.start(worker_settings(stack, fake, concurrency=1))
    await final_answer(pg, await ask(pg, owner, "first question"))
    other = await make_owner(pg, stack)
    await fake.script({"ttft": 1.0})
    busy = await ask(pg, other, "a slow answer takes the only slot")
    await until(lambda: _value(sample(worker, "worker_turns_in_flight")))
    second = await final_answer(pg, await ask(pg, owner, "second question"))

    assert second["status"] == "completed"
    assert (await final_answer(pg, busy))["status"] == "completed"
    assert _early(worker, "started") == 0
    assert len(fake.requests) == 3


async def test_an_early_call_the_claim_disagrees_with_is_closed_and_the_model_called_again(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    """The session's model changed between the turns: the early call went out with the old one, the
    claim says the new one, so the turn calls the model afresh and the answer is the new model's."""
    worker = await workers.start(worker_settings(stack, fake))
    await final_answer(pg, await ask(pg, owner, "first question"))
    await pg.execute("update chat_sessions set model = 'qwen-plus' where id = $1", owner.session_id)
    await fake.script({"ttft": 5.0})  # the early call is still waiting for its first token when closed
    second = await final_answer(pg, await ask(pg, owner, "second question"))

    assert second["status"] == "completed"
    assert (_early(worker, "started"), _early(worker, "taken"), _early(worker, "discarded")) == (1, 0, 1)
    early, called = fake.requests[1:]
    assert called["model"] == "qwen-plus" == second["model"]
    assert early["model"] != "qwen-plus"
    assert _conversation(early) == _conversation(called)
    await fake.until(lambda stats: stats.disconnects == 1)  # closed unread, not left streaming


async def test_an_early_call_whose_question_is_claimed_elsewhere_is_closed(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    """Another worker holds the question's answer row (a live lease) when this one claims it: the
    claim misses, and the early call is closed; this worker writes and sends nothing for it."""
    worker = await workers.start(worker_settings(stack, fake))
    await final_answer(pg, await ask(pg, owner, "first question"))
    await fake.script({"ttft": 5.0})
    async with pg.transaction():
        question = await ask(pg, owner, "second question")
        await pg.execute(
            "insert into chat_messages (session_id, user_id, message_type, content, status, reply_to, answer_no,"
            " lease_owner, lease_expires_at, attempts)"
            " values ($1, $2, 'assistant', '', 'pending', $3, 1, 'another-worker', now() + interval '1 hour', 1)",
            owner.session_id,
            owner.user_id,
            question,
        )
    try:
        await until(lambda: _value(_early(worker, "unclaimed")))
        await fake.until(lambda stats: stats.disconnects == 1)
        assert (_early(worker, "started"), _early(worker, "taken")) == (1, 0)
        row = await pg.fetchrow("select content, status, lease_owner from chat_messages where reply_to = $1", question)
        assert (row["content"], row["status"], row["lease_owner"]) == ("", "pending", "another-worker")
    finally:  # no later test's worker may take the row over
        await pg.execute("delete from chat_messages where id = $1 or reply_to = $1", question)


async def _value(value: float) -> float | None:
    return value or None


async def test_with_two_workers_the_one_that_called_early_claims_the_follow_up(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    """Both hear every question and only one can call early: the other, seeing a peer on the
    channel, claims such a question only after WORKER_CLAIM_DEFER, so no early call is lost to the
    race (without the deferral each follow-up's would be about half the time)."""
    pair = [await workers.start(worker_settings(stack, fake, claim_defer=2.0)) for _ in range(2)]
    for worker in pair:
        await worker.listening()
    await until(lambda: _value(min(sample(worker, "worker_peers") for worker in pair)))
    for i in range(4):
        assert (await final_answer(pg, await ask(pg, owner, f"question {i}")))["status"] == "completed"

    def total(outcome: str) -> float:
        return sum(_early(worker, outcome) for worker in pair)

    assert (total("started"), total("taken"), total("discarded"), total("unclaimed")) == (3, 3, 0, 0)
    assert len(fake.requests) == 4


class _Histories:
    """Stands in for the kept histories: records that a guess got as far as asking for one."""

    limit = 50

    def __init__(self) -> None:
        self.asked: list[str] = []

    def following(self, session_id: str, *_items: HistoryItem) -> None:
        self.asked.append(session_id)


def test_an_answer_whose_save_failed_is_not_guessed_from() -> None:
    """The turn tells EarlyCalls of its answer before the row is final (so whoever sees the row
    final can ask on at once and be called early); when the save then fails (lease lost) it takes
    it back, and a follow-up under that answer is not guessed for. Another answer's failed save of
    the same session takes nothing back."""
    histories = _Histories()
    outcomes = Counter("early_test", "early calls", ["outcome"], registry=CollectorRegistry())
    early = EarlyCalls(
        cast(Provider, None),
        cast(Histories, histories),
        LlmSettings(),
        cast(Catalog, None),
        outcomes,
        limit=4,
        max_bytes=100_000,
    )
    first = Claim("a1", "q1", 1, 1, "s", "u", "first question", None, None, {}, (), False)
    later = dataclasses.replace(first, id="a2", reply_to="q2", question="second question")

    def follow_up(parent: str) -> dict[str, Any]:
        return {
            "id": f"under-{parent}",
            "session_id": "s",
            "parent_id": parent,
            "message_type": "user",
            "content": "and then?",
        }

    early.answered(first, "first answer")
    assert early.heard(follow_up("a1")) is False  # (the stand-in keeps no history: no call)
    assert histories.asked == ["s"]  # but the guess was tried: the answer was known
    early.unsaved(later)  # another turn of the session: not the answer known
    assert early.heard(follow_up("a1")) is False
    assert histories.asked == ["s", "s"]
    early.unsaved(first)
    assert early.heard(follow_up("a1")) is False
    assert histories.asked == ["s", "s"]  # forgotten: not even tried
