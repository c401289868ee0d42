"""An image answer that ends before the model's usage came (stopped, or ended after its worker is
gone) is charged its images at the image weight, as a completed answer is, and as many as the
model counted once it said (DashScope's native stream says its count of the prompt with its first
event): before that, the prompt's own count of them, each by its dimensions as the model counts
it, is its `image_tokens`, inside its `input_tokens` as DashScope counts them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from supabase import acreate_client

from core.settings import LlmSettings
from fakescope.vision import image_tokens
from tests.conftest import LocalStack
from tests.worker.conftest import Owner, RecordingFakeScope, Workers, final_answer, until, worker_settings
from tests.worker.test_attachments import png, upload
from tests.worker.test_settlement import ask_as, charge_of, stop, weighed
from tests.worker.test_stored_charges import gone_and_stopped
from worker.llm import Read
from worker.llm.dashscope import _read
from worker.prompt import IMAGE_TOKENS, image_cost

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


async def image_question(stack: LocalStack, fake: RecordingFakeScope, workers: Workers, owner: Owner) -> str:
    await workers.start(worker_settings(stack, fake))
    item = await upload(stack, owner, "pic.png", png(280, 140), "image/png", width=280, height=140)
    return await ask_as(stack, owner, "What is in this picture?", attachments=[item])


async def streaming_image_answer(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> str:
    """An image question sent by its user, its answer streaming slowly (over 10 characters written)."""
    await fake.script({"tokens_per_s": 40.0, "tokens_per_event": 1, "answer_tokens": 400})
    question = await image_question(stack, fake, workers, owner)

    async def streaming() -> bool:
        return len(await pg.fetchval("select content from chat_messages where reply_to = $1", question) or "") > 10

    await until(streaming, 10)
    return question


async def assert_images_weighed(
    pg: asyncpg.Connection, question: str, row: asyncpg.Record, images: int, fake: RecordingFakeScope | None = None
) -> None:
    """The row's `images` image tokens weighed at the image weight; with `fake`, its input tokens are the model's."""
    assert (row["status"], row["model"]) == ("cancelled", VISION)
    assert row["image_tokens"] == images
    assert row["input_tokens"] > row["image_tokens"]
    if fake is not None:  # the model's count: the fake's stats count the text, its usage adds the images
        assert row["input_tokens"] == fake.stats.input_tokens + images
    charge = await charge_of(pg, question)
    assert charge["image_tokens"] == row["image_tokens"]
    assert charge["charged"] == await weighed(pg, row)
    text = row["input_tokens"] - row["image_tokens"]
    assert charge["charged"] == text + 5 * row["image_tokens"] + (row["output_tokens"] or 0)


@pytest.mark.usefixtures("image_weight")
async def test_a_stopped_image_answer_is_charged_its_images_at_the_image_weight(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    question = await streaming_image_answer(stack, pg, fake, workers, owner)
    await stop(stack, owner, question)
    row = await final_answer(pg, question, within=10)
    await assert_images_weighed(pg, question, row, image_tokens(280, 140), fake)


@pytest.mark.usefixtures("image_weight")
async def test_an_image_answer_stopped_before_the_models_first_word_is_charged_its_images_as_the_model_counts_them(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    """The call is with the model, which has said nothing yet: its prompt is charged as the worker counted
    it, the image by its dimensions as Qwen-VL counts it (52 for 280x140), not at the most a picture costs
    (1,282), at the image weight; the prompt's text is its own count, no more."""
    await fake.script({"ttft": 30.0})
    question = await image_question(stack, fake, workers, owner)
    await fake.until(lambda stats: stats.calls == 1)
    await stop(stack, owner, question)
    row = await final_answer(pg, question, within=10)
    await assert_images_weighed(pg, question, row, image_tokens(280, 140))
    assert row["input_tokens"] - row["image_tokens"] < 100  # a system prompt and "What is in this picture?"


@pytest.mark.usefixtures("image_weight")
async def test_a_follow_up_stopped_before_the_models_first_word_is_charged_its_earlier_picture_as_the_model_counts_it(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    """A chat on the vision model sends an earlier question's picture again with a follow-up: counted
    by its dimensions too."""
    await pg.execute("update chat_sessions set model = $1 where id = $2", VISION, owner.session_id)
    question = await image_question(stack, fake, workers, owner)
    assert (await final_answer(pg, question))["status"] == "completed"
    await fake.script({"ttft": 30.0})
    follow_up = await ask_as(stack, owner, "And what colour is it?")
    await fake.until(lambda stats: stats.calls == 2)
    await stop(stack, owner, follow_up)
    row = await final_answer(pg, follow_up, within=10)
    await assert_images_weighed(pg, follow_up, row, image_tokens(280, 140))


@pytest.mark.usefixtures("image_weight")
async def test_an_image_answer_ended_after_its_worker_is_gone_is_charged_its_images_at_the_image_weight(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    """What the progress writes said: the images with the prompt, for whoever ends the answer."""
    question = await streaming_image_answer(stack, pg, fake, workers, owner)
    await gone_and_stopped(pg, owner, question)
    row = await final_answer(pg, question, within=10)
    await assert_images_weighed(pg, question, row, image_tokens(280, 140), fake)


def test_the_models_count_is_read_from_either_of_dashscopes_usage_shapes() -> None:
    """Qwen-VL says `image_tokens` beside `input_tokens`, Qwen3-VL in `input_tokens_details`; an event
    without usage says nothing."""
    assert _read({"input_tokens": 89, "output_tokens": 1, "image_tokens": 52}) == Read(89, 52)
    assert _read({"input_tokens": 89, "input_tokens_details": {"image_tokens": 52, "text_tokens": 37}}) == Read(89, 52)
    assert _read({"input_tokens": 37, "output_tokens": 1}) == Read(37, None)
    assert _read(None) is None
    assert _read({}) is None


def test_the_prompts_count_of_an_image_is_the_models_by_its_dimensions() -> None:
    """As the model counts (fakescope/vision.py), within its bounds; at the most when the question says none."""
    for width, height in [(280, 140), (10, 10), (1600, 1200), (4000, 3000), (29, 2000)]:
        assert image_cost(width, height) == image_tokens(width, height)
    assert image_cost(4000, 3000) == IMAGE_TOKENS
    assert image_cost(0, 0) == IMAGE_TOKENS


@pytest.mark.usefixtures("image_weight")
async def test_an_image_answer_whose_chat_is_deleted_mid_stream_is_charged_its_images(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    """What the answer's progress writes said when its chat went: the prompt, its picture at the image
    weight and the text so far, not the reservation (which holds no image)."""
    question = await streaming_image_answer(stack, pg, fake, workers, owner)
    user = await acreate_client(stack.url, stack.anon_key)
    user.postgrest.auth(owner.token)
    await user.table("chat_sessions").delete().eq("id", owner.session_id).execute()
    charge = await charge_of(pg, question)
    assert (charge["state"], charge["model"], charge["image_tokens"]) == ("settled", VISION, image_tokens(280, 140))
    assert charge["output_tokens"] > 0
    text = charge["input_tokens"] - charge["image_tokens"]
    assert charge["charged"] == text + 5 * charge["image_tokens"] + charge["output_tokens"] != charge["reserved"]


@pytest.mark.usefixtures("image_weight")
async def test_an_image_answer_through_a_compatible_endpoint_is_charged_its_picture_at_the_image_weight(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    """LLM_PROVIDER=openai: DashScope's compatible mode (the fake's) says no image tokens in its usage,
    only the input they are part of; a completed answer is charged its picture at the image weight as
    a stopped one is (the prompt's count of it, by its dimensions), not at the input weight."""
    compat = LlmSettings(provider="openai", openai_base_url=fake.compat_url, openai_api_key="sk-test")
    await workers.start(worker_settings(stack, fake, llm=compat))
    item = await upload(stack, owner, "pic.png", png(280, 140), "image/png", width=280, height=140)
    question = await ask_as(stack, owner, "What is in this picture?", attachments=[item])
    row = await final_answer(pg, question)
    assert (row["status"], row["model"], row["image_tokens"]) == ("completed", VISION, image_tokens(280, 140))
    assert row["input_tokens"] == fake.stats.input_tokens + row["image_tokens"]  # the model's count
    charge = await charge_of(pg, question)
    text = row["input_tokens"] - row["image_tokens"]
    assert charge["charged"] == text + 5 * row["image_tokens"] + row["output_tokens"]


@pytest.mark.usefixtures("image_weight")
async def test_an_image_question_deleted_while_its_call_is_with_the_model_is_charged_its_prompt(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    """Nothing written yet but the prompt, which a lease renewal said the call has: charged as a stop
    then is (the prompt, its picture by its dimensions), where the delete released it."""
    await fake.script({"ttft": 30.0})
    question = await image_question(stack, fake, workers, owner)

    async def called() -> bool:
        spent = await pg.fetchval("select input_tokens from chat_messages where reply_to = $1", question)
        return bool(spent)

    await until(called, 10)
    user = await acreate_client(stack.url, stack.anon_key)
    user.postgrest.auth(owner.token)
    await user.table("chat_messages").delete().eq("id", question).execute()
    charge = await charge_of(pg, question)
    assert (charge["state"], charge["image_tokens"], charge["output_tokens"]) == ("settled", image_tokens(280, 140), 0)
    text = charge["input_tokens"] - charge["image_tokens"]
    assert 0 < text < 100
    assert charge["charged"] == text + 5 * charge["image_tokens"]
