"""`WS /ws/chat/{session_id}`: refusals with clear close codes, and streamed answers in order."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import asyncpg
import httpx
import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from tests.api.conftest import ApiProcess, ApiUser, new_session, token_expiring_at
from tests.conftest import LocalStack
from worker.app import Worker


async def _close_code(url: str) -> tuple[int | None, str]:
    async with websockets.connect(url, open_timeout=10) as socket:
        with pytest.raises(websockets.ConnectionClosed):
            await socket.recv()
        assert socket.close_code is not None
        return socket.close_code, socket.close_reason or ""


async def _frames_until(socket: ClientConnection, done: Any, within: float = 30.0) -> list[dict[str, Any]]:
    """Frames (heartbeat pings dropped) until `done(frame)` is true."""
    frames: list[dict[str, Any]] = []
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        frame = json.loads(await socket.recv(decode=True))
        if frame["type"] == "ping":
            continue
        frames.append(frame)
        if done(frame):
            return frames
    raise TimeoutError(f"no final frame within {within}s; got {frames}")


def _final(frame: dict[str, Any]) -> bool:
    return bool(frame["type"] == "ai_response" and frame["data"]["status"] != "streaming")


async def test_bad_token_is_refused_with_4401(http: httpx.AsyncClient, api: ApiProcess, alice: ApiUser) -> None:
    session = await new_session(http, alice)
    base = f"{api.ws_url}/ws/chat/{session['id']}"
    assert (await _close_code(base))[0] == 4401
    code, reason = await _close_code(f"{base}?token=not.a.jwt")
    assert (code, reason.split(":")[0]) == (4401, "InvalidToken")


@pytest.mark.parametrize("expired_for", [600, 5])
async def test_an_expired_token_is_refused_with_4401_within_rests_clock_skew_too(
    http: httpx.AsyncClient, api: ApiProcess, alice: ApiUser, stack: LocalStack, expired_for: int
) -> None:
    """REST accepts a token 30 s past its `exp`; Realtime, which carries the answers, does not. The
    socket follows Realtime: 4401 TokenExpired, not a join that fails as an outage (1013)."""
    session = await new_session(http, alice)
    stale = token_expiring_at(alice, stack.jwt_secret, int(time.time()) - expired_for)
    code, reason = await _close_code(f"{api.ws_url}/ws/chat/{session['id']}?token={stale}")
    assert (code, reason.split(":")[0]) == (4401, "TokenExpired")


async def test_a_socket_whose_token_expires_says_so_and_closes_4401(
    http: httpx.AsyncClient, api: ApiProcess, alice: ApiUser, stack: LocalStack
) -> None:
    session = await new_session(http, alice)
    exp = int(time.time()) + 3
    brief = token_expiring_at(alice, stack.jwt_secret, exp)
    async with websockets.connect(f"{api.ws_url}/ws/chat/{session['id']}?token={brief}") as socket:
        await socket.send(json.dumps({"type": "ping"}))
        assert (await _frames_until(socket, lambda f: True))[0]["type"] == "pong"
        expired = await _frames_until(socket, lambda f: f["type"] == "error", within=exp + 10 - time.time())
        assert expired[-1]["data"]["code"] == "TokenExpired"
        assert time.time() >= exp
        with pytest.raises(websockets.ConnectionClosed):
            await socket.recv()
        assert (socket.close_code, socket.close_reason) == (4401, "TokenExpired")


@pytest.mark.usefixtures("worker")
async def test_a_fresh_token_keeps_the_socket_and_its_answer_stream_past_the_first_ones_expiry(
    http: httpx.AsyncClient, api: ApiProcess, alice: ApiUser, bob: ApiUser, stack: LocalStack
) -> None:
    session = await new_session(http, alice)
    exp = int(time.time()) + 5  # the refusals and the refresh below happen before it, on a loaded machine too
    brief = token_expiring_at(alice, stack.jwt_secret, exp)
    stale = token_expiring_at(alice, stack.jwt_secret, exp - 60)
    async with websockets.connect(f"{api.ws_url}/ws/chat/{session['id']}?token={brief}") as socket:
        refusals = {
            "ValidationError": {},
            "InvalidToken": {"access_token": "not.a.jwt"},
            "TokenExpired": {"access_token": stale},
            "TokenUserMismatch": {"access_token": bob.access_token},
        }
        for code, data in refusals.items():
            await socket.send(json.dumps({"type": "access_token", "data": data}))
            refused = (await _frames_until(socket, lambda f: True))[0]
            assert (refused["type"], refused["data"]["code"], refused["data"]["field"]) == (
                "error",
                code,
                "access_token",
            )
        await socket.send(json.dumps({"type": "access_token", "data": {"access_token": alice.access_token}}))
        refreshed = (await _frames_until(socket, lambda f: True))[0]
        assert refreshed["type"] == "token_refreshed"
        assert refreshed["data"]["expires_at"] > exp + 60
        # The first token's deadline is the behaviour under test: wait past it (and Realtime's 1 s sweep).
        await asyncio.sleep(max(exp + 2 - time.time(), 0))
        await socket.send(json.dumps({"type": "user_message", "data": {"message": "还在吗？"}}))
        frames = await _frames_until(socket, _final)
    accepted, *streamed, final = frames
    assert accepted["type"] == "user_message"
    assert streamed, "the channel relays chunks still"
    assert all(f["data"]["status"] == "streaming" for f in streamed)
    assert (final["data"]["status"], "".join(f["data"]["delta"] for f in streamed)) == (
        "completed",
        final["data"]["message"],
    )


async def test_user_b_is_refused_user_a_session_with_4404(
    http: httpx.AsyncClient, api: ApiProcess, alice: ApiUser, bob: ApiUser
) -> None:
    session = await new_session(http, alice)
    for target in (session["id"], str(uuid.uuid4())):
        code, reason = await _close_code(f"{api.ws_url}/ws/chat/{target}?token={bob.access_token}")
        assert (code, reason.split(":")[0]) == (4404, "SessionNotFound")


async def test_answer_streams_in_order_and_ends_completed(
    http: httpx.AsyncClient, api: ApiProcess, alice: ApiUser, worker: Worker
) -> None:
    session = await new_session(http, alice)
    async with websockets.connect(f"{api.ws_url}/ws/chat/{session['id']}?token={alice.access_token}") as socket:
        await socket.send(
            json.dumps(
                {
                    "type": "user_message",
                    "data": {
                        "message": "你好，请介绍一下Vue3的新特性",
                        "role_id": "tech_expert",
                        "timestamp": "2025-01-01T12:00:00Z",
                    },
                }
            )
        )
        frames = await _frames_until(socket, _final)
    accepted, *streamed, final = frames
    assert accepted["type"] == "user_message"
    assert (accepted["data"]["status"], accepted["data"]["role_id"]) == ("received", "tech_expert")
    assert streamed, "expected streaming frames before the final one"
    assert all(f["type"] == "ai_response" and f["data"]["status"] == "streaming" for f in streamed)
    seqs = [f["data"]["seq"] for f in streamed]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == len(seqs)
    assert "".join(f["data"]["delta"] for f in streamed) == final["data"]["message"]
    assert final["data"] | {"timestamp": None, "message_id": None, "message": None} == {
        "message": None,
        "role_name": "技术专家",
        "message_id": None,
        "reply_to": accepted["data"]["message_id"],
        "timestamp": None,
        "status": "completed",
        "tokens_used": final["data"]["tokens_used"],
        "finish_reason": "stop",
        "error_code": None,
        "error_message": None,
    }
    assert final["data"]["tokens_used"] > 0
    history = await http.get("/api/chat/history", params={"session_id": session["id"]}, headers=alice.headers)
    stored = {m["id"]: m for m in history.json()["messages"]}
    assert stored[final["data"]["message_id"]]["content"] == final["data"]["message"]


async def test_a_question_sent_again_by_its_id_on_a_new_socket_is_stored_once_and_answered(
    http: httpx.AsyncClient, api: ApiProcess, alice: ApiUser, worker: Worker, pg: asyncpg.Connection
) -> None:
    session = await new_session(http, alice)
    url = f"{api.ws_url}/ws/chat/{session['id']}?token={alice.access_token}"
    question_id = str(uuid.uuid4())
    question = json.dumps({"type": "user_message", "data": {"message": "只问一次", "message_id": question_id}})
    finals = []
    for _ in range(2):  # the second socket: a client that lost the first and sends again
        async with websockets.connect(url) as socket:
            await socket.send(question)
            accepted, *_, final = await _frames_until(socket, _final)
        assert (accepted["type"], accepted["data"]["message_id"]) == ("user_message", question_id)
        finals.append(final["data"])
    assert finals[0]["status"] == "completed"
    assert finals[1] | {"timestamp": None} == finals[0] | {"timestamp": None}
    stored = await pg.fetch("select id from chat_messages where session_id = $1", uuid.UUID(session["id"]))
    assert sorted(str(r["id"]) for r in stored) == sorted([question_id, finals[0]["message_id"]])


async def test_ping_pong_heartbeat_and_error_frames(http: httpx.AsyncClient, api: ApiProcess, alice: ApiUser) -> None:
    session = await new_session(http, alice)
    async with websockets.connect(f"{api.ws_url}/ws/chat/{session['id']}?token={alice.access_token}") as socket:
        await socket.send(json.dumps({"type": "ping"}))
        assert (await _frames_until(socket, lambda f: True))[0]["type"] == "pong"
        server_ping = json.loads(await socket.recv(decode=True))  # the shared API pings every 0.5 s
        while server_ping["type"] != "ping":
            server_ping = json.loads(await socket.recv(decode=True))
        await socket.send("not json")
        bad = (await _frames_until(socket, lambda f: True))[0]
        assert (bad["type"], bad["data"]["code"]) == ("error", "InvalidFrame")
        await socket.send(json.dumps({"type": "user_message", "data": {"message": "x" * 8001}}))
        long = (await _frames_until(socket, lambda f: True))[0]
        assert long["data"] | {"message": ""} == {"code": "MessageTooLong", "field": "message", "message": ""}
        await socket.send(json.dumps({"type": "user_message", "data": {"message": "hi", "role_id": "nobody"}}))
        role = (await _frames_until(socket, lambda f: True))[0]
        assert role["data"]["code"] == "RoleNotFound"


async def test_stop_frames_stop_only_this_sessions_answers_and_refuse_a_bad_id(
    http: httpx.AsyncClient, api: ApiProcess, alice: ApiUser, bob: ApiUser, pg: asyncpg.Connection
) -> None:
    """`stop {message_id}` asks one answer in flight to stop (named by its question's id or its own),
    `stop {}` every answer in flight of the socket's session. A `message_id` that is not a UUID is
    refused and stops nothing (it once read as "all"), and answers of another session, another
    user's included, are never touched."""
    session, elsewhere, bobs = (
        await new_session(http, alice),
        await new_session(http, alice),
        await new_session(http, bob),
    )

    async def in_flight(session_id: str, user: ApiUser) -> tuple[str, str]:
        """A question and its answer being written, its lease held (by nobody real) for an hour, so
        the session's worker, if one runs, neither claims the question nor takes the answer over."""
        async with pg.transaction():
            question = await pg.fetchval(
                "insert into chat_messages (session_id, user_id, content) values ($1, $2, 'q') returning id",
                session_id,
                user.id,
            )
            answer = await pg.fetchval(
                """insert into chat_messages (session_id, user_id, message_type, reply_to, status, lease_owner,
                     lease_expires_at) values ($1, $2, 'assistant', $3, 'streaming', 'test', now() + interval '1 hour')
                   returning id""",
                session_id,
                user.id,
                question,
            )
        return str(question), str(answer)

    first, second, third = [await in_flight(session["id"], alice) for _ in range(3)]
    other, theirs = await in_flight(elsewhere["id"], alice), await in_flight(bobs["id"], bob)

    async def cancelled() -> set[str]:
        found = await pg.fetch("select id from chat_messages where cancel_requested")
        return {str(row["id"]) for row in found} & {a for _, a in (first, second, third, other, theirs)}

    async with websockets.connect(f"{api.ws_url}/ws/chat/{session['id']}?token={alice.access_token}") as socket:

        async def stop(data: Any) -> dict[str, Any]:
            await socket.send(json.dumps({"type": "stop", "data": data}))
            return (await _frames_until(socket, lambda f: f["type"] in ("stopped", "error")))[-1]

        for bad, code in (
            (5, "ValidationError"),
            ("", "InvalidId"),
            ("all", "InvalidId"),
            ([first[0]], "ValidationError"),
        ):
            refused = await stop({"message_id": bad})
            assert (refused["type"], refused["data"]["code"], refused["data"]["field"]) == ("error", code, "message_id")
        assert await cancelled() == set()
        assert (await stop({"message_id": theirs[0]}))["data"] == {"stopped": 0}  # bob's question: not this session's
        assert (await stop({"message_id": other[1]}))["data"] == {"stopped": 0}  # alice's, another session
        assert await cancelled() == set()
        assert (await stop({"message_id": first[0]}))["data"] == {"stopped": 1}  # by the question's id
        assert (await stop({"message_id": second[1].upper()}))["data"] == {"stopped": 1}  # by the answer's
        assert await cancelled() == {first[1], second[1]}
        assert (await stop({}))["data"] == {"stopped": 3}  # all in flight here, the two asked already included
        assert await cancelled() == {first[1], second[1], third[1]}


async def test_a_socket_whose_session_is_deleted_says_so_and_closes_4404(
    http: httpx.AsyncClient, api: ApiProcess, alice: ApiUser, pg: asyncpg.Connection
) -> None:
    """The chat is deleted (another tab) while its socket is open: the next question is refused as
    SessionNotFound, the socket closes 4404 as a join of a missing session does, and nothing is
    stored. It was an error frame `Forbidden` ("You may not do this."), and the socket served on."""
    session = await new_session(http, alice)
    async with websockets.connect(f"{api.ws_url}/ws/chat/{session['id']}?token={alice.access_token}") as socket:
        await socket.send(json.dumps({"type": "ping"}))
        assert (await _frames_until(socket, lambda f: True))[0]["type"] == "pong"  # serving
        deleted = await http.delete(f"/api/sessions/{session['id']}", headers=alice.headers)
        assert deleted.status_code == 200
        await socket.send(json.dumps({"type": "user_message", "data": {"message": "还在吗？"}}))
        refused = (await _frames_until(socket, lambda f: True))[0]
        assert (refused["type"], refused["data"]["code"]) == ("error", "SessionNotFound")
        with pytest.raises(websockets.ConnectionClosed):
            await _frames_until(socket, lambda f: True)
        assert (socket.close_code, socket.close_reason) == (4404, "SessionNotFound")
    assert await pg.fetchval("select count(*) from chat_messages where session_id = $1", uuid.UUID(session["id"])) == 0


async def test_a_question_naming_no_role_is_answered_by_the_chats_persona_as_it_is_now(
    http: httpx.AsyncClient, api: ApiProcess, alice: ApiUser, pg: asyncpg.Connection, worker: Worker
) -> None:
    """A question naming no role is the chat's persona's. The socket read the chat once, when it
    opened: a persona picked for the chat meanwhile (the web app's picker, another tab) was not its,
    and the question was stored and answered as the persona the chat had before."""
    session = await new_session(http, alice, role_id="tech_expert")
    async with websockets.connect(f"{api.ws_url}/ws/chat/{session['id']}?token={alice.access_token}") as socket:
        picked = await http.patch(
            f"/api/sessions/{session['id']}", json={"role_id": "casual_chat"}, headers=alice.headers
        )
        assert picked.status_code == 200, picked.text
        await socket.send(json.dumps({"type": "user_message", "data": {"message": "你是谁？"}}))
        accepted = (await _frames_until(socket, lambda f: f["type"] == "user_message"))[-1]
    assert accepted["data"]["role_id"] == "casual_chat"
    stored = await pg.fetchval(
        "select role_id from chat_messages where id = $1", uuid.UUID(accepted["data"]["message_id"])
    )
    assert stored == "casual_chat"
