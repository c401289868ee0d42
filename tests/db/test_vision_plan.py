"""A question with images is answered by a model that sees and that the user's plan includes: a plan
that lists its models and none of them sees refuses such a question at admission."""

from __future__ import annotations

import json

import asyncpg
import pytest

from tests.db.actors import create_user
from tests.db.refusals import refusal
from tests.db.test_quotas import send_as
from tests.db.test_shared_files import _file


@pytest.fixture
async def alice(db: asyncpg.Connection) -> tuple[str, str]:
    user = await create_user(db, "alice")
    await db.execute("insert into plans (id, name, models) values ('text', 'Text', array['qwen-plus'])")
    await db.execute("update user_plans set plan_id = 'text' where user_id = $1", user)
    session = str(
        await db.fetchval("insert into chat_sessions (user_id, model) values ($1, 'qwen-plus') returning id", user)
    )
    return user, session


async def test_a_question_with_images_on_a_plan_without_a_model_that_sees_is_refused(
    db: asyncpg.Connection, alice: tuple[str, str]
) -> None:
    """qwen-plus does not see: the worker would answer with LLM_VISION_MODEL, which the plan leaves
    out, so the question is refused (403 VisionModelNotAllowed) and nothing is stored or reserved."""
    user, session = alice
    files = json.dumps(await _file(db, user))
    with pytest.raises(asyncpg.PostgresError) as refused:
        await send_as(db, user, session, "what is this?", attachments=files)
    assert refusal(refused.value)[:2] == (403, "VisionModelNotAllowed")
    await db.execute("update chat_sessions set model = null where id = $1", session)
    files = json.dumps(await _file(db, user))
    with pytest.raises(asyncpg.PostgresError) as unnamed:  # no model named: the deployment's may not see
        await send_as(db, user, session, "and this?", attachments=files)
    assert refusal(unnamed.value)[:2] == (403, "VisionModelNotAllowed")
    assert await db.fetchval("select count(*) from chat_messages") == 0
    assert await db.fetchval("select count(*) from usage_ledger") == 0

    await send_as(db, user, session, "no picture, no model that sees needed")


async def test_a_plan_that_includes_a_model_that_sees_takes_images(
    db: asyncpg.Connection, alice: tuple[str, str]
) -> None:
    user, session = alice
    await db.execute("update plans set models = array['qwen-plus', 'qwen3-vl-plus'] where id = 'text'")
    await send_as(db, user, session, "what is this?", attachments=json.dumps(await _file(db, user)))
    await db.execute("update plans set models = array['qwen3-vl-plus'] where id = 'text'")
    await db.execute("update chat_sessions set model = 'qwen3-vl-plus' where id = $1", session)
    await send_as(db, user, session, "and this?", attachments=json.dumps(await _file(db, user)))
    await db.execute("update plans set models = null where id = 'text'")  # every model
    await db.execute("update chat_sessions set model = 'qwen-plus' where id = $1", session)
    await send_as(db, user, session, "and that?", attachments=json.dumps(await _file(db, user)))
    assert await db.fetchval("select count(*) from usage_ledger") == 3
