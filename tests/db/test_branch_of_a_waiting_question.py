"""A branch copies no question for the worker to answer: its copies are no new sends and are not
admitted (20261205020000), so a copied question still waiting for its answer was claimed and answered
in the new chat (the worker hears it, or its sweep finds it) with no reservation to settle, free,
while the original was answered and charged in the old chat."""

from __future__ import annotations

import asyncpg

from tests.db.actors import Actor
from tests.db.test_quotas import send_as
from tests.db.test_stop import alice
from tests.db.test_trees import CLAIM, acting

__all__ = ["alice"]  # the fixture, shared with test_stop

SWEEP = "select array_agg(x::text) from public.worker_sweep(3600, 100) x"


async def test_a_question_still_waiting_is_copied_with_its_answer_cancelled(
    db: asyncpg.Connection, alice: tuple[str, str]
) -> None:
    user, session = alice
    first = await send_as(db, user, session, content="a question still waiting")
    second = await send_as(db, user, session, content="and another, sent before the answer")
    assert str(await db.fetchval("select parent_id from chat_messages where id = $1", second)) == first
    async with acting(db, Actor("u", "authenticated", user)):
        fresh = await db.fetchval("select chat_branch($1)", second)  # continue from there in a new chat
        copied = await db.fetch("select * from chat_path($1)", fresh)
    assert [(r["message_type"], r["content"]) for r in copied][:1] == [("user", "a question still waiting")]
    copy = copied[0]["id"]
    answers = await db.fetch("select status, answer_no from chat_messages where reply_to = $1", copy)
    assert [tuple(r) for r in answers] == [("cancelled", 1)]
    assert str(copy) not in (await db.fetchval(SWEEP) or [])
    assert await db.fetch(CLAIM, [copy], "w1") == []
    # the original is answered, and charged, in its own chat
    assert len(await db.fetch(CLAIM, [first], "w1")) == 1
    assert await db.fetchval("select count(*) from usage_ledger where user_id = $1", user) == 2
