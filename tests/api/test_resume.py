"""Resume: a WebSocket opened while an answer is being written gets the text so far at once and
then the rest live, with no gap and no repeated text."""

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


async def test_a_socket_opened_mid_answer_shows_every_character_once(
    *, http: httpx.AsyncClient, api: ApiProcess, alice: ApiUser, worker: Worker, fake: FakeScope, pg: asyncpg.Connection
) -> None:
    session = await new_session(http, alice)
    async with httpx.AsyncClient() as admin:
        slow = {"ttft": 0.0, "tokens_per_s": 60.0, "tokens_per_event": 2, "answer_tokens": 150}
        (await admin.post(f"{fake.base_url}/_fake/faults", json={"next": [slow]})).raise_for_status()
    url = f"{api.ws_url}/ws/chat/{session['id']}?token={alice.access_token}"
    async with websockets.connect(url, open_timeout=10) as first:
        await first.send(json.dumps({"type": "user_message", "data": {"message": "Tell me a long story."}}))
        question = (await _frame(first))["data"]["message_id"]
        while (await _frame(first))["data"].get("status") != "streaming":
            pass
    # The tab is gone; the answer goes on. Wait until the row holds some of it.

    async def partial() -> asyncpg.Record | None:
        row = await pg.fetchrow(
            "select id, content, status from chat_messages where reply_to = $1", uuid.UUID(question)
        )
        return row if row is not None and row["status"] == "streaming" and len(row["content"]) > 20 else None

    seen = await until(partial)
    async with websockets.connect(url, open_timeout=10) as second:
        frames = [await _frame(second)]
        while frames[-1]["data"].get("status") == "streaming":
            frames.append(await _frame(second))
    final_row = await pg.fetchrow("select content, status from chat_messages where id = $1", seen["id"])

    resumed, *live, final = [f["data"] for f in frames]
    assert resumed["resumed"] is True
    assert resumed["message"].startswith(seen["content"])
    assert final["status"] == "completed"
    assert live, "the answer was over before the socket opened; the test proves nothing"
    text = resumed["message"]
    for chunk in live:
        assert chunk["message"] == text + chunk["delta"]  # each frame adds exactly its delta
        text = chunk["message"]
    assert text == final["message"] == final_row["content"]  # nothing missing, nothing twice
