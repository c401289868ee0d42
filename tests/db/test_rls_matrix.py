"""Row-level security, table by table and verb by verb, for user A, user B, anon and service_role.

Each probe runs in a rolled-back transaction as the role PostgREST would use, so every case sees
the same fixture data. "refused" means PostgreSQL raised (RLS WITH CHECK or missing privilege);
a row count is what the statement returned or affected.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
import pytest

from tests.db.actors import Actor, acting_as, create_user

REFUSED = "refused"


@dataclass
class World:
    a: Actor
    b: Actor
    anon: Actor
    service: Actor
    ids: dict[str, str]


async def build_world(db: asyncpg.Connection) -> World:
    """Users A and B, a custom role of A's, a session each with a question and a streaming answer,
    and an avatar and an attachment each."""
    a_id = await create_user(db, "alice")
    b_id = await create_user(db, "bobby")
    builtin = await db.fetchval("select id from ai_roles where slug = 'assistant'")
    ids = {"a": a_id, "b": b_id, "builtin_role": str(builtin)}
    ids["a_role"] = str(
        await db.fetchval(
            "insert into ai_roles (slug, name, system_prompt, created_by) values ('pirate', 'Pirate', 'Arr.', $1)"
            " returning id",
            a_id,
        )
    )
    for owner in ("a", "b"):
        ids[f"{owner}_session"] = str(
            await db.fetchval(
                "insert into chat_sessions (user_id, role_id, title) values ($1, $2, 'hello') returning id",
                ids[owner],
                builtin,
            )
        )
        ids[f"{owner}_msg"] = str(
            await db.fetchval(
                "insert into chat_messages (session_id, user_id, content, role_id) values ($1, $2, 'hi', 'assistant')"
                " returning id",
                ids[f"{owner}_session"],
                ids[owner],
            )
        )
        ids[f"{owner}_reply"] = str(
            await db.fetchval(
                "insert into chat_messages (session_id, user_id, message_type, reply_to, status)"
                " values ($1, $2, 'assistant', $3, 'streaming') returning id",
                ids[f"{owner}_session"],
                ids[owner],
                ids[f"{owner}_msg"],
            )
        )
    for owner in ("a", "b"):
        for bucket in ("avatars", "attachments"):
            await db.execute(
                "insert into storage.objects (bucket_id, name, owner_id, version, metadata)"
                ' values ($1, $2, $3, \'v1\', \'{"size": 3, "mimetype": "image/png"}\')',
                bucket,
                f"{ids[owner]}/pic.png",
                ids[owner],
            )
    return World(
        a=Actor("user A", "authenticated", a_id),
        b=Actor("user B", "authenticated", b_id),
        anon=Actor("anon", "anon"),
        service=Actor("service_role", "service_role"),
        ids=ids,
    )


@pytest.fixture
async def world(db: asyncpg.Connection) -> World:
    return await build_world(db)


@pytest.fixture(scope="module")
async def matrix_world(module_db: asyncpg.Connection) -> World:
    return await build_world(module_db)


async def outcome(conn: asyncpg.Connection, actor: Actor, sql: str, *args: object) -> int | str:
    """Rows returned (SELECT/RETURNING) by `sql` as `actor`, or REFUSED if PostgreSQL raised."""
    try:
        async with acting_as(conn, actor):
            return len(await conn.fetch(sql, *args))
    except (asyncpg.InsufficientPrivilegeError, asyncpg.RaiseError) as exc:
        return f"{REFUSED}: {exc.sqlstate}"


def refused(result: int | str) -> bool:
    return isinstance(result, str) and result.startswith(REFUSED)


# (actor, SQL with {placeholders} from World.ids, expected rows or REFUSED)
CASES: list[tuple[str, str, int | str]] = [
    # profiles
    ("a", "select * from profiles", 1),
    ("a", "select * from profiles where id = '{b}'", 0),
    ("b", "select * from profiles where id = '{a}'", 0),
    ("anon", "select * from profiles", REFUSED),
    ("service", "select * from profiles", 2),
    ("a", "update profiles set username = 'alice2' where id = '{a}' returning id", 1),
    ("a", "update profiles set avatar_url = 'x' where id = '{b}' returning id", 0),
    ("a", "update profiles set is_active = false where id = '{a}' returning id", REFUSED),
    ("a", "update profiles set id = '{b}' where id = '{a}' returning id", REFUSED),
    ("a", "insert into profiles (id, username) values ('{b}', 'fake_b') returning id", REFUSED),
    ("a", "delete from profiles where id = '{a}' returning id", REFUSED),
    ("anon", "update profiles set username = 'x' returning id", REFUSED),
    # ai_roles
    ("a", "select * from ai_roles", 5),
    ("b", "select * from ai_roles", 4),
    ("b", "select * from ai_roles where id = '{a_role}'", 0),
    ("anon", "select * from ai_roles", REFUSED),
    ("a", "insert into ai_roles (slug, name, system_prompt) values ('mine', 'Mine', 'p') returning id", 1),
    (
        "a",
        "insert into ai_roles (slug, name, system_prompt, created_by) values ('x1', 'X', 'p', '{b}') returning id",
        REFUSED,
    ),
    (
        "a",
        "insert into ai_roles (slug, name, system_prompt, created_by) values ('x2', 'X', 'p', null) returning id",
        REFUSED,
    ),
    ("a", "update ai_roles set name = 'hacked' where id = '{builtin_role}' returning id", 0),
    ("a", "update ai_roles set name = 'Captain' where id = '{a_role}' returning id", 1),
    ("a", "update ai_roles set created_by = null where id = '{a_role}' returning id", REFUSED),
    ("b", "update ai_roles set name = 'mine now' where id = '{a_role}' returning id", 0),
    ("b", "delete from ai_roles where id = '{a_role}' returning id", 0),
    ("a", "delete from ai_roles where id = '{builtin_role}' returning id", 0),
    ("a", "delete from ai_roles where id = '{a_role}' returning id", 1),
    ("service", "update ai_roles set sort_order = 9 where id = '{builtin_role}' returning id", 1),
    # ai_roles.translations: written by whoever writes the row's other texts, read with the row
    (
        "a",
        'update ai_roles set translations = \'{{"en": {{"name": "Pirate"}}}}\' where id = \'{a_role}\' returning id',
        1,
    ),
    ("a", "update ai_roles set translations = '{{}}' where id = '{builtin_role}' returning id", 0),
    ("b", "update ai_roles set translations = '{{}}' where id = '{a_role}' returning id", 0),
    ("b", "select translations from ai_roles where id = '{a_role}'", 0),
    ("b", "select translations from ai_roles where translations ? 'en'", 4),
    ("anon", "select translations from ai_roles", REFUSED),
    ("anon", "update ai_roles set translations = '{{}}' returning id", REFUSED),
    (
        "a",
        "insert into ai_roles (slug, name, system_prompt, translations)"
        " values ('mine2', 'Mine', 'p', '{{\"zh\": {{\"name\": \"我的\"}}}}') returning id",
        1,
    ),
    # chat_sessions
    ("a", "select * from chat_sessions", 1),
    ("b", "select * from chat_sessions where id = '{a_session}'", 0),
    ("anon", "select * from chat_sessions", REFUSED),
    ("a", "insert into chat_sessions (title) values ('new') returning id", 1),
    ("a", "insert into chat_sessions (user_id, title) values ('{b}', 'for b') returning id", REFUSED),
    ("a", "insert into chat_sessions (title, message_count) values ('n', 100) returning id", REFUSED),
    ("b", "insert into chat_sessions (role_id, title) values ('{a_role}', 'steal role') returning id", REFUSED),
    ("a", "update chat_sessions set title = 'renamed' where id = '{a_session}' returning id", 1),
    ("a", "update chat_sessions set message_count = 0 where id = '{a_session}' returning id", REFUSED),
    # the worker trusts history_epoch to say a kept history still holds (worker/histories.py)
    ("a", "update chat_sessions set history_epoch = 0 where id = '{a_session}' returning id", REFUSED),
    ("a", "insert into chat_sessions (title, history_epoch) values ('n', 7) returning id", REFUSED),
    ("a", "update chat_sessions set user_id = '{b}' where id = '{a_session}' returning id", REFUSED),
    ("b", "update chat_sessions set title = 'mine' where id = '{a_session}' returning id", 0),
    ("b", "delete from chat_sessions where id = '{a_session}' returning id", 0),
    # chat_sessions: the branch shown and pins (conversation trees)
    ("a", "update chat_sessions set current_leaf_id = '{a_reply}' where id = '{a_session}' returning id", 1),
    ("a", "update chat_sessions set current_leaf_id = '{b_reply}' where id = '{a_session}' returning id", REFUSED),
    ("b", "update chat_sessions set current_leaf_id = '{b_msg}' where id = '{a_session}' returning id", 0),
    ("a", "update chat_sessions set pinned_at = now() where id = '{a_session}' returning id", 1),
    ("b", "update chat_sessions set pinned_at = now() where id = '{a_session}' returning id", 0),
    ("a", "update chat_sessions set branched = true where id = '{a_session}' returning id", REFUSED),
    ("anon", "update chat_sessions set pinned_at = now() returning id", REFUSED),
    ("a", "delete from chat_sessions where id = '{a_session}' returning id", 1),
    ("service", "select * from chat_sessions", 2),
    # chat_messages
    ("a", "select * from chat_messages", 2),
    ("b", "select * from chat_messages where session_id = '{a_session}'", 0),
    ("anon", "select * from chat_messages", REFUSED),
    ("a", "insert into chat_messages (session_id, content) values ('{a_session}', 'next') returning id", 1),
    ("b", "insert into chat_messages (session_id, content) values ('{a_session}', 'intrude') returning id", REFUSED),
    (
        "a",
        "insert into chat_messages (session_id, parent_id, content) values ('{a_session}', '{a_reply}', 'edit')"
        " returning id",
        1,
    ),
    (
        "a",
        "insert into chat_messages (session_id, parent_id, content) values ('{a_session}', '{b_reply}', 'graft')"
        " returning id",
        REFUSED,
    ),
    (
        "a",
        "insert into chat_messages (session_id, content, answer_no) values ('{a_session}', 'x', 2) returning id",
        REFUSED,
    ),
    ("a", "update chat_messages set parent_id = null where id = '{a_msg}' returning id", REFUSED),
    ("a", "select * from chat_path('{a_session}')", 2),
    ("b", "select * from chat_path('{a_session}')", 0),
    ("b", "select * from chat_forks('{a_session}')", 0),
    ("anon", "select * from chat_path('{a_session}')", REFUSED),
    ("anon", "select chat_branch('{a_reply}')", REFUSED),
    ("anon", "select * from request_answer('{a_msg}', 2)", REFUSED),
    (
        "b",
        "insert into chat_messages (session_id, user_id, content) values ('{a_session}', '{a}', 'x') returning id",
        REFUSED,
    ),
    (
        "a",
        "insert into chat_messages (session_id, message_type, content) values ('{a_session}', 'assistant', 'fake')"
        " returning id",
        REFUSED,
    ),
    (
        "a",
        "insert into chat_messages (session_id, message_type, content) values ('{a_session}', 'system', 'x')"
        " returning id",
        REFUSED,
    ),
    (
        "a",
        "insert into chat_messages (session_id, content, tokens_used) values ('{a_session}', 'x', 5) returning id",
        REFUSED,
    ),
    (
        "a",
        "insert into chat_messages (session_id, content, status) values ('{a_session}', 'x', 'pending') returning id",
        REFUSED,
    ),
    ("a", "update chat_messages set tokens_used = 1 where id = '{a_reply}' returning id", REFUSED),
    ("a", "update chat_messages set content = 'edited' where id = '{a_msg}' returning id", REFUSED),
    ("a", "update chat_messages set cancel_requested = true where id = '{a_reply}' returning id", 1),
    ("a", "update chat_messages set cancel_requested = true where id = '{a_msg}' returning id", 0),
    ("b", "update chat_messages set cancel_requested = true where id = '{a_reply}' returning id", 0),
    ("b", "delete from chat_messages where id = '{a_msg}' returning id", 0),
    ("a", "delete from chat_messages where id = '{a_reply}' returning id", 0),  # a turn goes whole
    ("a", "delete from chat_messages where id = '{a_msg}' returning id", 1),
    (
        "service",
        "insert into chat_messages (session_id, message_type, reply_to, content) values"
        " ('{a_session}', 'assistant', null, 'x') returning id",
        "check",
    ),
    (
        "service",
        "update chat_messages set tokens_used = 42, status = 'completed' where id = '{a_reply}' returning id",
        1,
    ),
    # models: the offered list, read by signed-in users, changed by migrations/service_role only
    ("a", "select * from models", 6),
    ("anon", "select * from models", REFUSED),
    (
        "a",
        "insert into models (id, display_name, context_window, max_input, max_output)"
        " values ('mine', 'Mine', 10, 10, 10) returning id",
        REFUSED,
    ),
    ("a", "update models set is_active = false returning id", REFUSED),
    ("a", "delete from models returning id", REFUSED),
    ("service", "update models set sort_order = 9 where id = 'qwen-plus' returning id", 1),
    # sessions' model and thinking; questions' web_search; answers' reasoning and sources
    ("a", "update chat_sessions set model = 'qwen-plus', thinking = true where id = '{a_session}' returning id", 1),
    ("b", "update chat_sessions set model = 'qwen-plus' where id = '{a_session}' returning id", 0),
    ("a", "insert into chat_sessions (title, model, thinking) values ('t', 'qwen-flash', true) returning id", 1),
    (
        "a",
        "insert into chat_messages (session_id, content, web_search) values ('{a_session}', 'x', true) returning id",
        1,
    ),
    (
        "a",
        "insert into chat_messages (session_id, content, reasoning) values ('{a_session}', 'x', 'r') returning id",
        REFUSED,
    ),
    (
        "a",
        "insert into chat_messages (session_id, content, sources) values ('{a_session}', 'x', '[]') returning id",
        REFUSED,
    ),
    ("a", "update chat_messages set reasoning = 'x' where id = '{a_reply}' returning id", REFUSED),
    ("a", "update chat_messages set sources = '[]' where id = '{a_reply}' returning id", REFUSED),
    ("a", "update chat_messages set web_search = true where id = '{a_msg}' returning id", REFUSED),
    ("a", "update chat_messages set image_tokens = 1 where id = '{a_reply}' returning id", REFUSED),
    # api_rate_limits: the API's counters, service_role only
    ("a", "select * from api_rate_limits", REFUSED),
    ("anon", "select * from api_rate_limits", REFUSED),
    ("a", "insert into api_rate_limits values ('user:x', now(), 0) returning bucket", REFUSED),
    ("a", "select * from api_rate_limit_hit('user:x', 60, 10)", REFUSED),
    ("service", "select * from api_rate_limit_hit('user:x', 60, 10)", 1),
    # storage.buckets: no policy, so only service_role sees or changes buckets
    ("a", "select * from storage.buckets", 0),
    ("anon", "select * from storage.buckets", 0),
    ("service", "select * from storage.buckets where id in ('avatars', 'attachments')", 2),
    ("a", "insert into storage.buckets (id, name) values ('mine', 'mine') returning id", REFUSED),
    ("anon", "insert into storage.buckets (id, name) values ('mine', 'mine') returning id", REFUSED),
    ("a", "update storage.buckets set public = true where id = 'attachments' returning id", 0),
    ("anon", "update storage.buckets set file_size_limit = null where id = 'avatars' returning id", 0),
    # storage.objects, avatars: downloads go through the public URL; listing and writes are the owner's
    ("a", "select * from storage.objects where bucket_id = 'avatars'", 1),
    ("b", "select * from storage.objects where bucket_id = 'avatars' and name like '{a}/%'", 0),
    ("anon", "select * from storage.objects where bucket_id = 'avatars'", 0),
    (
        "a",
        "insert into storage.objects (bucket_id, name, owner_id) values ('avatars', '{a}/new.png', '{a}') returning id",
        1,
    ),
    (
        "b",
        "insert into storage.objects (bucket_id, name, owner_id) values ('avatars', '{a}/evil.png', '{b}')"
        " returning id",
        REFUSED,
    ),
    ("a", "insert into storage.objects (bucket_id, name) values ('avatars', 'root.png') returning id", REFUSED),
    ("anon", "insert into storage.objects (bucket_id, name) values ('avatars', '{a}/x.png') returning id", REFUSED),
    (
        "a",
        "update storage.objects set version = 'v2' where name = '{a}/pic.png' and bucket_id = 'avatars' returning id",
        1,
    ),
    (
        "b",
        "update storage.objects set version = 'v2' where name = '{a}/pic.png' and bucket_id = 'avatars' returning id",
        0,
    ),
    ("a", "update storage.objects set name = '{b}/pic2.png' where name = '{a}/pic.png' returning id", REFUSED),
    ("anon", "update storage.objects set version = 'v2' returning id", 0),
    (
        "b",
        "select set_config('storage.allow_delete_query', 'true', true);"
        " delete from storage.objects where bucket_id = 'avatars' and name = '{a}/pic.png' returning id",
        0,
    ),
    (
        "anon",
        "select set_config('storage.allow_delete_query', 'true', true);"
        " delete from storage.objects where bucket_id = 'avatars' returning id",
        0,
    ),
    (
        "a",
        "select set_config('storage.allow_delete_query', 'true', true);"
        " delete from storage.objects where bucket_id = 'avatars' returning id",
        1,
    ),
    ("a", "delete from storage.objects where bucket_id = 'avatars' returning id", REFUSED),
    # storage.objects, attachments: private, the owner's alone
    ("a", "select * from storage.objects where bucket_id = 'attachments'", 1),
    ("b", "select * from storage.objects where bucket_id = 'attachments' and name like '{a}/%'", 0),
    ("anon", "select * from storage.objects where bucket_id = 'attachments'", 0),
    ("service", "select * from storage.objects where bucket_id = 'attachments'", 2),
    (
        "a",
        "insert into storage.objects (bucket_id, name, owner_id) values ('attachments', '{a}/doc.pdf', '{a}')"
        " returning id",
        1,
    ),
    (
        "b",
        "insert into storage.objects (bucket_id, name, owner_id) values ('attachments', '{a}/doc.pdf', '{b}')"
        " returning id",
        REFUSED,
    ),
    ("anon", "insert into storage.objects (bucket_id, name) values ('attachments', 'x/doc.pdf') returning id", REFUSED),
    (
        "b",
        "update storage.objects set version = 'v2' where bucket_id = 'attachments' and name like '{a}/%' returning id",
        0,
    ),
    ("a", "update storage.objects set version = 'v2' where bucket_id = 'attachments' returning id", 1),
    (
        "b",
        "select set_config('storage.allow_delete_query', 'true', true);"
        " delete from storage.objects where bucket_id = 'attachments' and name like '{a}/%' returning id",
        0,
    ),
    (
        "a",
        "select set_config('storage.allow_delete_query', 'true', true);"
        " delete from storage.objects where bucket_id = 'attachments' returning id",
        1,
    ),
    # chat_messages.attachments: only the owner's stored objects
    (
        "a",
        "insert into chat_messages (session_id, content, attachments) values ('{a_session}', 'see',"
        ' \'[{{"bucket": "attachments", "path": "{a}/pic.png", "name": "pic.png",'
        ' "mime_type": "image/png", "size": 3, "width": 1, "height": 1}}]\') returning id',
        1,
    ),
    (
        "a",
        "insert into chat_messages (session_id, content, attachments) values ('{a_session}', 'steal',"
        ' \'[{{"bucket": "attachments", "path": "{b}/pic.png", "name": "pic.png",'
        ' "mime_type": "image/png", "size": 3}}]\') returning id',
        REFUSED,
    ),
    # realtime.messages probes, as Realtime authorizes a private join to chat:<session>
    (
        "a",
        "select set_config('realtime.topic', 'chat:{a_session}', true);"
        " insert into realtime.messages (topic, extension) values ('chat:{a_session}', 'presence') returning id",
        1,
    ),
    (
        "b",
        "select set_config('realtime.topic', 'chat:{a_session}', true);"
        " insert into realtime.messages (topic, extension) values ('chat:{a_session}', 'broadcast') returning id",
        REFUSED,
    ),
]


@pytest.mark.parametrize(("who", "sql", "expected"), CASES, ids=[f"{c[0]}: {c[1][:70]}" for c in CASES])
async def test_rls_matrix(
    module_db: asyncpg.Connection, matrix_world: World, who: str, sql: str, expected: int | str
) -> None:
    db, world = module_db, matrix_world
    assert not db.is_in_transaction(), "an earlier probe left its transaction open"
    actor = {"a": world.a, "b": world.b, "anon": world.anon, "service": world.service}[who]
    statements = [s.strip() for s in sql.format(**world.ids).split(";") if s.strip()]
    if len(statements) == 2:  # a setup statement inside the same transaction, then the probe
        try:
            async with acting_as(db, actor):
                await db.execute(statements[0])
                result: int | str = len(await db.fetch(statements[1]))
        except asyncpg.InsufficientPrivilegeError as exc:
            result = f"{REFUSED}: {exc.sqlstate}"
    else:
        try:
            result = await outcome(db, actor, statements[0])
        except asyncpg.CheckViolationError:
            result = "check"
    if expected == REFUSED:
        assert refused(result), f"{actor.name} was allowed: {sql} -> {result}"
    else:
        assert result == expected, f"{actor.name}: {sql} -> {result}, expected {expected}"


async def test_chat_topic_readable_only_by_session_owner(db: asyncpg.Connection, world: World) -> None:
    """Realtime's private-join read probe: the owner sees the probe row, another user does not."""
    topic = f"chat:{world.ids['a_session']}"
    await db.execute("insert into realtime.messages (topic, extension, private) values ($1, 'broadcast', true)", topic)
    seen = {}
    for actor in (world.a, world.b):
        async with acting_as(db, actor):
            await db.execute("select set_config('realtime.topic', $1, true)", topic)
            seen[actor.name] = await db.fetchval(
                "select count(*) from realtime.messages where topic = $1 and extension = 'broadcast'", topic
            )
    assert seen == {"user A": 1, "user B": 0}


async def test_a_deleted_users_still_valid_token_writes_no_file(db: asyncpg.Connection, world: World) -> None:
    """Deleting an account deletes its files, but its access token lives on until it expires: the
    public avatars bucket would serve what it uploaded after, for good, with no account to own it."""
    ghost = await create_user(db, "ghost")
    await db.execute("delete from auth.users where id = $1", ghost)
    actor = Actor("deleted user", "authenticated", ghost)
    for bucket in ("avatars", "attachments"):
        uploaded = await outcome(
            db,
            actor,
            "insert into storage.objects (bucket_id, name, owner_id) values ($1, $2, $3) returning id",
            bucket,
            f"{ghost}/after-delete.png",
            ghost,
        )
        assert refused(uploaded), f"{bucket}: {uploaded}"
        # Nor does any other writer (a signed upload URL is written as Storage's admin): the folder
        # of a deleted account takes no file that nothing would ever remove.
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="no existing account"):
            await db.execute(
                "insert into storage.objects (bucket_id, name, owner_id, version) values ($1, $2, $3, 'v1')",
                bucket,
                f"{ghost}/left.png",
                ghost,
            )
    # The same writes by an existing user still pass.
    for bucket in ("avatars", "attachments"):
        mine = f"{world.ids['a']}/new.png"
        sql = "insert into storage.objects (bucket_id, name, owner_id) values ($1, $2, $3) returning id"
        assert await outcome(db, world.a, sql, bucket, mine, world.ids["a"]) == 1
        sql = "update storage.objects set version = 'v2' where bucket_id = $1 and name = $2 returning id"
        assert await outcome(db, world.a, sql, bucket, f"{world.ids['a']}/pic.png") == 1


async def test_every_public_table_has_rls_and_policies(db: asyncpg.Connection) -> None:
    rows = await db.fetch(
        """select c.relname, c.relrowsecurity,
                  (select count(*) from pg_policy p where p.polrelid = c.oid) as policies
             from pg_class c join pg_namespace n on n.oid = c.relnamespace
            where n.nspname = 'public' and c.relkind in ('r', 'p')"""
    )
    assert rows, "no tables in public"
    for row in rows:
        assert row["relrowsecurity"], f"RLS is off on {row['relname']}"
        assert row["policies"] > 0, f"{row['relname']} has no policies"
