"""Chunks reach the session's owner on the private channel `chat:<session>`, in order, and no one else."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
from realtime import RealtimeSubscribeStates
from supabase import AsyncClient, acreate_client

from tests.conftest import LocalStack, channel_options
from tests.worker.conftest import (
    Owner,
    RecordingFakeScope,
    Workers,
    ask,
    final_answer,
    make_owner,
    until,
    worker_settings,
)


async def join_chat(stack: LocalStack, token: str, session_id: str) -> tuple[AsyncClient, list[Any], str]:
    """Join the session's private channel as the bearer of `token`; returns the events and final state."""
    client = await acreate_client(stack.url, stack.anon_key)
    await client.realtime.set_auth(token)
    events: list[Any] = []
    states: asyncio.Queue[RealtimeSubscribeStates] = asyncio.Queue()
    channel = client.channel(f"chat:{session_id}", channel_options(private=True))
    channel.on_broadcast("chunk", events.append).on_broadcast("done", events.append)
    await channel.subscribe(lambda state, _error: states.put_nowait(state))
    state = await asyncio.wait_for(states.get(), 10)
    return client, events, state.value


async def test_owner_receives_ordered_chunks_that_add_up_to_the_answer(
    stack: LocalStack, pg: asyncpg.Connection, workers: Workers, owner: Owner
) -> None:
    async with RecordingFakeScope(ttft=0.0, tokens_per_s=300.0, tokens_per_event=1, answer_tokens=60) as fake:
        client, events, state = await join_chat(stack, owner.token, owner.session_id)
        assert state == "SUBSCRIBED"
        await workers.start(worker_settings(stack, fake))
        question = await ask(pg, owner)
        row = await final_answer(pg, question)

        async def done() -> bool:
            return any(e["event"] == "done" for e in events)

        await until(done, 10)
        await client.realtime.close()

    chunks = [e["payload"] for e in events if e["event"] == "chunk"]
    [summary] = [e["payload"] for e in events if e["event"] == "done"]
    assert len(chunks) > 1
    assert [c["seq"] for c in chunks] == list(range(1, len(chunks) + 1))
    assert {(c["message_id"], c["reply_to"], c["attempt"]) for c in chunks} == {(str(row["id"]), question, 1)}
    assert "".join(c["delta"] for c in chunks) == row["content"]
    assert summary["status"] == "completed"
    assert summary["seq"] == len(chunks)
    assert summary["length"] == len(row["content"])
    assert summary["tokens_used"] == row["tokens_used"]


async def test_another_user_cannot_join_the_sessions_channel(
    stack: LocalStack, pg: asyncpg.Connection, owner: Owner
) -> None:
    stranger = await make_owner(pg, stack)
    client, _, state = await join_chat(stack, stranger.token, owner.session_id)
    await client.realtime.close()
    assert state == "CHANNEL_ERROR"
