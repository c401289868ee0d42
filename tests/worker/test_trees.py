"""Conversation trees with a real worker, driven the way the web app drives them (supabase-py as
the signed-in user): an edit is answered from its own path only, regenerations keep every answer,
and no click, race or crash adds an answer nobody asked for."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
from supabase import AsyncClient, acreate_client

from tests.conftest import LocalStack
from tests.worker.conftest import Owner, RecordingFakeScope, Workers, ask, until, worker_settings


async def as_user(stack: LocalStack, owner: Owner) -> AsyncClient:
    client = await acreate_client(stack.url, stack.anon_key)
    client.postgrest.auth(owner.token)
    return client


async def final(pg: asyncpg.Connection, answer_id: str, within: float = 20.0) -> asyncpg.Record:
    async def probe() -> asyncpg.Record | None:
        row = await pg.fetchrow("select * from chat_messages where id = $1::uuid", answer_id)
        return row if row is not None and row["status"] in ("completed", "error", "cancelled") else None

    return await until(probe, within)


async def answer_of(pg: asyncpg.Connection, question: str, number: int = 1, within: float = 20.0) -> asyncpg.Record:
    async def probe() -> asyncpg.Record | None:
        row = await pg.fetchrow(
            "select * from chat_messages where reply_to = $1::uuid and answer_no = $2", question, number
        )
        return row if row is not None and row["status"] in ("completed", "error", "cancelled") else None

    return await until(probe, within)


async def rpc(client: AsyncClient, name: str, **params: Any) -> Any:
    """An RPC as the web app calls it; its JSON result."""
    return (await client.rpc(name, params).execute()).data


def sent(request: dict[str, Any]) -> list[tuple[str, str]]:
    return [(m["role"], m["content"]) for m in request["input"]["messages"]][1:]  # without the system prompt


async def test_an_edit_is_answered_from_its_own_path_only(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    await workers.start(worker_settings(stack, fake))
    client = await as_user(stack, owner)
    q1 = await ask(pg, owner, "Name a colour.")
    a1 = await answer_of(pg, q1)
    q2 = await ask(pg, owner, "Name a fruit.")
    a2 = await answer_of(pg, q2)

    edited: Any = (
        await client.table("chat_messages")
        .insert({"session_id": owner.session_id, "content": "Name a vegetable.", "parent_id": str(a1["id"])})
        .execute()
    )
    edit_id = edited.data[0]["id"]
    await answer_of(pg, edit_id)

    assert sent(fake.requests[-1]) == [
        ("user", "Name a colour."),
        ("assistant", a1["content"]),
        ("user", "Name a vegetable."),
    ]
    # The old branch is intact and one flip away.
    forks = await rpc(client, "chat_forks", session_id=owner.session_id)
    assert [(f["message_id"], f["siblings"]) for f in forks] == [(edit_id, [q2, edit_id])]
    await client.table("chat_sessions").update({"current_leaf_id": q2}).eq("id", owner.session_id).execute()
    path = await rpc(client, "chat_path", session_id=owner.session_id)
    assert [m["id"] for m in path] == [q1, str(a1["id"]), q2, str(a2["id"])]
    # A follow-up now continues the branch shown, and the model sees that branch.
    q3 = await ask(pg, owner, "And a drink?")
    await answer_of(pg, q3)
    assert [c for _, c in sent(fake.requests[-1])] == [
        "Name a colour.",
        a1["content"],
        "Name a fruit.",
        a2["content"],
        "And a drink?",
    ]


async def test_three_regenerations_keep_every_answer_and_the_choice_survives_a_reload(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    await workers.start(worker_settings(stack, fake))
    client = await as_user(stack, owner)
    question = await ask(pg, owner, "Tell me a joke.")
    answers = [str((await answer_of(pg, question))["id"])]
    for number in (2, 3, 4):
        row = await rpc(client, "request_answer", question=question, answer_no=number)
        answers.append(str((await final(pg, row["id"]))["id"]))

    rows = await pg.fetch(
        "select answer_no, status from chat_messages where reply_to = $1 order by answer_no", question
    )
    assert [(r["answer_no"], r["status"]) for r in rows] == [(n, "completed") for n in (1, 2, 3, 4)]
    assert len(fake.requests) == 4
    assert all(sent(r) == [("user", "Tell me a joke.")] for r in fake.requests)

    await client.table("chat_sessions").update({"current_leaf_id": answers[1]}).eq("id", owner.session_id).execute()
    reloaded = await as_user(stack, owner)  # a fresh client, as after a page reload
    path = await rpc(reloaded, "chat_path", session_id=owner.session_id)
    forks = await rpc(reloaded, "chat_forks", session_id=owner.session_id)
    assert [m["id"] for m in path] == [question, answers[1]]
    assert forks == [{"message_id": answers[1], "siblings": answers}]  # shown as ‹ 2 / 4 ›


async def test_racing_regenerate_requests_make_one_answer(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    await workers.start(worker_settings(stack, fake))
    await workers.start(worker_settings(stack, fake))
    question = await ask(pg, owner, "Pick a number.")
    await answer_of(pg, question)
    clients = [await as_user(stack, owner) for _ in range(6)]

    rows = await asyncio.gather(*(rpc(c, "request_answer", question=question, answer_no=2) for c in clients))

    assert len({r["id"] for r in rows}) == 1
    await answer_of(pg, question, 2)
    assert await pg.fetchval("select count(*) from chat_messages where reply_to = $1::uuid", question) == 2
    assert len(fake.requests) == 2
    again = await rpc(clients[0], "request_answer", question=question, answer_no=2)
    assert again["id"] == rows[0]["id"]  # asking again for the same number changes nothing


async def test_a_worker_killed_mid_regeneration_is_finished_once(
    stack: LocalStack, pg: asyncpg.Connection, workers: Workers, owner: Owner, spawn_worker: Any
) -> None:
    async with RecordingFakeScope(ttft=0.0, tokens_per_s=40.0, tokens_per_event=2, answer_tokens=120) as slow:
        # Only the regeneration must be in flight when its worker is killed: the first answer and the
        # retake are sent unpaced.
        await slow.script({"tokens_per_s": 0.0})
        first = await workers.start(worker_settings(stack, slow))
        question = await ask(pg, owner, "Tell me a long story.")
        await answer_of(pg, question, within=30)
        await workers.stop_all()
        del first
        doomed = spawn_worker(slow)
        client = await as_user(stack, owner)
        requested = await rpc(client, "request_answer", question=question, answer_no=2)

        async def streaming() -> asyncpg.Record | None:
            row = await pg.fetchrow("select * from chat_messages where id = $1::uuid", requested["id"])
            return row if row is not None and row["lease_owner"] == doomed.worker_id and row["content"] else None

        await until(streaming, 20)
        doomed.kill()
        await slow.script({"tokens_per_s": 0.0})
        await workers.start(worker_settings(stack, slow))
        row = await final(pg, requested["id"], within=30)

    assert (row["status"], row["attempts"], row["answer_no"]) == ("completed", 2, 2)
    assert await pg.fetchval("select count(*) from chat_messages where reply_to = $1::uuid", question) == 2
