"""An admitted answer keeps within its user's plan, whatever the user changed between the send and
the claim (migrations/20261206110000_an_answer_keeps_within_its_plan.sql, worker/plan_check.py).

Each test sends a question through REST (admitted against the plan), then, on the user's own
connection while no worker runs yet (the question queued), changes a setting the plan forbids:
before 12-06 the worker answered with it (charged at that model's weights)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg
from supabase import acreate_client

from tests.conftest import LocalStack
from tests.worker.conftest import (
    Owner,
    RecordingFakeScope,
    Workers,
    ask,
    final_answer,
    until,
    worker_settings,
)
from tests.worker.test_settlement import ask_as, charge_of


async def on_plan(
    pg: asyncpg.Connection, owner: Owner, *, models: list[str] | None, thinking: bool, search: bool
) -> None:
    plan = f"t-{uuid.uuid4().hex[:12]}"
    await pg.execute(
        "insert into plans (id, name, models, allow_thinking, allow_search) values ($1, 'Test', $2, $3, $4)",
        plan,
        models,
        thinking,
        search,
    )
    await pg.execute(
        "insert into user_plans (user_id, plan_id) values ($1, $2)"
        " on conflict (user_id) do update set plan_id = excluded.plan_id",
        owner.user_id,
        plan,
    )


async def as_user(stack: LocalStack, owner: Owner, table: str, values: dict[str, Any], row: str) -> None:
    """The user's own write, through REST: another connection than the question's."""
    user = await acreate_client(stack.url, stack.anon_key)
    user.postgrest.auth(owner.token)
    changed = (await user.table(table).update(values).eq("id", row).execute()).data
    assert len(changed) == 1


async def own_role(pg: asyncpg.Connection, owner: Owner, slug: str, personality: dict[str, Any]) -> str:
    return str(
        await pg.fetchval(
            "insert into ai_roles (slug, name, system_prompt, personality, created_by)"
            " values ($1, $1, 'You are terse.', $2::jsonb, $3) returning id",
            slug,
            json.dumps(personality),
            owner.user_id,
        )
    )


async def refused_unanswered(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, question: str, *, code: str
) -> None:
    await workers.start(worker_settings(stack, fake))
    row = await final_answer(pg, question, within=15)
    assert (row["status"], row["error_code"], row["content"]) == ("error", code, "")
    assert row["error_message"]
    assert fake.requests == []  # the model was never called
    charge = await charge_of(pg, question)
    assert charge["charged"] == 0


async def test_a_chats_thinking_switched_on_after_the_send_is_not_used_outside_the_plan(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    await on_plan(pg, owner, models=None, thinking=False, search=True)
    await pg.execute("update chat_sessions set model = 'qwen-plus' where id = $1", owner.session_id)
    question = await ask_as(stack, owner, "Why is the sky blue?")
    await as_user(stack, owner, "chat_sessions", {"thinking": True}, owner.session_id)
    await refused_unanswered(stack, pg, fake, workers, question, code="FeatureNotAllowed")


async def test_a_chats_model_changed_after_the_send_is_not_used_outside_the_plan(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    await on_plan(pg, owner, models=["qwen-plus", "qwen-turbo"], thinking=True, search=True)
    await pg.execute("update chat_sessions set model = 'qwen-plus' where id = $1", owner.session_id)
    question = await ask_as(stack, owner, "Why is the sky blue?")
    await as_user(stack, owner, "chat_sessions", {"model": "qwen3-max"}, owner.session_id)
    await refused_unanswered(stack, pg, fake, workers, question, code="ModelNotAllowed")


async def test_a_persona_edited_after_the_send_is_not_used_outside_the_plan(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    await on_plan(pg, owner, models=["qwen-plus", "qwen-turbo"], thinking=True, search=True)
    role = await own_role(pg, owner, f"terse-{owner.user_id[:8]}", {"model": "qwen-plus"})
    await pg.execute("update chat_sessions set role_id = $2 where id = $1", owner.session_id, role)
    question = await ask_as(stack, owner, "Why is the sky blue?")
    await as_user(stack, owner, "ai_roles", {"personality": {"model": "qwen3-max"}}, role)
    await refused_unanswered(stack, pg, fake, workers, question, code="ModelNotAllowed")


async def test_a_persona_switched_after_the_send_is_not_used_outside_the_plan(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    await on_plan(pg, owner, models=None, thinking=True, search=False)
    searcher = await own_role(pg, owner, f"searcher-{owner.user_id[:8]}", {"enable_search": True})
    question = await ask_as(stack, owner, "What happened today?")
    await as_user(stack, owner, "chat_sessions", {"role_id": searcher}, owner.session_id)
    await refused_unanswered(stack, pg, fake, workers, question, code="FeatureNotAllowed")


async def test_a_change_the_plan_allows_is_answered_with(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    await on_plan(pg, owner, models=["qwen-plus", "qwen-turbo"], thinking=False, search=False)
    await pg.execute("update chat_sessions set model = 'qwen-plus' where id = $1", owner.session_id)
    question = await ask_as(stack, owner, "Why is the sky blue?")
    await as_user(stack, owner, "chat_sessions", {"model": "qwen-turbo"}, owner.session_id)
    await workers.start(worker_settings(stack, fake))
    row = await final_answer(pg, question, within=15)
    assert (row["status"], row["model"]) == ("completed", "qwen-turbo")
    assert (await charge_of(pg, question))["model"] == "qwen-turbo"


async def test_a_question_no_one_admitted_is_answered_as_before(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    # operators and benchmarks insert as a trusted role: not admitted, so held to no plan
    await on_plan(pg, owner, models=["qwen-turbo"], thinking=False, search=False)
    await pg.execute("update chat_sessions set model = 'qwen3-max', thinking = true where id = $1", owner.session_id)
    question = await ask(pg, owner)
    await workers.start(worker_settings(stack, fake))
    row = await final_answer(pg, question, within=15)
    assert (row["status"], row["model"]) == ("completed", "qwen3-max")


async def test_a_further_answer_asked_for_keeps_within_the_plan(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    # a regeneration is admitted on its own (its ledger row is the new answer's): held to it the same way
    await on_plan(pg, owner, models=None, thinking=False, search=True)
    question = await ask_as(stack, owner, "Why is the sky blue?")
    await workers.start(worker_settings(stack, fake))
    assert (await final_answer(pg, question, within=15))["status"] == "completed"
    await workers.stop_all()
    user = await acreate_client(stack.url, stack.anon_key)
    user.postgrest.auth(owner.token)
    await user.rpc("request_answer", {"question": question, "answer_no": 2}).execute()
    await as_user(stack, owner, "chat_sessions", {"thinking": True}, owner.session_id)
    called = len(fake.requests)
    await workers.start(worker_settings(stack, fake))

    async def second() -> asyncpg.Record | None:
        row = await pg.fetchrow("select * from chat_messages where reply_to = $1 and answer_no = 2", question)
        return row if row is not None and row["status"] in ("completed", "error", "cancelled") else None

    row = await until(second, 15)
    assert (row["status"], row["error_code"]) == ("error", "FeatureNotAllowed")
    assert len(fake.requests) == called
    charge = await pg.fetchrow("select * from usage_ledger where message_id = $1", row["id"])
    assert (charge["state"], charge["charged"]) == ("settled", 0)


async def test_a_question_queued_when_its_account_is_disabled_is_not_answered(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    # an admin disables an account (abuse) while its questions wait: none is answered or charged
    await on_plan(pg, owner, models=None, thinking=True, search=True)
    question = await ask_as(stack, owner, "Why is the sky blue?")
    await pg.execute("update user_plans set disabled = true where user_id = $1", owner.user_id)
    await refused_unanswered(stack, pg, fake, workers, question, code="AccountDisabled")
