"""How long `/api/chat/send` (the seed API) waits for its answer: as long as the answer makes
progress, as /v1 does (one wait for both, api/replies.py), and API_ANSWER_TIMEOUT without any. It
waited API_ANSWER_TIMEOUT from the start: a long answer still being written was a 504."""

from __future__ import annotations

import time
from collections.abc import Callable

import asyncpg
import httpx
import pytest

from fakescope.server import FakeScope
from tests.api.conftest import ApiProcess, ApiUser, new_session

WAIT = 1.0  # the API's API_ANSWER_TIMEOUT here: the answer below takes several times as long


@pytest.mark.usefixtures("worker")
async def test_a_send_waits_for_an_answer_written_for_longer_than_the_timeout_while_it_grows(
    spawn_api: Callable[..., ApiProcess],
    http: httpx.AsyncClient,
    alice: ApiUser,
    fake: FakeScope,
    pg: asyncpg.Connection,
) -> None:
    patient = spawn_api(API_ANSWER_TIMEOUT=str(WAIT))
    session = await new_session(http, alice)
    slow = {"ttft": 0.0, "tokens_per_s": 24.0, "tokens_per_event": 2, "answer_tokens": 90}  # ~3.75 s of chunks
    async with httpx.AsyncClient(trust_env=False) as admin:
        (await admin.post(f"{fake.base_url}/_fake/faults", json={"next": [slow]})).raise_for_status()
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=patient.url, trust_env=False, timeout=60) as client:
        sent = await client.post(
            "/api/chat/send",
            json={"message": "A long essay, please.", "session_id": session["id"]},
            headers=alice.headers,
        )
    took = time.monotonic() - started
    assert sent.status_code == 200, sent.text
    assert took > 2 * WAIT, "the answer came within the timeout; the test proves nothing"
    stored = await pg.fetchval("select content from chat_messages where id = $1::uuid", sent.json()["message_id"])
    assert (sent.json()["status"], sent.json()["ai_response"]) == ("completed", stored)
