"""The models list, a session's model, and the role personality the database accepts."""

from __future__ import annotations

import re

import asyncpg
import pytest

from tests.db.actors import Actor, acting_as, create_user


async def test_models_are_the_offered_list_with_limits_and_capabilities(db: asyncpg.Connection) -> None:
    rows = await db.fetch("select * from models where is_active order by sort_order")
    assert [r["id"] for r in rows][:3] == ["qwen-turbo", "qwen-flash", "qwen-plus"]
    assert all(r["max_input"] <= r["context_window"] and r["max_output"] <= r["context_window"] for r in rows)
    assert {r["id"] for r in rows if r["supports_vision"]} == {"qwen-vl-max", "qwen3-vl-plus"}
    assert all(r["supports_thinking"] for r in rows if r["id"].startswith(("qwen-plus", "qwen3-max")))
    # the longest chain of thought for each hybrid model (the most thinking_budget it is sent), none otherwise
    assert all((r["max_reasoning"] == 38912) == r["supports_thinking"] for r in rows)
    assert all(r["max_reasoning"] is None for r in rows if not r["supports_thinking"])
    # a document reaches the model as its text before the question, which every model reads
    # (tests/worker/test_document_formats.py, a VL model's): the list says so for each
    assert all(r["supports_documents"] for r in rows)


async def test_a_session_may_only_name_an_existing_model(db: asyncpg.Connection) -> None:
    user = await create_user(db, "modeler")
    async with acting_as(db, Actor("user", "authenticated", user)):
        with pytest.raises(asyncpg.ForeignKeyViolationError):
            await db.execute("insert into chat_sessions (title, model) values ('x', 'gpt-nothing')")


@pytest.mark.parametrize(
    ("personality", "problem"),
    [
        ('{"model": "gpt-nothing"}', "model must be one of the offered models"),
        ('{"model": 7}', "model must be one of the offered models"),
        ('{"temperature": 2.5}', "temperature must be a number in [0, 2)"),
        ('{"temperature": "hot"}', "temperature must be a number in [0, 2)"),
        ('{"top_p": 0}', "top_p must be a number in (0, 1]"),
        ('{"max_tokens": 1.5}', "max_tokens must be an integer in [1, 65536]"),
        ('{"max_tokens": 0}', "max_tokens must be an integer in [1, 65536]"),
        ('{"thinking": "yes"}', "thinking must be true or false"),
        ('{"thinking_budget": -1}', "thinking_budget must be an integer in [1, 38912]"),
        ('{"thinking_budget": 38913}', "thinking_budget must be an integer in [1, 38912]"),
        ('{"seed": 2147483648}', "seed must be an integer in [0, 2147483647]"),
        ('{"seed": -1}', "seed must be an integer in [0, 2147483647]"),
        ('{"seed": 1.5}', "seed must be an integer in [0, 2147483647]"),
        ('{"enable_search": "yes"}', "enable_search must be true or false"),
        ('{"forced_search": 1}', "forced_search must be true or false"),
        ('{"search_strategy": "agent"}', "search_strategy must be one of turbo, max, standard"),
        ('{"search_strategy": true}', "search_strategy must be one of turbo, max, standard"),
    ],
)
async def test_a_role_personality_out_of_range_is_refused(
    db: asyncpg.Connection, personality: str, problem: str
) -> None:
    user = await create_user(db, "roler")
    async with acting_as(db, Actor("user", "authenticated", user)):
        with pytest.raises(asyncpg.InvalidParameterValueError, match=re.escape(problem)):
            await db.execute(
                "insert into ai_roles (slug, name, system_prompt, personality) values ('r1', 'R', 'p', $1::jsonb)",
                personality,
            )


async def test_a_valid_personality_is_kept(db: asyncpg.Connection) -> None:
    user = await create_user(db, "roler2")
    personality = '{"model": "qwen-plus", "temperature": 0.7, "top_p": 0.9, "max_tokens": 2000, "thinking": true,'
    personality += ' "seed": 2147483647, "enable_search": true, "forced_search": false, "search_strategy": "max"}'
    async with acting_as(db, Actor("user", "authenticated", user)):
        slug = await db.fetchval(
            "insert into ai_roles (slug, name, system_prompt, personality) values ('r2', 'R', 'p', $1::jsonb)"
            " returning slug",
            personality,
        )
    assert slug == "r2"
