"""The metrics an operator expects, scraped from the API's /metrics and the worker's metrics port:
each name exists, and moves when the thing it counts happens."""

from __future__ import annotations

from collections.abc import Callable

import asyncpg
import httpx
import websockets
from prometheus_client.parser import text_string_to_metric_families

from tests.api.conftest import ApiProcess, new_session, register_and_login, until
from tests.conftest import free_port
from tests.worker.conftest import RecordingFakeScope, WorkerProcess

API_FAMILIES = {
    "api_requests",
    "api_request_duration_seconds",
    "api_request_errors",
    "api_websocket_connections",
    "api_messages_sent",
    "api_security_events",
}
WORKER_FAMILIES = {
    "worker_turns",
    "worker_turns_in_flight",
    "worker_time_to_first_token_seconds",
    "worker_provider_errors",
    "worker_lease_retakes",
    "worker_leases_lost",
    "worker_model_calls",
    "worker_tokens",
    "worker_queue_depth",
    "worker_gc_pause_seconds",
}


class Scrape:
    def __init__(self, text: str) -> None:
        self.families = {family.name: family for family in text_string_to_metric_families(text)}

    def value(self, sample: str, **labels: str) -> float:
        return sum(
            s.value
            for family in self.families.values()
            for s in family.samples
            if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items())
        )


async def scrape(url: str) -> Scrape:
    async with httpx.AsyncClient(trust_env=False, timeout=10) as client:
        response = await client.get(url)
    response.raise_for_status()
    return Scrape(response.text)


async def test_api_and_worker_metrics_exist_and_move(
    spawn_api: Callable[..., ApiProcess],
    spawn_worker: Callable[..., WorkerProcess],
    fake: RecordingFakeScope,
    pg: asyncpg.Connection,
) -> None:
    api = spawn_api()
    async with httpx.AsyncClient(base_url=api.url, timeout=60, trust_env=False) as http:
        user = await register_and_login(http)
        session = await new_session(http, user)
        # Questions nobody is answering yet: the worker's first sweep finds them queued. Its claim
        # would answer them at once, and the next sweep (the one its subscription asks for) set the
        # gauge back to 0, often before the metrics port was up: the rows stay locked until a scrape
        # has seen them, so the claim's insert of their answers waits and every sweep finds them.
        queued_ids = [
            await pg.fetchval(
                "insert into chat_messages (session_id, user_id, content) values ($1, $2, $3) returning id",
                session["id"],
                user.id,
                f"queued {n}",
            )
            for n in range(3)
        ]
        await fake.script({"fault": "internal_error"})  # one provider error, retried
        port = free_port()
        worker_url = f"http://127.0.0.1:{port}/metrics"

        async def queued() -> bool:  # at least 3: the session's stack may hold other tests' questions
            try:
                return (await scrape(worker_url)).value("worker_queue_depth") >= 3
            except httpx.TransportError:
                return False

        async with pg.transaction():
            await pg.execute("select id from chat_messages where id = any($1::uuid[]) for update", queued_ids)
            spawn_worker(fake, WORKER_METRICS_PORT=str(port), WORKER_SWEEP_INTERVAL="2")
            await until(queued, within=30)

        before = await scrape(f"{api.url}/metrics")
        failed = await http.post("/api/auth/login", json={"email": user.email, "password": "wrong-password-2"})
        assert failed.status_code == 401
        sent = await http.post(
            "/api/chat/send", json={"session_id": session["id"], "message": "hi"}, headers=user.headers
        )
        assert sent.status_code == 200, sent.text
        url = f"{api.ws_url}/ws/chat/{session['id']}?token={user.access_token}"
        async with websockets.connect(url, open_timeout=10):
            await until(lambda: _sockets(api.url, 1))
        await until(lambda: _sockets(api.url, 0))
        await until(lambda: _security_events(api.url, before))
        after = await scrape(f"{api.url}/metrics")

    assert set(after.families) >= API_FAMILIES
    route = {"method": "POST", "route": "/api/chat/send"}
    assert (
        after.value("api_requests_total", status="200", **route)
        == before.value("api_requests_total", status="200", **route) + 1
    )
    assert after.value("api_request_duration_seconds_count", **route) > before.value(
        "api_request_duration_seconds_count", **route
    )
    assert after.value("api_messages_sent_total", transport="http") == 1

    async def drained() -> Scrape | None:
        found = await scrape(worker_url)
        return found if found.value("worker_turns_total", status="completed") >= 4 else None

    done = await until(drained, within=30)
    assert set(done.families) >= WORKER_FAMILIES
    assert done.value("worker_model_calls_total") >= 5  # four answers and the failed call
    assert done.value("worker_provider_errors_total") >= 1
    assert done.value("worker_tokens_total", direction="input") > 0
    assert done.value("worker_tokens_total", direction="output") > 0
    assert done.value("worker_time_to_first_token_seconds_count") >= 4
    assert done.value("worker_gc_pause_seconds_count", generation="0") > 0  # core/collector.py times each
    await until(lambda: _queue_empty(worker_url), within=15)


async def _sockets(api_url: str, expected: int) -> bool:
    return (await scrape(f"{api_url}/metrics")).value("api_websocket_connections") == expected


async def _security_events(api_url: str, before: Scrape) -> bool:
    now = await scrape(f"{api_url}/metrics")
    return now.value("api_security_events_total", kind="login_failed") > before.value(
        "api_security_events_total", kind="login_failed"
    )


async def _queue_empty(worker_url: str) -> bool:
    return (await scrape(worker_url)).value("worker_queue_depth") == 0
