"""Sending over HTTP with a real worker answering, history paging, search and stop."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from fakescope.server import FakeScope
from tests.api.conftest import (
    ApiProcess,
    ApiUser,
    client_for,
    error_of,
    new_session,
    register_and_login,
    start_api,
    token_expiring_at,
    until,
)
from tests.conftest import LocalStack, rows_of
from worker.app import Worker


async def test_send_returns_the_completed_answer_with_tokens(
    http: httpx.AsyncClient, alice: ApiUser, worker: Worker, pg: asyncpg.Connection
) -> None:
    session = await new_session(http, alice)
    response = await http.post(
        "/api/chat/send",
        json={"message": "你好，请介绍一下Vue3的新特性", "session_id": session["id"], "role_id": "tech_expert"},
        headers=alice.headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    assert body["status"] == "completed"
    assert body["ai_response"]
    assert body["tokens_used"] > 0
    row = await pg.fetchrow("select * from chat_messages where id = $1", uuid.UUID(body["message_id"]))
    assert (row["content"], row["tokens_used"], str(row["reply_to"])) == (
        body["ai_response"],
        body["tokens_used"],
        body["user_message_id"],
    )
    question = await pg.fetchrow("select * from chat_messages where id = $1", row["reply_to"])
    assert (question["role_id"], question["message_type"]) == ("tech_expert", "user")


async def test_send_validates_the_message(http: httpx.AsyncClient, alice: ApiUser) -> None:
    session = await new_session(http, alice)
    too_long = await http.post(
        "/api/chat/send",
        json={"message": "字" * 8001, "session_id": session["id"], "role_id": "assistant"},
        headers=alice.headers,
    )
    assert too_long.status_code == 422
    assert error_of(too_long) | {"message": ""} == {"code": "MessageTooLong", "field": "message", "message": ""}
    empty = await http.post(
        "/api/chat/send",
        json={"message": "  ", "session_id": session["id"], "role_id": "assistant"},
        headers=alice.headers,
    )
    assert (empty.status_code, error_of(empty)["field"]) == (422, "message")
    no_role = await http.post(
        "/api/chat/send",
        json={"message": "hi", "session_id": session["id"], "role_id": "nobody"},
        headers=alice.headers,
    )
    assert (no_role.status_code, error_of(no_role)["code"]) == (404, "RoleNotFound")


async def test_user_b_cannot_send_into_or_read_user_a_session(
    http: httpx.AsyncClient, alice: ApiUser, bob: ApiUser, pg: asyncpg.Connection
) -> None:
    session = await new_session(http, alice)
    await pg.execute(
        "insert into chat_messages (session_id, content) values ($1, 'private words')", uuid.UUID(session["id"])
    )
    send = await http.post(
        "/api/chat/send",
        json={"message": "hi", "session_id": session["id"], "role_id": "assistant"},
        headers=bob.headers,
    )
    assert (send.status_code, error_of(send)["code"]) == (404, "SessionNotFound")
    history = await http.get("/api/chat/history", params={"session_id": session["id"]}, headers=bob.headers)
    assert (history.status_code, error_of(history)["code"]) == (404, "SessionNotFound")
    everything = await http.get("/api/chat/history", headers=bob.headers)
    assert everything.json()["messages"] == []
    search = await http.get("/api/chat/search", params={"q": "private"}, headers=bob.headers)
    assert search.json()["results"] == []
    mine = await http.get("/api/chat/history", params={"session_id": session["id"]}, headers=alice.headers)
    assert "private words" in [m["content"] for m in mine.json()["messages"]]


async def _fill(pg: asyncpg.Connection, session_id: str, count: int) -> None:
    """`count` messages in pairs sharing a timestamp (to test tie-breaks); `system` ones, so the
    running worker leaves them unanswered and the history stays as arranged."""
    await pg.execute(
        """insert into chat_messages (session_id, message_type, content, created_at)
           select $1, 'system', 'message ' || i, timestamptz '2026-01-01' + (i / 2) * interval '1 millisecond'
             from generate_series(1, $2) as i""",
        uuid.UUID(session_id),
        count,
    )


async def test_history_pages_and_cursor_walk_agree_and_total_is_the_session_count(
    http: httpx.AsyncClient, alice: ApiUser, pg: asyncpg.Connection
) -> None:
    session = await new_session(http, alice)
    await _fill(pg, session["id"], 95)
    expected = [
        str(r["id"])
        for r in await pg.fetch(
            "select id from chat_messages where session_id = $1 order by created_at desc, id desc",
            uuid.UUID(session["id"]),
        )
    ]
    first = (await http.get("/api/chat/history", params={"session_id": session["id"]}, headers=alice.headers)).json()
    assert (first["success"], first["total"], first["page"], len(first["messages"])) == (True, 95, 1, 20)
    paged: list[str] = []
    for page in range(1, 6):
        body = (
            await http.get(
                "/api/chat/history",
                params={"session_id": session["id"], "page": page, "limit": 20},
                headers=alice.headers,
            )
        ).json()
        paged += [m["id"] for m in body["messages"]]
    walked: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"session_id": session["id"], "limit": 30}
        if cursor:
            params["cursor"] = cursor
        body = (await http.get("/api/chat/history", params=params, headers=alice.headers)).json()
        walked += [m["id"] for m in body["messages"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert paged == expected
    assert walked == expected


async def test_history_limits_and_bad_cursor(http: httpx.AsyncClient, alice: ApiUser) -> None:
    too_many = await http.get("/api/chat/history", params={"limit": 101}, headers=alice.headers)
    assert (too_many.status_code, error_of(too_many)["field"]) == (400, "limit")
    bad = await http.get("/api/chat/history", params={"cursor": "garbage"}, headers=alice.headers)
    assert (bad.status_code, error_of(bad)["code"]) == (422, "InvalidCursor")


async def test_history_without_session_spans_all_sessions(
    http: httpx.AsyncClient, alice: ApiUser, pg: asyncpg.Connection
) -> None:
    one, two = await new_session(http, alice), await new_session(http, alice)
    await _fill(pg, one["id"], 3)
    await _fill(pg, two["id"], 4)
    body = (await http.get("/api/chat/history", headers=alice.headers)).json()
    assert body["total"] == 7
    assert {m["session_id"] for m in body["messages"]} == {one["id"], two["id"]}


async def test_history_of_all_sessions_lists_each_session_as_its_own_history_does(
    http: httpx.AsyncClient, alice: ApiUser, pg: asyncpg.Connection
) -> None:
    """A branched chat contributes its conversation (the path), not its other branches, and the
    total counts the same; an unbranched chat contributes every message. Pages and cursors agree."""
    plain, forked = await new_session(http, alice), await new_session(http, alice)
    await _fill(pg, plain["id"], 5)  # 0, 1, 1, 2, 2 ms after 2026-01-01
    insert = """insert into chat_messages (session_id, message_type, content, created_at{})
                values ($1, 'system', $2, timestamptz '2026-01-01' + $3 * interval '1 microsecond'{})"""
    await pg.execute(insert.format("", ""), uuid.UUID(forked["id"]), "first try", 500)
    # An edit of the first question (a sibling root): the chat has branched; the next turn follows it.
    await pg.execute(insert.format(", parent_id", ", null"), uuid.UUID(forked["id"]), "edited", 1500)
    await pg.execute(insert.format("", ""), uuid.UUID(forked["id"]), "after the edit", 2500)

    async def history(**params: Any) -> dict[str, Any]:
        response = await http.get("/api/chat/history", params=params, headers=alice.headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    own = [await history(session_id=s["id"], limit=100) for s in (plain, forked)]
    assert [m["content"] for m in own[1]["messages"]] == ["after the edit", "edited"]
    newest_first = sorted(
        (m for body in own for m in body["messages"]),
        key=lambda m: (datetime.fromisoformat(m["created_at"]), m["id"]),
        reverse=True,
    )
    expected = [m["id"] for m in newest_first]
    every = await history(limit=100)
    assert every["total"] == own[0]["total"] + own[1]["total"] == 7
    assert [m["id"] for m in every["messages"]] == expected
    paged = [m["id"] for page in range(1, 5) for m in (await history(page=page, limit=2))["messages"]]
    walked: list[str] = []
    cursor: str | None = None
    while True:
        body = await history(limit=3, **({"cursor": cursor} if cursor else {}))
        walked += [m["id"] for m in body["messages"]]
        assert body["total"] == 7
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert paged == walked == expected


async def test_search_finds_chinese_and_english(
    http: httpx.AsyncClient, alice: ApiUser, pg: asyncpg.Connection
) -> None:
    session = await new_session(http, alice)
    await pg.execute(
        "insert into chat_messages (session_id, content) values ($1, '我喜欢学习编程'), ($1, 'Composition API rocks')",
        uuid.UUID(session["id"]),
    )
    chinese = (await http.get("/api/chat/search", params={"q": "编程"}, headers=alice.headers)).json()
    assert [r["content"] for r in chinese["results"]] == ["我喜欢学习编程"]
    english = await http.get(
        "/api/chat/search", params={"q": "composition", "session_id": session["id"]}, headers=alice.headers
    )
    assert [r["content"] for r in english.json()["results"]] == ["Composition API rocks"]


async def test_search_pages_by_cursor_through_writes_between_pages(
    http: httpx.AsyncClient, alice: ApiUser, pg: asyncpg.Connection
) -> None:
    """`next_cursor` reads on from the last result: a result deleted and a new match written
    between two pages neither skips a result nor shows one twice (by offset, both did)."""
    session = await new_session(http, alice)
    await pg.execute(
        """insert into chat_messages (session_id, content, created_at)
           select $1, 'pagination sample ' || g, now() - interval '1 hour' + g * interval '1 second'
             from generate_series(1, 7) g""",
        uuid.UUID(session["id"]),
    )

    async def page(**params: Any) -> dict[str, Any]:
        response = await http.get("/api/chat/search", params={"q": "pagination", **params}, headers=alice.headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    first = await page(limit=3)
    await pg.execute("delete from chat_messages where id = $1", uuid.UUID(first["results"][0]["id"]))
    await pg.execute("delete from chat_messages where id = $1", uuid.UUID(first["results"][1]["id"]))
    await pg.execute(
        "insert into chat_messages (session_id, content) values ($1, 'pagination pagination new')",
        uuid.UUID(session["id"]),
    )
    second = await page(limit=3, cursor=first["next_cursor"])
    third = await page(limit=3, cursor=second["next_cursor"])
    shown = [r["content"] for r in first["results"] + second["results"] + third["results"]]
    assert shown == [f"pagination sample {g}" for g in range(7, 0, -1)]
    assert third["next_cursor"] is None
    forged = await http.get("/api/chat/search", params={"q": "pagination", "cursor": "W10"}, headers=alice.headers)
    assert (forged.status_code, error_of(forged)["code"]) == (422, "InvalidCursor")


async def test_stop_cancels_the_answer_in_flight(
    http: httpx.AsyncClient, alice: ApiUser, worker: Worker, fake: FakeScope, pg: asyncpg.Connection
) -> None:
    session = await new_session(http, alice)
    await _slow_next_answer(fake)
    question = await pg.fetchval(
        "insert into chat_messages (session_id, content) values ($1, 'tell me a long story') returning id",
        uuid.UUID(session["id"]),
    )

    async def in_flight() -> bool:
        status = await pg.fetchval("select status from chat_messages where reply_to = $1", question)
        return status in ("pending", "streaming")

    await until(in_flight)
    stopped = await http.post("/api/chat/stop", json={"message_id": str(question)}, headers=alice.headers)
    assert stopped.json() == {"success": True, "stopped": 1}

    async def cancelled() -> bool:
        status = await pg.fetchval("select status from chat_messages where reply_to = $1", question)
        return bool(status == "cancelled")

    await until(cancelled)


async def test_stop_right_after_the_question_ends_it_before_any_worker_answers(
    quiet_stack: LocalStack, tmp_path: Path
) -> None:
    """No worker has claimed the question yet (none runs on this stack): the stop ends it, so no
    worker answers it later, and its reservation is released, not charged."""
    api = start_api(quiet_stack, tmp_path / "api.log")
    pg = await asyncpg.connect(quiet_stack.dsn)
    try:
        async with httpx.AsyncClient(base_url=api.url, timeout=30, trust_env=False) as http:
            alice = await register_and_login(http)
            session = await new_session(http, alice)
            rest = await client_for(quiet_stack, alice)
            asked = (
                await rest.table("chat_messages").insert({"session_id": session["id"], "content": "a story"}).execute()
            )
            question = uuid.UUID(str(rows_of(asked.data)[0]["id"]))
            stopped = await http.post("/api/chat/stop", json={"message_id": str(question)}, headers=alice.headers)
            assert stopped.json() == {"success": True, "stopped": 1}
            again = await http.post("/api/chat/stop", json={"session_id": session["id"]}, headers=alice.headers)
            assert again.json() == {"success": True, "stopped": 0}
        answer = await pg.fetchrow("select status, answer_no from chat_messages where reply_to = $1", question)
        assert tuple(answer) == ("cancelled", 1)
        ledger = await pg.fetchrow("select state, charged from usage_ledger where message_id = $1", question)
        assert tuple(ledger) == ("released", 0)
    finally:
        await pg.close()
        api.stop()


async def _slow_next_answer(fake: FakeScope, **knobs: float) -> None:
    """Pace the fake's next answer (default: about 80 s of text, for answers that get stopped)."""
    pacing = {"ttft": 0.2, "tokens_per_s": 5, "answer_tokens": 400, **knobs}
    async with httpx.AsyncClient(trust_env=False) as client:
        response = await client.post(f"{fake.base_url}/_fake/faults", json={"next": [pacing]})
        response.raise_for_status()


async def test_send_times_out_clearly_and_the_answer_still_lands(
    spawn_api: Callable[..., ApiProcess],
    alice: ApiUser,
    worker: Worker,
    fake: FakeScope,
    pg: asyncpg.Connection,
) -> None:
    impatient = spawn_api(API_ANSWER_TIMEOUT="0.5")
    async with httpx.AsyncClient(base_url=impatient.url, timeout=30, trust_env=False) as client:
        session = await new_session(client, alice)
        # no progress for 1.5 s before the first word, three times the wait (a wait restarts on progress)
        await _slow_next_answer(fake, ttft=1.5, tokens_per_s=200, answer_tokens=40)
        response = await client.post(
            "/api/chat/send",
            json={"message": "慢慢说", "session_id": session["id"], "role_id": "assistant"},
            headers=alice.headers,
        )
        assert response.status_code == 504
        error = error_of(response)
        assert error["code"] == "AnswerTimeout"
        question_id = error["message_id"]

        async def landed() -> dict[str, Any] | None:
            history = await client.get("/api/chat/history", params={"session_id": session["id"]}, headers=alice.headers)
            answers = [m for m in history.json()["messages"] if m["reply_to"] == question_id]
            return answers[0] if answers and answers[0]["status"] == "completed" else None

        answer = await until(landed, within=60)
        assert answer["content"]
        assert answer["tokens_used"] > 0


def _token(user: ApiUser, stack: LocalStack, lives: float) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_expiring_at(user, stack.jwt_secret, int(time.time() + lives))}"}


async def test_send_with_a_token_past_its_exp_is_401_within_rests_skew_and_stores_nothing(
    http: httpx.AsyncClient, alice: ApiUser, stack: LocalStack, pg: asyncpg.Connection
) -> None:
    """REST takes a token 30 s past `exp`; the answer stream (Realtime) does not, so a send with one
    is refused as expired, before the question is stored (it was a 503: the channel would not join)."""
    session = await new_session(http, alice)
    response = await http.post(
        "/api/chat/send",
        json={"message": "还在吗", "session_id": session["id"]},
        headers=_token(alice, stack, -5),
    )
    assert (response.status_code, error_of(response)["code"]) == (401, "TokenExpired")
    stored = await pg.fetchval("select count(*) from chat_messages where session_id = $1", uuid.UUID(session["id"]))
    assert stored == 0


@pytest.mark.usefixtures("worker")
async def test_send_reads_the_answer_while_its_token_can_and_then_answers_with_the_questions_id(
    spawn_api: Callable[..., ApiProcess], alice: ApiUser, stack: LocalStack, fake: FakeScope, pg: asyncpg.Connection
) -> None:
    """The answer stream (Realtime) ends at the token's `exp`; the send reads the row on, as REST
    allows, for 30 s more. An answer later than that is AnswerTimeout with the question's id, as a
    timeout is: it was a 401 after the question was stored, which a client would send again.
    The two sends run side by side (the early one within the late one's 30 s), each with its
    answer's pacing: the late one's is taken by its call before the early one's is queued."""
    patient = spawn_api(API_ANSWER_TIMEOUT="60")
    async with httpx.AsyncClient(base_url=patient.url, timeout=90, trust_env=False) as client:
        late, soon = await new_session(client, alice), await new_session(client, alice)
        await _slow_next_answer(fake, ttft=34.0, tokens_per_s=50, answer_tokens=10)

        async def paced() -> bool:
            return not fake.plan.queue  # the late answer's call took its pacing

        sending_late = asyncio.create_task(
            client.post(
                "/api/chat/send", json={"message": "更慢", "session_id": late["id"]}, headers=_token(alice, stack, 3)
            )
        )
        try:
            await until(paced, within=30)
            await _slow_next_answer(fake, ttft=5.0, tokens_per_s=50, answer_tokens=10)
            expires = int(time.time() + 3)
            response = await client.post(
                "/api/chat/send",
                json={"message": "慢慢说", "session_id": soon["id"]},
                headers={"Authorization": f"Bearer {token_expiring_at(alice, stack.jwt_secret, expires)}"},
            )
            assert (response.status_code, response.json().get("status")) == (200, "completed"), response.text
            assert time.time() > expires, "the answer came before the token expired: the test proves nothing"
            response = await sending_late
        finally:
            sending_late.cancel()  # on a failure above: not left running past the client
    assert response.status_code == 504, response.text
    error = error_of(response)
    assert (error["code"], "token expired" in error["message"]) == ("AnswerTimeout", True)

    async def landed() -> asyncpg.Record | None:
        return await pg.fetchrow(
            "select content from chat_messages where reply_to = $1 and status = 'completed'",
            uuid.UUID(error["message_id"]),
        )

    assert (await until(landed, within=60))["content"]
    questions = await pg.fetchval(
        "select count(*) from chat_messages where session_id = $1 and message_type = 'user'", uuid.UUID(late["id"])
    )
    assert questions == 1


async def test_a_send_the_client_names_is_stored_and_charged_once_however_often_it_is_sent(
    http: httpx.AsyncClient, alice: ApiUser, bob: ApiUser, worker: Worker, pg: asyncpg.Connection
) -> None:
    """A client that gives its question an id (`message_id`) may send it again after a lost
    response: the stored question is answered, never a second one; the id of a different message
    (the same id with other text, or another user's message) is refused and changes nothing."""
    session = await new_session(http, alice)
    question_id = str(uuid.uuid4())
    body = {"message": "只问一次", "session_id": session["id"], "message_id": question_id}
    first = await http.post("/api/chat/send", json=body, headers=alice.headers)
    again = await http.post("/api/chat/send", json=body, headers=alice.headers)
    assert (first.status_code, again.status_code) == (200, 200), again.text
    assert first.json()["user_message_id"] == question_id
    assert again.json() | {"response_time": None} == first.json() | {"response_time": None}

    theirs = await new_session(http, bob)
    bobs = await http.post("/api/chat/send", json={"message": "mine", "session_id": theirs["id"]}, headers=bob.headers)
    refused = {
        "other text": {**body, "message": "问两次"},
        "another user's message": {**body, "message_id": bobs.json()["user_message_id"]},
        "its answer's id": {**body, "message_id": first.json()["message_id"]},
    }
    for case, sent in refused.items():
        response = await http.post("/api/chat/send", json=sent, headers=alice.headers)
        assert (response.status_code, error_of(response)["code"], error_of(response)["field"]) == (
            409,
            "MessageIdTaken",
            "message_id",
        ), case
    bad = await http.post("/api/chat/send", json={**body, "message_id": "nope"}, headers=alice.headers)
    assert (bad.status_code, error_of(bad)["code"]) == (422, "InvalidId")

    stored = await pg.fetch(
        "select id, message_type from chat_messages where session_id = $1 order by created_at", uuid.UUID(session["id"])
    )
    assert [(str(r["id"]), r["message_type"]) for r in stored] == [
        (question_id, "user"),
        (first.json()["message_id"], "assistant"),
    ]
    charged = await pg.fetch(
        "select message_id from usage_ledger where session_id = $1"
        " and message_id <> md5('title:' || session_id::text)::uuid",  # the title's charge
        uuid.UUID(session["id"]),
    )
    assert [str(r["message_id"]) for r in charged] == [question_id]
    bob_rows = await pg.fetchval("select count(*) from chat_messages where session_id = $1", uuid.UUID(theirs["id"]))
    assert bob_rows == 2
