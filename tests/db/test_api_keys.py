"""`create_api_key` with the caller's own id for the key (migrations/..._keys_named_by_their_caller.sql):
the key is stored under it, and an id that is taken is refused as KeyIdTaken before anything else,
whoever's key holds it, so a repeat of a create whose answer was lost stores nothing and changes
nothing (the web app then revokes that key and makes another)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg
import pytest

from tests.db.actors import Actor, create_user
from tests.db.refusals import refusal


async def create_key(db: asyncpg.Connection, user: str, name: str, key_id: str | None = None) -> dict[str, Any]:
    """`create_api_key` as the user, committed, as PostgREST calls it."""
    async with db.transaction():
        await db.execute("select set_config('request.jwt.claims', $1, true)", Actor("u", "authenticated", user).claims)
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
