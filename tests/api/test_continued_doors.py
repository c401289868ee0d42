"""An answer that continued a /v1 request's words (Qwen's partial mode) is the same answer through
every door that returns it: its row over REST (supabase-py: `continues` then `content`), the seed
API's history (each mode) and search, the account export and a share link. The history returned
the continuation alone, with nothing saying the answer began with the request's words; a message
now carries them as `continues` (null for any other message), its `content` the row's, so the seed's
contract holds for every other client. A search hit shows the answer whole and says which words
were the request's the same way."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import openai
import pytest
import websockets

from tests.api.conftest import ApiProcess, ApiUser, client_for
from tests.api.test_openai_context import unique
from tests.api.test_websocket import _final, _frames_until
from tests.conftest import LocalStack, rows_of

pytestmark = pytest.mark.usefixtures("worker")

WORDS = "My favourite tea is oolong, because"


async def test_a_continued_answer_is_the_same_through_every_door(
    *,
    sdk: openai.AsyncOpenAI,
    stack: LocalStack,
    pg: asyncpg.Connection,
    http: httpx.AsyncClient,
    alice: ApiUser,
    bob: ApiUser,
) -> None:
    mine = (await http.post("/api/sessions", json={"title": "tea"}, headers=alice.headers)).json()["session"]
    question = unique("Name a tea")
    told = await sdk.chat.completions.create(
        model="qwen-turbo",
        messages=[{"role": "user", "content": question}, {"role": "assistant", "content": WORDS}],
        extra_headers={"X-ChatGalaxy-Session": mine["id"]},
    )
    rest = told.choices[0].message.content or ""
    assert rest
    assert not rest.startswith(WORDS)
    whole = WORDS + rest

    # REST, as the web app reads it: the row's words, then its continuation.
    rows = rows_of(
        (
            await (await client_for(stack, alice))
            .table("chat_messages")
            .select("id,message_type,content,continues")
            .eq("session_id", mine["id"])
            .execute()
        ).data
    )
    answer = next(str(r["id"]) for r in rows if r["message_type"] == "assistant")
    assert {str(r["id"]): (r["continues"], r["content"]) for r in rows if r["message_type"] == "assistant"} == {
        answer: (WORDS, rest)
    }

    # The seed API's history: in the session, in all sessions, and when the session has branched
    # (its path read by chat_path), the same words beside the same content.
    async def history(**params: Any) -> dict[str, dict[str, Any]]:
        got = await http.get("/api/chat/history", params=params, headers=alice.headers)
        assert got.status_code == 200, got.text
        return {m["id"]: m for m in got.json()["messages"]}

    for params in ({"session_id": mine["id"]}, {}):
        messages = await history(**params)
        assert (messages[answer]["continues"], messages[answer]["content"]) == (WORDS, rest), params
        assert {m["continues"] for i, m in messages.items() if i != answer} == {None}, params
    await pg.execute("update chat_sessions set branched = true where id = $1::uuid", mine["id"])
    for params in ({"session_id": mine["id"]}, {}):
        messages = await history(**params)
        assert (messages[answer]["continues"], messages[answer]["content"]) == (WORDS, rest), params

    # Search: the hit shows the answer whole and says which of its words were the request's.
    found = await http.get("/api/chat/search", params={"q": "oolong"}, headers=alice.headers)
    assert found.status_code == 200, found.text
    hits = {r["id"]: r for r in found.json()["results"]}
    assert (hits[answer]["content"], hits[answer]["continues"]) == (whole, WORDS)

    # The account export and a share link, as before.
    exported = (await http.get("/api/account/export", headers=alice.headers)).json()
    assert [(m["continued_words"], m["content"]) for m in exported["messages"] if m["id"] == answer] == [(WORDS, rest)]
    made = await http.post(f"/api/sessions/{mine['id']}/share", json={}, headers=alice.headers)
    assert made.status_code == 201, made.text
    shared = (await http.get(f"/api/share/{made.json()['share']['token']}")).json()["share"]["messages"]
    assert [(m["content"], m.get("continued")) for m in shared if m["type"] == "assistant"] == [(whole, True)]

    # Nobody else reads the words through the API: her session is no session of bob's.
    theirs = await http.get("/api/chat/history", params={"session_id": mine["id"]}, headers=bob.headers)
    assert theirs.status_code == 404
    none = await http.get("/api/chat/search", params={"q": "oolong"}, headers=bob.headers)
    assert none.json()["results"] == []


async def test_a_socket_open_on_the_session_ends_a_continued_answer_with_its_words(
    *, sdk: openai.AsyncOpenAI, api: ApiProcess, http: httpx.AsyncClient, alice: ApiUser
) -> None:
    """`/ws/chat/{id}` relays every answer of its session, a /v1 request's too: its final
    `ai_response` gave the continuation alone as the message; it now carries the words as `continues`
    (absent for any other answer, as `sources` is)."""
    mine = (await http.post("/api/sessions", json={"title": "tea"}, headers=alice.headers)).json()["session"]
    header = {"X-ChatGalaxy-Session": mine["id"]}
    async with websockets.connect(f"{api.ws_url}/ws/chat/{mine['id']}?token={alice.access_token}") as socket:
        plain = await sdk.chat.completions.create(
            model="qwen-turbo", messages=[{"role": "user", "content": unique("Name a tea")}], extra_headers=header
        )
        first = await _frames_until(socket, _final)
        told = await sdk.chat.completions.create(
            model="qwen-turbo",
            messages=[{"role": "user", "content": unique("Name a tea")}, {"role": "assistant", "content": WORDS}],
            extra_headers=header,
        )
        second = await _frames_until(socket, _final)
    assert (first[-1]["data"]["message"], first[-1]["data"].get("continues")) == (
        plain.choices[0].message.content,
        None,
    )
    assert (second[-1]["data"]["message"], second[-1]["data"]["continues"]) == (told.choices[0].message.content, WORDS)
