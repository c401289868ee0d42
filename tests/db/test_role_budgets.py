"""A role's own thinking budget is saved only within the longest chain of thought of the model it
names (`models.max_reasoning`), or, naming none, of every offered model that thinks (any of them
may answer it): one past it was saved, and the worker cut it to the model's without a word."""

from __future__ import annotations

import json
import uuid

import asyncpg
import pytest

from tests.db.actors import Actor, acting_as, create_user

TOO_LARGE = "RoleThinkingBudgetTooLarge: "


async def _save(db: asyncpg.Connection, personality: dict[str, object], owner: str | None = None) -> uuid.UUID:
    role_id: uuid.UUID = await db.fetchval(
        "insert into ai_roles (slug, name, system_prompt, personality, created_by)"
        " values ($1, 'R', 'p', $2::jsonb, coalesce($3::uuid, auth.uid())) returning id",
        f"r{uuid.uuid4().hex[:8]}",
        json.dumps(personality),
        owner,
    )
    return role_id


async def test_a_roles_budget_past_its_models_longest_thought_is_refused(db: asyncpg.Connection) -> None:
    await db.execute("update models set max_reasoning = 1000 where id = 'qwen-plus'")
    user = await create_user(db, "budgeter")
    async with acting_as(db, Actor("user", "authenticated", user)):
        await _save(db, {"model": "qwen-plus", "thinking_budget": 1000})
        await _save(db, {"model": "qwen3-max", "thinking_budget": 38912})  # its own is 38,912
        pasts: list[dict[str, object]] = [{"model": "qwen-plus", "thinking_budget": 1001}, {"thinking_budget": 1001}]
        for past in pasts:
            await db.execute("savepoint s")
            with pytest.raises(asyncpg.InvalidParameterValueError, match=TOO_LARGE) as refused:
                await _save(db, past)
            await db.execute("rollback to savepoint s")
            assert "1000" in str(refused.value), past  # the limit it is past, said


async def test_a_role_moved_to_a_model_that_thinks_less_is_refused_but_an_old_one_still_saves(
    db: asyncpg.Connection,
) -> None:
    user = await create_user(db, "mover")
    role = await _save(db, {"model": "qwen3-max", "thinking_budget": 5000}, user)
    stale = await _save(db, {"model": "qwen-plus", "thinking_budget": 5000}, user)
    await db.execute("update models set max_reasoning = 1000 where id = 'qwen-plus'")
    async with acting_as(db, Actor("user", "authenticated", user)):
        await db.execute("savepoint s")
        with pytest.raises(asyncpg.InvalidParameterValueError, match=TOO_LARGE):
            await db.execute(
                'update ai_roles set personality = personality || \'{"model": "qwen-plus"}\' where id = $1', role
            )
        await db.execute("rollback to savepoint s")
        # a role saved before its model's limit was lowered keeps saving what else changes (the
        # worker cuts its budget, and says so); its budget raised further is refused
        await db.execute(
            "update ai_roles set personality = personality || '{\"temperature\": 0.5}' where id = $1", stale
        )
        with pytest.raises(asyncpg.InvalidParameterValueError, match=TOO_LARGE):
            await db.execute(
                "update ai_roles set personality = personality || '{\"thinking_budget\": 6000}' where id = $1", stale
            )
