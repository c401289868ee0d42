"""A /v1 request that ends with words to continue (Qwen's partial mode) is held to the plan and the
model as any request is: the words are read by the model (DashScope bills them as input), so
admission holds them against the allowance, and a token limit past the model's own is refused as
OpenAI refuses it. Seen through the official `openai` SDK."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import openai
import pytest

from tests.api.conftest import ApiUser
from tests.api.test_openai_compat import QUESTIONS
from tests.api.test_openai_context import unique
from tests.api.test_plans import put_on_plan

pytestmark = pytest.mark.usefixtures("worker")


def continuing(question: str, words: str) -> list[Any]:
    return [{"role": "user", "content": question}, {"role": "assistant", "content": words}]


@pytest.mark.parametrize("named", [False, True], ids=["own-context", "named-session"])
async def test_words_to_continue_past_the_allowance_are_refused_and_store_nothing(
    sdk: openai.AsyncOpenAI, pg: asyncpg.Connection, http: httpx.AsyncClient, alice: ApiUser, named: bool
) -> None:
    """The last assistant message's words are held with the question at admission, as its earlier
    messages are: a day's allowance the question alone fits in refuses long words (429
    insufficient_quota, nothing stored) and takes short ones, reserving them. They were held
    nowhere, so a user with a thousand tokens left could have a hundred thousand characters read."""
    headers = {}
    if named:
        mine = (await http.post("/api/sessions", json={"title": "words"}, headers=alice.headers)).json()["session"]
        headers = {"X-ChatGalaxy-Session": mine["id"]}
    question = unique("Go on")
    per = await pg.fetchval("select usage_reservation('qwen-turbo', $1)", question)
    await put_on_plan(pg, alice, f"words-{alice.id[:8]}", tokens_per_day=per + 1000)
    with pytest.raises(openai.RateLimitError) as refused:
        await sdk.chat.completions.create(
            model="qwen-turbo", messages=continuing(question, "y" * 2000), extra_headers=headers
        )
    assert refused.value.code == "insufficient_quota"
    assert int(refused.value.response.headers["retry-after"]) > 0
    assert await pg.fetchval(QUESTIONS, alice.id) == 0

    done = await sdk.chat.completions.create(
        model="qwen-turbo", messages=continuing(question, "y" * 400), extra_headers=headers
    )
    assert done.choices[0].message.content is not None
    assert await pg.fetchval("select reserved from usage_ledger where user_id = $1", alice.id) == per + 400
