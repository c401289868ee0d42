"""An answer that searched and then ends without its worker's finish (the worker died, then a stop,
a claim out of attempts, or a stop right after a takeover ends it) is charged its search, as its
finish would have charged it: each progress write carries the search calls made so far, as it
carries the tokens streamed (20261205162400), and a takeover keeps them with the text it keeps."""

from __future__ import annotations

import asyncpg

from tests.db.test_quotas import send_as
from tests.db.test_stop import alice, expire, stop
from tests.db.test_stop_after_takeover import SEEN, USAGE, charged, flush
from tests.db.test_trees import CLAIM
from worker.database import claim_row

__all__ = ["alice"]  # the fixture, shared with test_stop


async def searched_then_died(db: asyncpg.Connection, user: str, session: str, text: str) -> tuple[str, str]:
    question = await send_as(db, user, session, content=text, web_search=True)
    answer = str(claim_row((await db.fetch(CLAIM, [question], "dead"))[0])["id"])
    progress = {"id": answer, "kind": "progress", "known": 0, "delta": SEEN, **USAGE, "search_calls": 1}
    assert len(await flush(db, "dead", progress)) == 1
    await expire(db, answer)
    return question, answer


async def assert_charged_the_search(db: asyncpg.Connection, question: str, answer: str, calls: int | None) -> None:
    row = await db.fetchrow("select status, content, search_calls from chat_messages where id = $1", answer)
    assert tuple(row) == ("cancelled", SEEN, calls)
    ledger = await charged(db, question)
    expected = await db.fetchval("select usage_charge('qwen-plus', 40, 4, null, null, $1)", calls)
    assert (ledger["state"], ledger["search_calls"], ledger["charged"]) == ("settled", calls, expected)


async def test_a_stop_after_the_worker_died_charges_its_search(db: asyncpg.Connection, alice: tuple[str, str]) -> None:
    user, session = alice
    question, answer = await searched_then_died(db, user, session, "stopped")
    assert await stop(db, user, None, question) == 1
    await assert_charged_the_search(db, question, answer, 1)


async def test_a_stop_right_after_a_takeover_charges_the_dead_workers_search(
    db: asyncpg.Connection, alice: tuple[str, str]
) -> None:
    user, session = alice
    question, answer = await searched_then_died(db, user, session, "taken over")
    assert len(await db.fetch(CLAIM, [question], "w2")) == 1
    assert await db.fetchval("select search_calls from chat_messages where id = $1", answer) is None  # starts over
    assert await stop(db, user, None, question) == 1
    finish = {"id": answer, "kind": "finish", "attempt": 2, "status": "cancelled", "content": "", "response_time": 5}
    assert len(await flush(db, "w2", finish)) == 1
    await assert_charged_the_search(db, question, answer, 1)
