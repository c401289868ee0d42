"""A turn deleted while its answer is under way is charged what its answer had cost, as its progress
writes said (the prompt once a call had it, the text, thinking, images and search so far), not its
reservation (until 12-05: 20261206192000), whether its question, its chat or the answer goes first.
Under way means anything written: text, thinking (a thinking model's answer stays `pending` until its
first word of text), the text of an attempt another worker has since taken over (charged that
attempt's counts, as a stop then is), or a prompt a call has (a progress write said its tokens)."""

from __future__ import annotations

import json

import asyncpg
import pytest

from tests.db.actors import Actor
from tests.db.test_quotas import send_as
from tests.db.test_stop import alice, expire
from tests.db.test_trees import CLAIM, acting
from worker.database import claim_row

__all__ = ["alice"]  # the fixture, shared with test_stop


SPENT = {"model": "qwen-plus", "input_tokens": 1500, "image_tokens": 1282, "search_calls": 1}


async def under_way(db: asyncpg.Connection, user: str, session: str, how: str) -> tuple[str, str]:
    """A question whose answer has `how`: 'thinking' (thinking written, no text yet), 'streaming' (text
    written), 'taken over' (text written, then the worker died and another claimed it, nothing of its
    own yet), 'called' (a call has its prompt, nothing written: a lease renewal said the prompt's tokens)
    or 'waiting' (claimed, nothing written: its reservation is released)."""
    question = await send_as(db, user, session, content=how)
    answer = str(claim_row((await db.fetch(CLAIM, [question], "w1"))[0])["id"])
    progress: dict[str, object] = {"id": answer, "kind": "progress", "known": 0, "delta": ""}
    if how == "thinking":
        progress.update(rknown=0, rdelta="Let me think", output_tokens=300, reasoning_tokens=300, **SPENT)
    elif how in ("streaming", "taken over"):
        progress.update(delta="Once upon", output_tokens=200, **SPENT)
    elif how == "called":
        progress.update(output_tokens=0, **SPENT)
    await db.fetch("select * from worker_flush('w1', 30, $1::jsonb)", json.dumps([progress]))
    if how == "taken over":
        await expire(db, answer)
        assert len(await db.fetch(CLAIM, [question], "w2")) == 1
    return question, answer


async def spent(db: asyncpg.Connection, how: str) -> int:
    """What the answer had cost when its turn was deleted, as its progress said."""
    output, reasoning = {"thinking": (300, 300), "called": (0, None)}.get(how, (200, None))
    return int(
        await db.fetchval("select usage_charge($1, $2, $3, $4, $5, $6)", "qwen-plus", 1500, output, reasoning, 1282, 1)
    )


async def ledger(db: asyncpg.Connection) -> dict[str, tuple[str, int]]:
    rows = await db.fetch("select message_id, state, charged from usage_ledger")
    return {str(r["message_id"]): (r["state"], r["charged"]) for r in rows}


async def assert_charged(db: asyncpg.Connection, question: str, how: str, waiting: str) -> None:
    charge = await db.fetchrow("select * from usage_ledger where message_id = $1", question)
    assert charge["charged"] != charge["reserved"]  # not what admission held: what the model did
    assert await ledger(db) == {question: ("settled", await spent(db, how)), waiting: ("released", 0)}
    assert (charge["input_tokens"], charge["image_tokens"], charge["search_calls"]) == (1500, 1282, 1)


@pytest.mark.parametrize("how", ["thinking", "streaming", "taken over", "called"])
async def test_a_question_deleted_while_its_answer_is_under_way_is_charged_what_it_had_cost(
    db: asyncpg.Connection, alice: tuple[str, str], how: str
) -> None:
    user, session = alice
    question, _ = await under_way(db, user, session, how)
    waiting, _ = await under_way(db, user, session, "waiting")
    async with acting(db, Actor("u", "authenticated", user)) as conn:
        await conn.execute("delete from chat_messages where id = any($1::uuid[])", [question, waiting])
    await assert_charged(db, question, how, waiting)


@pytest.mark.parametrize("how", ["thinking", "streaming", "taken over", "called"])
async def test_a_chat_deleted_while_its_answer_is_under_way_is_charged_what_it_had_cost(
    db: asyncpg.Connection, alice: tuple[str, str], how: str
) -> None:
    """The chat's delete reaches the answer before its question (newest first)."""
    user, session = alice
    question, _ = await under_way(db, user, session, how)
    waiting, _ = await under_way(db, user, session, "waiting")
    async with acting(db, Actor("u", "authenticated", user)) as conn:
        await conn.execute("delete from chat_sessions where id = $1", session)
    await assert_charged(db, question, how, waiting)
