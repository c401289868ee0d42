"""An answer that continued a /v1 request's words (Qwen's partial mode) reads back with them:
`continued_words` (a computed field on chat_messages) is the question's `prefix` for its answer,
null for the question and for an answer to a question without words. Its row holds only the
continuation, so the web app, read over REST as supabase-js does (supabase-py here), and the account
export showed the answer without its start. Security invoker: another user reads nothing of it."""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg
import httpx
from supabase import AsyncClient

from tests.api.conftest import ApiUser, client_for, new_session
from tests.conftest import LocalStack, rows_of

WORDS = '```json\n{"name": "'


async def _asked(pg: asyncpg.Connection, session: str, user: ApiUser, text: str, words: str | None) -> tuple[str, str]:
    """A question (with the request's `prefix` when `words`) and its completed answer, as the worker leaves them."""
    async with pg.transaction():
        question = await pg.fetchval(
            "insert into chat_messages (session_id, user_id, content) values ($1, $2, $3) returning id",
            uuid.UUID(session),
            uuid.UUID(user.id),
            text,
        )
        await pg.execute(
            "insert into question_contexts (message_id, user_id, messages, parameters)"
            " values ($1, $2, '[]', $3::jsonb)",
            question,
            uuid.UUID(user.id),
            json.dumps({"prefix": words} if words else {"temperature": 0.5}),
        )
        answer = await pg.fetchval(
            """insert into chat_messages (session_id, user_id, message_type, parent_id, reply_to, status, content)
               values ($1, $2, 'assistant', $3, $3, 'completed', 'Ada"}\n```') returning id""",
            uuid.UUID(session),
            uuid.UUID(user.id),
            question,
        )
    return str(question), str(answer)


async def test_a_continued_answer_reads_its_words_over_rest_and_only_its_owner_does(
    http: httpx.AsyncClient, stack: LocalStack, pg: asyncpg.Connection, alice: ApiUser, bob: ApiUser
) -> None:
    day = await new_session(http, alice, title="key of the day")
    question, answer = await _asked(pg, day["id"], alice, "Name a scientist as JSON", WORDS)
    plain_question, plain_answer = await _asked(pg, day["id"], alice, "Name another", None)

    async def read(who: AsyncClient) -> dict[str, Any]:
        found = (
            await who.table("chat_messages").select("id,content,continued_words").eq("session_id", day["id"]).execute()
        )
        return {str(r["id"]): r for r in rows_of(found.data)}

    mine = await read(await client_for(stack, alice))
    assert mine[answer]["continued_words"] == WORDS
    assert mine[answer]["continued_words"] + mine[answer]["content"] == '```json\n{"name": "Ada"}\n```'
    assert [mine[i]["continued_words"] for i in (question, plain_question, plain_answer)] == [None, None, None]
    assert await read(await client_for(stack, bob)) == {}  # RLS: none of her rows
    # The web app asks a new question with the same columns (insert, then the row as stored).
    async with httpx.AsyncClient(trust_env=False) as client:
        asked = await client.post(
            f"{stack.url}/rest/v1/chat_messages?select=id,continued_words",
            json={"session_id": day["id"], "content": "And another"},
            headers={"apikey": stack.anon_key, "Prefer": "return=representation"} | alice.headers,
        )
    assert asked.status_code == 201, asked.text
    assert [r["continued_words"] for r in asked.json()] == [None]
    # Even asked by id, the field says nothing of a question of another user's (RLS on question_contexts).
    async with pg.transaction():
        await pg.execute("select set_config('role', 'authenticated', true)")
        await pg.execute(
            "select set_config('request.jwt.claims', $1, true)", json.dumps({"sub": bob.id, "role": "authenticated"})
        )
        assert (
            await pg.fetchval("select continued_words(m) from chat_messages m where m.id = $1", uuid.UUID(answer))
            is None
        )


async def test_the_account_export_gives_a_continued_answer_its_words(
    http: httpx.AsyncClient, pg: asyncpg.Connection, alice: ApiUser
) -> None:
    day = await new_session(http, alice, title="key of the day")
    _, answer = await _asked(pg, day["id"], alice, "Name a scientist as JSON", WORDS)
    exported = (await http.get("/api/account/export", headers=alice.headers)).json()
    words = {m["id"]: m["continued_words"] for m in exported["messages"]}
    assert words.pop(answer) == WORDS
    assert set(words.values()) == {None}  # the questions and any other answer


async def test_a_shared_continued_answer_says_so_through_the_api(
    http: httpx.AsyncClient, pg: asyncpg.Connection, alice: ApiUser
) -> None:
    """GET /api/share/{token} answers what read_share reads: the share's copy marks an answer that
    continued the request's words `continued`, which the API's message shape dropped, so a reader
    of the API got the words with no sign that they were the request's."""
    day = await new_session(http, alice, title="key of the day")
    await _asked(pg, day["id"], alice, "Name a scientist as JSON", WORDS)
    made = await http.post(f"/api/sessions/{day['id']}/share", json={}, headers=alice.headers)
    assert made.status_code == 201, made.text
    opened = await http.get(f"/api/share/{made.json()['share']['token']}")
    assert opened.status_code == 200, opened.text
    messages = opened.json()["share"]["messages"]
    assert [m["content"] for m in messages] == ["Name a scientist as JSON", WORDS + 'Ada"}\n```']
    assert [m.get("continued") for m in messages] == [None, True]
