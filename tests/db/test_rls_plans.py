"""Row-level security of plans, quotas, the usage ledger, API keys and the admin policies, verb by
verb, for user A, user B, an admin, anon and service_role (the same probes as test_rls_matrix)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import asyncpg
import pytest

from tests.db.actors import Actor, acting_as, create_user
from tests.db.test_rls_matrix import REFUSED, outcome, refused


@dataclass(frozen=True)
class AdminActor(Actor):
    """A user whose JWT carries app_metadata.role = admin (set by the service role)."""

    @property
    def claims(self) -> str:
        return json.dumps({"role": self.role, "sub": self.sub, "app_metadata": {"role": "admin"}})


@dataclass(frozen=True)
class ForgedActor(Actor):
    """A user who put role = admin in their own user_metadata (which users may edit)."""

    @property
    def claims(self) -> str:
        return json.dumps({"role": self.role, "sub": self.sub, "user_metadata": {"role": "admin"}})


async def make_ids(db: asyncpg.Connection) -> dict[str, str]:
    """Users A, B and an admin; a session, a ledger row and an API key each for A and B."""
    a = await create_user(db, "alice")
    b = await create_user(db, "bobby")
    admin = await create_user(db, "admin1")
    out = {"a": a, "b": b, "admin": admin}
    for owner in ("a", "b"):
        session = await db.fetchval("insert into chat_sessions (user_id) values ($1) returning id", out[owner])
        out[f"{owner}_session"] = str(session)
        await db.execute(
            "insert into usage_ledger (user_id, message_id, reserved, day, month) values ($1, gen_random_uuid(), 5,"
            " current_date, date_trunc('month', current_date))",
            out[owner],
        )
        key = await db.fetchval(
            "insert into api_keys (user_id, name, prefix, key_hash) values ($1, 'k', 'sk-cg-x', sha256($2::bytea))"
            " returning id",
            out[owner],
            owner.encode(),
        )
        out[f"{owner}_key"] = str(key)
    out["builtin_role"] = str(await db.fetchval("select id from ai_roles where slug = 'assistant'"))
    return out


@pytest.fixture
async def ids(db: asyncpg.Connection) -> dict[str, str]:
    return await make_ids(db)


@pytest.fixture(scope="module")
async def plans_ids(module_db: asyncpg.Connection) -> dict[str, str]:
    return await make_ids(module_db)


TURN = "select * from api_open_turn(gen_random_uuid(), 'hi', "

CASES: list[tuple[str, str, int | str]] = [
    # plans: a catalogue everyone signed in reads; only admins change it
    ("a", "select * from plans", 3),
    ("anon", "select * from plans", REFUSED),
    ("a", "update plans set tokens_per_day = null where id = 'free' returning id", 0),
    ("a", "insert into plans (id, name) values ('mine', 'Mine') returning id", REFUSED),
    ("a", "delete from plans where id = 'unlimited' returning id", 0),
    ("forged", "update plans set tokens_per_day = null where id = 'free' returning id", 0),
    ("admin", "update plans set tokens_per_day = 5 where id = 'free' returning id", 1),
    ("admin", "insert into plans (id, name) values ('team', 'Team') returning id", 1),
    ("admin", "delete from plans where id = 'unlimited' returning id", 1),
    ("service", "update plans set tokens_per_day = 5 where id = 'free' returning id", 1),
    # usage_weights
    ("a", "select * from usage_weights where model = '*'", 1),
    ("a", "update usage_weights set output_weight = 0 returning model", 0),
    ("a", "insert into usage_weights (model) values ('cheap') returning model", REFUSED),
    ("admin", "update usage_weights set output_weight = 2 where model = 'qwen-turbo' returning model", 1),
    ("anon", "select * from usage_weights", REFUSED),
    # user_plans: own row readable, nobody but an admin changes a plan or account state
    ("a", "select * from user_plans", 1),
    ("a", "select * from user_plans where user_id = '{b}'", 0),
    ("a", "update user_plans set plan_id = 'unlimited' where user_id = '{a}' returning user_id", 0),
    ("a", "update user_plans set day_used = 0 where user_id = '{a}' returning user_id", REFUSED),
    ("a", "update user_plans set disabled = false where user_id = '{a}' returning user_id", 0),
    ("forged", "update user_plans set plan_id = 'unlimited' where user_id = '{a}' returning user_id", 0),
    ("a", "insert into user_plans (user_id, plan_id) values ('{b}', 'pro') returning user_id", REFUSED),
    ("a", "delete from user_plans where user_id = '{a}' returning user_id", REFUSED),
    ("anon", "select * from user_plans", REFUSED),
    ("admin", "select * from user_plans", 3),
    ("admin", "update user_plans set plan_id = 'pro' where user_id = '{a}' returning user_id", 1),
    ("admin", "update user_plans set disabled = true where user_id = '{b}' returning user_id", 1),
    ("admin", "update user_plans set month_used = 0 where user_id = '{b}' returning user_id", REFUSED),
    # usage_ledger: own rows only; written by triggers alone
    ("a", "select * from usage_ledger", 1),
    ("b", "select * from usage_ledger where user_id = '{a}'", 0),
    ("a", "update usage_ledger set charged = 0 returning id", REFUSED),
    ("a", "delete from usage_ledger returning id", REFUSED),
    (
        "a",
        "insert into usage_ledger (user_id, message_id, reserved, day, month) values ('{a}', gen_random_uuid(), 0,"
        " current_date, current_date) returning id",
        REFUSED,
    ),
    ("anon", "select * from usage_ledger", REFUSED),
    ("admin", "select * from usage_ledger", 2),
    ("a", "select * from usage_daily(30, '{b}')", 0),
    ("admin", "select * from usage_daily(30, '{b}')", 1),
    ("a", "select usage_allowance('{b}') as x where usage_allowance('{b}') is not null", 0),
    ("admin", "select usage_allowance('{b}') as x where usage_allowance('{b}') is not null", 1),
    # profiles and roles: admins read every profile and edit built-in roles
    ("admin", "select * from profiles", 3),
    ("forged", "select * from profiles", 1),
    ("admin", "update ai_roles set name = 'Helper' where id = '{builtin_role}' returning id", 1),
    ("a", "update ai_roles set name = 'Helper' where id = '{builtin_role}' returning id", 0),
    (
        "admin",
        'update ai_roles set translations = \'{{"en": {{"name": "Helper"}}}}\' where id = \'{builtin_role}\''
        " returning id",
        1,
    ),
    ("admin", "delete from ai_roles where id = '{builtin_role}' returning id", 0),
    (
        "admin",
        "insert into ai_roles (slug, name, system_prompt, created_by) values ('tutor', 'Tutor', 'p', null)"
        " returning id",
        1,
    ),
    # api_keys: own keys readable without their hash; created and revoked only through the functions
    ("a", "select id, name, prefix from api_keys", 1),
    ("a", "select key_hash from api_keys", REFUSED),
    ("b", "select id from api_keys where id = '{a_key}'", 0),
    ("admin", "select id from api_keys", 0),
    ("a", "update api_keys set revoked_at = null returning id", REFUSED),
    (
        "a",
        "insert into api_keys (name, prefix, key_hash) values ('x', 'sk', sha256('x'::bytea)) returning id",
        REFUSED,
    ),
    ("b", "select revoke_api_key('{a_key}') as r where revoke_api_key('{a_key}')", 0),
    ("a", "select revoke_api_key('{a_key}') as r where revoke_api_key('{a_key}')", 1),
    ("a", "delete from api_keys where id = '{a_key}' returning id", 0),
    ("a", "select * from api_key_identity('a')", REFUSED),
    ("anon", "select * from api_key_identity('a')", REFUSED),
    ("service", "select * from api_key_identity('a')", 1),
    ("login", "select * from api_key_identity('a')", 1),  # the API's door, before it becomes the key's user
    ("login", "select * from api_rate_limit_hit('send:ip:x', 60, 10)", 1),
    ("login", "select * from api_keys", REFUSED),
    ("login", "select * from usage_ledger", REFUSED),
    ("login", "select * from chat_messages", REFUSED),
    # api_open_turn: an API key's question, as its user under RLS
    ("a", TURN + "'qwen-plus', null, false, '{a_session}', null, 'k', current_date)", 1),
    ("a", TURN + "null, 'assistant', false, null, '{a_key}', 'k', current_date)", 1),
    ("b", TURN + "'qwen-plus', null, false, '{a_session}', null, 'k', current_date)", REFUSED),
    ("b", TURN + "'qwen-plus', null, false, null, '{a_key}', 'k', current_date)", REFUSED),
    ("a", TURN + "'no-such-model', null, false, '{a_session}', null, 'k', current_date)", REFUSED),
    ("anon", TURN + "'qwen-plus', null, false, '{a_session}', null, 'k', current_date)", REFUSED),
]


@pytest.mark.parametrize(("who", "sql", "expected"), CASES, ids=[f"{c[0]}: {c[1][:70]}" for c in CASES])
async def test_rls_plans(
    module_db: asyncpg.Connection, plans_ids: dict[str, str], who: str, sql: str, expected: int | str
) -> None:
    db, ids = module_db, plans_ids
    assert not db.is_in_transaction(), "an earlier probe left its transaction open"
    actor = {
        "a": Actor("user A", "authenticated", ids["a"]),
        "b": Actor("user B", "authenticated", ids["b"]),
        "admin": AdminActor("admin", "authenticated", ids["admin"]),
        "forged": ForgedActor("forged admin", "authenticated", ids["a"]),
        "anon": Actor("anon", "anon"),
        "service": Actor("service_role", "service_role"),
        "login": Actor("the API's login role", "authenticator"),
    }[who]
    try:
        result = await outcome(db, actor, sql.format(**ids))
    except asyncpg.PostgresError as exc:
        result = f"{REFUSED}: {exc.sqlstate}"
    if expected == REFUSED:
        assert refused(result), f"{actor.name} was allowed: {sql} -> {result}"
    else:
        assert result == expected, f"{actor.name}: {sql} -> {result}, expected {expected}"


async def test_admin_changes_are_audited_in_the_same_transaction(db: asyncpg.Connection, ids: dict[str, str]) -> None:
    admin = AdminActor("admin", "authenticated", ids["admin"])
    async with acting_as(db, admin):
        await db.execute("update user_plans set plan_id = 'pro' where user_id = $1", ids["a"])
        await db.execute("update user_plans set disabled = true where user_id = $1", ids["b"])
        await db.execute("update plans set requests_per_minute = 7 where id = 'free'")
        await db.execute("update ai_roles set name = 'Helper' where slug = 'assistant' and created_by is null")
        await db.execute("update user_plans set plan_id = plan_id where user_id = $1", ids["a"])  # no change
        await db.execute("reset role")
        rows = await db.fetch("select user_id, details from audit.events where kind = 'admin_action' order by id")
    events = [(str(r["user_id"]), json.loads(r["details"])) for r in rows]
    assert [(actor, d["table"], d["target"]) for actor, d in events] == [
        (ids["admin"], "user_plans", ids["a"]),
        (ids["admin"], "user_plans", ids["b"]),
        (ids["admin"], "plans", "free"),
        (ids["admin"], "ai_roles", ids["builtin_role"]),
    ]
    assert events[0][1]["changes"] == {"plan_id": ["free", "pro"]}
    assert events[1][1]["changes"] == {"disabled": [False, True]}
    assert events[2][1]["changes"] == {"requests_per_minute": [None, 7]}


async def test_sign_up_gets_the_default_plan_and_the_default_moves(db: asyncpg.Connection) -> None:
    first = await create_user(db, "first")
    await db.execute("update plans set is_default = true where id = 'pro'")
    second = await create_user(db, "second")
    plans = await db.fetch("select user_id, plan_id from user_plans where user_id = any($1::uuid[])", [first, second])
    assert {str(r["user_id"]): r["plan_id"] for r in plans} == {first: "free", second: "pro"}
    assert await db.fetchval("select array_agg(id) from plans where is_default") == ["pro"]
