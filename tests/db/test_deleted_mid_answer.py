"""A turn deleted while its answer is under way is charged its reservation once the model has spent
tokens the user saw (20261201191600, 20261205063000): its question, its chat or the answer first.
Under way means anything written: text, thinking (a thinking model's answer stays `pending` until its
first word of text), or the text of an attempt another worker has since taken over."""

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


async def under_way(db: asyncpg.Connection, user: str, session: str, how: str) -> tuple[str, str]:
    """A question whose answer has `how`: 'thinking' (thinking written, no text yet), 'taken over'
    (text written, then the worker died and another claimed it, nothing of its own yet), or
    'waiting' (claimed, nothing written: its reservation is released)."""
    question = await send_as(db, user, session, content=how)
    answer = str(claim_row((await db.fetch(CLAIM, [question], "w1"))[0])["id"])
    progress: dict[str, object] = {"id": answer, "kind": "progress", "known": 0, "delta": ""}
    if how == "thinking":
        progress.update(rknown=0, rdelta="Let me think", model="qwen-plus", input_tokens=30, output_tokens=3)
    elif how == "taken over":
        progress.update(delta="Once upon", model="qwen-plus", input_tokens=30, output_tokens=2)
    await db.fetch("select * from worker_flush('w1', 30, $1::jsonb)", json.dumps([progress]))
    if how == "taken over":
        await expire(db, answer)
        assert len(await db.fetch(CLAIM, [question], "w2")) == 1
    return question, answer


async def ledger(db: asyncpg.Connection) -> dict[str, tuple[str, bool]]:
    rows = await db.fetch("select message_id, state, charged, reserved from usage_ledger")
    return {str(r["message_id"]): (r["state"], r["charged"] == r["reserved"] > 0) for r in rows}


@pytest.mark.parametrize("how", ["thinking", "taken over"])
async def test_a_question_deleted_while_its_answer_is_under_way_is_charged(
    db: asyncpg.Connection, alice: tuple[str, str], how: str
) -> None:
    user, session = alice
    question, _ = await under_way(db, user, session, how)
    waiting, _ = await under_way(db, user, session, "waiting")
    async with acting(db, Actor("u", "authenticated", user)) as conn:
        await conn.execute("delete from chat_messages where id = any($1::uuid[])", [question, waiting])
    assert await ledger(db) == {question: ("settled", True), waiting: ("released", False)}


@pytest.mark.parametrize("how", ["thinking", "taken over"])
async def test_a_chat_deleted_while_its_answer_is_under_way_is_charged(
    db: asyncpg.Connection, alice: tuple[str, str], how: str
) -> None:
    """The chat's delete reaches the answer before its question (newest first)."""
    user, session = alice
    question, _ = await under_way(db, user, session, how)
    waiting, _ = await under_way(db, user, session, "waiting")
    async with acting(db, Actor("u", "authenticated", user)) as conn:
        await conn.execute("delete from chat_sessions where id = $1", session)
    assert await ledger(db) == {question: ("settled", True), waiting: ("released", False)}
