"""Admission and settlement in the database: concurrent sends never overspend, a refusal stores
nothing, every final answer settles its reservation exactly once with weighted usage."""

from __future__ import annotations

import asyncio
import json

import asyncpg
import pytest

from tests.db.actors import Actor, acting_as, create_user
from tests.db.refusals import refusal

QUESTION = "how many?"


async def send_as(conn: asyncpg.Connection, user: str, session: str, content: str = QUESTION, **cols: object) -> str:
    """Insert a question as the user, as PostgREST does (own transaction, role + claims)."""
    async with conn.transaction():
        await conn.execute(
            "select set_config('request.jwt.claims', $1, true)", Actor("u", "authenticated", user).claims
        )
        await conn.execute("set local role authenticated")
        names = ", ".join(["session_id", "content", *cols])
        params = ", ".join(f"${i}" for i in range(1, len(cols) + 3))
        return str(
            await conn.fetchval(
                f"insert into chat_messages ({names}) values ({params}) returning id", session, content, *cols.values()
            )
        )


async def reservation(db: asyncpg.Connection, model: str | None = None, content: str = QUESTION) -> int:
    return int(await db.fetchval("select usage_reservation($1, $2)", model, content))


@pytest.fixture
async def alice(db: asyncpg.Connection) -> tuple[str, str]:
    user = await create_user(db, "alice")
    session = str(await db.fetchval("insert into chat_sessions (user_id) values ($1) returning id", user))
    return user, session


async def test_fifty_concurrent_sends_against_ten_admit_exactly_ten(
    db: asyncpg.Connection, db_dsn: str, alice: tuple[str, str]
) -> None:
    user, session = alice
    per = await reservation(db)
    await db.execute("insert into plans (id, name, tokens_per_day) values ('ten', 'Ten', $1)", per * 10)
    await db.execute("update user_plans set plan_id = 'ten' where user_id = $1", user)
    pool = await asyncpg.create_pool(db_dsn, min_size=10, max_size=10)
    try:

        async def one() -> str | BaseException:
            async with pool.acquire() as conn:
                try:
                    return await send_as(conn, user, session)
                except asyncpg.PostgresError as exc:
                    error: BaseException = exc  # asyncpg is untyped: name what its error is
                    return error

        results = await asyncio.gather(*(one() for _ in range(50)))
    finally:
        await pool.close()
    admitted = [r for r in results if isinstance(r, str)]
    refused = [refusal(r) for r in results if isinstance(r, BaseException)]
    assert len(admitted) == 10
    assert {(status, code) for status, code, _ in refused} == {(429, "QuotaExceeded")}
    assert all(d["period"] == "day" and int(str(d["Retry-After"])) > 0 for _, _, d in refused)
    stored = await db.fetchval("select count(*) from chat_messages where session_id = $1", session)
    ledger = await db.fetch("select message_id::text, reserved, state from usage_ledger where user_id = $1", user)
    assert stored == 10
    assert sorted(r["message_id"] for r in ledger) == sorted(admitted)
    assert {(r["reserved"], r["state"]) for r in ledger} == {(per, "reserved")}
    assert await db.fetchval("select day_used from user_plans where user_id = $1", user) == per * 10


async def finish(db: asyncpg.Connection, question: str, **usage: object) -> None:
    """Claim and finish the answer as the worker does (worker_claim + worker_flush)."""
    await db.fetch("select * from worker_claim($1::uuid[], 'w1', 30, 3, 10)", [question])
    answer = await db.fetchval("select id from chat_messages where reply_to = $1", question)
    item = {"id": str(answer), "kind": "finish", "status": "completed", "content": "done", **usage}
    await db.fetch("select * from worker_flush('w1', 30, $1::jsonb)", json.dumps([item]))


async def test_settlement_charges_weighted_usage_once_and_frees_the_rest(
    db: asyncpg.Connection, alice: tuple[str, str]
) -> None:
    user, session = alice
    per = await reservation(db, "qwen-plus")
    await db.execute("insert into plans (id, name, tokens_per_day) values ('two', 'Two', $1)", per * 2 + 200)
    await db.execute("update user_plans set plan_id = 'two' where user_id = $1", user)
    first = await send_as(db, user, session, model="qwen-plus")
    second = await send_as(db, user, session, model="qwen-plus")
    with pytest.raises(asyncpg.PostgresError) as full:
        await send_as(db, user, session, model="qwen-plus")
    assert refusal(full.value)[1] == "QuotaExceeded"

    await finish(db, first, model="qwen-plus", input_tokens=30, output_tokens=20)
    await finish(db, first, model="qwen-plus", input_tokens=999, output_tokens=999)  # a late duplicate finish
    row = await db.fetchrow(
        "select state, charged, input_tokens, output_tokens from usage_ledger where message_id = $1", first
    )
    # qwen-plus weights: input 2, output 4
    assert tuple(row) == ("settled", 30 * 2 + 20 * 4, 30, 20)

    # the settled question's unused reservation is available again
    third = await send_as(db, user, session, model="qwen-plus")
    allowance = json.loads(await db.fetchval("select usage_allowance($1)", user))
    assert allowance["day"]["used"] == 140 + per * 2
    assert allowance["day"]["remaining"] == 60
    states = {str(r["message_id"]): r["state"] for r in await db.fetch("select message_id, state from usage_ledger")}
    assert states == {first: "settled", second: "reserved", third: "reserved"}


async def test_a_retaken_answer_settles_once(db: asyncpg.Connection, alice: tuple[str, str]) -> None:
    """A worker dies mid-answer: its lease expires, another worker retakes and finishes; one charge."""
    user, session = alice
    question = await send_as(db, user, session)
    await db.fetch("select * from worker_claim($1::uuid[], 'dead', 0, 3, 10)", [question])
    answer = await db.fetchval("select id from chat_messages where reply_to = $1", question)
    await db.fetch(
        "select * from worker_flush('dead', 0, $1::jsonb)",
        json.dumps([{"id": str(answer), "kind": "progress", "known": 0, "delta": "partial"}]),
    )
    await db.execute("update chat_messages set lease_expires_at = now() - interval '1 second' where id = $1", answer)
    await finish(db, question, model="qwen-turbo", input_tokens=11, output_tokens=7)
    rows = await db.fetch("select state, charged from usage_ledger where message_id = $1", question)
    assert [tuple(r) for r in rows] == [("settled", 18)]
    assert await db.fetchval("select attempts from chat_messages where id = $1", answer) == 2


async def test_exhausted_attempts_settle_what_was_recorded(db: asyncpg.Connection, alice: tuple[str, str]) -> None:
    user, session = alice
    question = await send_as(db, user, session)
    await db.fetch("select * from worker_claim($1::uuid[], 'dead', 0, 1, 10)", [question])
    await db.execute(
        "update chat_messages set lease_expires_at = now() - interval '1 second' where reply_to = $1", question
    )
    await db.fetch("select * from worker_claim($1::uuid[], 'w2', 30, 1, 10)", [question])
    assert (
        await db.fetchval("select error_code from chat_messages where reply_to = $1", question) == "AttemptsExhausted"
    )
    assert tuple(await db.fetchrow("select state, charged from usage_ledger where message_id = $1", question)) == (
        "settled",
        0,
    )


async def test_deleting_a_question_releases_or_charges_its_reservation(
    db: asyncpg.Connection, alice: tuple[str, str]
) -> None:
    user, session = alice
    waiting = await send_as(db, user, session)
    streaming = await send_as(db, user, session)
    await db.fetch("select * from worker_claim($1::uuid[], 'w1', 30, 3, 10)", [streaming])
    answer = await db.fetchval("select id from chat_messages where reply_to = $1", streaming)
    await db.fetch(
        "select * from worker_flush('w1', 30, $1::jsonb)",
        json.dumps([{"id": str(answer), "kind": "progress", "known": 0, "delta": "half"}]),
    )
    await db.execute("delete from chat_messages where id = any($1::uuid[])", [waiting, streaming])
    rows = {
        str(r["message_id"]): (r["state"], r["charged"] == r["reserved"], r["charged"])
        for r in await db.fetch("select message_id, state, charged, reserved from usage_ledger")
    }
    assert rows[waiting] == ("released", False, 0)
    assert rows[streaming][:2] == ("settled", True)


async def test_deleting_a_chat_while_its_answer_streams_charges_the_answer(
    db: asyncpg.Connection, alice: tuple[str, str]
) -> None:
    """The chat's delete reaches the streaming answer before its question (newest first): the answer
    settles the question's reservation, and a question still waiting is released."""
    user, session = alice
    streaming = await send_as(db, user, session)
    await db.fetch("select * from worker_claim($1::uuid[], 'w1', 30, 3, 10)", [streaming])
    answer = str(await db.fetchval("select id from chat_messages where reply_to = $1", streaming))
    for known in range(3):
        await db.fetch(
            "select * from worker_flush('w1', 30, $1::jsonb)",
            json.dumps([{"id": answer, "kind": "progress", "known": known, "delta": "h"}]),
        )
    waiting = await send_as(db, user, session)
    async with acting_as(db, Actor("u", "authenticated", user)) as conn:
        await conn.execute("delete from chat_sessions where id = $1", session)
        rows = {
            str(r["message_id"]): (r["state"], r["charged"] == r["reserved"] > 0)
            for r in await conn.fetch("select message_id, state, charged, reserved from usage_ledger")
        }
    assert rows == {streaming: ("settled", True), waiting: ("released", False)}


async def test_refusals_store_nothing(db: asyncpg.Connection, alice: tuple[str, str]) -> None:
    user, session = alice
    cases = [
        ("update user_plans set disabled = true where user_id = $1", {}, (403, "AccountDisabled")),
        ("update user_plans set disabled = false where user_id = $1", {"model": "gpt-9"}, (400, "ModelNotFound")),
        (
            "update plans set models = array['qwen-turbo']"
            " where id = (select plan_id from user_plans where user_id = $1)",
            {"model": "qwen3-max"},
            (403, "ModelNotAllowed"),
        ),
    ]
    for setup, cols, expected in cases:
        await db.execute(setup, user)
        with pytest.raises(asyncpg.PostgresError) as refused:
            await send_as(db, user, session, **cols)
        assert refusal(refused.value)[:2] == expected
    assert await db.fetchval("select count(*) from chat_messages") == 0
    assert await db.fetchval("select count(*) from usage_ledger") == 0


async def ask_with_context(conn: asyncpg.Connection, user: str, session: str, chars: int) -> str:
    """A question and its context of `chars` characters in one transaction, as `api_open_turn` stores them."""
    async with conn.transaction():
        question = await send_as(conn, user, session, model="qwen-plus")  # its settings last to the commit
        context = [
            {"role": "system", "content": "s" * (chars // 2)},
            {"role": "user", "content": "u" * (chars - chars // 2)},
        ]
        await conn.execute(
            "insert into question_contexts (message_id, messages) values ($1, $2::jsonb)", question, json.dumps(context)
        )
        return question


async def test_a_requests_context_is_held_at_admission(db: asyncpg.Connection, alice: tuple[str, str]) -> None:
    """An OpenAI-compatible request's earlier messages are reserved with its question, weighted as input
    (qwen-plus: 2), and refused as the question would be when they pass the allowance: nothing stored."""
    user, session = alice
    per = await reservation(db, "qwen-plus")
    await db.execute("insert into plans (id, name, tokens_per_day) values ('ctx', 'Ctx', $1)", 2 * per + 1000 + 100)
    await db.execute("update user_plans set plan_id = 'ctx' where user_id = $1", user)

    first = await ask_with_context(db, user, session, 500)
    assert await db.fetchval("select reserved from usage_ledger where message_id = $1", first) == per + 1000
    with pytest.raises(asyncpg.PostgresError) as refused:
        await ask_with_context(db, user, session, 100)  # the question fits, its context (200) does not
    status, code, details = refusal(refused.value)
    assert (status, code, details["period"]) == (429, "QuotaExceeded", "day")
    assert (details["used"], details["requested"]) == (per + 1000, per + 200)
    assert int(str(details["Retry-After"])) > 0
    assert await db.fetchval("select count(*) from chat_messages where session_id = $1", session) == 1
    assert await db.fetchval("select count(*) from usage_ledger") == 1

    last = await ask_with_context(db, user, session, 50)  # exactly what is left
    assert await db.fetchval("select day_used from user_plans where user_id = $1", user) == 2 * per + 1100
    await finish(db, first, model="qwen-plus", input_tokens=30, output_tokens=20)
    await finish(db, last, model="qwen-plus", input_tokens=40, output_tokens=10)
    allowance = json.loads(await db.fetchval("select usage_allowance($1)", user))
    assert allowance["day"]["used"] == (30 * 2 + 20 * 4) + (40 * 2 + 10 * 4)  # the charges replaced both holds


async def test_each_charge_names_the_api_key_it_came_through(db: asyncpg.Connection, alice: tuple[str, str]) -> None:
    """A key's requests carry its id in app_metadata (only the service sets it): the ledger names
    the key; a web send and a key id put where a user can write (user_metadata) name none.
    `usage_by_key` sums each key's requests for its owner alone."""
    user, session = alice
    key = str(
        await db.fetchval(
            "insert into api_keys (user_id, name, prefix, key_hash) values ($1, 'ci', 'sk-cg-ab', 'h') returning id",
            user,
        )
    )

    async def send(claims: dict[str, object]) -> None:
        async with db.transaction():
            await db.execute("select set_config('request.jwt.claims', $1, true)", json.dumps(claims))
            await db.execute("set local role authenticated")
            await db.execute("insert into chat_messages (session_id, content) values ($1, 'q')", session)

    base = {"sub": user, "role": "authenticated"}
    await send({**base, "app_metadata": {"provider": "api_key", "key_id": key}})
    await send({**base, "app_metadata": {"provider": "api_key", "key_id": key}})
    await send({**base, "app_metadata": {"provider": "email"}, "user_metadata": {"key_id": key}})
    await send({**base, "app_metadata": {"provider": "api_key", "key_id": "not-a-uuid"}})
    named = [r["api_key_id"] for r in await db.fetch("select api_key_id::text from usage_ledger order by id")]
    assert named == [key, key, None, None]
    per = await reservation(db, content="q")
    async with acting_as(db, Actor("u", "authenticated", user)):
        rows = [tuple(r) for r in await db.fetch("select key_id::text, requests, tokens from usage_by_key(30)")]
    assert rows == [(key, 2, 2 * per)]
    stranger = await create_user(db, "stranger")
    async with acting_as(db, Actor("s", "authenticated", stranger)):
        assert await db.fetch("select * from usage_by_key(30)") == []


async def test_requests_per_minute(db: asyncpg.Connection, alice: tuple[str, str]) -> None:
    user, session = alice
    await db.execute("update plans set requests_per_minute = 2 where id = 'free'")
    await send_as(db, user, session)
    await send_as(db, user, session)
    with pytest.raises(asyncpg.PostgresError) as refused:
        await send_as(db, user, session)
    status, code, details = refusal(refused.value)
    assert (status, code, details["period"]) == (429, "RateLimited", "minute")
    assert 1 <= int(str(details["Retry-After"])) <= 60


async def test_a_chats_title_is_no_message_against_the_plans_messages_per_minute(
    db: asyncpg.Connection, alice: tuple[str, str]
) -> None:
    """The title the worker writes for a new chat is charged (its tokens count) but sends nothing."""
    user, session = alice
    await db.execute("update plans set requests_per_minute = 2 where id = 'free'")
    first = await send_as(db, user, session, content="first")
    await finish(db, first, input_tokens=1, output_tokens=1)
    assert await db.fetchval("select worker_charge_title($1, 'qwen-turbo', 30, 8, 0)", session) is True
    await send_as(db, user, session, content="second")
    with pytest.raises(asyncpg.PostgresError) as refused:
        await send_as(db, user, session, content="third")
    assert refusal(refused.value)[:2] == (429, "RateLimited")


async def test_trusted_roles_are_not_admitted(db: asyncpg.Connection, alice: tuple[str, str]) -> None:
    user, session = alice
    await db.execute("update user_plans set disabled = true where user_id = $1", user)
    await db.execute("insert into chat_messages (session_id, content) values ($1, 'operator')", session)
    assert await db.fetchval("select count(*) from usage_ledger") == 0


async def test_api_keys_resolve_only_while_live(db: asyncpg.Connection, alice: tuple[str, str]) -> None:
    user, _ = alice
    claims = Actor("u", "authenticated", user).claims
    async with db.transaction():
        await db.execute("select set_config('request.jwt.claims', $1, true)", claims)
        await db.execute("set local role authenticated")
        made = json.loads(await db.fetchval("select create_api_key('ci', null)"))
        soon = json.loads(await db.fetchval("select create_api_key('soon', now() + interval '1 hour')"))
    assert made["key"].startswith(made["prefix"])
    assert len(made["key"]) == 54
    stored = await db.fetchval(
        "select count(*) from api_keys where key_hash = sha256(convert_to($1, 'UTF8'))", made["key"]
    )
    assert stored == 1
    assert await db.fetchval("select count(*) from api_keys where prefix = $1", made["key"]) == 0

    async def identity(key: str) -> tuple[object, ...] | None:
        row = await db.fetchrow("select user_id::text, key_name, status from api_key_identity($1)", key)
        return tuple(row) if row else None

    assert await identity(made["key"]) == (user, "ci", "active")
    assert await db.fetchval("select last_used_at is not null from api_keys where id = $1::uuid", made["id"])
    assert await identity(made["key"] + "x") is None
    await db.execute("update api_keys set expires_at = now() - interval '1 second' where id = $1::uuid", soon["id"])
    assert await identity(soon["key"]) == (user, "soon", "expired")
    async with db.transaction():
        await db.execute("select set_config('request.jwt.claims', $1, true)", claims)
        await db.execute("set local role authenticated")
        assert await db.fetchval("select revoke_api_key($1::uuid)", made["id"]) is True
        assert await db.fetchval("select revoke_api_key($1::uuid)", made["id"]) is False
    assert await identity(made["key"]) == (user, "ci", "revoked")


async def request_answer(conn: asyncpg.Connection, user: str, question: str, number: int) -> str:
    """A regeneration as the web app asks for it: `request_answer` as the user."""
    async with conn.transaction():
        await conn.execute(
            "select set_config('request.jwt.claims', $1, true)", Actor("u", "authenticated", user).claims
        )
        await conn.execute("set local role authenticated")
        return str(await conn.fetchval("select (request_answer($1, $2)).id", question, number))


async def test_a_regenerated_answer_is_admitted_and_settled_on_its_own(
    db: asyncpg.Connection, alice: tuple[str, str]
) -> None:
    user, session = alice
    question = await send_as(db, user, session)
    await finish(db, question, model="qwen-turbo", input_tokens=5, output_tokens=5)
    second = await request_answer(db, user, question, 2)
    held = await db.fetchrow("select state, reserved from usage_ledger where message_id = $1", second)
    assert tuple(held) == ("reserved", await reservation(db))
    assert await request_answer(db, user, question, 2) == second  # asking again reserves nothing more
    assert await db.fetchval("select count(*) from usage_ledger where user_id = $1", user) == 2

    await db.fetch("select * from worker_claim($1::uuid[], 'w1', 30, 3, 10)", [second])
    item = {
        "id": second,
        "kind": "finish",
        "status": "completed",
        "content": "again",
        "model": "qwen-plus",
        "input_tokens": 7,
        "output_tokens": 3,
        "reasoning_tokens": 1,
    }
    await db.fetch("select * from worker_flush('w1', 30, $1::jsonb)", json.dumps([item]))
    settled = {
        str(r["message_id"]): (r["state"], r["charged"])
        for r in await db.fetch("select message_id, state, charged from usage_ledger")
    }
    # qwen-plus: input 2, output 4, reasoning 4 (reasoning is part of output_tokens)
    assert settled == {question: ("settled", 10), second: ("settled", 7 * 2 + 2 * 4 + 1 * 4)}

    await db.execute("update plans set tokens_per_day = 100 where id = 'free'")
    with pytest.raises(asyncpg.PostgresError) as refused:
        await request_answer(db, user, question, 3)
    assert refusal(refused.value)[:2] == (429, "QuotaExceeded")
    assert await db.fetchval("select count(*) from chat_messages where reply_to = $1", question) == 2


async def test_an_answer_goes_only_with_its_question_so_none_is_asked_again_for_free(
    db: asyncpg.Connection, alice: tuple[str, str]
) -> None:
    """Deleting answer 1 alone and asking for answer 1 again would be an answer admission never
    priced: the user's delete of an answer deletes nothing, and asking again gets the same answer."""
    user, session = alice
    question = await send_as(db, user, session)
    await finish(db, question, input_tokens=5, output_tokens=5)
    first = str(await db.fetchval("select id from chat_messages where reply_to = $1", question))
    async with acting_as(db, Actor("u", "authenticated", user)) as conn:
        deleted = await conn.fetch("delete from chat_messages where reply_to = $1 returning id", question)
    assert deleted == []
    assert await request_answer(db, user, question, 1) == first
    assert await db.fetchval("select count(*) from chat_messages where reply_to = $1", question) == 1


async def test_deleting_a_requested_answer_before_it_starts_releases_it(
    db: asyncpg.Connection, alice: tuple[str, str]
) -> None:
    user, session = alice
    question = await send_as(db, user, session)
    await finish(db, question, input_tokens=1, output_tokens=1)
    second = await request_answer(db, user, question, 2)
    await db.execute("delete from chat_messages where id = $1", second)
    row = await db.fetchrow("select state, charged from usage_ledger where message_id = $1", second)
    assert tuple(row) == ("released", 0)


async def test_a_role_that_searches_is_within_the_plans_web_search(
    db: asyncpg.Connection, alice: tuple[str, str]
) -> None:
    """A role's `enable_search` makes the worker search every question asked with it, as the web
    app's switch does: a plan without web search refuses those questions too, at every door."""
    user, session = alice
    await db.execute("insert into plans (id, name, allow_search) values ('plain', 'Plain', false)")
    await db.execute("update user_plans set plan_id = 'plain' where user_id = $1", user)
    await db.execute(
        "insert into ai_roles (slug, name, system_prompt, personality, created_by)"
        " values ('searcher', 'Searcher', 'Look it up.', '{\"enable_search\": true}', $1),"
        " ('reader', 'Reader', 'Answer.', '{\"enable_search\": false}', $1)",
        user,
    )
    with pytest.raises(asyncpg.PostgresError) as refused:
        await send_as(db, user, session, role_id="searcher")
    status, code, details = refusal(refused.value)
    assert (status, code, details["feature"]) == (403, "FeatureNotAllowed", "search")
    searcher = await db.fetchval("select id from ai_roles where slug = 'searcher'")
    await db.execute("update chat_sessions set role_id = $1 where id = $2", searcher, session)
    with pytest.raises(asyncpg.PostgresError) as by_session:
        await send_as(db, user, session)  # the session's role
    assert refusal(by_session.value)[:2] == (403, "FeatureNotAllowed")
    assert await db.fetchval("select count(*) from chat_messages") == 0
    assert await db.fetchval("select count(*) from usage_ledger") == 0
    await send_as(db, user, session, role_id="reader")  # a role that does not search is admitted
