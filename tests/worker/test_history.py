"""The prompt: the role's system prompt, then as much recent history as fits, oldest dropped first."""

from __future__ import annotations

import zlib

import asyncpg

from tests.conftest import LocalStack
from tests.worker.conftest import Owner, RecordingFakeScope, Workers, ask, final_answer, sample, worker_settings
from worker.claim_prompt import CHECKPOINT_EVERY

PAIRS = 15


async def test_history_beyond_the_budget_is_dropped_oldest_first(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    history: list[tuple[str, str]] = []
    for i in range(PAIRS):
        q = f"Question {i:02d}: please remember the number {i * 7919} and the colour blue for later."
        a = f"Answer {i:02d}: noted, the number {i * 7919} and the colour blue are remembered."
        qid = await ask(pg, owner, q)
        await pg.execute(
            "insert into chat_messages (session_id, user_id, message_type, reply_to, content, status)"
            " values ($1, $2, 'assistant', $3, $4, 'completed')",
            owner.session_id,
            owner.user_id,
            qid,
            a,
        )
        history += [("user", q), ("assistant", a)]
    # A model with a tiny window (a dated snapshot name the fake serves): about a third of the history fits.
    await pg.execute(
        "insert into models (id, display_name, context_window, max_input, max_output)"
        " values ('qwen-turbo-2099-01-01', 'Tiny', 4000, 420, 100)"
    )
    await pg.execute("update chat_sessions set model = 'qwen-turbo-2099-01-01' where id = $1", owner.session_id)
    try:
        await workers.start(worker_settings(stack, fake))
        question = await ask(pg, owner, "What was the first number?")
        row = await final_answer(pg, question)
    finally:
        await pg.execute("update chat_sessions set model = null where id = $1", owner.session_id)
        await pg.execute("delete from models where id = 'qwen-turbo-2099-01-01'")

    assert row["status"] == "completed"
    [sent] = fake.requests
    messages = [(m["role"], m["content"]) for m in sent["input"]["messages"]]
    system_prompt = await pg.fetchval("select system_prompt from ai_roles where slug = 'assistant'")
    assert messages[0] == ("system", system_prompt)
    assert messages[-1] == ("user", "What was the first number?")
    kept = messages[1:-1]
    assert 0 < len(kept) < len(history)
    assert kept == history[len(history) - len(kept) :]  # the newest, in order


async def test_a_chat_longer_than_the_history_limit_resumes_its_history_and_starts_on_checkpoints(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    """Each claim after the first walks only the new part of the path (worker/histories.py), and
    once the path holds more than WORKER_HISTORY_LIMIT messages each prompt's history starts on a
    checkpoint question, so consecutive prompts keep their prefix (the provider's context cache)."""
    worker = await workers.start(worker_settings(stack, fake, history_limit=4))
    asked: dict[str, str] = {}  # question text -> id
    for i in range(8):
        text = f"question {i}"
        asked[text] = await ask(pg, owner, text)
        assert (await final_answer(pg, asked[text]))["status"] == "completed"
    assert sample(worker, "worker_histories_resumed_total") == 7
    for sent in fake.requests[3:]:  # from the fourth question on, the claim's history was cut to 4
        history = sent["input"]["messages"][1:-1]
        checkpoint = [
            m
            for m in history
            if m["role"] == "user" and zlib.crc32(asked[m["content"]].encode()) % CHECKPOINT_EVERY == 0
        ]
        if checkpoint:  # no checkpoint in the window: nothing to start on, all of it is kept
            assert history[0] == checkpoint[0]
