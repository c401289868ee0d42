"""The worker's own door to Postgres (worker/database.py): it acts as service_role and nothing
else, refuses to start on a login that cannot become service_role, and opens its connections ready."""

from __future__ import annotations

import asyncpg
import pytest

from core.settings import login_as
from tests.conftest import LocalStack
from tests.worker.conftest import Owner, ask
from worker.database import Flushed, WorkerDatabase


async def test_the_worker_connection_acts_as_service_role_and_claims(
    stack: LocalStack, pg: asyncpg.Connection, owner: Owner
) -> None:
    db = WorkerDatabase(login_as(stack.dsn, "authenticator"), 2)
    await db.start()
    try:
        question = await ask(pg, owner, "who am I talking to?")
        claims = await db.claim([question], "test-worker", 30.0, 3, 10, tips=[None], epochs=[None])
        assert [c["reply_to"] for c in claims] == [question]
        assert (
            await db.claim([question], "other-worker", 30.0, 3, 10, tips=[None], epochs=[None]) == []
        )  # held: claimed once
        held = await db.flush(
            "test-worker", 30.0, [{"id": claims[0]["id"], "kind": "progress", "known": 0, "delta": "hi"}]
        )
        assert held == {claims[0]["id"]: Flushed(cancel_requested=False)}
    finally:
        await db.close()
    try:
        row = await pg.fetchrow("select content, lease_owner from chat_messages where id = $1", claims[0]["id"])
        assert (row["content"], row["lease_owner"]) == ("hi", "test-worker")
    finally:
        # Nothing left claimed: once its lease ran out, whichever later test's worker swept then would
        # take it over and call that test's fake model once more than the test counts.
        await pg.execute("delete from chat_sessions where id = $1", owner.session_id)


async def test_every_connection_is_open_and_ready_before_the_first_turn(
    stack: LocalStack, pg: asyncpg.Connection
) -> None:
    """All of the pool is opened at start, and each connection has run the claim and the flush once
    (with nothing to do) before any turn uses it: its last statement is the flush, and it is idle."""

    async def backends() -> dict[int, tuple[str, str, str]]:
        rows = await pg.fetch(
            "select pid, usename::text, state, query from pg_stat_activity"
            " where application_name = 'chatgalaxy-worker' and backend_type = 'client backend'"
        )
        return {row["pid"]: (row["usename"], row["state"], row["query"]) for row in rows}

    before = await backends()
    db = WorkerDatabase(login_as(stack.dsn, "authenticator"), 3)
    await db.start()
    try:
        opened = {pid: backend for pid, backend in (await backends()).items() if pid not in before}
        assert len(opened) == 3
        for login, state, query in opened.values():
            assert login == "authenticator"
            assert state == "idle"
            assert "public.worker_flush(" in query
    finally:
        await db.close()


async def test_a_login_that_cannot_become_service_role_is_refused(stack: LocalStack) -> None:
    db = WorkerDatabase(login_as(stack.dsn, "supabase_auth_admin"), 1)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await db.start()
