"""History search finds an answer that continued a /v1 request's words (Qwen's partial mode) as the
user reads it: the words, then the continuation. Its row holds the continuation only (the words are
the question's `question_contexts.parameters ->> 'prefix'`), and search read the row alone: a search
for the words found nothing, one across words and continuation nothing, and a hit's snippet was the
continuation cut of its start. Read as the web app reads it (supabase-js's rpc, supabase-py here) and
through the API's /api/chat/search; another user finds none of it."""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg
import httpx
from supabase import AsyncClient

from tests.api.conftest import ApiUser, client_for, new_session
from tests.conftest import LocalStack, rows_of

WORDS = "My favourite park in Beijing is 我最喜欢的公园是"
REST = "颐和园, the Summer Palace."


async def _asked(pg: asyncpg.Connection, session: str, user: ApiUser, words: str, *, words_last: bool) -> str:
    """A question with the request's `prefix` and its completed answer; `words_last`: the words stored
    after the answer, as a branch copies a chat (its answers, then the questions' contexts)."""
    async with pg.transaction():
        question = await pg.fetchval(
            "insert into chat_messages (session_id, user_id, content) values ($1, $2, 'Go on') returning id",
            uuid.UUID(session),
            uuid.UUID(user.id),
        )

        async def words_stored() -> None:
            await pg.execute(
                "insert into question_contexts (message_id, user_id, messages, parameters)"
                " values ($1, $2, '[]', $3::jsonb)",
                question,
                uuid.UUID(user.id),
                json.dumps({"prefix": words}),
            )

        if not words_last:
            await words_stored()
        answer = await pg.fetchval(
            """insert into chat_messages (session_id, user_id, message_type, parent_id, reply_to, status, content)
               values ($1, $2, 'assistant', $3, $3, 'completed', $4) returning id""",
            uuid.UUID(session),
            uuid.UUID(user.id),
            question,
            REST,
        )
        if words_last:
            await words_stored()
    return str(answer)


async def _found(who: AsyncClient, query: str) -> dict[str, str]:
    hits = rows_of((await who.rpc("search_messages", {"query": query}).execute()).data)
    return {str(h["id"]): str(h["content"]) for h in hits}


async def test_a_continued_answer_is_found_by_its_words_and_shown_whole(
    http: httpx.AsyncClient, stack: LocalStack, pg: asyncpg.Connection, alice: ApiUser, bob: ApiUser
) -> None:
    day = await new_session(http, alice, title="key of the day")
    first = await _asked(pg, day["id"], alice, WORDS, words_last=False)
    copied = await _asked(pg, day["id"], alice, WORDS, words_last=True)
    mine = await client_for(stack, alice)
    whole = WORDS + REST
    for query in ("Beijing", "公园", "喜欢", "Beijing palace", "favourite 颐和园", "summer palace"):
        assert await _found(mine, query) == {first: whole, copied: whole}, query
    assert await _found(mine, "Beijing -公园") == {}  # the words' Chinese is left out as its English is
    # The API's search gives the same hits, whole.
    found = await http.get("/api/chat/search", params={"q": "公园"}, headers=alice.headers)
    assert found.status_code == 200, found.text
    results: list[dict[str, Any]] = found.json()["results"]
    assert {r["id"]: r["content"] for r in results} == {first: whole, copied: whole}
    # Another user finds none of it, by the words or the continuation.
    theirs = await client_for(stack, bob)
    for query in ("Beijing", "公园", "palace"):
        assert await _found(theirs, query) == {}
    none = await http.get("/api/chat/search", params={"q": "Beijing"}, headers=bob.headers)
    assert none.json()["results"] == []
