"""An answer that continued a /v1 request's words (Qwen's partial mode), heard on Realtime, carries
them: the web app open on the day's API chat hears each row as a postgres_changes change, which holds
the table's columns and no computed field (`continued_words`), so the answer showed cut of its start
until a read of it. The words are now a column of the answer's own row (`continues`): in its INSERT
when its question's context was stored first (a /v1 request), in an UPDATE when stored after (a
branch's copy); only its owner hears either, through the unmodified supabase client."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
from realtime import RealtimePostgresChangesListenEvent as Change
from supabase import acreate_client

from tests.api.conftest import ApiUser, new_session
from tests.api.test_continued_search import REST, WORDS, _asked
from tests.conftest import LocalStack
from tests.localbase.realtime.conftest import eventually, subscribed


async def test_a_continued_answer_is_heard_with_its_words_by_its_owner_alone(
    http: httpx.AsyncClient, stack: LocalStack, pg: asyncpg.Connection, alice: ApiUser, bob: ApiUser
) -> None:
    day = await new_session(http, alice, title="key of the day")
    heard: list[Any] = []
    theirs: list[Any] = []
    mine = await acreate_client(stack.url, stack.anon_key)
    other = await acreate_client(stack.url, stack.anon_key)
    try:
        await mine.realtime.set_auth(alice.access_token)
        await other.realtime.set_auth(bob.access_token)
        channel = mine.channel("day").on_postgres_changes(
            Change.All, heard.append, table="chat_messages", schema="public", filter=f"session_id=eq.{day['id']}"
        )
        spying = other.channel("spy").on_postgres_changes(Change.All, theirs.append, table="chat_messages")
        await subscribed(channel)
        await subscribed(spying)
        asked = await _asked(pg, day["id"], alice, WORDS, words_last=False)
        copied = await _asked(pg, day["id"], alice, WORDS, words_last=True)

        def changes(answer: str) -> list[tuple[str, Any, Any]]:
            return [
                (d["type"], d["record"].get("continues"), d["record"].get("content"))
                for d in (p["data"] for p in heard)
                if d["record"].get("id") == answer
            ]

        await eventually(lambda: len(changes(copied)) == 2, what="the copy's insert and its words")
        assert changes(asked) == [("INSERT", WORDS, REST)]
        assert changes(copied) == [("INSERT", None, REST), ("UPDATE", WORDS, REST)]
        assert "continued_words" not in heard[0]["data"]["record"]  # a computed field is in no change
        assert theirs == []
    finally:
        await mine.realtime.close()
        await other.realtime.close()
