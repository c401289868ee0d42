"""Scale-out: two API processes and three worker processes on one database and gateway. Every
question gets exactly one answer and one model call, whichever API took it and whichever worker
answered; a WebSocket on API #1 streams the answer to a question sent through API #2."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import asyncpg
import httpx
import websockets
from prometheus_client.parser import text_string_to_metric_families

from tests.api.conftest import ApiProcess, ApiUser, new_session, register_and_login, until
from tests.conftest import free_port
from tests.worker.conftest import RecordingFakeScope, WorkerProcess
from worker.titles import INSTRUCTION as TITLE_INSTRUCTION

QUESTIONS_PER_SESSION = 3


async def _final_frame(socket: Any, question_id: str, within: float = 30.0) -> list[dict[str, Any]]:
    """Frames about `question_id` up to and including its final ai_response."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        frame = json.loads(await asyncio.wait_for(socket.recv(), deadline - time.monotonic()))
        if frame["type"] == "ai_response" and frame["data"].get("reply_to") == question_id:
            seen.append(frame)
            if frame["data"]["status"] != "streaming":
                return seen
    raise TimeoutError(f"no final frame for {question_id}")


async def _ask(http: httpx.AsyncClient, user: ApiUser, session_id: str, text: str) -> dict[str, Any]:
    response = await http.post("/api/chat/send", json={"session_id": session_id, "message": text}, headers=user.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_two_apis_three_workers_answer_each_question_once(
    spawn_api: Callable[..., ApiProcess],
    spawn_worker: Callable[..., WorkerProcess],
    fake: RecordingFakeScope,
    pg: asyncpg.Connection,
) -> None:
    first_api, second_api = spawn_api(), spawn_api()
    # Five answers at a time per worker and 0.3 s to each first token: twelve questions at once
    # cannot all be held by one worker, so the others, offered the same questions, must take some.
    # A follow-up's early call is made by the worker that answered the turn before, and the others
    # wait WORKER_CLAIM_DEFER before claiming it (worker/early.py). When another claims first anyway
    # (a loaded machine), or the claim's prompt differs from the guess, the early call is one model
    # call too many, closed unread: the documented cost, counted in worker_early_calls_total. So every
    # call beyond one per question must be such a guess, as the workers' own counters say.
    ports = [free_port() for _ in range(3)]
    workers = [
        spawn_worker(fake, WORKER_CONCURRENCY="5", WORKER_CLAIM_DEFER="1.0", WORKER_METRICS_PORT=str(port))
        for port in ports
    ]
    await fake.script(*([{"ttft": 0.3}] * (1 + 4 * QUESTIONS_PER_SESSION)))
    async with (
        httpx.AsyncClient(base_url=first_api.url, timeout=60, trust_env=False) as one,
        httpx.AsyncClient(base_url=second_api.url, timeout=60, trust_env=False) as two,
    ):
        user = await register_and_login(one)
        session = await new_session(two, user)
        url = f"{first_api.ws_url}/ws/chat/{session['id']}?token={user.access_token}"
        async with websockets.connect(url, open_timeout=10) as socket:
            answer = await _ask(two, user, session["id"], "asked through API #2")
            frames = await _final_frame(socket, answer["user_message_id"])
        final = frames[-1]["data"]
        assert final["status"] == "completed"
        assert final["message"] == answer["ai_response"]
        assert final["message_id"] == answer["message_id"]

        sessions = [await new_session(one if n % 2 else two, user) for n in range(4)]
        sends = [
            _ask(one if (n + q) % 2 else two, user, s["id"], f"question {q} in session {n}")
            for n, s in enumerate(sessions)
            for q in range(QUESTIONS_PER_SESSION)
        ]
        answers = await asyncio.gather(*sends)

    assert all(a["status"] == "completed" for a in answers)
    questions = [answer["user_message_id"], *(a["user_message_id"] for a in answers)]
    rows = await pg.fetch(
        "select reply_to, count(*) as n, min(status::text) as status, max(attempts) as attempts"
        " from chat_messages where reply_to = any($1::uuid[]) group by reply_to",
        questions,
    )
    assert len(rows) == len(questions)
    assert all(r["n"] == 1 and r["status"] == "completed" for r in rows)
    answers_asked = [r for r in fake.requests if r["input"]["messages"][0]["content"] != TITLE_INSTRUCTION]
    model_calls = [r for r in answers_asked if any(q in json.dumps(r, ensure_ascii=False) for q in _texts(sessions))]
    guesses = await until(lambda: _unused_early_calls(ports))  # once every early call has its outcome
    assert len(model_calls) == len(sessions) * QUESTIONS_PER_SESSION + guesses[0]  # none answered twice
    answered_by = {w.worker_id for w in workers if "AI response generated" in w.log.read_text(encoding="utf-8")}
    assert len(answered_by) >= 2, "the work was not shared between worker processes"


async def _unused_early_calls(ports: list[int]) -> tuple[int] | None:
    """The early calls the workers (metrics on `ports`) closed unread, discarded or unclaimed, once
    each worker's started ones all have an outcome; None while some still wait for their claim (a
    tuple, as `until` waits for something truthy and the count may be 0)."""
    unused = 0
    for port in ports:
        async with httpx.AsyncClient(trust_env=False, timeout=10) as client:
            response = await client.get(f"http://127.0.0.1:{port}/metrics")
        response.raise_for_status()
        counts = {
            sample.labels["outcome"]: int(sample.value)
            for family in text_string_to_metric_families(response.text)
            for sample in family.samples
            if sample.name == "worker_early_calls_total"
        }
        ended = counts.get("taken", 0) + counts.get("discarded", 0) + counts.get("unclaimed", 0)
        if ended != counts.get("started", 0):
            return None
        unused += counts.get("discarded", 0) + counts.get("unclaimed", 0)
    return (unused,)


def _texts(sessions: list[dict[str, Any]]) -> list[str]:
    return [f"question {q} in session {n}" for n in range(len(sessions)) for q in range(QUESTIONS_PER_SESSION)]
