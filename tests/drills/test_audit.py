"""The drills' audit catches what it exists to catch: a lost, duplicated, refused-but-stored or
unfinished question, an empty completed answer, an error without a stable code, and an answer left
uncharged or charged nothing for what it streamed."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from drills.audit import audit
from drills.common import ANSWER_CODES
from drills.load import Ledger, Send, question_text


@pytest.fixture
async def pool(db_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    created = await asyncpg.create_pool(db_dsn, min_size=0, max_size=2)
    try:
        yield created
    finally:
        await created.close()


async def _session(pool: asyncpg.Pool) -> tuple[str, str]:
    user_id = str(uuid.uuid4())
    await pool.execute(
        "insert into auth.users (id, aud, role, email, raw_user_meta_data) values"
        " ($1, 'authenticated', 'authenticated', $2, $3::jsonb)",
        user_id,
        f"audit-{user_id[:8]}@example.com",
        f'{{"username": "audit_{user_id[:8]}"}}',
    )
    session_id = await pool.fetchval("insert into chat_sessions (user_id) values ($1) returning id", user_id)
    return user_id, str(session_id)


async def _ask(pool: asyncpg.Pool, who: tuple[str, str], send: Send) -> str:
    user_id, session_id = who
    return str(
        await pool.fetchval(
            "insert into chat_messages (session_id, user_id, content) values ($1, $2, $3) returning id",
            session_id,
            user_id,
            question_text(send.nonce, 1),
        )
    )


async def _answer(
    pool: asyncpg.Pool, who: tuple[str, str], question: str, *, status: str, content: str = "", code: str | None = None
) -> None:
    user_id, session_id = who
    await pool.execute(
        """insert into chat_messages (session_id, user_id, message_type, content, status, reply_to,
                                      error_code, error_message)
           values ($1, $2, 'assistant', $3, $4, $5, $6, case when $6::text is null then null else 'failed' end)""",
        session_id,
        user_id,
        content,
        status,
        question,
        code,
    )


async def _charge(pool: asyncpg.Pool, who: tuple[str, str], question: str, charged: int | None) -> None:
    """The question's reservation: open (None), or settled at `charged`."""
    await pool.execute(
        """insert into usage_ledger (user_id, message_id, session_id, reserved, charged, state, day, month)
           values ($1, $2, $3, 100, $4, case when $4::bigint is null then 'reserved' else 'settled' end,
                   current_date, date_trunc('month', current_date))""",
        who[0],
        question,
        who[1],
        charged,
    )


def _send(outcome: str) -> Send:
    return Send(uuid.uuid4().hex[:16], "rest", outcome=outcome)


async def test_a_clean_run_passes(pool: asyncpg.Pool) -> None:
    who = await _session(pool)
    ledger = Ledger()
    for status, content, code in (("completed", "hello", None), ("error", "", "RateLimited"), ("cancelled", "", None)):
        send = _send("acked")
        send.message_id = await _ask(pool, who, send)
        ledger.sends.append(send)
        await _answer(pool, who, send.message_id, status=status, content=content, code=code)
        await _charge(pool, who, send.message_id, 7 if content else 0)  # nothing streamed: free
    ledger.sends.append(_send("refused"))  # refused and, rightly, not stored

    result = await audit(pool, ledger, drain_within=0.2, known_codes=ANSWER_CODES)

    assert result.ok, result.figures()
    assert result.questions == 3
    assert dict(result.answers) == {"completed": 1, "error": 1, "cancelled": 1}


async def test_every_kind_of_damage_is_flagged(pool: asyncpg.Pool) -> None:
    who = await _session(pool)
    ledger = Ledger()

    lost = _send("acked")
    lost.message_id = str(uuid.uuid4())  # acknowledged, never stored
    duplicated = _send("acked")
    duplicated.message_id = await _ask(pool, who, duplicated)
    await _answer(pool, who, duplicated.message_id, status="completed", content="hi")
    await _answer(pool, who, await _ask(pool, who, duplicated), status="completed", content="hi")
    refused = _send("refused")
    await _answer(pool, who, await _ask(pool, who, refused), status="completed", content="hi")
    unanswered = _send("acked")
    unanswered.message_id = await _ask(pool, who, unanswered)
    stuck = _send("acked")
    stuck.message_id = await _ask(pool, who, stuck)
    await _answer(pool, who, stuck.message_id, status="streaming", content="half")
    empty = _send("acked")
    empty.message_id = await _ask(pool, who, empty)
    await _answer(pool, who, empty.message_id, status="completed")
    uncoded = _send("acked")
    uncoded.message_id = await _ask(pool, who, uncoded)
    await _answer(pool, who, uncoded.message_id, status="error", code="SomethingNew")
    ghost = _send("ambiguous")  # no response, but stored: counted, and it must be answered like any other
    await _answer(pool, who, await _ask(pool, who, ghost), status="completed", content="hi")
    open_charge = _send("acked")
    open_charge.message_id = await _ask(pool, who, open_charge)
    await _answer(pool, who, open_charge.message_id, status="completed", content="hi")
    await _charge(pool, who, open_charge.message_id, None)
    free = _send("acked")
    free.message_id = await _ask(pool, who, free)
    await _answer(pool, who, free.message_id, status="cancelled", content="half an answer")
    await _charge(pool, who, free.message_id, 0)
    ledger.sends += [lost, duplicated, refused, unanswered, stuck, empty, uncoded, ghost, open_charge, free]

    result = await audit(pool, ledger, drain_within=0.2, known_codes=ANSWER_CODES)

    assert not result.ok
    assert dict(result.problems) == {
        "lost": 1,
        "duplicated": 1,
        "stored_refused": 1,
        "unanswered": 2,
        "empty_completed": 1,
        "error_without_code": 1,
        "unsettled": 1,
        "unbilled": 1,
    }
    assert dict(result.stored_after_failure) == {"rest:no response": 1}
