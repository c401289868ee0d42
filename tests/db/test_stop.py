"""`chat_stop(session, message)`: the one stop of every door. A question still waiting for its claim
gets its answer already cancelled and its reservation released, so no worker answers it; answers in
flight are asked to stop; nothing of another user's is touched."""

from __future__ import annotations

import json

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
