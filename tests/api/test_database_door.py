"""The API's own door to Postgres (api/database.py): it reads as the caller, through a login role
that could read nothing by itself, and refuses to start with one that bypasses RLS."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import asyncpg
import httpx
import pytest

from api import security
from api.database import Caller, CallerDatabase
from api.errors import InvalidToken, SessionNotFound, TokenExpired
from api.history import page_of_history
from api.schemas import ProfileOut, RoleOut, SearchHit, SessionOut
from core import jwt
from core.settings import login_as
from localbase.postgres import SUPERUSER_PASSWORD
from tests.api.conftest import ApiUser, error_of, new_session
from tests.conftest import LocalStack, free_port


def _cursor(created_at: str, message_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([created_at, message_id]).encode()).decode().rstrip("=")


async def test_history_runs_as_authenticated_with_the_callers_claims_on_a_login_role_without_rights(
    http: httpx.AsyncClient, alice: ApiUser, pg: asyncpg.Connection
) -> None:
    session = await new_session(http, alice)
    assert (await http.get("/api/chat/history", params={"session_id": session["id"]}, headers=alice.headers)).is_success
    login = await pg.fetchrow(
        """select r.rolname, r.rolsuper, r.rolbypassrls, r.rolinherit from pg_stat_activity a
             join pg_roles r on r.oid = a.usesysid where a.application_name = 'chatgalaxy-api' limit 1"""
    )
    assert login is not None
    assert (login["rolname"], login["rolsuper"], login["rolbypassrls"], login["rolinherit"]) == (
        "authenticator",
        False,
        False,
        False,
    )
    # Without the per-transaction switch the login role reads nothing at all (no table rights).
    async with pg.transaction():
        await pg.execute("set local role authenticator")
        try:
            await pg.fetch("select 1 from public.chat_messages limit 1")
        except asyncpg.InsufficientPrivilegeError:
            pass
        else:
            raise AssertionError("the API's login role can read chat_messages without switching role")


async def test_another_users_cursor_walk_sees_nothing_of_alices(
    http: httpx.AsyncClient, alice: ApiUser, bob: ApiUser, pg: asyncpg.Connection
) -> None:
    session = await new_session(http, alice)
    row = await pg.fetchrow(
        """insert into chat_messages (session_id, message_type, content, created_at)
           values ($1, 'system', 'alice only', now() - interval '1 minute')
           returning id::text as id, to_json(created_at) #>> '{}' as created_at""",
        uuid.UUID(session["id"]),
    )
    later = _cursor("2999-01-01T00:00:00+00:00", str(uuid.uuid4()))
    for params in ({"session_id": session["id"], "cursor": later}, {"session_id": session["id"], "page": 1}):
        refused = await http.get("/api/chat/history", params=params, headers=bob.headers)
        assert (refused.status_code, error_of(refused)["code"]) == (404, "SessionNotFound")
    everything = await http.get("/api/chat/history", params={"cursor": later}, headers=bob.headers)
    assert (everything.json()["messages"], everything.json()["total"]) == ([], 0)
    mine = await http.get("/api/chat/history", params={"cursor": later}, headers=alice.headers)
    assert row["id"] in [m["id"] for m in mine.json()["messages"]]


async def test_a_cursor_whose_time_is_not_a_time_is_refused(http: httpx.AsyncClient, alice: ApiUser) -> None:
    for stamp in ("2026-13-45T99:00:00+00:00", "2026-01-01T00:00:00"):
        bad = await http.get(
            "/api/chat/history", params={"cursor": _cursor(stamp, str(uuid.uuid4()))}, headers=alice.headers
        )
        assert (bad.status_code, error_of(bad)["code"], error_of(bad)["field"]) == (422, "InvalidCursor", "cursor")


def refused_start(stack: LocalStack, database_url: str, tmp_path: Path) -> str:
    """What `python -m api` writes to stderr as it refuses to start on `database_url`."""
    log = tmp_path / "api.log"
    with open(log, "wb") as errors:
        process = subprocess.run(
            [sys.executable, "-m", "api", "--port", str(free_port())],
            env={**stack.env, "API_DATABASE_URL": database_url},
            stderr=errors,
            stdout=subprocess.DEVNULL,
            timeout=60,
            check=False,
        )
    assert process.returncode != 0
    return log.read_text()


def test_the_api_refuses_a_login_role_that_bypasses_rls(stack: LocalStack, tmp_path: Path) -> None:
    assert "neither superuser nor BYPASSRLS" in refused_start(stack, stack.dsn, tmp_path)  # the superuser


async def test_the_api_refuses_a_login_role_that_may_not_call_the_facade(
    stack: LocalStack, pg: asyncpg.Connection, tmp_path: Path
) -> None:
    """A login that may become `authenticated` but was not given the `facade` grants (a hosted
    project's own login role, README "The API's data path") is refused at start, with what to
    grant, instead of failing every read."""
    role = f"api_probe_{uuid.uuid4().hex[:8]}"
    await pg.execute(f"create role {role} login noinherit password '{SUPERUSER_PASSWORD}'")
    await pg.execute(f"grant authenticated to {role}")
    try:
        said = await asyncio.to_thread(refused_start, stack, login_as(stack.dsn, role), tmp_path)
        assert "may not call the `facade` functions" in said
    finally:
        await pg.execute(f"drop role {role}")


def test_a_cached_token_still_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "a-secret-of-at-least-thirty-two-characters"
    exp = int(time.time()) + 60
    token = jwt.encode({"sub": str(uuid.uuid4()), "role": "authenticated", "exp": exp}, secret)
    keys = jwt.KeySet(secret)
    first = security.user_from_token(token, keys)
    assert security.user_from_token(token, keys) is first  # verified once, then remembered
    monkeypatch.setattr(time, "time", lambda: exp + jwt.CLOCK_SKEW_SECONDS + 1)  # the clock api.security reads
    with pytest.raises(TokenExpired):
        security.user_from_token(token, keys)
    with pytest.raises(InvalidToken):
        security.user_from_token(token, jwt.KeySet(secret + "-another"))


async def test_search_through_the_door_is_the_callers_and_keeps_the_ranking(
    http: httpx.AsyncClient, alice: ApiUser, bob: ApiUser, pg: asyncpg.Connection
) -> None:
    session = await new_session(http, alice)
    await pg.execute(
        """insert into chat_messages (session_id, message_type, content) values
           ($1, 'system', 'kumquat'), ($1, 'system', 'kumquat kumquat kumquat orchard'), ($1, 'system', 'orchard')""",
        uuid.UUID(session["id"]),
    )
    found = await http.get(
        "/api/chat/search", params={"q": "kumquat", "session_id": session["id"]}, headers=alice.headers
    )
    hits = found.json()["results"]
    assert sorted(h["content"] for h in hits) == ["kumquat", "kumquat kumquat kumquat orchard"]
    assert [h["rank"] for h in hits] == sorted((h["rank"] for h in hits), reverse=True)
    assert (await http.get("/api/chat/search", params={"q": "kumquat"}, headers=bob.headers)).json()["results"] == []
    refused = await http.get(
        "/api/chat/search", params={"q": "kumquat", "session_id": session["id"]}, headers=bob.headers
    )
    assert (refused.status_code, error_of(refused)["code"]) == (404, "SessionNotFound")


async def test_each_facade_read_serves_each_caller_their_own_rows_on_one_connection_and_leaves_it_clean(
    http: httpx.AsyncClient, alice: ApiUser, bob: ApiUser, stack: LocalStack, pg: asyncpg.Connection
) -> None:
    """The keyed reads are one call of a `facade` function each (api/database.py `read_as`), which
    becomes the caller and runs on generic plans: the plan made for one caller must still let RLS
    decide for the next one on the same connection, and nothing the call set may outlive its
    statement (the pool, or Supabase's pooler, hands the connection to anyone)."""
    sessions: dict[str, str] = {}
    roles: dict[str, str] = {}
    for user in (alice, bob):
        sessions[user.id] = (await new_session(http, user))["id"]
        await pg.execute(
            """insert into chat_messages (session_id, message_type, content)
               select $1, 'system', 'tangerine for ' || $2 || ' ' || i from generate_series(1, 3) as i""",
            uuid.UUID(sessions[user.id]),
            user.id,
        )
        made = await http.post(
            "/api/roles", json={"name": "mine", "system_prompt": "p", "id": "door-probe"}, headers=user.headers
        )
        assert made.status_code == 201, made.text
        roles[user.id] = made.json()["role"]["uuid"]
    owned = {
        user.id: {
            str(r["id"]) for r in await pg.fetch("select id from chat_sessions where user_id = $1", uuid.UUID(user.id))
        }
        for user in (alice, bob)
    }
    keys = jwt.KeySet(stack.jwt_secret)
    door = CallerDatabase(login_as(stack.dsn, "authenticator"), 1)  # one connection: every read shares its plans
    await door.start()
    try:
        for _ in range(4):  # past the five executions after which Postgres would choose for itself
            for user in (alice, bob):
                caller = Caller(security.user_from_token(user.access_token, keys), door)
                other = next(s for owner, s in sessions.items() if owner != user.id)
                others_role = next(r for owner, r in roles.items() if owner != user.id)
                mine, total, _ = await page_of_history(
                    caller, session_id=sessions[user.id], limit=20, offset=0, cursor=None
                )
                assert (total, sorted(m.content for m in mine)) == (
                    3,
                    [f"tangerine for {user.id} {i}" for i in (1, 2, 3)],
                )
                everything, _, _ = await page_of_history(caller, session_id=None, limit=100, offset=0, cursor=None)
                assert {m.session_id for m in everything} <= owned[user.id]
                with pytest.raises(SessionNotFound):
                    await page_of_history(caller, session_id=other, limit=20, offset=0, cursor=None)
                listed = await caller.read_rows(SessionOut, "select facade.sessions($1, false, 100, 0, null)")
                assert {s.id for s in listed} == owned[user.id]
                assert await caller.read_rows(SessionOut, "select facade.session($1, $2)", uuid.UUID(other)) == []
                other_user = next(u.id for u in (alice, bob) if u.id != user.id)
                profile = "select facade.profile($1, $2)"
                assert await caller.read_rows(ProfileOut, profile, uuid.UUID(other_user)) == []
                assert [p.id for p in await caller.read_rows(ProfileOut, profile, uuid.UUID(user.id))] == [user.id]
                seen = {r.uuid for r in await caller.read_rows(RoleOut, "select facade.roles($1, null, null)")}
                assert roles[user.id] in seen
                assert others_role not in seen
                by_id = "select facade.roles($1, $2, null)"
                assert await caller.read_rows(RoleOut, by_id, uuid.UUID(others_role)) == []
                hits = await caller.read_rows(SearchHit, "select facade.search($1, 'tangerine', null, 100, 0, null)")
                assert {h.session_id for h in hits} == {sessions[user.id]}
                assert (await caller.read("select facade.search($1, 'tangerine', $2, 100, 0, null)", uuid.UUID(other)))[
                    0
                ] is None
                by_slug = await caller.read_rows(RoleOut, "select facade.roles($1, null, 'door-probe')")
                assert [r.uuid for r in by_slug] == [roles[user.id]]
        settings = await door.as_login(
            """select current_user as who, current_setting('plan_cache_mode') as mode,
                      coalesce(current_setting('request.jwt.claims', true), '') as claims"""
        )
        assert [tuple(row) for row in settings] == [("authenticator", "auto", "")]
    finally:
        await door.close()


async def test_after_a_facade_switch_nothing_can_be_written(stack: LocalStack, alice: ApiUser) -> None:
    """`facade.become` makes the rest of the transaction read-only, as the API's read transactions
    were: a facade function that tried to change a row would be refused, whatever RLS allows."""
    claims = security.user_from_token(alice.access_token, jwt.KeySet(stack.jwt_secret)).claims_json
    conn = await asyncpg.connect(login_as(stack.dsn, "authenticator"))
    try:
        async with conn.transaction():
            await conn.execute("select facade.become($1)", claims)
            with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
                await conn.execute(
                    "insert into public.chat_sessions (user_id, title) values ($1, 'written')", uuid.UUID(alice.id)
                )
    finally:
        await conn.close()


async def test_only_the_apis_login_role_may_call_the_facade_functions(
    pg: asyncpg.Connection, stack: LocalStack, alice: ApiUser, bob: ApiUser
) -> None:
    """A `facade` function takes whoever's claims it is given: a REST, Realtime or Storage caller
    (anon, authenticated, service_role) must not be able to call one, nor see the schema."""
    bobs_claims = json.dumps({"sub": bob.id, "role": "authenticated", "aud": "authenticated"})
    async with httpx.AsyncClient(base_url=stack.url, trust_env=False) as rest:
        for profile in ("facade", "public"):
            called = await rest.post(
                "/rest/v1/rpc/sessions",
                json={"claims": bobs_claims, "archived": False, "page_rows": 10, "skip": 0},
                headers={**alice.headers, "apikey": stack.anon_key, "Content-Profile": profile},
            )
            assert called.status_code in (404, 406), called.text
    functions = [
        r["oid"] for r in await pg.fetch("select p.oid from pg_proc p where p.pronamespace = 'facade'::regnamespace")
    ]
    assert len(functions) == 7
    for role in ("anon", "authenticated", "service_role", "public"):
        if role == "public":
            allowed = await pg.fetch(
                """select p.proname from pg_proc p, aclexplode(p.proacl) a
                    where p.pronamespace = 'facade'::regnamespace and a.grantee = 0 and a.privilege_type = 'EXECUTE'"""
            )
            assert allowed == []
            continue
        assert not await pg.fetchval("select has_schema_privilege($1, 'facade', 'usage')", role)
        for oid in functions:
            assert not await pg.fetchval("select has_function_privilege($1, $2::oid, 'execute')", role, oid)
    for oid in functions:
        assert await pg.fetchval("select has_function_privilege('authenticator', $1::oid, 'execute')", oid)
