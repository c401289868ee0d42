"""`chat_stop(session, message)`: the one stop of every door. A question still waiting for its claim
gets its answer already cancelled and its reservation released, so no worker answers it; answers in
flight are asked to stop; nothing of another user's is touched."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg
import pytest

from tests.db.actors import Actor, acting_as, create_user
from tests.db.test_quotas import send_as
from tests.db.test_trees import CLAIM, acting
from worker.database import claim_row


@pytest.fixture
async def alice(db: asyncpg.Connection) -> tuple[str, str]:
    user = await create_user(db, "stopper")
    session = str(await db.fetchval("insert into chat_sessions (user_id) values ($1) returning id", user))
    return user, session


async def stop(db: asyncpg.Connection, user: str, session: str | None, message: str | None) -> int:
    async with acting(db, Actor("u", "authenticated", user)) as conn:
        return int(await conn.fetchval("select chat_stop($1::uuid, $2::uuid)", session, message))


async def claimed(db: asyncpg.Connection, question: str) -> list[dict[str, object]]:
    await db.execute("set role service_role")
    try:
        return [claim_row(r) for r in await db.fetch(CLAIM, [question], "w1")]
    finally:
        await db.execute("reset role")


async def test_a_question_stopped_before_its_claim_is_never_answered_nor_charged(
    db: asyncpg.Connection, alice: tuple[str, str]
) -> None:
    user, session = alice
    question = await send_as(db, user, session, content="a long story, please")
    follower = await send_as(db, user, session, content="and another")  # sent before any claim
    assert await stop(db, user, None, question) == 1
    answer = await db.fetchrow(
        "select id, status, cancel_requested, answer_no from chat_messages where reply_to = $1", question
    )
    assert (answer["status"], answer["cancel_requested"], answer["answer_no"]) == ("cancelled", True, 1)
    ledger = await db.fetchrow("select state, charged from usage_ledger where message_id = $1", question)
    assert tuple(ledger) == ("released", 0)
    assert await db.fetchval("select parent_id from chat_messages where id = $1", follower) == answer["id"]
    assert await claimed(db, question) == []  # the worker hears the question and takes nothing
    assert await db.fetchval("select status from chat_messages where id = $1", answer["id"]) == "cancelled"


async def test_an_answer_in_flight_is_asked_to_stop_by_either_id_or_its_session(
    db: asyncpg.Connection, alice: tuple[str, str]
) -> None:
    user, session = alice
    first, second = [await send_as(db, user, session, content=f"q{n}") for n in (1, 2)]
    answers = {q: claim_row((await db.fetch(CLAIM, [q], "w1"))[0])["id"] for q in (first, second)}
    assert await stop(db, user, None, str(answers[first])) == 1
    assert await stop(db, user, session, None) == 2  # both in flight (the first asked again)
    flags = await db.fetch("select cancel_requested from chat_messages where id = any($1::uuid[])", [*answers.values()])
    assert [r["cancel_requested"] for r in flags] == [True, True]
    await db.fetch(
        "select * from worker_flush('w1', 30, $1::jsonb)",
        json.dumps([{"id": str(answers[first]), "kind": "finish", "status": "cancelled", "content": ""}]),
    )
    assert await stop(db, user, None, first) == 0  # final: nothing left to stop


async def test_nobody_stops_another_users_questions_and_a_second_factor_is_asked_for(
    db: asyncpg.Connection, alice: tuple[str, str]
) -> None:
    user, session = alice
    question = await send_as(db, user, session)
    mallory = await create_user(db, "mallory")
    assert await stop(db, mallory, session, None) == 0
    assert await stop(db, mallory, None, question) == 0
    assert await db.fetchval("select count(*) from chat_messages where reply_to = $1", question) == 0
    async with acting_as(db, Actor("u", "authenticated", user)) as conn:
        with pytest.raises(asyncpg.InvalidParameterValueError):
            await conn.fetchval("select chat_stop(null, null)")
    await db.execute(
        """insert into auth.mfa_factors (id, user_id, friendly_name, factor_type, status, created_at, updated_at)
           values (gen_random_uuid(), $1, 'phone', 'totp', 'verified', now(), now())""",
        user,
    )
    claims = json.dumps({"role": "authenticated", "sub": user, "aal": "aal1"})
    async with db.transaction():
        await db.execute("select set_config('request.jwt.claims', $1, true)", claims)
        await db.execute("set local role authenticated")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await db.fetchval("select chat_stop($1::uuid, null)", session)


async def waits_for_a_lock(dsn: str, pid: int, task: asyncio.Future[Any]) -> bool:
    """Whether the backend `pid` comes to wait for a lock while `task` (its statement) is not done;
    read from a connection of its own (a transaction keeps its first view of pg_stat_activity)."""
    watcher = await asyncpg.connect(dsn)
    try:
        for _ in range(400):
            waiting = await watcher.fetchval("select wait_event_type from pg_stat_activity where pid = $1", pid)
            if waiting == "Lock":
                return not task.done()
            if task.done():
                return False
            await asyncio.sleep(0.025)
        return False
    finally:
        await watcher.close()


async def expire(db: asyncpg.Connection, answer: str) -> None:
    """The answer's lease runs out (its worker died, or did not renew it in time)."""
    await db.execute("update chat_messages set lease_expires_at = now() - interval '1 second' where id = $1", answer)


async def test_an_answer_no_live_worker_holds_is_ended_by_the_stop_itself_and_charged_once(
    db: asyncpg.Connection, alice: tuple[str, str]
) -> None:
    """A stop that finds an answer's lease already expired (its worker died, or hung past it) ends the
    answer there and then, as the next claim would have: `cancelled` with the text written, charged
    the usage its progress writes carried, once. The worker that held it (if it lives) is refused its
    next write, and no claim takes it up again. An answer whose worker holds a live lease is only
    asked to stop: its worker ends it."""
    user, session = alice
    dead, live = [await send_as(db, user, session, content=f"story {n}") for n in (1, 2)]
    answers = {q: str(claim_row((await db.fetch(CLAIM, [q], "w1"))[0])["id"]) for q in (dead, live)}
    progress = [
        {"id": answers[q], "kind": "progress", "known": 0, "delta": "Once upon a time",
         "model": "qwen-plus", "input_tokens": 40, "output_tokens": 4}
        for q in (dead, live)
    ]  # fmt: skip
    assert len(await db.fetch("select * from worker_flush('w1', 30, $1::jsonb)", json.dumps(progress))) == 2
    await expire(db, answers[dead])

    assert await stop(db, user, session, None) == 2
    ended = await db.fetchrow("select * from chat_messages where id = $1", answers[dead])
    assert (ended["status"], ended["content"], ended["cancel_requested"]) == ("cancelled", "Once upon a time", True)
    assert (ended["lease_owner"], ended["lease_expires_at"], ended["tokens_used"]) == (None, None, 44)
    ledger = await db.fetchrow("select * from usage_ledger where message_id = $1", dead)
    expected = await db.fetchval("select usage_charge('qwen-plus', 40, 4, null, null, null)")
    assert (ledger["state"], ledger["input_tokens"], ledger["output_tokens"], ledger["charged"]) == (
        "settled", 40, 4, expected
    )  # fmt: skip
    assert expected > 0
    asked = await db.fetchrow("select status, cancel_requested from chat_messages where id = $1", answers[live])
    assert (asked["status"], asked["cancel_requested"]) == ("streaming", True)

    # the worker that held the ended answer, alive after all, writes nothing more into it
    late = [{"id": answers[dead], "kind": "finish", "status": "completed", "content": "Once upon a time, the end"}]
    assert await db.fetch("select * from worker_flush('w1', 30, $1::jsonb)", json.dumps(late)) == []
    assert await claimed(db, dead) == []
    assert await stop(db, user, None, dead) == 0
    again = await db.fetchrow("select status, content from chat_messages where id = $1", answers[dead])
    assert tuple(again) == ("cancelled", "Once upon a time")
    assert await db.fetchval("select charged from usage_ledger where message_id = $1", dead) == expected


async def test_a_stop_and_a_claim_of_an_expired_answer_at_once_end_it_once(
    db: asyncpg.Connection, alice: tuple[str, str], db_dsn: str
) -> None:
    """The stop and a claim lock the row in turn: whichever comes second sees the first's row. A claim
    that took the answer over first holds a live lease, so the stop asks its worker to stop; a stop
    first leaves a final row no claim takes."""
    user, session = alice
    for claim_first in (True, False):
        question = await send_as(db, user, session, content=f"race {claim_first}")
        answer = str(claim_row((await db.fetch(CLAIM, [question], "w1"))[0])["id"])
        await expire(db, answer)
        other = await asyncpg.connect(db_dsn)
        try:
            async with other.transaction():
                if claim_first:
                    assert len(await other.fetch(CLAIM, [question], "w2")) == 1
                    stopping = asyncio.ensure_future(stop(db, user, None, question))
                else:
                    await stop(other, user, None, question)
                    stopping = asyncio.ensure_future(db.fetch(CLAIM, [question], "w2"))
                assert await waits_for_a_lock(db_dsn, db.get_server_pid(), stopping)  # the other's row lock
            result: object = await stopping
        finally:
            await other.close()
        row = await db.fetchrow(
            "select status, lease_owner, attempts, cancel_requested from chat_messages where id = $1", answer
        )
        if claim_first:
            assert result == 1
            assert tuple(row) == ("pending", "w2", 2, True)  # w2's turn hears the stop at its first write
            assert await db.fetchval("select state from usage_ledger where message_id = $1", question) == "reserved"
        else:
            assert result == []
            assert tuple(row) == ("cancelled", None, 1, True)
            assert await db.fetchval("select state from usage_ledger where message_id = $1", question) == "settled"
