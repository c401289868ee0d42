"""A question with images on a model without vision is answered by a model that sees and that the
user's plan includes (migrations/20261206141010_images_are_answered_by_a_model_the_plan_includes.sql):
LLM_VISION_MODEL when the plan includes it, else the first of the plan's models that sees; none (the
plan changed after admission) ends the answer `VisionModelNotAllowed` before any model call."""

from __future__ import annotations

import asyncpg

from core.settings import LlmSettings
from tests.conftest import LocalStack
from tests.worker.conftest import Owner, RecordingFakeScope, Workers, final_answer, worker_settings
from tests.worker.test_attachments import png, upload
from tests.worker.test_plan_at_claim import on_plan
from tests.worker.test_settlement import ask_as, charge_of


async def image_question(stack: LocalStack, pg: asyncpg.Connection, owner: Owner, models: list[str]) -> str:
    await on_plan(pg, owner, models=models, thinking=True, search=True)
    await pg.execute("update chat_sessions set model = 'qwen-plus' where id = $1", owner.session_id)  # no vision
    item = await upload(stack, owner, "pic.png", png(28, 28), "image/png", width=28, height=28)
    return await ask_as(stack, owner, "What is in this picture?", attachments=[item])


def _settings(stack: LocalStack, fake: RecordingFakeScope) -> LlmSettings:
    llm = LlmSettings(api_key="sk-test", dashscope_base_url=fake.native_url, image_transport="inline")
    assert llm.vision_model == "qwen-vl-max"
    return llm


async def test_an_image_is_answered_by_the_plans_own_model_that_sees(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    """The plan leaves LLM_VISION_MODEL (qwen-vl-max) out and includes qwen3-vl-plus: that answers."""
    question = await image_question(stack, pg, owner, ["qwen-plus", "qwen3-vl-plus"])
    await workers.start(worker_settings(stack, fake, llm=_settings(stack, fake)))
    row = await final_answer(pg, question)

    assert (row["status"], row["model"]) == ("completed", "qwen3-vl-plus"), row["error_code"]
    assert [sent["model"] for sent in fake.requests] == ["qwen3-vl-plus"]


async def test_an_image_whose_plan_lost_its_model_that_sees_before_the_claim_is_refused_unanswered(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    question = await image_question(stack, pg, owner, ["qwen-plus", "qwen3-vl-plus"])
    await pg.execute(
        "update plans set models = array['qwen-plus'] where id = (select plan_id from user_plans where user_id = $1)",
        owner.user_id,
    )
    await workers.start(worker_settings(stack, fake, llm=_settings(stack, fake)))
    row = await final_answer(pg, question)

    assert (row["status"], row["error_code"], row["content"]) == ("error", "VisionModelNotAllowed", "")
    assert row["error_message"]
    assert fake.requests == []
    assert (await charge_of(pg, question))["charged"] == 0
