"""The claim, flush and sweep functions straight against PostgreSQL, as service_role.

These pin the database's half of exactly-once: one assistant row per question, a lease that
only its holder can write, retakes after expiry, and that no other role can call them.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg
import pytest

from tests.db.actors import Actor, acting_as, create_user
from worker.database import CLAIM_COLUMNS, claim_row

CLAIM = f"select {CLAIM_COLUMNS} from public.worker_claim($1::uuid[], $2, $3, $4, $5)"
FLUSH = "select * from public.worker_flush($1, $2, $3::jsonb)"


async def claim(conn: asyncpg.Connection, ids: list[str], worker: str, lease: float = 30.0) -> list[dict[str, Any]]:
    await conn.execute("set role service_role")
    try:
        rows = await conn.fetch(CLAIM, ids, worker, lease, 3, 50)
    finally:
        await conn.execute("reset role")
    return [claim_row(r) for r in rows]


async def flush(conn: asyncpg.Connection, worker: str, items: list[dict[str, Any]]) -> dict[str, bool]:
    await conn.execute("set role service_role")
    try:
        rows = await conn.fetch(FLUSH, worker, 30.0, json.dumps(items))
    finally:
        await conn.execute("reset role")
    return {str(r["id"]): r["cancel_requested"] for r in rows}


@pytest.fixture
async def question(db: asyncpg.Connection) -> dict[str, str]:
    user = await create_user(db, "carol")
    session = await db.fetchval("insert into chat_sessions (user_id, title) values ($1, 't') returning id", user)
    first = await db.fetchval(
        "insert into chat_messages (session_id, user_id, content) values ($1, $2, 'earlier question') returning id",
        session,
        user,
    )
    await db.execute(
        "insert into chat_messages (session_id, user_id, message_type, reply_to, content, status)"
        " values ($1, $2, 'assistant', $3, 'earlier answer', 'completed')",
        session,
        user,
        first,
    )
    msg = await db.fetchval(
        "insert into chat_messages (session_id, user_id, content, role_id) values ($1, $2, 'now?', 'tech_expert')"
        " returning id",
        session,
        user,
    )
    return {"user": str(user), "session": str(session), "message": str(msg)}


async def test_claim_creates_one_pending_answer_with_context(db: asyncpg.Connection, question: dict[str, str]) -> None:
    [won] = await claim(db, [question["message"]], "w1")
    assert won["reply_to"] == question["message"]
    assert won["attempts"] == 1
    assert won["question"] == "now?"
    assert won["role"]["slug"] == "tech_expert"
    assert won["history"].contents == ["earlier answer", "earlier question"]
    row = await db.fetchrow("select status, lease_owner, user_id from chat_messages where id = $1", won["id"])
    assert (row["status"], row["lease_owner"], str(row["user_id"])) == ("pending", "w1", question["user"])
    assert await claim(db, [question["message"]], "w2") == []


async def _talk(db: asyncpg.Connection, name: str, turns: list[tuple[str, str, str]]) -> tuple[str, str, str]:
    """A user's session of answered `turns` (question, answer, answer status), then a new question:
    (user, session, the new question)."""
    user = await create_user(db, name)
    session = await db.fetchval("insert into chat_sessions (user_id, title) values ($1, 't') returning id", user)
    for asked, answered, status in turns:
        q = await db.fetchval(
            "insert into chat_messages (session_id, user_id, content) values ($1, $2, $3) returning id",
            session,
            user,
            asked,
        )
        await db.execute(
            "insert into chat_messages (session_id, user_id, message_type, reply_to, content, status, error_code)"
            " values ($1, $2, 'assistant', $3, $4, $5, $6)",
            session,
            user,
            q,
            answered,
            status,
            "ContentFiltered" if status == "error" else None,
        )
    last = await db.fetchval(
        "insert into chat_messages (session_id, user_id, content) values ($1, $2, 'and now?') returning id",
        session,
        user,
    )
    return str(user), str(session), str(last)


async def test_one_round_walks_each_question_on_its_own_path(db: asyncpg.Connection) -> None:
    """A claim round walks all its questions together (migrations/..._claims_walk_together.sql):
    each gets its own session's history, nothing of another user's, a refused question left out,
    and the same history it would get claimed alone."""
    dan = await _talk(db, "dan", [("dan 1", "to dan 1", "completed"), ("dan 2", "blocked", "error")])
    eve = await _talk(db, "eve", [("eve 1", "to eve 1", "completed"), ("eve 2", "to eve 2", "completed")])
    lone = await _talk(db, "fay", [])
    won = {c["reply_to"]: c for c in await claim(db, [dan[2], eve[2], lone[2]], "w1")}
    assert won[dan[2]]["history"].contents == ["to dan 1", "dan 1"]
    assert won[eve[2]]["history"].contents == ["to eve 2", "eve 2", "to eve 1", "eve 1"]
    assert won[lone[2]]["history"].contents == []
    for (user, session, question), context in ((dan, won[dan[2]]), (eve, won[eve[2]])):
        assert (context["user_id"], context["session_id"]) == (user, session)
        owners = await db.fetch(
            "select distinct user_id from chat_messages where id = any($1::uuid[])", context["history"].ids
        )
        assert [str(r["user_id"]) for r in owners] == [user]
        await db.execute("set role service_role")
        try:
            [alone] = await db.fetch(
                f"select {CLAIM_COLUMNS} from public.worker_claim_contexts("
                "array[$1::uuid], array[$2::uuid], '{1}', '{1}', 50, null, null)",
                context["id"],
                question,
            )
        finally:
            await db.execute("reset role")
        assert claim_row(alone)["history"] == context["history"]


async def test_a_question_named_twice_is_claimed_once(db: asyncpg.Connection, question: dict[str, str]) -> None:
    await db.execute("set role service_role")
    try:
        rows = await db.fetch(
            "select * from public.worker_claim($1::uuid[], 'w', 30, 3, 50, $2::uuid[], $3::bigint[])",
            [question["message"], question["message"]],
            [None, question["message"]],
            [None, 0],
        )
    finally:
        await db.execute("reset role")
    assert len(rows) == 1


async def test_concurrent_claims_have_one_winner(db_dsn: str, question: dict[str, str]) -> None:
    conns = [await asyncpg.connect(db_dsn) for _ in range(6)]
    try:
        results = await asyncio.gather(*(claim(c, [question["message"]], f"w{i}") for i, c in enumerate(conns)))
    finally:
        for c in conns:
            await c.close()
    assert sum(len(r) for r in results) == 1


async def test_expired_lease_is_retaken_on_the_same_row(db: asyncpg.Connection, question: dict[str, str]) -> None:
    [first] = await claim(db, [question["message"]], "w1", lease=0.0)
    await flush(db, "w1", [])  # nothing
    [again] = await claim(db, [question["message"]], "w2")
    assert again["id"] == first["id"]
    assert again["attempts"] == 2
    # The old holder can no longer write; the new one can.
    assert await flush(db, "w1", [{"id": first["id"], "kind": "progress", "known": 0, "delta": "x"}]) == {}
    assert await flush(db, "w2", [{"id": first["id"], "kind": "progress", "known": 0, "delta": "y"}]) == {
        first["id"]: False
    }


async def test_flush_appends_idempotently_and_finishes(db: asyncpg.Connection, question: dict[str, str]) -> None:
    [won] = await claim(db, [question["message"]], "w1")
    rid = won["id"]
    await flush(db, "w1", [{"id": rid, "kind": "progress", "known": 0, "delta": "你好"}])
    await flush(db, "w1", [{"id": rid, "kind": "progress", "known": 2, "delta": " world"}])
    await flush(db, "w1", [{"id": rid, "kind": "progress", "known": 2, "delta": " world"}])  # resent
    row = await db.fetchrow("select content, status from chat_messages where id = $1", rid)
    assert (row["content"], row["status"]) == ("你好 world", "streaming")
    done = {
        "id": rid,
        "kind": "finish",
        "status": "completed",
        "content": "你好 world!",
        "model": "qwen-turbo",
        "input_tokens": 12,
        "output_tokens": 4,
        "response_time": 250,
        "finish_reason": "stop",
    }
    assert await flush(db, "w1", [done]) == {rid: False}
    row = await db.fetchrow("select * from chat_messages where id = $1", rid)
    assert row["status"] == "completed"
    assert (row["tokens_used"], row["lease_owner"], row["lease_expires_at"]) == (16, None, None)
    assert await flush(db, "w1", [done]) == {}  # final rows are never written again


async def test_a_finish_sent_again_after_it_committed_is_answered_as_written(
    db: asyncpg.Connection, question: dict[str, str]
) -> None:
    """The connection that carried a finish was lost after it committed: the same finish (its attempt,
    status, text, error, response time) sent again is answered as written, and writes nothing; a row
    a claim ended, or a finish of another attempt, is no such finish."""
    [won] = await claim(db, [question["message"]], "w1")
    rid = won["id"]
    await db.execute("update chat_messages set cancel_requested = true where id = $1", rid)
    done = {"id": rid, "kind": "finish", "attempt": 1, "status": "cancelled", "content": "half", "response_time": 90}
    assert await flush(db, "w1", [done]) == {rid: True}
    written = await db.fetchrow("select * from chat_messages where id = $1", rid)
    assert await flush(db, "w1", [done]) == {rid: True}
    assert await flush(db, "w2", [done]) == {rid: True}  # the attempt names the finish, not the worker
    assert dict(await db.fetchrow("select * from chat_messages where id = $1", rid)) == dict(written)
    for other in ({"attempt": 2}, {"content": "half and more"}, {"status": "completed"}, {"response_time": 91}):
        assert await flush(db, "w1", [{**done, **other}]) == {}

    second = str(
        await db.fetchval(
            "insert into chat_messages (session_id, user_id, content) values ($1, $2, 'and then?') returning id",
            question["session"],
            question["user"],
        )
    )
    [ended] = await claim(db, [second], "w1", lease=0.0)
    await flush(db, "w1", [{"id": ended["id"], "kind": "progress", "known": 0, "delta": "half"}])
    await db.execute(
        "update chat_messages set cancel_requested = true, lease_expires_at = now() where id = $1", ended["id"]
    )
    assert await claim(db, [second], "w2") == []  # the claim ends it, with the same text
    assert await db.fetchval("select status from chat_messages where id = $1", ended["id"]) == "cancelled"
    late = {**done, "id": ended["id"], "content": "half"}
    assert await flush(db, "w1", [late]) == {}


async def test_release_lets_another_worker_retake_at_once(db: asyncpg.Connection, question: dict[str, str]) -> None:
    [won] = await claim(db, [question["message"]], "w1")
    await flush(db, "w1", [{"id": won["id"], "kind": "release"}])
    [again] = await claim(db, [question["message"]], "w2")
    assert again["id"] == won["id"]


async def test_retake_of_a_cancelled_answer_finalises_it(db: asyncpg.Connection, question: dict[str, str]) -> None:
    [won] = await claim(db, [question["message"]], "w1", lease=0.0)
    await db.execute("update chat_messages set cancel_requested = true where id = $1", won["id"])
    assert await claim(db, [question["message"]], "w2") == []
    assert await db.fetchval("select status from chat_messages where id = $1", won["id"]) == "cancelled"


async def test_poison_question_ends_as_error_after_max_attempts(
    db: asyncpg.Connection, question: dict[str, str]
) -> None:
    for _ in range(3):
        assert await claim(db, [question["message"]], "w", lease=0.0)
    assert await claim(db, [question["message"]], "w") == []
    row = await db.fetchrow("select status, error_code from chat_messages where reply_to = $1", question["message"])
    assert (row["status"], row["error_code"]) == ("error", "AttemptsExhausted")


async def test_a_lease_handed_back_at_a_shutdown_is_no_failed_attempt(
    db: asyncpg.Connection, question: dict[str, str]
) -> None:
    """Releases (a worker stopping gracefully mid-answer, a deploy) leave the answer its attempts:
    only claims whose worker died or let its lease lapse count towards the limit (3 here)."""
    for n in range(1, 6):
        [won] = await claim(db, [question["message"]], f"w{n}")
        assert won["attempts"] == n  # each claim is still a new attempt (its chunks are told apart)
        assert await flush(db, f"w{n}", [{"id": won["id"], "kind": "release"}]) == {won["id"]: False}
    for n in range(6, 9):  # three lapsed leases: the limit
        assert await claim(db, [question["message"]], f"w{n}", lease=0.0)
    assert await claim(db, [question["message"]], "w9") == []
    row = await db.fetchrow(
        "select status, error_code, attempts from chat_messages where reply_to = $1", question["message"]
    )
    assert tuple(row) == ("error", "AttemptsExhausted", 8)


async def test_an_answer_its_claim_ends_keeps_the_usage_its_progress_wrote(
    db: asyncpg.Connection, question: dict[str, str]
) -> None:
    """Each progress write carries the usage so far; a retake starts it over with the text, and the
    claim that ends a row out of attempts counts it in tokens_used (what its settlement charges)."""
    usage = {"model": "qwen-plus", "input_tokens": 40, "output_tokens": 9, "reasoning_tokens": 6}
    [first] = await claim(db, [question["message"]], "w1", lease=0.0)
    rid = first["id"]
    progress = {"id": rid, "kind": "progress", "known": 0, "delta": "abc", "rknown": 0, "rdelta": "hmm", **usage}
    await flush(db, "w1", [progress])
    columns = "select model, input_tokens, output_tokens, reasoning_tokens, reasoning, content from chat_messages"
    row = await db.fetchrow(f"{columns} where id = $1", rid)
    assert dict(row) == {**usage, "reasoning": "hmm", "content": "abc"}
    expire = "update chat_messages set lease_expires_at = now() where id = $1"
    await db.execute(expire, rid)  # the writer died
    await claim(db, [question["message"]], "w2", lease=0.0)  # a retake dies before it writes
    row = await db.fetchrow(f"{columns} where id = $1", rid)
    assert (row["content"], row["reasoning"], row["input_tokens"], row["output_tokens"], row["reasoning_tokens"]) == (
        "",
        None,
        None,
        None,
        None,
    )
    await claim(db, [question["message"]], "w3", lease=0.0)
    await flush(db, "w3", [{**progress, "delta": "ab", "output_tokens": 5, "reasoning_tokens": None, "rdelta": "h"}])
    await db.execute(expire, rid)
    assert await claim(db, [question["message"]], "w4") == []  # out of attempts: ended by the claim
    row = await db.fetchrow("select * from chat_messages where id = $1", rid)
    assert (row["status"], row["error_code"], row["content"]) == ("error", "AttemptsExhausted", "ab")
    assert (row["input_tokens"], row["output_tokens"], row["tokens_used"]) == (40, 5, 45)
    assert row["reasoning_tokens"] is None


async def test_sweep_finds_unanswered_and_expired(db: asyncpg.Connection, question: dict[str, str]) -> None:
    sweep = "select array_agg(x) from public.worker_sweep(3600, 100) x"
    await db.execute("set role service_role")
    try:
        assert [str(x) for x in await db.fetchval(sweep)] == [question["message"]]
    finally:
        await db.execute("reset role")
    await claim(db, [question["message"]], "w1", lease=0.0)
    await db.execute("set role service_role")
    try:
        assert [str(x) for x in await db.fetchval(sweep)] == [question["message"]]
    finally:
        await db.execute("reset role")


@pytest.mark.parametrize("role", ["anon", "authenticated"])
async def test_api_roles_cannot_call_worker_functions(db: asyncpg.Connection, role: str) -> None:
    for sql in (
        "select * from public.worker_claim('{}'::uuid[], 'x', 1, 1, 1)",
        "select * from public.worker_claim_contexts('{}', '{}', '{}', '{}', 1, null, null)",
        "select * from public.worker_flush('x', 1, '[]')",
        "select * from public.worker_sweep(1, 1)",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            async with acting_as(db, Actor(role, role)):
                await db.fetch(sql)


@pytest.mark.parametrize("function", ["worker_claim", "worker_claim_contexts"])
async def test_the_claims_run_on_their_generic_plans(db: asyncpg.Connection, function: str) -> None:
    """Both claim functions keep plan_cache_mode = force_generic_plan (20261206200000, 20261203093000):
    at production sizes the plan cache otherwise planned the claim again at every call (~0.34 ms
    each). A later `create or replace function` resets a function's settings, so this pins them."""
    settings = await db.fetchval(
        "select proconfig from pg_proc where oid = to_regproc($1)",
        f"public.{function}",
    )
    assert "plan_cache_mode=force_generic_plan" in (settings or [])
