"""`question_contexts`: an OpenAI-compatible request's messages before its question, verb by verb
for user A, user B, anon and service_role, their shape checked whatever the door, and what the
worker's claim hands back (migrations/..._openai_requests_bring_their_context.sql)."""

from __future__ import annotations

import json

import asyncpg
import pytest

from tests.db.actors import acting_as
from tests.db.refusals import refusal
from tests.db.test_rls_matrix import REFUSED, World, build_world, outcome, refused

CONTEXT = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "earlier"}]


@pytest.fixture
async def world(db: asyncpg.Connection) -> World:
    """The RLS matrix's world; A's and B's questions carry a context, A has one more question without."""
    world = await build_world(db)
    for owner in ("a", "b"):
        await db.execute(
            "insert into question_contexts (message_id, user_id, messages) values ($1, $2, $3::jsonb)",
            world.ids[f"{owner}_msg"],
            world.ids[owner],
            json.dumps(CONTEXT),
        )
    world.ids["a_bare"] = str(
        await db.fetchval(
            "insert into chat_messages (session_id, user_id, content) values ($1, $2, 'bare') returning id",
            world.ids["a_session"],
            world.ids["a"],
        )
    )
    return world


OWN = "insert into question_contexts (message_id, messages) values ('{a_bare}', '[]') returning message_id"

CASES: list[tuple[str, str, int | str]] = [
    ("a", "select * from question_contexts", 1),
    ("a", "select * from question_contexts where message_id = '{b_msg}'", 0),
    ("b", "select * from question_contexts where user_id = '{a}'", 0),
    ("anon", "select * from question_contexts", REFUSED),
    ("service", "select * from question_contexts", 2),
    ("a", OWN, 1),
    ("b", OWN, REFUSED),  # A's question
    ("anon", OWN, REFUSED),
    (
        "a",
        "insert into question_contexts (message_id, messages) values ('{a_reply}', '[]') returning message_id",
        REFUSED,
    ),
    (
        "a",
        "insert into question_contexts (message_id, user_id, messages) values ('{a_bare}', '{b}', '[]')"
        " returning message_id",
        REFUSED,
    ),
    ("a", "update question_contexts set messages = '[]' where message_id = '{a_msg}' returning message_id", REFUSED),
    ("b", "update question_contexts set messages = '[]' where message_id = '{a_msg}' returning message_id", REFUSED),
    ("a", "delete from question_contexts where message_id = '{a_msg}' returning message_id", REFUSED),
    ("b", "delete from question_contexts where message_id = '{a_msg}' returning message_id", REFUSED),
]


@pytest.mark.parametrize(("who", "sql", "expected"), CASES, ids=[f"{c[0]}: {c[1][:70]}" for c in CASES])
async def test_question_contexts_rls(
    db: asyncpg.Connection, world: World, who: str, sql: str, expected: int | str
) -> None:
    actor = {"a": world.a, "b": world.b, "anon": world.anon, "service": world.service}[who]
    result = await outcome(db, actor, sql.format(**world.ids))
    if expected == REFUSED:
        assert refused(result), f"{actor.name} was allowed: {sql} -> {result}"
    else:
        assert result == expected, f"{actor.name}: {sql} -> {result}, expected {expected}"


BAD_SHAPES: list[tuple[str, object]] = [
    ("messages", {"role": "user", "content": "not an array"}),
    ("messages", [{"role": "tool", "content": "42"}]),
    ("messages", [{"role": "user", "content": 42}]),
    ("messages", [{"role": "user", "content": "x", "name": "extra key"}]),
    ("messages", [{"role": "user"}]),
    ("messages", ["text"]),
    ("messages", [{"role": "user", "content": "x"}] * 1001),
    ("messages", [{"role": "user", "content": "x" * 1_048_577}]),
    ("parameters", []),
    ("parameters", {"foo": 1}),
    ("parameters", {"temperature": 2}),
    ("parameters", {"temperature": "0.5"}),
    ("parameters", {"top_p": 0}),
    ("parameters", {"max_tokens": 1.5}),
    ("parameters", {"max_tokens": 0}),
    ("parameters", {"seed": -1}),
    ("parameters", {"seed": 2**31}),  # DashScope's range is [0, 2^31 - 1]
    ("parameters", {"presence_penalty": 3}),
    ("parameters", {"stop": ["a", "b", "c", "d", "e"]}),
    ("parameters", {"stop": [1]}),
    ("parameters", {"thinking": "yes"}),
    ("parameters", {"thinking_budget": 0}),
    ("parameters", {"thinking_budget": 38913}),  # past the longest chain of thought a model takes
    ("parameters", {"search_strategy": "agent"}),
    ("parameters", {"search_strategy": 1}),
    ("parameters", {"forced_search": "yes"}),
    ("parameters", {"top_k": 101}),
    ("parameters", {"repetition_penalty": 0}),
    ("parameters", {"response_format": "json_schema"}),  # JSON mode only, as DashScope's json_object
    ("parameters", {"response_format": {"type": "json_object"}}),
]


@pytest.mark.parametrize(("column", "value"), BAD_SHAPES, ids=[f"{c}: {str(v)[:40]}" for c, v in BAD_SHAPES])
async def test_a_context_or_parameters_of_any_other_shape_are_refused_whatever_the_door(
    db: asyncpg.Connection, world: World, column: str, value: object
) -> None:
    async with acting_as(db, world.a):
        with pytest.raises(asyncpg.CheckViolationError):
            await db.execute(
                f"insert into question_contexts (message_id, {column}) values ($1, $2::jsonb)",
                world.ids["a_bare"],
                json.dumps(value),
            )


async def test_a_context_goes_with_its_question(db: asyncpg.Connection, world: World) -> None:
    await db.execute("delete from chat_messages where id = $1", world.ids["a_msg"])
    assert await db.fetchval("select count(*) from question_contexts where user_id = $1", world.ids["a"]) == 0


EDIT = (
    "insert into chat_messages (session_id, content, parent_id, edited_from)"
    " values ($1, 'edited', (select parent_id from chat_messages where id = $2), $2) returning id"
)


async def test_an_edit_keeps_what_the_edited_question_brought(db: asyncpg.Connection, world: World) -> None:
    """An edit (a sibling under the same parent) that names the question it edits gets its messages in
    the same transaction; naming a question of A's that is not its sibling refuses it with a stable code."""
    async with acting_as(db, world.a):
        edited = await db.fetchval(EDIT, world.ids["a_session"], world.ids["a_msg"])
        copied = await db.fetchval("select messages::text from question_contexts where message_id = $1", edited)
    assert json.loads(copied) == CONTEXT
    async with acting_as(db, world.a):  # A's own question, but not this one's sibling
        with pytest.raises(asyncpg.PostgresError) as raised:
            await db.execute(
                "insert into chat_messages (session_id, content, parent_id, edited_from) values ($1, 'x', $2, $2)",
                world.ids["a_session"],
                world.ids["a_msg"],
            )
    status, code, _ = refusal(raised.value)
    assert (status, code) == (400, "InvalidEdit")
    assert await db.fetchval("select count(*) from chat_messages where content = 'x'") == 0


async def test_an_edit_of_a_question_gone_or_never_yours_is_sent_bringing_nothing(
    db: asyncpg.Connection, world: World
) -> None:
    """The edited question deleted meanwhile (another tab) or another user's: the edit is stored as the
    plain question it is, and nothing of anyone's request comes with it."""
    stored = "select count(*) from chat_messages where id = $1 and content = 'edited'"
    brought = "select count(*) from question_contexts where message_id = $1"
    async with acting_as(db, world.b):  # A's question named from B's own chat
        foreign = await db.fetchval(EDIT, world.ids["b_session"], world.ids["a_msg"])
        assert (await db.fetchval(stored, foreign), await db.fetchval(brought, foreign)) == (1, 0)
    parent = await db.fetchval("select parent_id from chat_messages where id = $1", world.ids["a_msg"])
    await db.execute("delete from chat_messages where id = $1", world.ids["a_msg"])
    async with acting_as(db, world.a):
        gone = await db.fetchval(
            "insert into chat_messages (session_id, content, parent_id, edited_from) values ($1, 'edited', $2, $3)"
            " returning id",
            world.ids["a_session"],
            parent,
            world.ids["a_msg"],
        )
        assert (await db.fetchval(stored, gone), await db.fetchval(brought, gone)) == (1, 0)


async def test_the_claim_hands_back_the_context_and_no_persona_unless_the_question_named_one(
    db: asyncpg.Connection, world: World
) -> None:
    asked: dict[str, str] = {}
    for content, role, context in (("plain", None, CONTEXT), ("named", "tech_expert", [])):
        asked[content] = str(
            await db.fetchval(
                "insert into chat_messages (session_id, user_id, content, role_id, parent_id)"
                " values ($1, $2, $3, $4, null) returning id",
                world.ids["a_session"],
                world.ids["a"],
                content,
                role,
            )
        )
        await db.execute(
            "insert into question_contexts (message_id, user_id, messages) values ($1, $2, $3::jsonb)",
            asked[content],
            world.ids["a"],
            json.dumps(context),
        )
    rows = await db.fetch(
        "select claim::text from worker_claim($1::uuid[], 'w', 30, 5, 50)", [*asked.values(), world.ids["a_bare"]]
    )
    claims = {c["question"]: c for c in (json.loads(r["claim"]) for r in rows)}
    assert claims["plain"]["context"] == CONTEXT
    assert claims["plain"]["role"] is None  # the request's own system message is the system prompt
    assert claims["named"]["context"] == []
    assert claims["named"]["role"]["slug"] == "tech_expert"
    assert claims["bare"]["context"] is None
    assert claims["bare"]["role"]["slug"] == "assistant"  # the session's persona, as always


async def test_parameters_in_range_are_kept_and_handed_to_the_claim(db: asyncpg.Connection, world: World) -> None:
    parameters = {"temperature": 0, "top_p": 1, "max_tokens": 5, "seed": 7, "stop": "END", "presence_penalty": -2}
    parameters |= {"search_strategy": "max", "forced_search": True, "top_k": 0, "repetition_penalty": 10}
    parameters |= {"response_format": "json_object"}
    async with acting_as(db, world.a):
        await db.execute(
            "insert into question_contexts (message_id, parameters) values ($1, $2::jsonb)",
            world.ids["a_bare"],
            json.dumps(parameters),
        )
        await db.execute("reset role")  # the worker's claim, in the same (rolled back) transaction
        [row] = await db.fetch(
            "select claim::text from worker_claim($1::uuid[], 'w', 30, 5, 50)", [world.ids["a_bare"]]
        )
    claim = json.loads(row["claim"])
    assert claim["parameters"] == parameters
    assert claim["context"] is None  # a named session's request: its history is the session's
    assert claim["role"]["slug"] == "assistant"


async def test_a_request_thinks_only_within_its_users_plan(db: asyncpg.Connection, world: World) -> None:
    """Admission checks the session's and the role's thinking at the question's insert; a request's
    own switch is checked when its parameters are stored, by whatever door."""
    insert = "insert into question_contexts (message_id, parameters) values ($1, $2::jsonb)"
    async with acting_as(db, world.a):
        await db.execute(insert, world.ids["a_bare"], json.dumps({"thinking": True, "thinking_budget": 100}))
    await db.execute("insert into plans (id, name, allow_thinking) values ('plain', 'Plain', false)")
    await db.execute("update user_plans set plan_id = 'plain' where user_id = $1", world.ids["a"])
    async with acting_as(db, world.a):
        await db.execute(insert, world.ids["a_bare"], json.dumps({"thinking": False}))
    async with acting_as(db, world.a):
        with pytest.raises(asyncpg.PostgresError) as refused:
            await db.execute(insert, world.ids["a_bare"], json.dumps({"thinking": True}))
    assert refused.value.sqlstate == "PGRST"
    assert "FeatureNotAllowed" in str(refused.value)
