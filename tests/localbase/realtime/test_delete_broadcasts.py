"""Deletes reach the user's other tabs as Realtime clients hear them: a filtered postgres_changes
subscription hears no DELETE (chat_messages is not REPLICA IDENTITY FULL), so the database
broadcasts them on private topics (migration 20261206182000): a turn deleted through PostgREST is
heard on `chat:<session>`, a deleted or renamed session on `user:<id>`, and another user can
neither join that topic nor hear it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg
import httpx
from realtime import AsyncRealtimeClient

from tests.conftest import LocalStack, channel_options
from tests.localbase.realtime.conftest import RealtimeUser, eventually, new_session, subscribed


async def _rest(stack: LocalStack, user: RealtimeUser, method: str, path: str, body: Any = None) -> None:
    headers = {"apikey": stack.anon_key, "Authorization": f"Bearer {user.access_token}"}
    async with httpx.AsyncClient(trust_env=False) as http:
        response = await http.request(method, f"{stack.url}/rest/v1/{path}", headers=headers, json=body)
    assert response.status_code in (200, 204), response.text


async def _turn(pg: asyncpg.Connection, session: str, user_id: str) -> tuple[str, str]:
    question = str(
        await pg.fetchval(
            "insert into chat_messages (session_id, user_id, content) values ($1, $2, 'hi') returning id",
            session,
            user_id,
        )
    )
    answer = str(
        await pg.fetchval(
            "insert into chat_messages (session_id, user_id, message_type, reply_to, status, content)"
            " values ($1, $2, 'assistant', $3, 'completed', 'hello') returning id",
            session,
            user_id,
            question,
        )
    )
    return question, answer


async def test_a_turn_deleted_in_one_tab_is_heard_in_the_other(
    stack: LocalStack,
    pg: asyncpg.Connection,
    alice: RealtimeUser,
    realtime_client: Callable[..., AsyncRealtimeClient],
) -> None:
    session = await new_session(pg, alice.id)
    question, answer = await _turn(pg, session, alice.id)
    kept, _ = await _turn(pg, session, alice.id)
    other_tab = realtime_client(alice.access_token)
    heard: list[Any] = []
    await subscribed(
        other_tab.channel(f"chat:{session}", channel_options(private=True)).on_broadcast("deleted", heard.append)
    )

    await _rest(stack, alice, "DELETE", f"chat_messages?id=eq.{question}")
    await eventually(
        lambda: {i for m in heard for i in m["payload"]["ids"]} == {question, answer}, what="the deleted turn"
    )
    assert kept not in {i for m in heard for i in m["payload"]["ids"]}


async def test_a_session_deleted_or_renamed_is_heard_by_its_owner_alone(
    stack: LocalStack,
    pg: asyncpg.Connection,
    alice: RealtimeUser,
    bob: RealtimeUser,
    realtime_client: Callable[..., AsyncRealtimeClient],
) -> None:
    session = await new_session(pg, alice.id)
    await _turn(pg, session, alice.id)
    topic = f"user:{alice.id}"
    heard: list[Any] = []
    await subscribed(
        realtime_client(alice.access_token)
        .channel(topic, channel_options(private=True))
        .on_broadcast("*", heard.append)
    )

    states: list[Any] = []
    intruder = realtime_client(bob.access_token).channel(topic, channel_options(private=True))
    await intruder.subscribe(lambda state, error: states.append((state, error)))
    await eventually(lambda: bool(states), what="the refused join")
    assert states[0][0].value == "CHANNEL_ERROR"
    assert f"Unauthorized: You do not have permissions to read from this Channel topic: {topic}" in str(states[0][1])
    public_heard: list[Any] = []
    await subscribed(realtime_client(bob.access_token).channel(topic).on_broadcast("*", public_heard.append))

    await _rest(stack, alice, "PATCH", f"chat_sessions?id=eq.{session}", {"title": "renamed"})
    await eventually(lambda: len(heard) == 1, what="the rename")
    assert heard[0]["event"] == "session"
    assert heard[0]["payload"]["row"]["title"] == "renamed"

    await _rest(stack, alice, "DELETE", f"chat_sessions?id=eq.{session}")
    await eventually(lambda: len(heard) == 2, what="the deleted session")
    assert heard[1]["event"] == "sessions_deleted"
    assert heard[1]["payload"]["ids"] == [session]
    # The sentinel: a later broadcast on the public topic of the same name arrives, the private ones never did.
    await pg.execute("select realtime.send('{\"x\": 1}'::jsonb, 'sentinel', $1, false)", topic)
    await eventually(lambda: bool(public_heard), what="the sentinel")
    assert [m["event"] for m in public_heard] == ["sentinel"]
