"""An image answer that ends without its worker's finish (the worker died, then a stop, or a stop right
after a takeover) is charged its images at the image weight: each progress write carries the
prompt's image tokens with its input tokens, and a takeover keeps them with the text it keeps and
starts the row's count over."""

from __future__ import annotations

import asyncpg

from tests.db.test_quotas import send_as
from tests.db.test_stop import alice, expire, stop
from tests.db.test_stop_after_takeover import SEEN, USAGE, charged, flush
from tests.db.test_trees import CLAIM
from worker.database import claim_row

__all__ = ["alice"]  # the fixture, shared with test_stop

IMAGES = 30  # of USAGE's 40 input tokens


async def shown_then_died(db: asyncpg.Connection, user: str, session: str, text: str) -> tuple[str, str]:
    question = await send_as(db, user, session, content=text)
    answer = str(claim_row((await db.fetch(CLAIM, [question], "dead"))[0])["id"])
    progress = {"id": answer, "kind": "progress", "known": 0, "delta": SEEN, **USAGE, "image_tokens": IMAGES}
    assert len(await flush(db, "dead", progress)) == 1
    await expire(db, answer)
    return question, answer


async def assert_charged_the_images(db: asyncpg.Connection, question: str, answer: str) -> None:
    row = await db.fetchrow("select status, content, image_tokens from chat_messages where id = $1", answer)
    assert tuple(row) == ("cancelled", SEEN, IMAGES)
    ledger = await charged(db, question)
    expected = await db.fetchval("select usage_charge('qwen-plus', 40, 4, null, $1, null)", IMAGES)
    assert (ledger["state"], ledger["image_tokens"], ledger["charged"]) == ("settled", IMAGES, expected)
    # qwen-plus weighs input 2, image 2, output 4: the images once, inside the input
    assert expected == 2 * (40 - IMAGES) + 2 * IMAGES + 4 * 4


async def test_a_stop_after_the_worker_died_charges_its_images(db: asyncpg.Connection, alice: tuple[str, str]) -> None:
    user, session = alice
    question, answer = await shown_then_died(db, user, session, "stopped")
    assert await stop(db, user, None, question) == 1
    await assert_charged_the_images(db, question, answer)


async def test_a_stop_right_after_a_takeover_charges_the_dead_workers_images(
    db: asyncpg.Connection, alice: tuple[str, str]
) -> None:
    user, session = alice
    question, answer = await shown_then_died(db, user, session, "taken over")
    assert len(await db.fetch(CLAIM, [question], "w2")) == 1
    assert await db.fetchval("select image_tokens from chat_messages where id = $1", answer) is None  # starts over
    assert await stop(db, user, None, question) == 1
    finish = {"id": answer, "kind": "finish", "attempt": 2, "status": "cancelled", "content": "", "response_time": 5}
    assert len(await flush(db, "w2", finish)) == 1
    await assert_charged_the_images(db, question, answer)


async def test_a_progress_write_without_images_leaves_the_rows_count(
    db: asyncpg.Connection, alice: tuple[str, str]
) -> None:
    """A write that says nothing of images (a text answer's, a worker from before) keeps what the row holds."""
    user, session = alice
    question = await send_as(db, user, session, content="text")
    answer = str(claim_row((await db.fetch(CLAIM, [question], "w1"))[0])["id"])
    first = {"id": answer, "kind": "progress", "known": 0, "delta": "a", **USAGE, "image_tokens": IMAGES}
    later = {"id": answer, "kind": "progress", "known": 1, "delta": "b", **USAGE}
    assert len(await flush(db, "w1", first)) == len(await flush(db, "w1", later)) == 1
    assert await db.fetchval("select image_tokens from chat_messages where id = $1", answer) == IMAGES
