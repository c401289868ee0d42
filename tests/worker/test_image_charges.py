"""An image answer that ends before the model's usage came (stopped, or ended after its worker is
gone) is charged its images at the image weight, as a completed answer is: the prompt's count of
them is its `image_tokens`, inside its `input_tokens` as DashScope counts them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from tests.conftest import LocalStack
from tests.worker.conftest import Owner, RecordingFakeScope, Workers, final_answer, until, worker_settings
from tests.worker.test_attachments import png, upload
from tests.worker.test_settlement import ask_as, charge_of, stop, weighed
from tests.worker.test_stored_charges import gone_and_stopped
from worker.prompt import IMAGE_TOKENS

VISION = "qwen-vl-max"  # LLM_VISION_MODEL, which answers a chat's image question


@pytest.fixture
async def image_weight(pg: asyncpg.Connection) -> AsyncIterator[None]:
    """The vision model's images weigh 5 an image token, its other tokens 1."""
    await pg.execute(
        "insert into usage_weights (model, input_weight, output_weight, reasoning_weight, image_weight)"
        " values ($1, 1, 1, 1, 5)",
        VISION,
    )
    try:
        yield
    finally:
        await pg.execute("delete from usage_weights where model = $1", VISION)


async def streaming_image_answer(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> str:
    """An image question sent by its user, its answer streaming slowly (over 10 characters written)."""
    await fake.script({"tokens_per_s": 40.0, "tokens_per_event": 1, "answer_tokens": 400})
    await workers.start(worker_settings(stack, fake))
    item = await upload(stack, owner, "pic.png", png(280, 140), "image/png", width=280, height=140)
    question = await ask_as(stack, owner, "What is in this picture?", attachments=[item])

    async def streaming() -> bool:
        return len(await pg.fetchval("select content from chat_messages where reply_to = $1", question) or "") > 10

    await until(streaming, 10)
    return question


async def assert_images_weighed(pg: asyncpg.Connection, question: str, row: asyncpg.Record) -> None:
    assert (row["status"], row["model"]) == ("cancelled", VISION)
    assert row["image_tokens"] == IMAGE_TOKENS  # the prompt's count of its one image
    assert row["input_tokens"] > row["image_tokens"]
    charge = await charge_of(pg, question)
    assert charge["image_tokens"] == row["image_tokens"]
    assert charge["charged"] == await weighed(pg, row)
    text = row["input_tokens"] - row["image_tokens"]
    assert charge["charged"] == text + 5 * row["image_tokens"] + row["output_tokens"]


@pytest.mark.usefixtures("image_weight")
async def test_a_stopped_image_answer_is_charged_its_images_at_the_image_weight(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    question = await streaming_image_answer(stack, pg, fake, workers, owner)
    await stop(stack, owner, question)
    row = await final_answer(pg, question, within=10)
    await assert_images_weighed(pg, question, row)


@pytest.mark.usefixtures("image_weight")
async def test_an_image_answer_ended_after_its_worker_is_gone_is_charged_its_images_at_the_image_weight(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    """What the progress writes said: the images with the prompt, for whoever ends the answer."""
    question = await streaming_image_answer(stack, pg, fake, workers, owner)
    await gone_and_stopped(pg, owner, question)
    row = await final_answer(pg, question, within=10)
    await assert_images_weighed(pg, question, row)
