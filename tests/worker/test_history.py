"""The prompt: the role's system prompt, then as much recent history as fits, oldest dropped first."""

from __future__ import annotations

import asyncpg

from core.settings import LlmSettings, ModelLimits
from tests.conftest import LocalStack
from tests.worker.conftest import Owner, RecordingFakeScope, Workers, ask, final_answer, worker_settings

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
    # A tiny model window: about a third of the history fits.
    small = LlmSettings(
        api_key="sk-test",
        dashscope_base_url=fake.native_url,
        model_limits={"qwen-turbo": ModelLimits(context=4000, max_input=420, max_output=100)},
    )
    await workers.start(worker_settings(stack, fake, llm=small))
    question = await ask(pg, owner, "What was the first number?")

    row = await final_answer(pg, question)

    assert row["status"] == "completed"
    [sent] = fake.requests
    messages = [(m["role"], m["content"]) for m in sent["input"]["messages"]]
    system_prompt = await pg.fetchval("select system_prompt from ai_roles where slug = 'assistant'")
    assert messages[0] == ("system", system_prompt)
    assert messages[-1] == ("user", "What was the first number?")
    kept = messages[1:-1]
    assert 0 < len(kept) < len(history)
    assert kept == history[len(history) - len(kept) :]  # the newest, in order
