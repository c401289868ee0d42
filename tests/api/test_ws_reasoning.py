"""The model's thinking over `/ws/chat/{id}`: `ai_reasoning` frames while a thinking model thinks, and
a socket opened mid-thinking gets the thinking so far from the row at once, then the rest live,
every character once (the same resume by offset as the answer's text)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg
import httpx
import websockets
from websockets.asyncio.client import ClientConnection

from fakescope.server import FakeScope
from tests.api.conftest import ApiProcess, ApiUser, new_session, until
from worker.app import Worker


async def _frame(socket: ClientConnection) -> dict[str, Any]:
    while True:
        frame: dict[str, Any] = json.loads(await socket.recv(decode=True))
        if frame["type"] != "ping":
            return frame


async def test_a_socket_opened_mid_thinking_shows_the_whole_reasoning_once(
    *, http: httpx.AsyncClient, api: ApiProcess, alice: ApiUser, worker: Worker, fake: FakeScope, pg: asyncpg.Connection
) -> None:
    session = await new_session(http, alice)
    await pg.execute(
        "update chat_sessions set model = 'qwen-plus', thinking = true where id = $1", uuid.UUID(session["id"])
    )
    async with httpx.AsyncClient() as admin:
        slow = {"ttft": 0.0, "tokens_per_s": 60.0, "tokens_per_event": 2, "reasoning_tokens": 240}  # ~4 s of thinking
        (await admin.post(f"{fake.base_url}/_fake/faults", json={"next": [slow]})).raise_for_status()
    url = f"{api.ws_url}/ws/chat/{session['id']}?token={alice.access_token}"
    async with websockets.connect(url, open_timeout=10) as first:
        await first.send(json.dumps({"type": "user_message", "data": {"message": "Think hard: why?"}}))
        question = (await _frame(first))["data"]["message_id"]
        thought = await _frame(first)
        assert (thought["type"], thought["data"]["status"]) == ("ai_reasoning", "thinking")
        assert thought["data"]["reasoning"] == thought["data"]["delta"]

    async def thinking() -> asyncpg.Record | None:
        row = await pg.fetchrow(
            "select id, content, reasoning, status from chat_messages where reply_to = $1", uuid.UUID(question)
        )
        return row if row is not None and row["content"] == "" and len(row["reasoning"] or "") > 20 else None

    seen = await until(thinking)  # the tab is gone mid-thinking; the row holds the thinking so far
    async with websockets.connect(url, open_timeout=10) as second:
        frames = [await _frame(second)]
        while frames[-1]["data"].get("status") in ("thinking", "streaming"):
            frames.append(await _frame(second))
    final_row = await pg.fetchrow("select reasoning, content from chat_messages where id = $1", seen["id"])

    resumed, *live, final = frames
    assert (resumed["type"], resumed["data"]["resumed"]) == ("ai_reasoning", True)
    assert resumed["data"]["reasoning"].startswith(seen["reasoning"])
    thoughts = [f["data"] for f in live if f["type"] == "ai_reasoning"]
    assert thoughts, "the thinking was over before the socket opened; the test proves nothing"
    reasoning = resumed["data"]["reasoning"]
    for chunk in thoughts:
        assert chunk["reasoning"] == reasoning + chunk["delta"]  # each frame adds exactly its delta
        reasoning = chunk["reasoning"]
    assert reasoning == final["data"]["reasoning"] == final_row["reasoning"]  # nothing missing, nothing twice
    assert (final["type"], final["data"]["status"]) == ("ai_response", "completed")
    assert final["data"]["message"] == final_row["content"] != ""
    kinds = [f["type"] for f in live]
    answering = kinds.index("ai_response") if "ai_response" in kinds else len(kinds)
    assert "ai_reasoning" not in kinds[answering:]  # all the thinking comes before the answer
