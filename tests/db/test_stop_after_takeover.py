"""A stop right after a takeover: a worker died mid-answer, another claimed the answer (its claim
starts the row over) and the user stops it before the new attempt has written or sent anything.
The user saw the dead worker's text; the answer ends `cancelled` with that text and is charged it,
as a stop after a crash with no takeover is (20261205162400), in whichever order the stop and the
takeover's claim reach the row."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import asyncpg
import pytest

from tests.db.test_quotas import send_as
from tests.db.test_stop import alice, expire, stop, waits_for_a_lock
from tests.db.test_trees import CLAIM
from worker.database import claim_row

__all__ = ["alice"]  # the fixture, shared with test_stop

SEEN = "Once upon a time"
USAGE = {"model": "qwen-plus", "input_tokens": 40, "output_tokens": 4}


async def flush(db: asyncpg.Connection, worker: str, *items: dict[str, Any]) -> list[asyncpg.Record]:
    return list(await db.fetch("select * from worker_flush($1, 30, $2::jsonb)", worker, json.dumps(items)))


async def streamed_then_died(db: asyncpg.Connection, user: str, session: str, text: str) -> tuple[str, str]:
    """A question whose first worker streamed SEEN (with its thinking) and died: its lease expired."""
    question = await send_as(db, user, session, content=text)
    answer = str(claim_row((await db.fetch(CLAIM, [question], "dead"))[0])["id"])
    progress = {"id": answer, "kind": "progress", "known": 0, "delta": SEEN, "rknown": 0, "rdelta": "hmm"}
    assert len(await flush(db, "dead", {**progress, **USAGE, "reasoning_tokens": 1})) == 1
    await expire(db, answer)
    return question, answer


async def charged(db: asyncpg.Connection, question: str) -> asyncpg.Record:
    return await db.fetchrow("select * from usage_ledger where message_id = $1", question)


async def assert_ended_with_what_was_seen(db: asyncpg.Connection, question: str, answer: str) -> None:
    row = await db.fetchrow("select * from chat_messages where id = $1", answer)
    assert (row["status"], row["content"], row["reasoning"], row["lease_owner"]) == ("cancelled", SEEN, "hmm", None)
    assert (row["model"], row["input_tokens"], row["output_tokens"], row["reasoning_tokens"]) == ("qwen-plus", 40, 4, 1)
    assert row["tokens_used"] == 44
    ledger = await charged(db, question)
    expected = await db.fetchval("select usage_charge('qwen-plus', 40, 4, 1, null, null)")
    assert (ledger["state"], ledger["input_tokens"], ledger["output_tokens"], ledger["charged"]) == (
        "settled", 40, 4, expected
    )  # fmt: skip
    assert expected > 0


@pytest.mark.parametrize("claim_first", [True, False], ids=["takeover-then-stop", "stop-then-takeover"])
async def test_a_stop_racing_a_takeover_keeps_and_charges_what_the_dead_worker_streamed(
    db: asyncpg.Connection, alice: tuple[str, str], db_dsn: str, claim_first: bool
) -> None:
    """Two connections: the takeover's claim and the stop lock the row in turn, each order once. A
    takeover first: its worker hears the stop before it has anything and finishes `cancelled` with
    no text of its own (the worker's finish: its prompt's tokens, no output); the row keeps the
    dead worker's text and thinking and charges their tokens, once. A stop first ends the row
    itself and no claim takes it."""
    user, session = alice
    question, answer = await streamed_then_died(db, user, session, f"a story ({claim_first})")
    other = await asyncpg.connect(db_dsn)
    try:
        async with other.transaction():
            if claim_first:
                assert len(await other.fetch(CLAIM, [question], "w2")) == 1
                racing = asyncio.ensure_future(stop(db, user, None, question))
            else:
                assert await stop(other, user, None, question) == 1
                racing = asyncio.ensure_future(db.fetch(CLAIM, [question], "w2"))
            assert await waits_for_a_lock(db_dsn, db.get_server_pid(), racing)
        result: object = await racing
    finally:
        await other.close()
    if claim_first:
        assert result == 1  # asked: w2 holds a live lease
        row = await db.fetchrow(
            "select status, content, attempts, cancel_requested from chat_messages where id = $1", answer
        )
        assert tuple(row) == ("pending", "", 2, True)  # the retake starts over: its own text so far
        finish = {"id": answer, "kind": "finish", "attempt": 2, "status": "cancelled", "content": "",
                  "model": "qwen-plus", "input_tokens": 41, "output_tokens": None, "response_time": 5}  # fmt: skip
        # ended as seen, and the flush says so (the worker's `done` tells it): the kept text's length and tokens
        assert [tuple(r) for r in await flush(db, "w2", finish)] == [(uuid.UUID(answer), True, len(SEEN), 44)]
    else:
        assert result == []
    await assert_ended_with_what_was_seen(db, question, answer)


async def test_a_retake_that_died_before_writing_leaves_what_was_seen_to_whoever_ends_the_answer(
    db: asyncpg.Connection, alice: tuple[str, str]
) -> None:
    """The retake's worker dies too, before its first write: the stop that finds its lease expired,
    or the claim that finds it out of attempts, ends the answer with the first worker's text, charged."""
    user, session = alice
    stopped, answer = await streamed_then_died(db, user, session, "stopped")
    await db.fetch(CLAIM, [stopped], "w2")
    await expire(db, answer)
    assert await stop(db, user, None, stopped) == 1
    await assert_ended_with_what_was_seen(db, stopped, answer)

    exhausted, answer = await streamed_then_died(db, user, session, "exhausted")
    for worker in ("w2", "w3"):  # CLAIM allows 3 attempts
        assert len(await db.fetch(CLAIM, [exhausted], worker)) == 1
        await expire(db, answer)
    assert await db.fetch(CLAIM, [exhausted], "w4") == []
    row = await db.fetchrow("select status, error_code, content, tokens_used from chat_messages where id = $1", answer)
    assert tuple(row) == ("error", "AttemptsExhausted", SEEN, 44)
    assert (await charged(db, exhausted))["charged"] > 0
    assert await db.fetchval("select count(*) from answer_retakes") == 0


async def test_a_retake_that_wrote_its_own_ends_with_its_own(db: asyncpg.Connection, alice: tuple[str, str]) -> None:
    """Once the new attempt has anything of its own (its user saw it replace the old), a stop, an
    error or a completion ends the answer with that, as before; nothing of the old attempt is kept."""
    user, session = alice
    for status, delta in (("cancelled", "Twice"), ("error", "Twi"), ("completed", "Twice upon a time")):
        question, answer = await streamed_then_died(db, user, session, status)
        await db.fetch(CLAIM, [question], "w2")
        await flush(
            db, "w2", {"id": answer, "kind": "progress", "known": 0, "delta": delta, **USAGE, "output_tokens": 1}
        )
        finish = {"id": answer, "kind": "finish", "attempt": 2, "status": status, "content": delta,
                  "model": "qwen-plus", "input_tokens": 40, "output_tokens": 1, "response_time": 5}  # fmt: skip
        assert len(await flush(db, "w2", finish)) == 1
        row = await db.fetchrow(
            "select status, content, reasoning, tokens_used from chat_messages where id = $1", answer
        )
        assert tuple(row) == (status, delta, None, 41)
        assert (await charged(db, question))["output_tokens"] == 1
    assert await db.fetchval("select count(*) from answer_retakes") == 0


async def test_what_a_retake_keeps_aside_is_no_users_to_read(db: asyncpg.Connection, alice: tuple[str, str]) -> None:
    user, session = alice
    question, answer = await streamed_then_died(db, user, session, "kept")
    await db.fetch(CLAIM, [question], "w2")
    assert await db.fetchval("select content from answer_retakes where answer_id = $1", answer) == SEEN
    for role in ("authenticated", "anon"):
        async with db.transaction():
            await db.execute(f"set local role {role}")
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await db.fetch("select * from answer_retakes")


async def test_a_finish_that_ended_with_what_was_seen_sent_again_is_known_as_written(
    db: asyncpg.Connection, alice: tuple[str, str]
) -> None:
    """The retake's finish (no text of its own) committed, the row took the dead worker's text, and
    the connection was lost before its answer: sent again, it is answered as written (the worker
    then tells its subscribers the answer is done), not as a row another worker holds."""
    user, session = alice
    question, answer = await streamed_then_died(db, user, session, "sent again")
    await db.fetch(CLAIM, [question], "w2")
    assert await stop(db, user, None, question) == 1
    finish = {"id": answer, "kind": "finish", "attempt": 2, "status": "cancelled", "content": "", "response_time": 5}
    ended = (uuid.UUID(answer), True, len(SEEN), 44)  # as the row ended: the kept text's length and tokens
    assert [tuple(r) for r in await flush(db, "w2", finish)] == [ended]
    written = dict(await db.fetchrow("select * from chat_messages where id = $1", answer))
    assert [tuple(r) for r in await flush(db, "w2", finish)] == [ended]
    assert dict(await db.fetchrow("select * from chat_messages where id = $1", answer)) == written
    assert written["content"] == SEEN
    assert await flush(db, "w2", {**finish, "content": "other"}) == []  # no such finish
