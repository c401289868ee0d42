"""What the SDK does with a refusal: one that asking again cannot change says `x-should-retry: false`,
so the SDK does not send it again."""

from __future__ import annotations

import asyncpg
import httpx
from supabase import AsyncClient

from tests.api.conftest import ApiProcess, ApiUser, create_key
from tests.api.test_plans import put_on_plan

QUESTIONS = "select count(*) from chat_messages where user_id = $1 and message_type = 'user'"
ASK = {"model": "qwen-turbo", "messages": [{"role": "user", "content": "hello"}]}


async def test_a_used_up_quota_tells_the_sdk_not_to_retry_and_the_send_rate_does_not(
    api: ApiProcess, rest: AsyncClient, alice: ApiUser, pg: asyncpg.Connection
) -> None:
    """openai-python retries a 429 twice by default, unless `x-should-retry: false`: a quota that is
    used up until tomorrow answers three refusals (and three sends counted against the rate limit)
    for one call. A refusal of the send rate is worth retrying after its Retry-After, and says nothing."""
    key = await create_key(rest)
    await put_on_plan(pg, alice, f"tiny-{alice.id[:8]}", tokens_per_day=10)
    async with httpx.AsyncClient(base_url=f"{api.url}/v1", timeout=30, trust_env=False) as http:
        refused = await http.post("/chat/completions", json=ASK, headers={"Authorization": f"Bearer {key['key']}"})
        unknown = await http.post(
            "/chat/completions", json={**ASK, "model": "gpt-4o"}, headers={"Authorization": f"Bearer {key['key']}"}
        )
    assert (refused.status_code, refused.json()["error"]["code"]) == (429, "insufficient_quota")
    assert refused.headers["x-should-retry"] == "false"
    assert (unknown.status_code, unknown.headers["x-should-retry"]) == (404, "false")
    assert await pg.fetchval(QUESTIONS, alice.id) == 0
