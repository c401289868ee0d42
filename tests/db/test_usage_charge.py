"""What an answer costs in allowance tokens (`usage_charge`): each token it used once, at its kind's
weight. DashScope counts the thinking inside `output_tokens` and the images inside `input_tokens`
(../shared/specs/dashscope-features.md: "`input_tokens` already includes `image_tokens`"), so each is
taken out of the count that includes it before that count is weighed."""

from __future__ import annotations

import asyncpg

CHARGE = "select usage_charge($1, $2, $3, $4, $5, $6)"


async def test_an_answers_image_tokens_are_charged_once_at_the_image_weight(db: asyncpg.Connection) -> None:
    await db.execute(
        "update usage_weights set input_weight = 2, output_weight = 4, reasoning_weight = 5, image_weight = 3,"
        " search_call_tokens = 1000 where model = 'qwen-plus'"
    )
    # 100 input tokens of which 60 are the image's; 30 output tokens of which 10 are thinking; one search
    assert await db.fetchval(CHARGE, "qwen-plus", 100, 30, 10, 60, 1) == 40 * 2 + 60 * 3 + 20 * 4 + 10 * 5 + 1000
    assert await db.fetchval(CHARGE, "qwen-plus", 100, 30, None, None, None) == 100 * 2 + 30 * 4
    # counts as they can be read (images reported beyond the input): never a negative part
    assert await db.fetchval(CHARGE, "qwen-plus", 50, 0, None, 60, None) == 60 * 3
    # a model without weights of its own is priced by '*'
    await db.execute("update usage_weights set input_weight = 1, image_weight = 1 where model = '*'")
    assert await db.fetchval(CHARGE, "qwen-vl-max", 100, 0, None, 60, None) == 100
