"""An Idempotency-Key stands for one request, not for its last message's words: the same key sent
with another model, other earlier messages, other parameters or other files is refused
(400 idempotency_key_reused) and stores nothing, as a key sent with other words is."""

from __future__ import annotations

import base64
from typing import Any

import asyncpg
import httpx
import openai
import pytest

from tests.api.conftest import ApiUser
from tests.api.test_openai_compat import QUESTIONS

pytestmark = pytest.mark.usefixtures("worker")

DOC = "data:text/plain;base64," + base64.b64encode(b"notes").decode()
FIRST: dict[str, Any] = {
    "model": "qwen-turbo",
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Is it safe to delete the production database?"},
        {"role": "assistant", "content": "No."},
        {"role": "user", "content": "Are you sure?"},
    ],
    "temperature": 0.2,
}


def changed(**fields: Any) -> dict[str, Any]:
    return FIRST | fields


@pytest.mark.parametrize(
    "other",
    [
        changed(model="qwen-plus"),
        changed(model="role:tech_expert"),
        changed(messages=[{"role": "user", "content": "Is the sky blue?"}, *FIRST["messages"][2:]]),
        changed(messages=FIRST["messages"][-1:]),
        changed(temperature=0.9),
        changed(enable_search=True),
        changed(
            messages=[
                *FIRST["messages"][:-1],
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "Are you sure?"},
                        {"type": "file", "file": {"file_data": DOC, "filename": "notes.txt"}},
                    ],
                },
            ]
        ),
    ],
    ids=["model", "role", "context", "no-context", "parameters", "search", "files"],
)
async def test_a_key_sent_again_with_another_request_ending_in_the_same_words_is_refused(
    sdk: openai.AsyncOpenAI, pg: asyncpg.Connection, alice: ApiUser, other: dict[str, Any]
) -> None:
    """It was answered with the first request's answer (its words matched), as if the two were one."""
    keyed = {"Idempotency-Key": "one-request"}
    first = await sdk.chat.completions.create(**FIRST, extra_headers=keyed)
    async with httpx.AsyncClient(base_url=str(sdk.base_url), trust_env=False, timeout=30) as client:
        again = await client.post(
            "chat/completions", json=other, headers={"Authorization": f"Bearer {sdk.api_key}", **keyed}
        )
    assert (again.status_code, again.json()["error"]["code"]) == (400, "idempotency_key_reused"), again.text
    assert await pg.fetchval(QUESTIONS, alice.id) == 1
    same = await sdk.chat.completions.create(**FIRST, extra_headers=keyed)  # the request itself: its answer
    assert same.choices[0].message.content == first.choices[0].message.content
    assert await pg.fetchval(QUESTIONS, alice.id) == 1


async def test_a_request_with_files_a_role_and_a_session_sent_again_is_stored_once(
    sdk: openai.AsyncOpenAI, pg: asyncpg.Connection, alice: ApiUser, http: httpx.AsyncClient
) -> None:
    """Everything compared is compared as stored: the role named by its id (stored by its slug), the
    file (stored in Storage), the session named in capitals."""
    role = await pg.fetchval("select id from ai_roles where slug = 'tech_expert'")
    session = (await http.post("/api/sessions", json={}, headers=alice.headers)).json()["session"]["id"]
    request: dict[str, Any] = {
        "model": f"role:{role}",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What do my notes say?"},
                    {"type": "file", "file": {"file_data": DOC, "filename": "notes.txt"}},
                ],
            }
        ],
        "top_p": 0.5,
    }
    keyed = {"Idempotency-Key": "with-everything", "X-ChatGalaxy-Session": session.upper()}
    first = await sdk.chat.completions.create(**request, extra_headers=keyed)
    again = await sdk.chat.completions.create(**request, extra_headers=keyed)
    assert again.choices[0].message.content == first.choices[0].message.content
    assert await pg.fetchval(QUESTIONS, alice.id) == 1
    elsewhere = (await http.post("/api/sessions", json={}, headers=alice.headers)).json()["session"]["id"]
    with pytest.raises(openai.BadRequestError) as refused:
        await sdk.chat.completions.create(**request, extra_headers=keyed | {"X-ChatGalaxy-Session": elsewhere})
    assert refused.value.code == "idempotency_key_reused"
    assert await pg.fetchval(QUESTIONS, alice.id) == 1
