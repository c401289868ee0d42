"""A searched answer's sources at the seed API's doors: `POST /api/chat/send`, `GET /api/chat/history`
and the final frame of `/ws/chat/{id}` carry the web pages its text cites as [1], [2], as the web
app, shared links and /v1 do; an answer that did not search has none."""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg
import httpx
import websockets

from tests.api.conftest import ApiProcess, ApiUser, new_session
from worker.app import Worker


async def _searching_role(pg: asyncpg.Connection, user: ApiUser) -> str:
    await pg.execute(
        "insert into ai_roles (slug, name, system_prompt, personality, created_by)"
        " values ('researcher', 'Researcher', 'Cite the web.', '{\"enable_search\": true}', $1)",
        uuid.UUID(user.id),
    )
    return "researcher"


async def _stored_sources(pg: asyncpg.Connection, answer_id: str) -> list[dict[str, Any]]:
    raw = await pg.fetchval("select sources from chat_messages where id = $1", uuid.UUID(answer_id))
    sources: list[dict[str, Any]] = json.loads(raw)
    assert [s["index"] for s in sources] == [1, 2, 3]
    return sources


async def test_send_and_history_carry_a_searched_answers_sources(
    http: httpx.AsyncClient, alice: ApiUser, worker: Worker, pg: asyncpg.Connection
) -> None:
    session = await new_session(http, alice)
    role = await _searching_role(pg, alice)
    sent = await http.post(
        "/api/chat/send",
        json={"message": "What happened in the news today?", "session_id": session["id"], "role_id": role},
        headers=alice.headers,
    )
    assert sent.status_code == 200, sent.text
    body = sent.json()
    assert "[1]" in body["ai_response"]
    sources = await _stored_sources(pg, body["message_id"])
    assert body["sources"] == sources
    plain = await http.post(
        "/api/chat/send",
        json={"message": "And without looking?", "session_id": session["id"], "role_id": "assistant"},
        headers=alice.headers,
    )
    assert plain.json()["sources"] is None

    page = await http.get("/api/chat/history", params={"session_id": session["id"]}, headers=alice.headers)
    by_id = {m["id"]: m for m in page.json()["messages"]}
    assert by_id[body["message_id"]]["sources"] == sources
    assert by_id[body["user_message_id"]]["sources"] is None
    assert by_id[plain.json()["message_id"]]["sources"] is None
    everywhere = await http.get("/api/chat/history", headers=alice.headers)  # all sessions' history
    assert {m["id"]: m for m in everywhere.json()["messages"]}[body["message_id"]]["sources"] == sources


async def test_the_sockets_final_frame_carries_a_searched_answers_sources(
    http: httpx.AsyncClient, api: ApiProcess, alice: ApiUser, worker: Worker, pg: asyncpg.Connection
) -> None:
    session = await new_session(http, alice)
    role = await _searching_role(pg, alice)
    url = f"{api.ws_url}/ws/chat/{session['id']}?token={alice.access_token}"
    async with websockets.connect(url, open_timeout=10) as socket:
        await socket.send(json.dumps({"type": "user_message", "data": {"message": "Any news?", "role_id": role}}))
        while True:
            frame = json.loads(await socket.recv(decode=True))
            if frame["type"] == "ai_response" and frame["data"]["status"] not in ("streaming", "thinking"):
                break
    assert frame["data"]["status"] == "completed"
    assert frame["data"]["sources"] == await _stored_sources(pg, frame["data"]["message_id"])
