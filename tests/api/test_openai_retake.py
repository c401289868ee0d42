"""A streamed /v1 answer whose worker dies and whose answer another worker retakes: the stream goes
on when the retaken text extends what the client was sent, and ends in an error (never a clean
`stop`) when it wrote another answer, which the stream cannot take back.

The test plays the worker on the real stack: it writes the answer's row (its lease held by nobody
real, so a worker running in the session leaves it alone) and broadcasts the worker's chunks on
the session's channel through Realtime's broadcast API, as worker/broadcast.py does; the relay
is the API's own, on the API's shared Realtime socket."""

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
from api.reply_hub import ReplyHub
from api.security import user_from_token
from core.jwt import KeySet
from core.settings import login_as
from tests.api.conftest import ApiUser, new_session, until
from tests.conftest import LocalStack


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


class PlayedWorker:
    """One answer in flight, written and broadcast as a worker would."""

    def __init__(self, stack: LocalStack, pg: asyncpg.Connection, session: str) -> None:
        self.stack, self.pg, self.session = stack, pg, session
        self.question = self.answer = ""
        self.attempt, self.seq = 1, 0

    async def ask(self, user: ApiUser, text: str) -> None:
        async with self.pg.transaction():
            self.question = str(
                await self.pg.fetchval(
                    "insert into chat_messages (session_id, user_id, content) values ($1, $2, $3) returning id",
                    self.session,
                    user.id,
                    text,
                )
            )
            self.answer = str(
                await self.pg.fetchval(
                    """insert into chat_messages (session_id, user_id, message_type, reply_to, status, model,
                         lease_owner, lease_expires_at, attempts)
                       values ($1, $2, 'assistant', $3, 'streaming', 'qwen-plus', 'test', now() + interval '1 hour', 1)
                       returning id""",
                    self.session,
                    user.id,
                    self.question,
                )
            )

    async def _broadcast(self, event: str, payload: dict[str, Any]) -> None:
        message = {
            "topic": f"chat:{self.session}",
            "event": event,
            "private": True,
            "payload": {"message_id": self.answer, "reply_to": self.question, **payload},
        }
        key = self.stack.service_role_key
        async with httpx.AsyncClient(trust_env=False) as client:
            posted = await client.post(
                f"{self.stack.url}/realtime/v1/api/broadcast",
                json={"messages": [message]},
                headers={"apikey": key, "Authorization": f"Bearer {key}"},
            )
        assert posted.status_code < 300, posted.text

    async def write(self, attempt: int, text: str, delta: str, *, status: str = "streaming") -> None:
        """The row as the worker flushes it, then the chunk that brought `delta` (at the end of `text`)."""
        self.attempt, self.seq = attempt, (self.seq if attempt == self.attempt else 0) + 1
        await self.pg.execute(
            "update chat_messages set attempts = $2, content = $3, status = $4 where id = $1",
            uuid.UUID(self.answer),
            attempt,
            text,
            status,
        )
        chunk = {"attempt": attempt, "seq": self.seq, "offset": len(text) - len(delta), "delta": delta}
        await self._broadcast("chunk", chunk | {"model": "qwen-plus"})

    async def finish(self, attempt: int, text: str) -> None:
        await self.pg.execute(
            "update chat_messages set attempts = $2, content = $3, status = 'completed', lease_owner = null,"
            " lease_expires_at = null where id = $1",
            uuid.UUID(self.answer),
            attempt,
            text,
        )
        await self._broadcast("done", {"attempt": attempt, "seq": self.seq + 1, "status": "completed"})


def decoded(raw: bytes) -> dict[str, Any] | str:
    line = raw.decode().strip().removeprefix("data: ")
    return line if line == "[DONE]" else dict(json.loads(line))


def content_of(pieces: list[dict[str, Any] | str]) -> str:
    return "".join(
        str(choice["delta"].get("content") or "")
        for piece in pieces
        if isinstance(piece, dict)
        for choice in piece.get("choices") or []
    )


async def streaming_relay(
    stack: LocalStack, hub: ReplyHub, database: CallerDatabase, alice: ApiUser, played: PlayedWorker
) -> AsyncIterator[bytes]:
    user = user_from_token(alice.access_token, KeySet(stack.jwt_secret))
    caller = KeyCaller("-", "test", alice.id, alice.access_token, user)
    listening = Listening(hub, caller, played.session)
    listening.start(played.session)
    relay = Relay(
        database=database,
        caller=caller,
        listening=listening,
        question_id=played.question,
        ask=Ask("qwen-plus", "qwen-plus", None, "Tell me a story.", stream=True, include_usage=False),
        wait=20.0,
        poll=0.5,
    )
    topic = f"realtime:chat:{played.session}"

    async def joined() -> bool:
        held = hub._joins.get(topic)
        return held is not None and held.joined.done()

    await until(joined)  # the worker's chunks go out once the relay hears the channel
    return relay.chunks()


async def test_a_retake_that_writes_another_answer_ends_the_stream_in_an_error_not_a_clean_stop(
    *,
    stack: LocalStack,
    hub: ReplyHub,
    database: CallerDatabase,
    http: httpx.AsyncClient,
    alice: ApiUser,
    pg: asyncpg.Connection,
) -> None:
    """The client was sent the first attempt's beginning; the answer stored is the retake's, which
    begins otherwise. The stream ended with a `stop` after the first attempt's words, so the client
    kept half an answer that is stored nowhere, as if complete."""
    played = PlayedWorker(stack, pg, (await new_session(http, alice))["id"])
    await played.ask(alice, "Tell me a story.")
    stream = await streaming_relay(stack, hub, database, alice, played)
    await played.write(1, "Once upon a time", "Once upon a time")
    sent = [decoded(await anext(stream)), decoded(await anext(stream))]  # the role chunk, then the text
    assert content_of(sent) == "Once upon a time"

    await played.write(2, "In a galaxy", "In a galaxy")  # the first worker died; another one retook it
    await played.finish(2, "In a galaxy far away.")
    rest = [decoded(raw) async for raw in stream]

    assert content_of(rest) == ""  # nothing was added to words the stored answer does not have
    assert [p for p in rest if isinstance(p, dict) and any(c["finish_reason"] for c in p.get("choices") or [])] == []
    assert "[DONE]" not in rest
    error = rest[-1]
    assert isinstance(error, dict)
    assert (error["error"]["type"], error["error"]["code"]) == ("server_error", "answer_restarted")


async def test_a_retake_that_writes_the_same_answer_again_streams_on_seamlessly(
    *,
    stack: LocalStack,
    hub: ReplyHub,
    database: CallerDatabase,
    http: httpx.AsyncClient,
    alice: ApiUser,
    pg: asyncpg.Connection,
) -> None:
    """A deterministic model retaken (as the fake's answers are) gives the same text again: the
    client gets the rest of it once, and a clean end."""
    played = PlayedWorker(stack, pg, (await new_session(http, alice))["id"])
    await played.ask(alice, "Tell me a story.")
    stream = await streaming_relay(stack, hub, database, alice, played)
    await played.write(1, "Once upon", "Once upon")
    sent = [decoded(await anext(stream)), decoded(await anext(stream))]
    await played.write(2, "Once", "Once")
    await played.write(2, "Once upon a time", " upon a time")
    await played.finish(2, "Once upon a time.")
    rest = [decoded(raw) async for raw in stream]

    assert content_of(sent + rest) == "Once upon a time."
    assert rest[-1] == "[DONE]"
    finished = [c["finish_reason"] for p in rest if isinstance(p, dict) for c in p.get("choices") or []]
    assert finished[-1] == "stop"
