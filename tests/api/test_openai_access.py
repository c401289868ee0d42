"""Who a key may still act for, and what the SDK does with a refusal: an operator's ban (GoTrue's
`banned_until`, set through Supabase's admin API) refuses the user's keys at once, and a refusal that
asking again cannot change says `x-should-retry: false`, so the SDK does not send it again."""

from __future__ import annotations

import asyncpg
import httpx
import openai
import pytest
from supabase import AsyncClient, acreate_client

from tests.api.conftest import ApiProcess, ApiUser, create_key
from tests.api.test_plans import put_on_plan
from tests.conftest import LocalStack

QUESTIONS = "select count(*) from chat_messages where user_id = $1 and message_type = 'user'"
ASK = {"model": "qwen-turbo", "messages": [{"role": "user", "content": "hello"}]}


async def test_a_banned_users_keys_are_refused_at_once_and_work_again_once_the_ban_is_lifted(
    api: ApiProcess, stack: LocalStack, rest: AsyncClient, alice: ApiUser, pg: asyncpg.Connection
) -> None:
    key = await create_key(rest)
    sdk = openai.AsyncOpenAI(base_url=f"{api.url}/v1", api_key=key["key"], max_retries=0, timeout=60)
    service = await acreate_client(stack.url, stack.service_role_key)
    assert [m.id async for m in sdk.models.list()]  # the key works
    await service.auth.admin.update_user_by_id(alice.id, {"ban_duration": "24h"})
    used = await pg.fetchval("select last_used_at from api_keys where id = $1", key["id"])
    with pytest.raises(openai.PermissionDeniedError) as refused:
        await sdk.chat.completions.create(**ASK)  # type: ignore[call-overload]
    assert refused.value.code == "account_banned"
    assert refused.value.response.headers["x-should-retry"] == "false"
    body = refused.value.body
    assert isinstance(body, dict)
    assert body["type"] == "invalid_request_error"
    with pytest.raises(openai.PermissionDeniedError):
        await sdk.models.list()
    assert await pg.fetchval(QUESTIONS, alice.id) == 0
    assert await pg.fetchval("select last_used_at from api_keys where id = $1", key["id"]) == used

    await service.auth.admin.update_user_by_id(alice.id, {"ban_duration": "none"})
    assert [m.id async for m in sdk.models.list()]
    await sdk.close()


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
