"""Rate limits hold across API replicas (counters in Postgres), answer 429 + Retry-After, recover."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable

import httpx

from tests.api.conftest import ApiProcess, ApiUser, error_of, new_session, until

WINDOW = 5


async def _start_of_a_window() -> None:
    """Counters use fixed windows aligned to the epoch; begin a burst early in one."""
    remaining = WINDOW - time.time() % WINDOW
    if remaining < 2.5:
        await asyncio.sleep(remaining + 0.05)


async def test_send_limit_per_user_is_shared_by_two_replicas_and_recovers(
    spawn_api: Callable[..., ApiProcess], alice: ApiUser
) -> None:
    limits = {
        "API_RATE_SEND_PER_USER": "3",
        "API_RATE_SEND_PER_IP": "100000",
        "API_RATE_WINDOW": str(WINDOW),
        "API_ANSWER_TIMEOUT": "0.01",
    }
    replicas = [spawn_api(**limits), spawn_api(**limits)]
    clients = [httpx.AsyncClient(base_url=r.url, timeout=30, trust_env=False) for r in replicas]
    try:
        session = await new_session(clients[0], alice)
        body = {"message": "hi", "session_id": session["id"], "role_id": "assistant"}

        async def send(i: int) -> httpx.Response:
            return await clients[i % 2].post("/api/chat/send", json=body, headers=alice.headers)

        await _start_of_a_window()
        # Alternating replicas: with per-process counters the 4th message (2nd on B) would pass. The
        # first three are let through: each ends as 504 (its answer not within 0.01 s), or as 200
        # when the worker's answer is stored before a loaded machine wakes the send's wait up.
        responses = [await send(i) for i in range(4)]
        assert [r.status_code in (200, 504) for r in responses[:3]] == [True, True, True], responses
        assert responses[3].status_code == 429
        refused = responses[3]
        assert error_of(refused)["code"] == "RateLimited"
        assert 1 <= int(refused.headers["retry-after"]) <= WINDOW

        async def allowed_again() -> bool:
            return (await send(0)).status_code != 429

        await until(allowed_again, within=WINDOW * 2, every=0.25)
    finally:
        for client in clients:
            await client.aclose()


async def test_auth_limit_per_address(spawn_api: Callable[..., ApiProcess]) -> None:
    # Behind a trusted proxy the address is X-Forwarded-For's: a fresh one keeps other tests'
    # sign-ins from 127.0.0.1 out of this budget.
    api = spawn_api(API_RATE_AUTH_PER_IP="2", API_RATE_WINDOW="60", API_TRUST_FORWARDED_FOR="true")
    address = f"198.51.100.{uuid.uuid4().int % 250 + 1}, 10.0.0.1"
    headers = {"X-Forwarded-For": address}
    async with httpx.AsyncClient(base_url=api.url, timeout=30, trust_env=False, headers=headers) as client:
        attempt = {"email": f"{uuid.uuid4().hex[:8]}@example.com", "password": "wrongpass123"}
        responses = [await client.post("/api/auth/login", json=attempt) for _ in range(3)]
        assert [r.status_code for r in responses] == [401, 401, 429]
        assert int(responses[2].headers["retry-after"]) >= 1
