"""The API process's shared Realtime socket (`ReplyHub`) and the OpenAI relay on it, in-process
against the real stack and worker: every join is authorized by Realtime's RLS with its own user's
token, joins share one socket, and a relay that joins after the answer began still tells every
character exactly once."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from api.compat.completions import Listening, Relay
from api.compat.keys import KeyCaller
from api.compat.request import Ask
from api.database import CallerDatabase
from api.errors import UpstreamUnavailable
from api.replies import ReplyEvent, ReplyFeed
from api.reply_hub import Feed, HubFeed, ReplyHub
from api.security import CurrentUser, user_from_token
from core.jwt import KeySet
from core.settings import login_as
from fakescope.server import FakeScope
from tests.api.conftest import ApiUser, client_for, new_session, until
from tests.conftest import LocalStack
from worker.app import Worker


@pytest.fixture
async def hub(stack: LocalStack) -> AsyncIterator[ReplyHub]:
    shared = ReplyHub(f"{stack.url}/realtime/v1", stack.anon_key, 10.0)
    try:
        yield shared
    finally:
        await shared.close()


@pytest.fixture
async def database(stack: LocalStack) -> AsyncIterator[CallerDatabase]:
    door = CallerDatabase(login_as(stack.dsn, "authenticator"), 2)
    await door.start()
    try:
        yield door
    finally:
        await door.close()


async def ask(stack: LocalStack, user: ApiUser, session_id: str, text: str) -> str:
    client = await client_for(stack, user)
    made = await client.table("chat_messages").insert({"session_id": session_id, "content": text}).execute()
    row = made.data[0]
    assert isinstance(row, dict)
    return str(row["id"])


def signed_in(stack: LocalStack, user: ApiUser) -> CurrentUser:
    return user_from_token(user.access_token, KeySet(stack.jwt_secret))


async def events_until_final(feed: Feed, question: str) -> list[ReplyEvent]:
    seen: list[ReplyEvent] = []
    while True:
        event = await feed.next(20.0)
        assert event is not None, "no broadcast within 20 s"
        seen.append(event)
        if event.final and event.reply_to == question:
            return seen


async def test_joins_share_one_socket_and_each_is_authorized_by_its_own_token(
    *, stack: LocalStack, hub: ReplyHub, http: httpx.AsyncClient, alice: ApiUser, bob: ApiUser, worker: Worker
) -> None:
    mine, theirs = (await new_session(http, alice))["id"], (await new_session(http, bob))["id"]
    her, him = signed_in(stack, alice), signed_in(stack, bob)
    async with (
        hub.feed(her, mine) as first,
        hub.feed(her, mine) as second,  # the same topic: one join, shared
        hub.feed(him, theirs) as bobs,
    ):
        socket = hub._socket
        assert socket is not None
        assert set(hub._joins) == {f"realtime:chat:{mine}", f"realtime:chat:{theirs}"}
        # Bob's token cannot hear Alice's session: not by sharing her join, not by a join of his own.
        with pytest.raises(UpstreamUnavailable, match="answer stream"):
            async with hub.feed(him, mine):
                pass
        question = await ask(stack, alice, mine, "Hello there")
        heard = await events_until_final(first, question)
        assert [e.reply_to for e in heard] == [question] * len(heard)
        assert [e.delta for e in await events_until_final(second, question)] == [e.delta for e in heard]
        assert bobs.events.empty()  # nothing of Alice's reached Bob's join on the same socket
        await second.__aexit__(None, None, None)
        again = await ask(stack, alice, mine, "And again")
        assert (await events_until_final(first, again))[-1].final  # the shared join outlived a listener
        assert hub._socket is socket
    assert hub._joins == {}  # the last listener left each topic
    with pytest.raises(UpstreamUnavailable, match="Unauthorized"):  # and with the topic free: his own join
        async with hub.feed(him, mine):
            pass


async def test_a_request_finding_the_hubs_socket_full_gets_a_socket_of_its_own(
    *, stack: LocalStack, http: httpx.AsyncClient, alice: ApiUser, worker: Worker
) -> None:
    """Realtime holds a socket to a number of channels (100 by default): past it the hub does not
    ask for a join the server would refuse, and the request still hears its answer."""
    full = ReplyHub(f"{stack.url}/realtime/v1", stack.anon_key, 10.0, channels=1)
    first, second = (await new_session(http, alice))["id"], (await new_session(http, alice))["id"]
    her = signed_in(stack, alice)
    try:
        async with full.feed(her, first) as held, full.feed(her, second) as own:
            assert isinstance(held, HubFeed)
            assert isinstance(own, ReplyFeed)
            assert set(full._joins) == {f"realtime:chat:{first}"}
            question = await ask(stack, alice, second, "Hello there")
            assert (await events_until_final(own, question))[-1].final
    finally:
        await full.close()


async def _sse_contents(relay: Relay) -> list[str]:
    pieces: list[str] = []
    async for raw in relay.chunks():
        line = raw.decode().strip()
        if line.startswith("data: {"):
            body: dict[str, Any] = json.loads(line[6:])
            for choice in body.get("choices") or []:
                if content := choice["delta"].get("content"):
                    pieces.append(content)
    return pieces


async def test_a_relay_that_joins_mid_answer_tells_every_character_once(
    *,
    stack: LocalStack,
    hub: ReplyHub,
    database: CallerDatabase,
    http: httpx.AsyncClient,
    alice: ApiUser,
    worker: Worker,
    fake: FakeScope,
    pg: asyncpg.Connection,
) -> None:
    session = (await new_session(http, alice))["id"]
    async with httpx.AsyncClient() as admin:
        slow = {"ttft": 0.0, "tokens_per_s": 60.0, "tokens_per_event": 2, "answer_tokens": 150}
        (await admin.post(f"{fake.base_url}/_fake/faults", json={"next": [slow]})).raise_for_status()
    question = await ask(stack, alice, session, "Tell me a long story.")

    async def partial() -> asyncpg.Record | None:
        row = await pg.fetchrow("select content, status from chat_messages where reply_to = $1", uuid.UUID(question))
        return row if row is not None and row["status"] == "streaming" and len(row["content"]) > 20 else None

    seen = await until(partial)  # the first chunks went by before anyone listened
    user = signed_in(stack, alice)
    caller = KeyCaller("-", "test", alice.id, alice.access_token, user)
    relay = Relay(
        database=database,
        caller=caller,
        listening=Listening(hub, caller, session),  # nothing joined yet: the question's row names the session
        question_id=question,
        ask=Ask("qwen-plus", "qwen-plus", None, "Tell me a long story.", stream=True, include_usage=False),
        wait=20.0,
        poll=0.5,
    )
    pieces = await _sse_contents(relay)
    final = await pg.fetchrow("select content, status from chat_messages where reply_to = $1", uuid.UUID(question))
    assert final["status"] == "completed"
    assert pieces[0].startswith(seen["content"])  # the text stored before the join, at once
    assert len(pieces) > 2, "the answer was over before the relay joined; the test proves nothing"
    assert "".join(pieces) == final["content"]  # nothing missing, nothing twice
    assert hub._joins == {}
