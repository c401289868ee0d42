"""An answer's prompt is charged once the model was called with it, and only then: a stop or a crash
before any call (while a refused call's retry waits) charges nothing, an answer that streamed and
then failed is charged its prompt with its text, and the broadcast that ends a retaken answer says
what its row holds."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import asyncpg
import pytest

from tests.conftest import LocalStack
from tests.worker.conftest import (
    Owner,
    RecordingFakeScope,
    Workers,
    final_answer,
    sample,
    until,
    worker_settings,
)
from tests.worker.test_settlement import ask_as, charge_of, killed_mid_answer, stop, weighed
from tests.worker.test_streaming import join_chat
from worker.llm import ChatMessage, GenerationParams, ProviderError, Read, Sources, StreamEvent, TextDelta
from worker.llm.base import Source
from worker.reply import CANCELLED, Reply


class _AlwaysThrottled:
    """A model whose every call is refused at once (throttled), asking for a long wait first."""

    def __init__(self) -> None:
        self.calls = 0

    async def stream(self, messages: Sequence[ChatMessage], params: GenerationParams) -> AsyncIterator[StreamEvent]:
        self.calls += 1
        raise ProviderError("RateLimited", "throttled", retryable=True, retry_after=60.0)
        yield  # an async generator, as the providers are

    async def aclose(self) -> None:
        pass


async def test_a_stop_while_a_refused_call_waits_for_its_retry_charges_nothing(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    """The only call was refused (DashScope bills no refused call) and the worker waits to call again:
    nothing is with the model when the user stops, so the prompt is not charged."""
    provider = _AlwaysThrottled()
    await workers.start(worker_settings(stack, fake, retry_cap=10.0), provider)
    question = await ask_as(stack, owner, "anyone there?")

    async def refused() -> bool:  # in this process: once seen, the worker sleeps until its retry
        return provider.calls == 1

    await until(refused, 10)
    await stop(stack, owner, question)
    row = await final_answer(pg, question, within=10)

    assert (row["status"], row["content"], provider.calls) == ("cancelled", "", 1)
    assert (row["input_tokens"], row["output_tokens"], row["tokens_used"]) == (None, None, 0)
    charge = await charge_of(pg, question)
    assert (charge["state"], charge["charged"]) == ("settled", 0)


class _SearchedThenThrottled:
    """A model whose call searched (its sources came) and then failed before any text, asking for a
    long wait before the next call."""

    def __init__(self) -> None:
        self.calls = 0

    async def stream(self, messages: Sequence[ChatMessage], params: GenerationParams) -> AsyncIterator[StreamEvent]:
        self.calls += 1
        yield Sources((Source(1, "A page of the failed call", "https://stale.example/1"),))
        raise ProviderError("ServiceUnavailable", "overloaded", retryable=True, retry_after=60.0)

    async def aclose(self) -> None:
        pass


async def test_a_stop_while_a_failed_calls_retry_waits_charges_not_its_search(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    """A failed call's search is not the answer's (the retry searches anew): a stop before the retry
    charges neither it nor the prompt."""
    provider = _SearchedThenThrottled()
    await workers.start(worker_settings(stack, fake, retry_cap=10.0), provider)
    question = await ask_as(stack, owner, "latest PostgreSQL release?", web_search=True)

    async def failed() -> bool:  # in this process: once seen, the worker sleeps until its retry
        return provider.calls == 1

    await until(failed, 10)
    await stop(stack, owner, question)
    row = await final_answer(pg, question, within=10)

    assert (row["status"], row["content"], provider.calls) == ("cancelled", "", 1)
    assert (row["search_calls"], row["sources"], row["tokens_used"]) == (None, None, 0)
    charge = await charge_of(pg, question)
    assert (charge["state"], charge["charged"], charge["search_calls"]) == ("settled", 0, None)


async def test_a_stop_as_an_early_call_is_taken_charges_its_prompt_and_closes_it(
    *,
    stack: LocalStack,
    pg: asyncpg.Connection,
    fake: RecordingFakeScope,
    workers: Workers,
    owner: Owner,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A follow-up's model call started before its claim (worker/early.py): the model has the prompt.
    A stop that lands as the turn takes that call, before its reader first runs, ends the answer
    charged the prompt, as any stop while a call is with the model, and closes the call."""
    bind = Reply.bind

    def stopped_at_once(reply: Reply, consumer: asyncio.Task[Any]) -> None:
        bind(reply, consumer)
        if reply.claim.question == "second question":
            reply.stop(CANCELLED)  # the user's stop, heard before the reader's first step

    monkeypatch.setattr(Reply, "bind", stopped_at_once)
    worker = await workers.start(worker_settings(stack, fake))
    await final_answer(pg, await ask_as(stack, owner, "first question"))
    await fake.script({"ttft": 30.0})
    question = await ask_as(stack, owner, "second question")
    row = await final_answer(pg, question, within=10)

    assert sample(worker, "worker_early_calls_total", outcome="taken") == 1
    assert (row["status"], row["content"]) == ("cancelled", "")
    assert row["input_tokens"] > 0
    assert (await charge_of(pg, question))["charged"] == await weighed(pg, row) > 0
    await fake.until(lambda stats: stats.disconnects == 1)  # the early call, closed


async def test_a_worker_that_dies_while_a_refused_call_waits_for_its_retry_leaves_nothing_to_charge(
    stack: LocalStack, pg: asyncpg.Connection, owner: Owner, spawn_worker: Any
) -> None:
    """The worker's progress writes say what the answer has cost so far, for whoever ends it after the
    worker died: while no call is with the model, that is no prompt."""
    async with RecordingFakeScope() as refusing:
        await refusing.script(*[{"fault": "throttling"}] * 4)
        doomed = spawn_worker(refusing, WORKER_RETRY_BASE="30", WORKER_RETRY_CAP="30")
        question = await ask_as(stack, owner, "anyone there?")
        await until(lambda: _true(refusing.stats.calls == 1), 20)
        renewed: list[Any] = []

        async def renewed_twice() -> bool:  # two lease renewals since the refusal: progress written
            at = await pg.fetchval("select lease_expires_at from chat_messages where reply_to = $1", question)
            if at is not None and (not renewed or at > renewed[-1]):
                renewed.append(at)
            return len(renewed) > 2

        await until(renewed_twice, 10)
        doomed.kill()

        async def expired() -> bool:
            return bool(
                await pg.fetchval("select lease_expires_at <= now() from chat_messages where reply_to = $1", question)
            )

        await until(expired, 10)
        await stop(stack, owner, question)
        row = await final_answer(pg, question, within=10)

    assert (row["status"], row["content"], row["attempts"]) == ("cancelled", "", 1)
    assert not row["input_tokens"]
    assert row["tokens_used"] == 0
    charge = await charge_of(pg, question)
    assert (charge["state"], charge["charged"]) == ("settled", 0)


async def _true(value: bool) -> bool:
    return value


class _StreamsThenBreaks:
    """A model that streams some text, after which the worker's own code fails (not the provider)."""

    async def stream(self, messages: Sequence[ChatMessage], params: GenerationParams) -> AsyncIterator[StreamEvent]:
        for word in ("The ", "answer ", "begins ", "well, "):
            yield TextDelta(word)
        raise RuntimeError("a bug in the worker")

    async def aclose(self) -> None:
        pass


async def test_an_answer_that_fails_after_streaming_is_charged_its_prompt_with_its_text(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    """The model read the prompt and streamed text before the worker failed (WorkerError): it
    consumed both, so both are charged, once, as a provider failure after a first token is."""
    await workers.start(worker_settings(stack, fake), _StreamsThenBreaks())
    question = await ask_as(stack, owner, "tell me something")
    row = await final_answer(pg, question, within=10)

    assert (row["status"], row["error_code"], row["content"]) == ("error", "WorkerError", "The answer begins well, ")
    assert row["input_tokens"] > 0
    assert row["output_tokens"] > 0
    assert row["tokens_used"] == row["input_tokens"] + row["output_tokens"]
    charge = await charge_of(pg, question)
    assert (charge["input_tokens"], charge["output_tokens"]) == (row["input_tokens"], row["output_tokens"])
    assert charge["charged"] == await weighed(pg, row) > 0


async def test_the_end_of_an_answer_stopped_right_after_a_takeover_says_the_kept_texts_length(
    stack: LocalStack, pg: asyncpg.Connection, workers: Workers, owner: Owner, spawn_worker: Any
) -> None:
    """A stop before the new attempt's first token ends the answer with the dead worker's text
    (answer_retakes): the `done` that ends it says that text's length and tokens, as the row holds
    them, not the new attempt's empty text (a client would take the answer to be empty)."""
    async with (
        RecordingFakeScope(ttft=0.0, tokens_per_s=40.0, tokens_per_event=2, answer_tokens=400) as slow,
        RecordingFakeScope(ttft=30.0) as late,
    ):
        client, events, state = await join_chat(stack, owner.token, owner.session_id)
        assert state == "SUBSCRIBED"
        question = await killed_mid_answer(stack, pg, owner, spawn_worker(slow), "tell me a long story")
        heir = await workers.start(worker_settings(stack, late))

        async def taken_over() -> bool:
            row = await pg.fetchrow("select * from chat_messages where reply_to = $1", question)
            return row["attempts"] == 2 and row["lease_owner"] == heir.worker_id and late.stats.calls == 1

        await until(taken_over, 20)
        await stop(stack, owner, question)
        row = await final_answer(pg, question, within=10)

        async def ended() -> dict[str, Any] | None:
            return next((e["payload"] for e in events if e["event"] == "done" and e["payload"]["attempt"] == 2), None)

        done = await until(ended, 10)
        await client.realtime.close()

    assert (row["status"], row["attempts"]) == ("cancelled", 2)
    assert row["content"]
    assert done["status"] == "cancelled"
    assert done["length"] == len(row["content"])
    assert done["tokens_used"] == row["tokens_used"] > 0


class _ReadThenFailedThenSilent:
    """A model whose first call says its count of the prompt (with a search's results, say) and fails
    before any text; the second call is with the model and says nothing yet."""

    def __init__(self) -> None:
        self.calls = 0

    async def stream(self, messages: Sequence[ChatMessage], params: GenerationParams) -> AsyncIterator[StreamEvent]:
        self.calls += 1
        if self.calls == 1:
            yield Read(5000)
            raise ProviderError("ServiceUnavailable", "overloaded", retryable=True, retry_after=0.01)
        await asyncio.Event().wait()
        yield TextDelta("never")

    async def aclose(self) -> None:
        pass


async def test_a_stop_before_the_retrys_first_event_charges_the_prompts_count_not_the_failed_calls(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    """A failed call's count of the prompt is its own (the retry may search anew, or not): the call
    that has the prompt when the user stops has said none yet, so the prompt's own count is charged."""
    provider = _ReadThenFailedThenSilent()
    await workers.start(worker_settings(stack, fake, retry_cap=10.0), provider)
    question = await ask_as(stack, owner, "anyone there?")

    async def retried() -> bool:
        return provider.calls == 2

    await until(retried, 10)
    await stop(stack, owner, question)
    row = await final_answer(pg, question, within=10)

    assert (row["status"], row["content"]) == ("cancelled", "")
    assert 0 < row["input_tokens"] < 100  # a system prompt and "anyone there?"
    charge = await charge_of(pg, question)
    assert charge["charged"] == await weighed(pg, row)
