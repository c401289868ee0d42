"""A chat whose persona was switched off answers no question at any door (the seed API's send and
socket, /v1 naming the chat), as the web app sends none: a question naming no role was answered by
the assistant in the persona's place (README, "A persona switched off")."""

from __future__ import annotations

import json

import asyncpg
import httpx
import openai
import pytest
import websockets

from tests.api.conftest import ApiProcess, ApiUser, error_of, new_session
from tests.api.test_openai_compat import QUESTIONS

pytestmark = pytest.mark.usefixtures("worker")


async def test_a_question_naming_no_role_in_a_chat_whose_persona_is_switched_off_is_refused_at_every_door(
    http: httpx.AsyncClient, api: ApiProcess, sdk: openai.AsyncOpenAI, pg: asyncpg.Connection, alice: ApiUser
) -> None:
    await pg.execute(
        "insert into ai_roles (slug, name, system_prompt, created_by) values ('sleeper', 'Sleeper', 'Zzz.', $1)",
        alice.id,
    )
    session = await new_session(http, alice, role_id="sleeper")
    await pg.execute("update ai_roles set is_active = false where slug = 'sleeper'")

    sent = await http.post("/api/chat/send", json={"message": "hi", "session_id": session["id"]}, headers=alice.headers)
    assert (sent.status_code, error_of(sent)["code"], error_of(sent)["field"]) == (404, "RoleNotFound", "role_id")

    async with websockets.connect(f"{api.ws_url}/ws/chat/{session['id']}?token={alice.access_token}") as socket:
        await socket.send(json.dumps({"type": "user_message", "data": {"message": "hi"}}))
        while (frame := json.loads(await socket.recv(decode=True)))["type"] == "ping":
            pass
        assert (frame["type"], frame["data"]["code"]) == ("error", "RoleNotFound")

    with pytest.raises(openai.NotFoundError) as refused:
        await sdk.chat.completions.create(
            model="qwen-plus",
            messages=[{"role": "user", "content": "hi"}],
            extra_headers={"X-ChatGalaxy-Session": session["id"]},
        )
    assert (refused.value.code, refused.value.param) == ("role_not_found", "x-chatgalaxy-session")
    assert "sleeper" in str(refused.value.message)
    assert await pg.fetchval(QUESTIONS, alice.id) == 0

    await pg.execute("update ai_roles set is_active = true where slug = 'sleeper'")
    answered = await http.post(
        "/api/chat/send", json={"message": "hi", "session_id": session["id"]}, headers=alice.headers
    )
    assert answered.status_code == 200, answered.text
    role = await pg.fetchval("select role_id from chat_messages where user_id = $1 and message_type = 'user'", alice.id)
    assert role == "sleeper"
