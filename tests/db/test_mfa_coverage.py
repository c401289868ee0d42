"""Two-factor sign-in covers share links, API keys and usage: an aal1 token of a user with a
verified factor (a stolen password, no code) can neither mint an API key nor share a conversation
through the SECURITY DEFINER functions, nor read those tables; at aal2 both work, and an API key's
own token acts for its user."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import pytest

from tests.db.actors import create_user


@asynccontextmanager
async def as_user(db: asyncpg.Connection, user: str, **claims: object) -> AsyncIterator[asyncpg.Connection]:
    tx = db.transaction()
    await tx.start()
    try:
        body = {"role": "authenticated", "sub": user, **claims}
        await db.execute("select set_config('request.jwt.claims', $1, true)", json.dumps(body))
        await db.execute("set local role authenticated")
        yield db
    finally:
        await tx.rollback()


async def _two_factor_user(db: asyncpg.Connection) -> tuple[str, str]:
    user = await create_user(db, f"mfa_{uuid.uuid4().hex[:8]}")
    await db.execute(
        """insert into auth.mfa_factors (id, user_id, friendly_name, factor_type, status, created_at, updated_at)
           values (gen_random_uuid(), $1, 'phone app', 'totp', 'verified', now(), now())""",
        user,
    )
    session = await db.fetchval("insert into chat_sessions (user_id, title) values ($1, 't') returning id::text", user)
    return user, session


async def test_aal1_cannot_mint_keys_or_share(db: asyncpg.Connection) -> None:
    user, session = await _two_factor_user(db)
    async with as_user(db, user, aal="aal1"):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await db.fetchval("select public.create_api_key('stolen')")
    async with as_user(db, user, aal="aal1"):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await db.fetchval("select public.share_session($1::uuid)", session)
    assert await db.fetchval("select count(*) from public.api_keys where user_id = $1", user) == 0
    assert await db.fetchval("select count(*) from public.chat_shares where user_id = $1", user) == 0


async def test_aal2_mints_keys_and_shares_and_aal1_reads_none_of_them(db: asyncpg.Connection) -> None:
    user, session = await _two_factor_user(db)
    tx = db.transaction()
    await tx.start()
    await db.execute(
        "select set_config('request.jwt.claims', $1, true)",
        json.dumps({"role": "authenticated", "sub": user, "aal": "aal2"}),
    )
    await db.execute("set local role authenticated")
    key = json.loads(await db.fetchval("select public.create_api_key('laptop')"))
    share = json.loads(await db.fetchval("select public.share_session($1::uuid)", session))
    await tx.commit()
    assert key["key"].startswith("sk-cg-")
    assert share
    async with as_user(db, user, aal="aal1"):
        assert await db.fetchval("select count(*) from public.api_keys") == 0
        assert await db.fetchval("select count(*) from public.chat_shares") == 0
    async with as_user(db, user, aal="aal2"):
        assert await db.fetchval("select count(*) from public.api_keys") == 1
        assert await db.fetchval("select count(*) from public.chat_shares") == 1
    # The key's own token (minted by the API, aal1 with provider api_key) acts for its user.
    async with as_user(db, user, aal="aal1", app_metadata={"provider": "api_key", "key_id": key["id"]}):
        assert await db.fetchval("select public.mfa_satisfied()") is True
        assert await db.fetchval("select count(*) from public.chat_sessions") == 1


async def test_users_without_a_factor_are_unaffected(db: asyncpg.Connection) -> None:
    user = await create_user(db, f"plain_{uuid.uuid4().hex[:8]}")
    async with as_user(db, user, aal="aal1"):
        made = json.loads(await db.fetchval("select public.create_api_key('ci')"))
        assert made["name"] == "ci"


async def test_an_admins_plan_and_weight_changes_need_the_second_factor(db: asyncpg.Connection) -> None:
    """An admin's stolen password, without the code, changes no plan and no weight (an update or a
    delete finds no row, an insert is refused); with the code each does; both read them."""
    admin, _ = await _two_factor_user(db)
    await db.execute("insert into plans (id, name) values ('spare', 'Spare')")
    await db.execute("insert into usage_weights (model, input_weight) values ('qwen-spare', 1)")
    writes = [
        "update plans set tokens_per_day = 1 where id = 'free' returning id",
        "insert into plans (id, name) values ('stolen', 'Stolen') returning id",
        "delete from plans where id = 'spare' returning id",
        "update usage_weights set input_weight = 0 where model = 'qwen-spare' returning model",
        "insert into usage_weights (model, input_weight) values ('qwen-stolen', 0) returning model",
        "delete from usage_weights where model = 'qwen-spare' returning model",
    ]

    async def changed(sql: str, aal: str) -> int | str:
        async with as_user(db, admin, aal=aal, app_metadata={"role": "admin"}):
            assert await db.fetchval("select count(*) from plans") > 0
            try:
                return len(await db.fetch(sql))
            except asyncpg.InsufficientPrivilegeError:
                return "refused"

    assert [await changed(sql, "aal1") for sql in writes] == [0, "refused", 0, 0, "refused", 0]
    assert [await changed(sql, "aal2") for sql in writes] == [1] * len(writes)


# Definer functions a signed-in user may call that need no second-factor check of their own, and why.
NO_CHECK_OF_THEIR_OWN = {
    "attachment_listed_by_own_message": "a storage policy's question; storage.objects' aal2 policy refuses first",
    "audit_admin_read": "records that an admin read something; reads nothing",
    "chat_branch": "refused by the trigger on the chat it creates (chat_sessions_second_factor)",
    "chat_forks": "reads through chat_path",
    "chat_topic_owned": "a realtime.messages policy's question; that table's aal2 policy refuses first",
    "create_api_key": "refused by the trigger on api_keys",
    "mfa_satisfied": "the check itself",
    "page_cursor_keys": "reads a list's cursor and no table (to refuse it); the list reads through RLS",
    "read_share": "a share link is public by design, for anon too",
    "share_session": "refused by the trigger on chat_shares",
    "username_available": "sign-up's check, for anon too",
}


async def test_every_definer_door_asks_for_the_second_factor(db: asyncpg.Connection) -> None:
    """Policies do not bind SECURITY DEFINER functions: each one a signed-in user may call checks
    mfa_satisfied() itself or is listed above with the reason it need not."""
    doors = await db.fetch(
        """select p.proname, position('mfa_satisfied' in p.prosrc) > 0 as checks
             from pg_proc p join pg_namespace n on n.oid = p.pronamespace
            where n.nspname = 'public' and p.prosecdef and p.prorettype <> 'trigger'::regtype
              and has_function_privilege('authenticated', p.oid, 'execute')"""
    )
    unchecked = sorted(r["proname"] for r in doors if not r["checks"])
    assert unchecked == sorted(NO_CHECK_OF_THEIR_OWN)


async def test_aal1_reads_no_path_or_search_and_asks_no_answer_branch_or_revocation(db: asyncpg.Connection) -> None:
    user, session = await _two_factor_user(db)
    question = await db.fetchval(
        "insert into chat_messages (session_id, user_id, content) values ($1::uuid, $2, 'secret words') returning id",
        session,
        user,
    )
    await db.execute(
        "insert into chat_messages (session_id, user_id, message_type, reply_to, content, status)"
        " values ($1::uuid, $2, 'assistant', $3, 'secret answer', 'completed')",
        session,
        user,
        question,
    )
    key = await db.fetchval(
        "insert into api_keys (user_id, name, prefix, key_hash) values ($1, 'k', 'sk-cg-x', sha256('x')) returning id",
        user,
    )
    reads = {
        "path": "select count(*) from chat_path($1::uuid)",
        "search": "select count(*) from search_message_hits('secret', $1::uuid, 10, 0, null)",
    }
    for aal, seen in (("aal1", 0), ("aal2", 2)):
        async with as_user(db, user, aal=aal):
            assert await db.fetchval(reads["path"], session) == seen
            assert await db.fetchval(reads["search"], session) == seen
    writes = [
        ("select (request_answer($1::uuid, 2)).id", question),
        ("select chat_branch($1::uuid)", question),
    ]
    for sql, arg in writes:
        async with as_user(db, user, aal="aal1"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await db.fetchval(sql, arg)
        async with as_user(db, user, aal="aal2"):
            assert await db.fetchval(sql, arg) is not None
    for aal, revoked in (("aal1", False), ("aal2", True)):
        async with as_user(db, user, aal=aal):
            assert await db.fetchval("select revoke_api_key($1)", key) is revoked
