"""Regression (found by the Postgres-restart drill): while the database is down the REST layer
answered 500 XX000 "Internal server error", which the API passed on as a 500. PostgREST answers a
lost connection with 503 PGRST001, a status clients know to retry; and it must recover by itself."""

from __future__ import annotations

import asyncio

import httpx

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
