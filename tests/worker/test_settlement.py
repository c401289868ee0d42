"""What an answer that ends early is charged: the tokens the model spent on what was streamed,
the thinking included, whoever ends it (the user's stop, an error, a worker that died)."""

from __future__ import annotations

from typing import Any

import asyncpg
from supabase import acreate_client

from fakescope import tokens
from fakescope.features import SEARCH_RESULT_TOKENS
from tests.conftest import LocalStack
from tests.worker.conftest import (
    Owner,
    RecordingFakeScope,
    Workers,
    final_answer,
    until,
    worker_settings,
)


async def ask_as(
    stack: LocalStack,
    owner: Owner,
    content: str,
    *,
    web_search: bool = False,
    attachments: list[dict[str, object]] | None = None,
) -> str:
    """A question sent by its user through REST, so it is admitted and its reservation opened."""
    user = await acreate_client(stack.url, stack.anon_key)
    user.postgrest.auth(owner.token)
    question = {"session_id": owner.session_id, "user_id": owner.user_id, "content": content}
    if attachments:
        question["attachments"] = attachments  # type: ignore[assignment]
    sent = (await user.table("chat_messages").insert({**question, "web_search": web_search}).execute()).data
    assert isinstance(sent[0], dict)
    return str(sent[0]["id"])


async def killed_mid_answer(
    stack: LocalStack, pg: asyncpg.Connection, owner: Owner, doomed: Any, content: str, *, web_search: bool = False
) -> str:
    """A question sent by its user, whose answer `doomed` (a worker process) is killed while it streams
    (over 40 characters written): the question's id."""
    question = await ask_as(stack, owner, content, web_search=web_search)

    async def streaming() -> bool:
        row = await pg.fetchrow("select * from chat_messages where reply_to = $1", question)
        return row is not None and row["lease_owner"] == doomed.worker_id and len(row["content"]) > 40

    await until(streaming, 20)
    doomed.kill()
    return question


async def stopped_after_its_worker_died(
    stack: LocalStack,
    pg: asyncpg.Connection,
    owner: Owner,
    spawn_worker: object,
    content: str,
    *,
    web_search: bool = False,
) -> tuple[str, asyncpg.Record]:
    """A question answered by a worker killed mid-stream; once its lease ran out (no worker runs),
    the user stops it: the question and its answer's row as the stop left it."""
    async with RecordingFakeScope(ttft=0.0, tokens_per_s=40.0, tokens_per_event=2, answer_tokens=400) as slow:
        question = await killed_mid_answer(stack, pg, owner, spawn_worker(slow), content, web_search=web_search)  # type: ignore[operator]

        async def expired() -> bool:
            return bool(
                await pg.fetchval("select lease_expires_at <= now() from chat_messages where reply_to = $1", question)
            )

        await until(expired, 10)
        await stop(stack, owner, question)
        row = await pg.fetchrow("select * from chat_messages where reply_to = $1", question)
    assert row is not None
    return question, row


async def stop(stack: LocalStack, owner: Owner, question: str) -> None:
    user = await acreate_client(stack.url, stack.anon_key)
    user.postgrest.auth(owner.token)
    await user.rpc("chat_stop", {"session": owner.session_id, "message": question}).execute()


async def charge_of(pg: asyncpg.Connection, question: str) -> asyncpg.Record:
    async def settled() -> asyncpg.Record | None:
        row = await pg.fetchrow("select * from usage_ledger where message_id = $1", question)
        return row if row is not None and row["state"] != "reserved" else None

    return await until(settled, 10)


async def weighed(pg: asyncpg.Connection, row: asyncpg.Record) -> int:
    return int(
        await pg.fetchval(
            "select usage_charge($1, $2, $3, $4, $5, $6)",
            row["model"],
            row["input_tokens"],
            row["output_tokens"],
            row["reasoning_tokens"],
            row["image_tokens"],
            row["search_calls"],
        )
    )


async def test_an_answer_stopped_while_the_model_thinks_is_charged_its_thinking(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    await pg.execute("update chat_sessions set model = 'qwen-plus', thinking = true where id = $1", owner.session_id)
    await fake.script({"tokens_per_s": 40.0, "tokens_per_event": 1, "reasoning_tokens": 400})  # ~10 s of thinking
    await workers.start(worker_settings(stack, fake))
    question = await ask_as(stack, owner, "Think hard: why is the sky blue?")

    async def thinking() -> bool:
        reasoning = await pg.fetchval("select reasoning from chat_messages where reply_to = $1", question)
        return bool(reasoning) and len(reasoning) > 20

    await until(thinking, 10)
    await stop(stack, owner, question)
    row = await final_answer(pg, question, within=10)

    assert (row["status"], row["content"]) == ("cancelled", "")
    assert row["reasoning"]
    assert row["reasoning_tokens"] == tokens.count(row["reasoning"])
    assert row["output_tokens"] == row["reasoning_tokens"]
    assert row["input_tokens"] > 0
    assert row["tokens_used"] == row["input_tokens"] + row["output_tokens"]
    charge = await charge_of(pg, question)
    assert charge["state"] == "settled"
    assert (charge["output_tokens"], charge["reasoning_tokens"]) == (row["output_tokens"], row["reasoning_tokens"])
    assert charge["charged"] == await weighed(pg, row)


async def test_an_answer_stopped_after_its_worker_died_is_charged_what_was_streamed(
    stack: LocalStack, pg: asyncpg.Connection, workers: Workers, owner: Owner, spawn_worker: object
) -> None:
    """The worker dies mid-answer, the user stops it, and the next worker's claim ends it as
    `cancelled` with the text it had: charged as a stop the live worker had heard would be (the
    prompt's tokens, the text's), not for nothing."""
    async with RecordingFakeScope(ttft=0.0, tokens_per_s=40.0, tokens_per_event=2, answer_tokens=400) as slow:
        question = await killed_mid_answer(stack, pg, owner, spawn_worker(slow), "tell me a long story")  # type: ignore[operator]
        await stop(stack, owner, question)
        await workers.start(worker_settings(stack, slow))
        row = await final_answer(pg, question, within=20)

    assert (row["status"], row["attempts"]) == ("cancelled", 1)
    assert slow.stats.calls == 1  # ended by the claim: the model is not asked again
    assert row["content"]
    assert row["model"]
    assert row["input_tokens"] > 0
    assert abs(row["output_tokens"] - tokens.count(row["content"])) <= 2  # counted delta by delta
    assert row["tokens_used"] == row["input_tokens"] + row["output_tokens"]
    charge = await charge_of(pg, question)
    assert charge["state"] == "settled"
    assert (charge["input_tokens"], charge["output_tokens"]) == (row["input_tokens"], row["output_tokens"])
    assert charge["charged"] == await weighed(pg, row) > 0


async def test_a_stop_after_the_worker_died_and_its_lease_ran_out_ends_the_answer_at_once(
    stack: LocalStack, pg: asyncpg.Connection, owner: Owner, spawn_worker: object
) -> None:
    """No worker runs when the user stops an answer whose worker died: the stop itself ends it (its
    lease had expired, as any claim would), charged what was streamed, instead of leaving it
    `streaming` until some worker's sweep claims it."""
    question, row = await stopped_after_its_worker_died(stack, pg, owner, spawn_worker, "tell me a long story")

    assert (row["status"], row["attempts"], row["lease_owner"]) == ("cancelled", 1, None)
    assert row["content"]
    assert row["input_tokens"] > 0
    assert abs(row["output_tokens"] - tokens.count(row["content"])) <= 2
    assert row["tokens_used"] == row["input_tokens"] + row["output_tokens"]
    charge = await pg.fetchrow("select * from usage_ledger where message_id = $1", question)
    assert charge["state"] == "settled"
    assert charge["charged"] == await weighed(pg, row) > 0


async def test_a_question_the_model_refused_or_never_answered_is_not_charged(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    """DashScope bills no refused request (input moderation, a bad key, throttling to the last
    retry): the user, who got no answer, is charged nothing either, and the row shows no usage."""
    await workers.start(worker_settings(stack, fake))
    await fake.script({"fault": "input_moderation"})
    moderated = await final_answer(pg, await ask_as(stack, owner, "something the moderation refuses"))
    await fake.script(*[{"fault": "throttling"}] * 4)  # WORKER_RETRY_ATTEMPTS calls, all throttled
    throttled = await final_answer(pg, await ask_as(stack, owner, "and this one?"))

    assert (moderated["status"], moderated["error_code"]) == ("error", "ContentFiltered")
    assert (throttled["status"], throttled["error_code"]) == ("error", "RateLimited")
    for row in (moderated, throttled):
        assert (row["content"], row["input_tokens"], row["output_tokens"], row["tokens_used"]) == ("", None, None, 0)
        charge = await charge_of(pg, row["reply_to"])
        assert (charge["state"], charge["charged"]) == ("settled", 0)
    # an answer the model did give is charged as before
    fine = await final_answer(pg, await ask_as(stack, owner, "a fine question"))
    assert (await charge_of(pg, fine["reply_to"]))["charged"] == await weighed(pg, fine) > 0


async def test_an_answer_stopped_right_after_another_worker_took_it_over_keeps_what_was_streamed(
    stack: LocalStack, pg: asyncpg.Connection, workers: Workers, owner: Owner, spawn_worker: object
) -> None:
    """The worker dies mid-answer, another worker takes the answer over, and the user stops it before
    the new attempt's first token (the model is slow to start): the answer ends `cancelled` with the
    dead worker's text, which the user had read, charged as it was streamed, not empty and free."""
    async with (
        RecordingFakeScope(ttft=0.0, tokens_per_s=40.0, tokens_per_event=2, answer_tokens=400) as slow,
        RecordingFakeScope(ttft=30.0) as late,
    ):
        question = await killed_mid_answer(stack, pg, owner, spawn_worker(slow), "tell me a long story")  # type: ignore[operator]
        seen = await pg.fetchval("select content from chat_messages where reply_to = $1", question)
        heir = await workers.start(worker_settings(stack, late))

        async def taken_over() -> bool:
            row = await pg.fetchrow("select * from chat_messages where reply_to = $1", question)
            return row["attempts"] == 2 and row["lease_owner"] == heir.worker_id and late.stats.calls == 1

        await until(taken_over, 20)
        await stop(stack, owner, question)
        row = await final_answer(pg, question, within=10)

    assert (row["status"], row["attempts"], row["content"]) == ("cancelled", 2, seen)
    assert row["input_tokens"] > 0
    assert abs(row["output_tokens"] - tokens.count(row["content"])) <= 2
    assert row["tokens_used"] == row["input_tokens"] + row["output_tokens"]
    charge = await charge_of(pg, question)
    assert (charge["input_tokens"], charge["output_tokens"]) == (row["input_tokens"], row["output_tokens"])
    assert charge["charged"] == await weighed(pg, row) > 0


async def test_an_answer_stopped_after_its_web_search_is_charged_the_search(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    """The search ran (its results came first, and the answer keeps them as its sources): a stop
    mid-answer charges it with the text streamed, as the finished answer is charged it."""
    await fake.script({"tokens_per_s": 40.0, "tokens_per_event": 1, "answer_tokens": 400})
    await workers.start(worker_settings(stack, fake))
    question = await ask_as(stack, owner, "latest PostgreSQL release?", web_search=True)

    async def streaming() -> bool:
        return len(await pg.fetchval("select content from chat_messages where reply_to = $1", question) or "") > 10

    await until(streaming, 10)
    await stop(stack, owner, question)
    row = await final_answer(pg, question, within=10)

    assert row["status"] == "cancelled"
    assert row["sources"]
    assert row["search_calls"] == 1
    # the prompt as the model counted it, the results it read included (DashScope's text stream says
    # its count with every event, as the multimodal one does): until 12-05, the worker's own count of
    # the prompt without them
    assert row["input_tokens"] == fake.stats.input_tokens + SEARCH_RESULT_TOKENS
    charge = await charge_of(pg, question)
    assert charge["search_calls"] == 1
    assert charge["charged"] == await weighed(pg, row)


async def test_an_answer_stopped_after_its_worker_died_is_charged_its_search(
    stack: LocalStack, pg: asyncpg.Connection, owner: Owner, spawn_worker: object
) -> None:
    """The worker searched, streamed and died: the stop that ends the answer charges the search
    with the text, from what the worker's progress writes said."""
    question, row = await stopped_after_its_worker_died(
        stack, pg, owner, spawn_worker, "latest PostgreSQL release?", web_search=True
    )

    assert (row["status"], row["search_calls"]) == ("cancelled", 1)
    charge = await charge_of(pg, question)
    assert charge["search_calls"] == 1
    assert charge["charged"] == await weighed(pg, row)
