"""Conversation trees in the database: parents, the current leaf, edits, numbered answers,
the path, branching into a new session, splicing out deleted messages, and who may do what."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import pytest

from localbase.migrate import MIGRATIONS_DIR
from tests.db.actors import Actor, acting_as, create_user
from worker.database import CLAIM_COLUMNS, claim_row

CLAIM = f"select {CLAIM_COLUMNS} from public.worker_claim($1::uuid[], $2, 30.0, 3, 50)"


@asynccontextmanager
async def acting(conn: asyncpg.Connection, actor: Actor) -> AsyncIterator[asyncpg.Connection]:
    """Like `acting_as`, but the transaction commits: later steps build on what the user did."""
    async with conn.transaction():
        await conn.execute("select set_config('request.jwt.claims', $1, true)", actor.claims)
        await conn.execute(f"set local role {actor.role}")
        yield conn


class Tree:
    def __init__(self, db: asyncpg.Connection, user: str, session: str) -> None:
        self.db, self.user, self.session = db, user, session
        self.actor = Actor("owner", "authenticated", user)

    async def ask(self, content: str, **fields: Any) -> str:
        columns = ["session_id", "user_id", "content", *fields]
        marks = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
        sql = f"insert into chat_messages ({', '.join(columns)}) values ({marks}) returning id"
        return str(await self.db.fetchval(sql, self.session, self.user, content, *fields.values()))

    async def answer(self, question: str, content: str) -> str:
        """The worker's claim and finish, as service_role."""
        await self.db.execute("set role service_role")
        try:
            rows = await self.db.fetch(CLAIM, [question], "w1")
        finally:
            await self.db.execute("reset role")
        [won] = [claim_row(r) for r in rows]
        await self.db.execute(
            "update chat_messages set content = $2, status = 'completed', lease_owner = null where id = $1",
            won["id"],
            content,
        )
        return str(won["id"])

    async def path(self) -> list[str]:
        async with acting(self.db, self.actor):
            rows = await self.db.fetch("select content from chat_path($1)", self.session)
        return [r["content"] for r in rows]

    async def session_row(self) -> asyncpg.Record:
        row = await self.db.fetchrow("select * from chat_sessions where id = $1", self.session)
        assert row is not None
        return row


@pytest.fixture
async def tree(db: asyncpg.Connection) -> Tree:
    user = await create_user(db, "treeowner")
    session = await db.fetchval("insert into chat_sessions (user_id) values ($1) returning id", user)
    return Tree(db, user, str(session))


async def test_a_line_links_up_one_by_one_and_in_bulk(tree: Tree, db: asyncpg.Connection) -> None:
    q1 = await tree.ask("q1")
    a1 = await tree.answer(q1, "a1")
    q2 = await tree.ask("q2")
    assert str(await db.fetchval("select parent_id from chat_messages where id = $1", q2)) == a1
    await db.execute(
        "insert into chat_messages (session_id, user_id, content) select $1, $2, 'bulk ' || g"
        " from generate_series(1, 5) g",
        tree.session,
        tree.user,
    )
    assert await tree.path() == ["q1", "a1", "q2", "bulk 1", "bulk 2", "bulk 3", "bulk 4", "bulk 5"]
    session = await tree.session_row()
    assert session["branched"] is False
    assert session["message_count"] == 8


async def test_a_question_sent_early_moves_under_the_answer_when_claimed(tree: Tree, db: asyncpg.Connection) -> None:
    q1 = await tree.ask("q1")
    q2 = await tree.ask("q2")  # before any worker answered q1
    a1 = await tree.answer(q1, "a1")
    await tree.answer(q2, "a2")
    assert str(await db.fetchval("select parent_id from chat_messages where id = $1", q2)) == a1
    assert await tree.path() == ["q1", "a1", "q2", "a2"]


async def test_a_question_sent_while_an_earlier_one_waits_for_its_claim_follows_it(
    tree: Tree, db: asyncpg.Connection
) -> None:
    """q2 moves under a1 when a1 is made, and a1 is then the newest row: q3 still follows q2."""
    q1 = await tree.ask("q1")
    q2 = await tree.ask("q2")
    await tree.answer(q1, "a1")
    q3 = await tree.ask("q3")
    assert str(await db.fetchval("select parent_id from chat_messages where id = $1", q3)) == q2
    assert await tree.path() == ["q1", "a1", "q2", "q3"]
    assert (await tree.session_row())["branched"] is False


async def test_deleting_the_last_turn_of_a_branched_chat_keeps_the_next_question_in_it(
    tree: Tree, db: asyncpg.Connection
) -> None:
    """The deleted turn was the current leaf; the next question follows the path the page shows."""
    q1 = await tree.ask("q1")
    await tree.answer(q1, "a1")
    async with acting(db, tree.actor):
        again = str((await db.fetchrow("select * from request_answer($1, 2)", q1))["id"])
    await db.execute("update chat_messages set content = 'a1 again', status = 'completed' where id = $1", again)
    q2 = await tree.ask("q2")
    await tree.answer(q2, "a2")
    async with acting(db, tree.actor):
        await db.execute("delete from chat_messages where id = $1", q2)
    assert await tree.path() == ["q1", "a1 again"]
    q3 = await tree.ask("q3")
    assert str(await db.fetchval("select parent_id from chat_messages where id = $1", q3)) == again
    assert await tree.path() == ["q1", "a1 again", "q3"]


async def test_edit_makes_a_sibling_and_the_worker_sees_only_the_new_path(tree: Tree, db: asyncpg.Connection) -> None:
    q1 = await tree.ask("q1")
    a1 = await tree.answer(q1, "a1")
    q2 = await tree.ask("q2 original")
    await tree.answer(q2, "a2 original")
    edited = await tree.ask("q2 edited", parent_id=a1)
    session = await tree.session_row()
    assert session["branched"] is True
    assert str(session["current_leaf_id"]) == edited
    await db.execute("set role service_role")
    try:
        [row] = await db.fetch(CLAIM, [edited], "w1")
    finally:
        await db.execute("reset role")
    context = claim_row(row)
    assert context["history"].contents == ["a1", "q1"]
    assert await tree.path() == ["q1", "a1", "q2 edited", ""]
    async with acting(db, tree.actor):
        forks = await db.fetch("select * from chat_forks($1)", tree.session)
    assert [(str(f["message_id"]), [str(s) for s in f["siblings"]]) for f in forks] == [(edited, [q2, edited])]
    # Back to the first branch: the path follows it down to its end again.
    async with acting(db, tree.actor):
        await db.execute("update chat_sessions set current_leaf_id = $1 where id = $2", q2, tree.session)
        assert [r["content"] for r in await db.fetch("select content from chat_path($1)", tree.session)] == [
            "q1",
            "a1",
            "q2 original",
            "a2 original",
        ]


async def test_editing_the_first_question_adds_a_root(tree: Tree) -> None:
    q1 = await tree.ask("first")
    await tree.answer(q1, "first answer")
    await tree.ask("first, edited", parent_id=None)
    assert await tree.path() == ["first, edited"]
    assert (await tree.session_row())["branched"] is True


async def test_answers_are_numbered_and_each_number_is_requested_once(tree: Tree, db: asyncpg.Connection) -> None:
    q1 = await tree.ask("q1")
    await tree.answer(q1, "a1")
    async with acting(db, tree.actor):
        twice = [await db.fetchrow("select * from request_answer($1, 2)", q1) for _ in range(2)]
        assert twice[0]["id"] == twice[1]["id"]
        assert (twice[0]["answer_no"], twice[0]["status"], twice[0]["attempts"]) == (2, "pending", 0)
    with pytest.raises(asyncpg.PostgresError, match="StaleAnswerNumber"):
        async with acting(db, tree.actor):
            await db.fetchrow("select * from request_answer($1, 4)", q1)
    assert await db.fetchval("select count(*) from chat_messages where reply_to = $1", q1) == 2
    session = await tree.session_row()
    assert (session["current_leaf_id"], session["branched"]) == (twice[0]["id"], True)
    # The worker claims the requested row by its id; a second claim finds nothing to take.
    await db.execute("set role service_role")
    try:
        [won] = await db.fetch(CLAIM, [str(twice[0]["id"])], "w1")
        assert await db.fetch(CLAIM, [str(twice[0]["id"]), q1], "w2") == []
    finally:
        await db.execute("reset role")
    assert claim_row(won)["answer_no"] == 2


async def test_one_round_claims_a_new_question_and_a_requested_answer(tree: Tree, db: asyncpg.Connection) -> None:
    """A round naming a question and a requested answer row claims both: the question's answer by
    the round's first query, the requested row by its second (which a round whose every id was
    claimed as a question skips)."""
    q1 = await tree.ask("q1")
    await tree.answer(q1, "a1")
    async with acting(db, tree.actor):
        requested = str((await db.fetchrow("select * from request_answer($1, 2)", q1))["id"])
    q2 = await tree.ask("q2")
    await db.execute("set role service_role")
    try:
        rows = [claim_row(r) for r in await db.fetch(CLAIM, [q2, requested], "w1")]
    finally:
        await db.execute("reset role")
    assert sorted((row["reply_to"], row["answer_no"]) for row in rows) == sorted([(q2, 1), (q1, 2)])
    assert requested in {row["id"] for row in rows}


async def test_another_user_can_neither_request_branch_nor_read(tree: Tree, db: asyncpg.Connection) -> None:
    q1 = await tree.ask("secret question")
    a1 = await tree.answer(q1, "secret answer")
    other = Actor("other", "authenticated", await create_user(db, "intruder"))
    async with acting_as(db, other):
        with pytest.raises(asyncpg.PostgresError, match="QuestionNotFound"):
            await db.fetchrow("select * from request_answer($1, 2)", q1)
    async with acting_as(db, other):
        with pytest.raises(asyncpg.PostgresError, match="MessageNotFound"):
            await db.fetchval("select chat_branch($1)", a1)
    async with acting_as(db, other):
        assert await db.fetch("select * from chat_path($1)", tree.session) == []
    assert await db.fetchval("select count(*) from chat_messages where reply_to = $1", q1) == 1


async def test_branch_copies_the_path_only(tree: Tree, db: asyncpg.Connection) -> None:
    q1 = await tree.ask("q1")
    a1 = await tree.answer(q1, "a1")
    q2 = await tree.ask("q2")
    await tree.answer(q2, "a2")
    async with acting(db, tree.actor):
        regenerated = await db.fetchrow("select * from request_answer($1, 2)", q1)
    await db.execute(
        "update chat_messages set content = 'a1 again', status = 'completed' where id = $1", regenerated["id"]
    )
    async with acting(db, tree.actor):
        await db.execute("update chat_sessions set current_leaf_id = $1 where id = $2", a1, tree.session)
        fresh = await db.fetchval("select chat_branch($1)", q2)
        copied = await db.fetch("select content, answer_no from chat_path($1)", fresh)
    # Branching at a question copies up to the answer it follows.
    assert [(r["content"], r["answer_no"]) for r in copied] == [("q1", None), ("a1", 1)]
    async with acting(db, tree.actor):
        again = await db.fetchval("select chat_branch($1)", regenerated["id"])
        copied = await db.fetch("select content, answer_no from chat_path($1)", again)
        session = await db.fetchrow("select branched, message_count from chat_sessions where id = $1", again)
    assert [(r["content"], r["answer_no"]) for r in copied] == [("q1", None), ("a1 again", 1)]
    assert (session["branched"], session["message_count"]) == (False, 2)


async def test_a_branch_named_by_its_caller_is_made_once(tree: Tree, db: asyncpg.Connection) -> None:
    """The web app names a branch and asks again after a lost answer: the second call returns the
    branch the first made, nothing is copied twice; another user's chat id is refused as taken."""
    q1 = await tree.ask("q1")
    a1 = await tree.answer(q1, "a1")
    named = str(uuid.uuid4())
    async with acting(db, tree.actor):
        first = await db.fetchval("select chat_branch($1, $2)", a1, named)
        again = await db.fetchval("select chat_branch($1, $2)", a1, named)
        copied = await db.fetch("select content from chat_path($1)", named)
    assert str(first) == str(again) == named
    assert [r["content"] for r in copied] == ["q1", "a1"]
    assert await db.fetchval("select count(*) from chat_messages where session_id = $1", uuid.UUID(named)) == 2
    intruder = await create_user(db, "namethief")
    theirs = Tree(
        db, intruder, str(await db.fetchval("insert into chat_sessions (user_id) values ($1) returning id", intruder))
    )
    a2 = await theirs.answer(await theirs.ask("mine"), "yours")
    async with acting_as(db, theirs.actor):
        with pytest.raises(asyncpg.UniqueViolationError):
            await db.fetchval("select chat_branch($1, $2)", a2, named)
    assert await db.fetchval("select user_id from chat_sessions where id = $1", uuid.UUID(named)) == uuid.UUID(
        tree.user
    )


async def test_deleting_messages_splices_them_out(tree: Tree, db: asyncpg.Connection) -> None:
    q1 = await tree.ask("q1")
    await tree.answer(q1, "a1")
    q2 = await tree.ask("q2")
    await tree.answer(q2, "a2")
    q3 = await tree.ask("q3")
    await tree.answer(q3, "a3")
    async with db.transaction():
        await db.execute("delete from chat_messages where id = $1", q2)  # and, by cascade, a2
    assert await tree.path() == ["q1", "a1", "q3", "a3"]
    await db.execute("delete from chat_messages where content in ('a1', 'q3')")
    assert await tree.path() == ["q1"]
    assert (await tree.session_row())["message_count"] == 1


async def test_a_branch_keeps_the_files_of_its_questions(tree: Tree, db: asyncpg.Connection) -> None:
    path = f"{tree.user}/{uuid.uuid4()}/plan.pdf"
    files = [{"bucket": "attachments", "path": path, "name": "plan.pdf", "mime_type": "application/pdf", "size": 10}]
    await db.execute(
        "insert into storage.objects (bucket_id, name, owner, metadata) values ('attachments', $1, $2, $3::jsonb)",
        path,
        uuid.UUID(tree.user),
        json.dumps({"size": 10, "mimetype": "application/pdf"}),
    )
    q1 = await tree.ask("read this", attachments=json.dumps(files))
    a1 = await tree.answer(q1, "read it")
    async with acting(db, tree.actor):
        fresh = await db.fetchval("select chat_branch($1)", a1)
        copied = await db.fetch("select attachments from chat_path($1)", fresh)
    assert json.loads(copied[0]["attachments"]) == files


async def test_a_branch_is_no_new_question_and_keeps_what_its_answers_showed(
    tree: Tree, db: asyncpg.Connection
) -> None:
    """Copying a conversation admits nothing (no reservation, no rate count: it branches at a plan's
    limit too) and keeps each answer's thinking, sources and token details and a /v1 request's
    messages; a question asked after the copy, even in the same transaction, is admitted again."""
    q1 = await tree.ask("what is new?", web_search=True)
    a1 = await tree.answer(q1, "this [1]")
    sources = [{"index": 1, "title": "News", "url": "https://example.com/n", "site_name": "Example"}]
    await db.execute(
        "update chat_messages set reasoning = 'thought', reasoning_ms = 40, sources = $2::jsonb,"
        " reasoning_tokens = 3, cached_tokens = 2 where id = $1",
        a1,
        json.dumps(sources),
    )
    brought = [{"role": "system", "content": "Be brief."}]
    await db.execute(
        "insert into question_contexts (message_id, user_id, messages, parameters)"
        " values ($1, $2, $3::jsonb, $4::jsonb)",
        q1,
        tree.user,
        json.dumps(brought),
        json.dumps({"temperature": 0.2}),
    )
    await db.execute("insert into plans (id, name, tokens_per_day, requests_per_minute) values ('tiny', 'Tiny', 10, 0)")
    await db.execute("update user_plans set plan_id = 'tiny' where user_id = $1", tree.user)
    async with acting(db, tree.actor):
        fresh = await db.fetchval("select chat_branch($1)", a1)
    copied = await db.fetch(
        "select m.message_type::text, m.web_search, m.reasoning, m.reasoning_ms, m.sources, m.reasoning_tokens,"
        " m.cached_tokens, c.messages, c.parameters"
        " from chat_messages m left join question_contexts c on c.message_id = m.id"
        " where m.session_id = $1 order by m.created_at, m.message_type",
        fresh,
    )
    decoded = [tuple(json.loads(v) if isinstance(v, str) and v[:1] in "[{" else v for v in r) for r in copied]
    assert decoded == [
        ("user", True, None, None, None, None, None, brought, {"temperature": 0.2}),
        ("assistant", False, "thought", 40, sources, 3, 2, None, None),
    ]
    assert await db.fetchval("select count(*) from usage_ledger where user_id = $1", tree.user) == 0
    async with db.transaction():
        await db.execute("select set_config('request.jwt.claims', $1, true)", tree.actor.claims)
        await db.execute("set local role authenticated")
        await db.fetchval("select chat_branch($1)", a1)
        with pytest.raises(asyncpg.PostgresError, match="RateLimited"):
            await db.execute("insert into chat_messages (session_id, content) values ($1, 'and now?')", fresh)


async def test_the_reservations_earlier_branches_took_are_released(tree: Tree, db: asyncpg.Connection) -> None:
    """The migration's one-off repair: a reservation whose question's answer is already final can
    only be a copy's (settlement runs with the update that makes an answer final); open ones stay."""
    copied = await tree.ask("copied before")
    await tree.answer(copied, "copied answer")
    waiting = await tree.ask("still waiting")
    for question in (copied, waiting):
        await db.execute(
            "insert into usage_ledger (user_id, message_id, session_id, reserved, day, month)"
            " values ($1, $2, $3, 2002, current_date, date_trunc('month', current_date))",
            tree.user,
            question,
            tree.session,
        )
    migration = (MIGRATIONS_DIR / "20261205020000_a_branch_is_no_new_question.sql").read_text()
    await db.execute(migration[migration.rindex("update public.usage_ledger") :])  # its last statement
    rows = await db.fetch("select message_id::text, state, charged from usage_ledger where user_id = $1", tree.user)
    assert {r["message_id"]: (r["state"], r["charged"]) for r in rows} == {
        copied: ("released", 0),
        waiting: ("reserved", None),
    }


async def test_a_guest_out_of_questions_cannot_regenerate(tree: Tree, db: asyncpg.Connection) -> None:
    q1 = await tree.ask("hello")
    await tree.answer(q1, "hi")
    guest = json.dumps({"sub": tree.user, "role": "authenticated", "is_anonymous": True})
    await db.execute(
        "insert into chat_messages (session_id, user_id, content)"
        " select $1, $2, 'q' || g from generate_series(1, 25) g",
        tree.session,
        tree.user,
    )
    async with db.transaction():
        await db.execute("select set_config('request.jwt.claims', $1, true)", guest)
        await db.execute("set local role authenticated")
        with pytest.raises(asyncpg.PostgresError, match="GuestLimitReached"):
            await db.fetchrow("select * from request_answer($1, 2)", q1)
    assert await db.fetchval("select count(*) from chat_messages where reply_to = $1", q1) == 1


@pytest.mark.parametrize("read", ["select * from chat_forks($1)", "select id from chat_path($1)"])
async def test_tree_reads_are_never_jit_compiled(tree: Tree, db: asyncpg.Connection, read: str) -> None:
    """A tree read is a few index probes, but its estimate (an SRF's 1,000 rows times a root's
    siblings) can pass jit_above_cost: at 1M messages chat_forks then spent ~220 ms compiling a
    2 ms query on every call (the 12-02 19:30 make bench). Here JIT is forced on for anything, and
    the functions' own plans (auto_explain, nested) must still carry no JIT section."""
    q1 = await tree.ask("q1")
    a1 = await tree.answer(q1, "a1")
    await tree.ask("q1 edited", parent_id=None)
    await tree.ask("q2", parent_id=a1)
    plans: list[str] = []
    db.add_log_listener(lambda _conn, message: plans.append(message.message))
    await db.execute("load 'auto_explain'")
    async with db.transaction():
        for setting in ("jit_above_cost", "jit_inline_above_cost", "jit_optimize_above_cost"):
            await db.execute(f"set local {setting} = 0")
        await db.execute("set local jit = on")
        await db.execute("set local auto_explain.log_min_duration = 0")
        await db.execute("set local auto_explain.log_nested_statements = on")
        await db.execute("set local auto_explain.log_level = notice")
        await db.execute("set local client_min_messages = notice")
        await db.execute("select set_config('request.jwt.claims', $1, true)", tree.actor.claims)
        await db.execute("set local role authenticated")
        await db.fetch(read, tree.session)
        # The control: a query of the test's own is compiled under these settings.
        await db.fetch("select count(*) from chat_messages")
    own, *nested = reversed([p for p in plans if "Query Text" in p])
    assert "JIT:" in own, "the control query was not compiled: JIT is unavailable here, the test proves nothing"
    inner = [p for p in nested if "chat_messages" in p]
    assert inner, plans
    compiled = [p for p in inner if "JIT:" in p]
    assert not compiled, compiled
