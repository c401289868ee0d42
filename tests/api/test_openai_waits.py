"""How long a non-streamed /v1 completion waits for its answer: as long as the answer makes progress,
as a stream does, and API_ANSWER_TIMEOUT without any. An API key's client has no other door to
its answer: a 504 for an answer still being written left it stored and charged, out of reach."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import asyncpg
import httpx
import openai
import pytest
from supabase import AsyncClient

from api.compat.completions import Listening, Relay
from api.compat.keys import KeyCaller
from api.compat.request import Ask
from api.database import CallerDatabase
from api.reply_hub import ReplyHub
from api.security import user_from_token
from core.jwt import KeySet
from core.settings import login_as
from fakescope.server import FakeScope
from tests.api.conftest import ApiProcess, ApiUser, create_key, new_session
from tests.api.test_openai_retake import PlayedWorker
from tests.conftest import LocalStack

WAIT = 1.0  # the API's API_ANSWER_TIMEOUT here: the answer below takes several times as long


@pytest.mark.usefixtures("worker")
async def test_an_answer_written_for_longer_than_the_timeout_is_waited_for_while_it_grows(
    spawn_api: Callable[..., ApiProcess], rest: AsyncClient, alice: ApiUser, fake: FakeScope, pg: asyncpg.Connection
) -> None:
    patient = spawn_api(API_ANSWER_TIMEOUT=str(WAIT))
    key = await create_key(rest, "long")
    slow = {"ttft": 0.0, "tokens_per_s": 24.0, "tokens_per_event": 2, "answer_tokens": 90}  # ~3.75 s of chunks
    async with httpx.AsyncClient(trust_env=False) as admin:
        (await admin.post(f"{fake.base_url}/_fake/faults", json={"next": [slow]})).raise_for_status()
    client = openai.AsyncOpenAI(base_url=f"{patient.url}/v1", api_key=key["key"], max_retries=0)
    started = time.monotonic()
    async with client:
        done = await client.chat.completions.create(
            model="qwen-turbo", messages=[{"role": "user", "content": "A long essay, please."}]
        )
    took = time.monotonic() - started
    stored = await pg.fetchrow(
        "select a.content, a.status from chat_messages a join chat_messages q on q.id = a.reply_to"
        " where q.user_id = $1 and q.content = 'A long essay, please.'",
        alice.id,
    )
    assert took > 2 * WAIT, "the answer came within the timeout; the test proves nothing"
    assert stored["status"] == "completed"
    assert done.choices[0].message.content == stored["content"]
    assert done.choices[0].finish_reason == "stop"


async def test_without_a_channel_the_answers_row_growing_keeps_the_wait_alive(
    *, stack: LocalStack, http: httpx.AsyncClient, alice: ApiUser, pg: asyncpg.Connection
) -> None:
    """No Realtime channel could be joined: the row, polled, is the only news, and its text growing
    says the answer is alive (streamed or not; both gave up after `wait` seconds from the start)."""
    database = CallerDatabase(login_as(stack.dsn, "authenticator"), 2)
    await database.start()
    nowhere = ReplyHub("http://127.0.0.1:9/realtime/v1", stack.anon_key, 1.0)  # no Realtime there
    user = user_from_token(alice.access_token, KeySet(stack.jwt_secret))
    caller = KeyCaller("-", "test", alice.id, alice.access_token, user)
    played = PlayedWorker(stack, pg, (await new_session(http, alice))["id"])
    await played.ask(alice, "A long essay, please.")

    def relay(stream: bool) -> Relay:
        ask = Ask("qwen-plus", "qwen-plus", None, "A long essay, please.", stream=stream, include_usage=False)
        listening = Listening(nowhere, caller, played.session)
        listening.start(played.session)
        return Relay(
            database=database,
            caller=caller,
            listening=listening,
            question_id=played.question,
            ask=ask,
            wait=2.0,
            poll=0.1,
        )

    async def streamed() -> list[bytes]:
        return [piece async for piece in relay(stream=True).chunks()]

    # The worker's pace: a flush every 0.4 s for 6 s, three times the wait; the wait is five flushes
    # long, so a loaded machine's late wake-up (the test's writes share the loop with the waits)
    # does not read as an answer gone quiet.
    async def written() -> None:
        text = ""
        for word in range(15):
            text += f"word{word} "
            await played.write(1, text, f"word{word} ")
            await asyncio.sleep(0.4)
        await played.finish(1, text)

    try:
        plain, chunks, _ = await asyncio.gather(relay(stream=False).final_answer(), streamed(), written())
    finally:
        await database.close()
        await nowhere.close()
    assert plain is not None, "the non-streamed wait gave up while the answer grew"
    assert (plain["status"], plain["content"]) == ("completed", "".join(f"word{w} " for w in range(15)))
    assert chunks[-1] == b"data: [DONE]\n\n", chunks[-1]
