"""`create_api_key` with the caller's own id for the key (migrations/..._keys_named_by_their_caller.sql):
the key is stored under it, and an id that is taken is refused as KeyIdTaken before anything else,
whoever's key holds it, so a repeat of a create whose answer was lost stores nothing and changes
nothing (the web app then revokes that key and makes another). A guest makes no key, and a key a
guest made before says so (`api_key_identity`'s `is_anonymous`), so its requests keep the guest limit."""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg
import pytest

from tests.db.actors import create_user
from tests.db.refusals import refusal


async def create_key(
    db: asyncpg.Connection, user: str, name: str, key_id: str | None = None, *, guest: bool = False
) -> dict[str, Any]:
    """`create_api_key` as the user (with a guest's token when `guest`), committed, as PostgREST calls it."""
    claims = {"role": "authenticated", "sub": user, "is_anonymous": guest}
    async with db.transaction():
        await db.execute("select set_config('request.jwt.claims', $1, true)", json.dumps(claims))
        await db.execute("set local role authenticated")
        made: dict[str, Any] = json.loads(await db.fetchval("select create_api_key($1, null, $2::uuid)", name, key_id))
        return made


async def keys_of(db: asyncpg.Connection, user: str) -> list[tuple[Any, ...]]:
    rows = await db.fetch(
        "select id::text, name, key_hash, revoked_at is not null from api_keys where user_id = $1 order by created_at",
        user,
    )
    return [tuple(r) for r in rows]


@pytest.fixture
async def alice(db: asyncpg.Connection) -> str:
    return await create_user(db, "alice")


async def test_a_key_is_stored_under_the_callers_id_and_its_secret_works(db: asyncpg.Connection, alice: str) -> None:
    key_id = str(uuid.uuid4())
    made = await create_key(db, alice, "laptop", key_id)
    assert made["id"] == key_id
    assert made["key"].startswith(made["prefix"])
    row = await db.fetchrow("select key_id::text, user_id::text, status from api_key_identity($1)", made["key"])
    assert tuple(row) == (key_id, alice, "active")


async def test_a_repeat_of_a_stored_id_is_refused_and_changes_nothing(db: asyncpg.Connection, alice: str) -> None:
    key_id = str(uuid.uuid4())
    first = await create_key(db, alice, "laptop", key_id)
    before = await keys_of(db, alice)
    with pytest.raises(asyncpg.PostgresError) as exc:
        await create_key(db, alice, "laptop", key_id)
    assert refusal(exc.value)[:2] == (409, "KeyIdTaken")
    assert await keys_of(db, alice) == before  # the first key's secret still the one that works
    assert (await db.fetchrow("select status from api_key_identity($1)", first["key"]))["status"] == "active"


async def test_the_id_is_checked_before_the_limit_its_first_attempt_reached(db: asyncpg.Connection, alice: str) -> None:
    for i in range(19):
        await create_key(db, alice, f"key {i}")
    last = str(uuid.uuid4())
    await create_key(db, alice, "the twentieth", last)
    with pytest.raises(asyncpg.PostgresError) as exc:
        await create_key(db, alice, "the twentieth", last)
    assert refusal(exc.value)[:2] == (409, "KeyIdTaken")  # not TooManyKeys: it is the same key, asked for again
    with pytest.raises(asyncpg.PostgresError) as exc:
        await create_key(db, alice, "one more", str(uuid.uuid4()))
    assert refusal(exc.value)[:2] == (409, "TooManyKeys")
    assert len(await keys_of(db, alice)) == 20


async def test_another_users_key_id_is_refused_and_their_key_untouched(db: asyncpg.Connection, alice: str) -> None:
    bob = await create_user(db, "bob")
    theirs = await create_key(db, bob, "bob's", str(uuid.uuid4()))
    before = await keys_of(db, bob)
    with pytest.raises(asyncpg.PostgresError) as exc:
        await create_key(db, alice, "mine", theirs["id"])
    assert refusal(exc.value)[:2] == (409, "KeyIdTaken")
    assert await keys_of(db, alice) == []
    assert await keys_of(db, bob) == before


async def test_without_an_id_each_call_makes_a_new_key(db: asyncpg.Connection, alice: str) -> None:
    made = [await create_key(db, alice, "ci") for _ in range(2)]
    assert made[0]["id"] != made[1]["id"]
    assert [r[1] for r in await keys_of(db, alice)] == ["ci", "ci"]


async def create_guest(db: asyncpg.Connection) -> str:
    """An anonymous sign-in's auth.users row."""
    guest = await create_user(db, f"guest{uuid.uuid4().hex[:6]}")
    await db.execute("update auth.users set is_anonymous = true where id = $1", guest)
    return guest


async def test_a_guest_makes_no_key(db: asyncpg.Connection) -> None:
    guest = await create_guest(db)
    with pytest.raises(asyncpg.PostgresError) as exc:
        await create_key(db, guest, "script", guest=True)
    assert refusal(exc.value)[:2] == (403, "GuestNotAllowed")
    assert await keys_of(db, guest) == []


async def test_a_key_a_guest_made_before_keeps_the_guest_limit_until_they_sign_up(db: asyncpg.Connection) -> None:
    """The key's token carries what `api_key_identity` says of its user (api/compat/keys.py), read
    at each use: a guest's key is held to the guest's 20 questions, a signed-up user's is not."""
    guest = await create_guest(db)
    secret = f"sk-cg-{uuid.uuid4().hex}"
    await db.execute(
        "insert into api_keys (user_id, name, prefix, key_hash)"
        " values ($1, 'old', left($2, 12), sha256(convert_to($2, 'UTF8')))",
        guest,
        secret,
    )
    session = await db.fetchval("insert into chat_sessions (user_id) values ($1) returning id", guest)
    await db.execute(
        "insert into chat_messages (session_id, user_id, content)"
        " select $1, $2, 'q' || g from generate_series(1, 20) g",
        session,
        guest,
    )

    async def ask_through_the_key() -> None:
        found = await db.fetchrow("select user_id::text, is_anonymous from api_key_identity($1)", secret)
        claims = {"role": "authenticated", "sub": found["user_id"], "is_anonymous": found["is_anonymous"]}
        async with db.transaction():
            await db.execute("select set_config('request.jwt.claims', $1, true)", json.dumps(claims))
            await db.execute("set local role authenticated")
            await db.execute(
                "insert into chat_messages (session_id, user_id, content) values ($1, $2, '21st')", session, guest
            )

    with pytest.raises(asyncpg.InsufficientPrivilegeError):  # the guest limit's restrictive policy
        await ask_through_the_key()
    await db.execute("update auth.users set is_anonymous = false where id = $1", guest)  # signed up
    await ask_through_the_key()
    assert await db.fetchval("select count(*) from chat_messages where user_id = $1", guest) == 21
