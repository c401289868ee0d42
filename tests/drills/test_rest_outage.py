"""Regression (found by the Postgres-restart drill): while the database is down the REST layer
answered 500 XX000 "Internal server error", which the API passed on as a 500. PostgREST answers a
lost connection with 503 PGRST001, a status clients know to retry; and it must recover by itself."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import asyncpg
import httpx
import openai
import pytest
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
    a socket's server errors were sent and never logged, a 500 included. The socket's polls of an
    answer still open fail meanwhile, and are logged and tried again: such a failure used to end the
    socket (an error frame, then a close 1000). Once the database is back the same socket takes the
    question, and the open answer's final frame comes when its row is final."""
    poll_failed = "answer relay: UpstreamUnavailable"
    async with rig("socket_outage", Shape(workers=0, api_env={"API_ANSWER_POLL_INTERVAL": "0.2"})) as world:
        (person,) = await world.people(1)
        assert world.api is not None
        api_log = world.api.log
        url = f"{world.api_url.replace('http://', 'ws://')}/ws/chat/{person.session_id}?token={person.token}"
        question = json.dumps({"type": "user_message", "data": {"message": "are you there?"}})
        async with websockets.connect(url, open_timeout=10) as socket:

            async def reply() -> dict[str, Any]:
                while True:
                    frame: dict[str, Any] = json.loads(await socket.recv())
                    if frame["type"] != "ping":
                        return frame

            # Serving (its session's answers resumed) before the outage: a pong says so.
            await socket.send(json.dumps({"type": "ping"}))
            assert (await reply())["type"] == "pong"
            await socket.send(json.dumps({"type": "user_message", "data": {"message": "still there later?"}}))
            waiting = await reply()
            assert waiting["type"] == "user_message", waiting
            open_question = waiting["data"]["message_id"]  # no worker: it stays unanswered

            await asyncio.to_thread(world.cluster.stop, "fast")
            logged = api_log.stat().st_size
            await socket.send(question)
            refused = await reply()
            assert (refused["type"], refused["data"]["code"]) == ("error", "UpstreamUnavailable")
            lines = api_log.read_text(errors="replace")[logged:].splitlines()
            assert any('"code": "UpstreamUnavailable"' in line and '"method": "WS"' in line for line in lines), lines

            async def poll_failed_and_was_logged() -> bool:
                return poll_failed in api_log.read_text(errors="replace")[logged:]

            await until(poll_failed_and_was_logged, within=30, every=0.1)
            await asyncio.to_thread(world.cluster.start)

            async def accepted() -> bool:
                await socket.send(question)
                return bool((await reply())["type"] == "user_message")

            await until(accepted, within=30, every=0.2)

            async def finish() -> bool:
                try:
                    await world.pool.execute(  # the answer a worker would write
                        "insert into chat_messages (session_id, user_id, message_type, reply_to, status, content)"
                        " select session_id, user_id, 'assistant', id, 'completed', 'yes, still here'"
                        " from chat_messages where id = $1",
                        uuid.UUID(open_question),
                    )
                except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                    return False  # the drill's own pool may hold a connection from before the restart
                return True

            await until(finish, within=30, every=0.2)
            final = await reply()
            assert final["type"] == "ai_response", final
            assert (final["data"]["reply_to"], final["data"]["status"]) == (open_question, "completed")
            assert final["data"]["message"] == "yes, still here"


async def test_an_openai_completion_whose_wait_fails_in_an_outage_is_not_sent_again_by_the_sdk() -> None:
    """The openai SDK sends a request again by itself on a 5xx (twice by default). A completion whose
    question is stored and whose wait for the answer then fails (the database went down) answers 503
    with `x-should-retry: false` and the question's id, so the SDK asks once: it asked three times,
    and a database back in time would have stored (and charged) the question three times."""
    async with rig("openai_outage", Shape(workers=0, api_env={"API_ANSWER_POLL_INTERVAL": "0.2"})) as world:
        (person,) = await world.people(1)
        headers = {"apikey": world.settings.supabase.anon_key, "Authorization": f"Bearer {person.token}"}
        async with httpx.AsyncClient(timeout=10, trust_env=False) as http:
            made = await http.post(
                f"{world.gateway_url}/rest/v1/rpc/create_api_key", json={"key_name": "drill"}, headers=headers
            )
            assert made.status_code == 200, made.text
        sent: list[object] = []

        async def count(request: object) -> None:
            sent.append(request)

        transport = openai.DefaultAsyncHttpxClient(trust_env=False, event_hooks={"request": [count]})
        sdk = openai.AsyncOpenAI(
            base_url=f"{world.api_url}/v1", api_key=made.json()["key"], max_retries=2, http_client=transport
        )
        async with sdk:
            asking = asyncio.create_task(
                sdk.chat.completions.create(model="qwen-turbo", messages=[{"role": "user", "content": "still there?"}])
            )

            async def stored() -> bool:
                found = await world.pool.fetchval(
                    "select count(*) from chat_messages where user_id = $1", uuid.UUID(person.user_id)
                )
                return bool(found == 1)

            await until(stored, within=15, every=0.05)  # no worker: the completion waits for its answer
            await asyncio.to_thread(world.cluster.stop, "fast")
            with pytest.raises(openai.InternalServerError) as failed:
                await asking
            await asyncio.to_thread(world.cluster.start)
    response = failed.value.response
    assert (response.status_code, response.headers.get("x-should-retry")) == (503, "false")
    assert len(sent) == 1
    assert uuid.UUID(response.headers["X-ChatGalaxy-Message"])
