"""What the worker's progress writes say an answer has cost, for whoever ends it once its worker is
gone (its lease run out, then a stop or a claim out of attempts), is what the live worker would
have charged at that moment: a failed call's search is not the answer's."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence

import asyncpg

from tests.conftest import LocalStack
from tests.worker.conftest import Owner, RecordingFakeScope, Workers, final_answer, until, worker_settings
from tests.worker.test_settlement import ask_as, charge_of, weighed
from worker.llm import ChatMessage, GenerationParams, ProviderError, Sources, StreamEvent
from worker.llm.base import Source


async def gone_and_stopped(pg: asyncpg.Connection, owner: Owner, question: str) -> None:
    """The answer's lease runs out as when its worker dies, and its user stops it, in one transaction
    (no renewal or claim comes between): the stop ends the row with what its progress writes said."""
    async with pg.transaction():
        await pg.execute(
            "update chat_messages set lease_owner = 'gone', lease_expires_at = now() - interval '1 second'"
            " where reply_to = $1",
            question,
        )
        claims = json.dumps({"role": "authenticated", "sub": owner.user_id})
        await pg.execute("select set_config('request.jwt.claims', $1, true)", claims)
        await pg.execute("set local role authenticated")
        assert await pg.fetchval("select chat_stop($1::uuid, $2::uuid)", owner.session_id, question) == 1


async def renewals(pg: asyncpg.Connection, question: str, count: int) -> None:
    """Until the answer's lease was renewed `count` times from now: progress written since."""
    seen: list[object] = []

    async def renewed() -> bool:
        at = await pg.fetchval("select lease_expires_at from chat_messages where reply_to = $1", question)
        if not seen or at != seen[-1]:
            seen.append(at)
        return len(seen) > count

    await until(renewed, 10)


class _SearchedThenFailed:
    """A model whose first call searches (its sources come), then holds until the test lets it fail
    before any text, asking for a long wait before the next call."""

    def __init__(self) -> None:
        self.calls = 0
        self.fail = asyncio.Event()

    async def stream(self, messages: Sequence[ChatMessage], params: GenerationParams) -> AsyncIterator[StreamEvent]:
        self.calls += 1
        if self.calls == 1:
            yield Sources((Source(1, "A page of the failed call", "https://stale.example/1"),))
            await self.fail.wait()
        raise ProviderError("ServiceUnavailable", "overloaded", retryable=True, retry_after=60.0)

    async def aclose(self) -> None:
        pass


async def test_a_failed_calls_search_written_by_progress_is_not_charged_once_its_worker_is_gone(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    """A progress write said the call searched; the call then failed before its first token, and the
    worker waits to call again (the retry searches anew). Its later writes take the search back, so
    an answer ended then, after its worker is gone, is charged no search, as a stop heard live is."""
    provider = _SearchedThenFailed()
    await workers.start(worker_settings(stack, fake, retry_cap=60.0), provider)
    question = await ask_as(stack, owner, "latest PostgreSQL release?", web_search=True)

    async def searched() -> bool:  # a lease renewal wrote the search the call made
        return bool(await pg.fetchval("select search_calls from chat_messages where reply_to = $1", question) == 1)

    await until(searched, 10)
    provider.fail.set()
    await renewals(pg, question, 2)  # the failure heard, and progress written after it
    await gone_and_stopped(pg, owner, question)
    row = await final_answer(pg, question, within=10)

    assert (row["status"], row["content"], provider.calls) == ("cancelled", "", 1)
    assert not row["search_calls"]
    assert row["tokens_used"] == 0
    charge = await charge_of(pg, question)
    assert (charge["state"], charge["charged"]) == ("settled", 0)
    assert charge["charged"] == await weighed(pg, row)
