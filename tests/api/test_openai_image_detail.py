"""An `image_url` part's `detail`, as OpenAI takes it: `low` sees the image at 512 x 512 at most (and
bills it so), `high` and `auto` as it is; another value is refused as OpenAI refuses it. It was
ignored: `detail: "low"`, which a client sends to keep an image cheap, was seen, stored and billed
at full size. Seen through the official `openai` SDK."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import openai
import pytest

from tests.api.conftest import ApiUser
from tests.api.test_openai_compat import QUESTIONS
from tests.api.test_openai_context import refusal_of
from tests.api.test_openai_files import asking, data_uri

pytestmark = pytest.mark.usefixtures("worker")

SIZES = "select q.attachments from chat_messages q where q.user_id = $1 and q.message_type = 'user'"


def detailed(url: str, detail: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url, "detail": detail}}


@pytest.mark.parametrize(
    ("detail", "size"),
    [("low", (512, 384)), ("high", (1600, 1200)), ("auto", (1600, 1200))],
)
async def test_an_images_detail_is_honoured(
    sdk: openai.AsyncOpenAI, pg: asyncpg.Connection, alice: ApiUser, detail: str, size: tuple[int, int]
) -> None:
    done = await sdk.chat.completions.create(
        model="qwen-vl-max", messages=asking(detailed(data_uri(1600, 1200), detail))
    )
    assert done.choices[0].message.content
    row = await pg.fetchrow(SIZES, alice.id)
    [attachment] = json.loads(row["attachments"])
    assert (attachment["width"], attachment["height"]) == size
    assert attachment["mime_type"] == "image/png"


async def test_a_low_detail_image_is_billed_less(
    sdk: openai.AsyncOpenAI, pg: asyncpg.Connection, alice: ApiUser
) -> None:
    tokens = []
    for detail in ("high", "low"):
        await sdk.chat.completions.create(model="qwen-vl-max", messages=asking(detailed(data_uri(1600, 1200), detail)))
        tokens.append(
            await pg.fetchval(
                "select a.image_tokens from chat_messages q join chat_messages a on a.reply_to = q.id"
                " where q.user_id = $1 order by q.created_at desc limit 1",
                alice.id,
            )
        )
    high, low = tokens
    assert 0 < low < high


async def test_another_detail_is_refused_as_openai_refuses_it(
    sdk: openai.AsyncOpenAI, pg: asyncpg.Connection, alice: ApiUser
) -> None:
    body = {"model": "qwen-vl-max", "messages": asking(detailed(data_uri(64, 48), "ultra"))}
    error = await refusal_of(sdk, body)
    assert (error["param"], error["code"]) == ("messages", "invalid_value")
    assert "detail" in error["message"]
    assert await pg.fetchval(QUESTIONS, alice.id) == 0
