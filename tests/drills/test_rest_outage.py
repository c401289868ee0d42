"""Regression (found by the Postgres-restart drill): while the database is down the REST layer
answered 500 XX000 "Internal server error", which the API passed on as a 500. PostgREST answers a
lost connection with 503 PGRST001, a status clients know to retry; and it must recover by itself."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import websockets

from drills.common import until
from drills.rig import Shape, rig


async def test_rest_answers_503_while_the_database_is_down_and_recovers() -> None:
    async with rig("rest_outage", Shape(workers=0)) as world:
        (person,) = await world.people(1)
        url = f"{world.gateway_url}/rest/v1/ai_roles?select=slug"
        headers = {"apikey": world.settings.supabase.anon_key, "Authorization": f"Bearer {person.token}"}
        async with httpx.AsyncClient(timeout=10, trust_env=False) as http:
            assert (await http.get(url, headers=headers)).status_code == 200

            await asyncio.to_thread(world.cluster.stop, "fast")
            for _ in range(3):  # dead pooled connections first, then refused new ones
                down = await http.get(url, headers=headers)
                assert down.status_code == 503, down.text
                assert down.json()["code"] == "PGRST001"

            await asyncio.to_thread(world.cluster.start)

            async def back() -> bool:
                return (await http.get(url, headers=headers)).status_code == 200

            await until(back, within=30, every=0.1)


async def test_a_chat_socket_open_through_an_outage_reports_it_logs_it_and_serves_on() -> None:
    """While the database is down, a question on an open chat socket gets an `UpstreamUnavailable`
    error frame, and the API logs that answer as it logs a 503 over HTTP (code, route, request id):
    a socket's server errors were sent and never logged, a 500 included. Once the database is back
    the same socket takes the question."""
    async with rig("socket_outage", Shape(workers=0, api_env={})) as world:
        (person,) = await world.people(1)
        assert world.api is not None
        url = f"{world.api_url.replace('http://', 'ws://')}/ws/chat/{person.session_id}?token={person.token}"
        question = json.dumps({"type": "user_message", "data": {"message": "are you there?"}})
        async with websockets.connect(url, open_timeout=10) as socket:

            async def reply() -> dict[str, Any]:
                while True:
                    frame: dict[str, Any] = json.loads(await socket.recv())
                    if frame["type"] != "ping":
                        return frame

            await asyncio.to_thread(world.cluster.stop, "fast")
            logged = world.api.log.stat().st_size
            await socket.send(question)
            refused = await reply()
            assert (refused["type"], refused["data"]["code"]) == ("error", "UpstreamUnavailable")
            lines = world.api.log.read_text(errors="replace")[logged:].splitlines()
            assert any('"code": "UpstreamUnavailable"' in line and '"method": "WS"' in line for line in lines), lines

            await asyncio.to_thread(world.cluster.start)

            async def accepted() -> bool:
                await socket.send(question)
                return bool((await reply())["type"] == "user_message")

            await until(accepted, within=30, every=0.2)
