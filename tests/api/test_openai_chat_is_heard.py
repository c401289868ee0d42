"""The chat a /v1 request stores (an API key's chat of the UTC day) reaches its owner's open tabs as
it is made: `sessions_created` on the private `user:<id>`, heard through the unmodified supabase
client with the user's token (migration 20261206190000), once for the day (the day's next request
makes no chat). Before, the web app listed it only after a reload."""

from __future__ import annotations

from typing import Any

import asyncpg
import openai
from supabase import acreate_client

from tests.api.conftest import ApiUser
from tests.conftest import LocalStack, channel_options
from tests.localbase.realtime.conftest import eventually, subscribed
from worker.app import Worker


async def test_the_chat_a_v1_request_makes_is_heard_by_its_owners_tabs(
    sdk: openai.AsyncOpenAI, stack: LocalStack, pg: asyncpg.Connection, alice: ApiUser, worker: Worker
) -> None:
    heard: list[Any] = []
    tab = await acreate_client(stack.url, stack.anon_key)
    try:
        await tab.realtime.set_auth(alice.access_token)
        await subscribed(tab.channel(f"user:{alice.id}", channel_options(private=True)).on_broadcast("*", heard.append))
        for question in ("Hi!", "Again"):
            await sdk.chat.completions.create(model="qwen-plus", messages=[{"role": "user", "content": question}])
        # The sentinel, sent after both requests were answered: whatever they broadcast came before it.
        await pg.execute("select realtime.send('{}'::jsonb, 'sentinel', $1, true)", f"user:{alice.id}")
        await eventually(lambda: any(m["event"] == "sentinel" for m in heard), what="the sentinel")
        made = [m for m in heard if m["event"] == "sessions_created"]
        assert len(made) == 1, made
        (row,) = made[0]["payload"]["rows"]
        assert row["title"].startswith("API · ci · ")
        assert row["api_day"] is not None
    finally:
        await tab.realtime.close()
