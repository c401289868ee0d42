"""Provider failures and stop requests: retried before delivery, final `error` or `cancelled` rows."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import asyncpg
from supabase import acreate_client

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
from worker.errors import user_message
from worker.llm import ChatMessage, GenerationParams, Provider, ProviderError, Sources, StreamEvent, make_provider
from worker.llm.base import Source


async def test_rate_limit_then_success_is_retried_and_completes(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    await fake.script({"fault": "rate_quota", "retry_after": 0.2}, {"fault": "internal_error"})
    worker = await workers.start(worker_settings(stack, fake))
    question = await ask(pg, owner)

    row = await final_answer(pg, question)

    assert row["status"] == "completed"
    assert row["error_code"] is None
    assert fake.stats.calls == 3
    assert sample(worker, "worker_provider_errors_total", code="RateLimited") == 1
    assert sample(worker, "worker_provider_errors_total", code="ServerError") == 1
    assert row["response_time"] >= 200  # Retry-After was honoured


async def test_invalid_api_key_gives_an_error_row_with_a_stable_code(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    await workers.start(worker_settings(stack, fake, api_key="sk-invalid-key"))
    question = await ask(pg, owner)

    row = await final_answer(pg, question)

    assert row["status"] == "error"
    assert row["error_code"] == "InvalidApiKey"
    assert row["error_message"] == user_message("InvalidApiKey")
    assert row["content"] == ""
    assert fake.stats.calls == 1  # permanent: not retried


async def test_failure_after_delivery_keeps_the_partial_text_and_is_not_retried(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    await fake.script({"fault": "output_moderation", "after_chunks": 3, "tokens_per_s": 100.0})
    await workers.start(worker_settings(stack, fake))
    question = await ask(pg, owner)

    row = await final_answer(pg, question)

    assert row["status"] == "error"
    assert row["error_code"] == "ContentFiltered"
    assert row["content"]
    assert fake.stats.calls == 1


async def test_user_cancel_stops_the_stream_and_keeps_what_was_written(
    stack: LocalStack, pg: asyncpg.Connection, workers: Workers, owner: Owner
) -> None:
    async with RecordingFakeScope(ttft=0.0, tokens_per_s=20.0, tokens_per_event=1, answer_tokens=400) as slow:
        await workers.start(worker_settings(stack, slow))
        question = await ask(pg, owner)

        async def streaming() -> asyncpg.Record | None:
            row = await pg.fetchrow("select id, content from chat_messages where reply_to = $1", question)
            return row if row is not None and row["content"] else None

        answer_id = str((await until(streaming))["id"])
        user = await acreate_client(stack.url, stack.anon_key)
        user.postgrest.auth(owner.token)
        await user.table("chat_messages").update({"cancel_requested": True}).eq("id", answer_id).execute()

        row = await final_answer(pg, question, within=10)
        await slow.until(lambda stats: stats.disconnects == 1)

    assert row["status"] == "cancelled"
    assert row["content"]
    assert row["output_tokens"] is not None
    assert row["output_tokens"] < 400
    assert row["lease_owner"] is None


class _SourcesThenFailure:
    """The real provider, but its first call finds sources and then fails before any text, as a
    searching call cut off early does; the retry searches nothing (the model decides whether to)."""

    def __init__(self, provider: Provider) -> None:
        self.provider = provider
        self.calls = 0

    async def stream(self, messages: Sequence[ChatMessage], params: GenerationParams) -> AsyncIterator[StreamEvent]:
        self.calls += 1
        if self.calls == 1:
            yield Sources((Source(1, "A page of the failed call", "https://stale.example/1"),))
            raise ProviderError("ServiceUnavailable", "overloaded", retryable=True)
        async for event in self.provider.stream(messages, params):
            yield event

    async def aclose(self) -> None:
        await self.provider.aclose()


async def test_a_retried_call_keeps_only_its_own_sources(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    settings = worker_settings(stack, fake)
    provider = _SourcesThenFailure(make_provider(settings.llm))
    await workers.start(settings, provider)
    row = await final_answer(pg, await ask(pg, owner, "what is new?"))
    assert (row["status"], provider.calls) == ("completed", 2)
    assert row["sources"] is None  # the answer is the retry's, which found none
