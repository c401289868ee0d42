"""A file several messages list (a branch's copies, a regenerated question's, a /v1 image sent again
on every turn) stays while one of them lists it, deletions and new messages racing included."""

from __future__ import annotations

import asyncio
import json
import uuid

import asyncpg

from tests.db.actors import Actor, create_user
from tests.db.test_quotas import send_as


async def _file(db: asyncpg.Connection, user: str) -> list[dict[str, object]]:
    path = f"{user}/v1/{uuid.uuid4().hex}.png"
    await db.execute(
        "insert into storage.objects (bucket_id, name, owner, metadata) values ('attachments', $1, $2, $3::jsonb)",
        path,
        uuid.UUID(user),
        json.dumps({"size": 10, "mimetype": "image/png"}),
    )
    return [
        {
            "bucket": "attachments",
            "path": path,
            "name": "a.png",
            "mime_type": "image/png",
            "size": 10,
            "width": 1,
            "height": 1,
        }
    ]


async def test_a_file_a_question_being_stored_lists_outlives_the_deletion_of_another_that_listed_it(
    db: asyncpg.Connection, db_dsn: str
) -> None:
    """A message's deletion asked whether another message still lists its files, then deleted them:
    a question listing one, stored meanwhile (its check holds the file's row), was not seen, so the
    deletion waited for it and then deleted the file under it, leaving a committed question that
    lists a file no longer there. The deletion now locks the files first and asks after."""
    user = await create_user(db, "alice")
    session = str(await db.fetchval("insert into chat_sessions (user_id) values ($1) returning id", user))
    files = await _file(db, user)
    first = await send_as(db, user, session, content="one", attachments=json.dumps(files))
    elsewhere = str(await db.fetchval("insert into chat_sessions (user_id) values ($1) returning id", user))
    other, watcher = await asyncpg.connect(db_dsn), await asyncpg.connect(db_dsn)
    try:
        storing = other.transaction()
        await storing.start()
        await other.execute(
            "select set_config('request.jwt.claims', $1, true)", Actor("u", "authenticated", user).claims
        )
        await other.execute("set local role authenticated")
        await other.execute(
            "insert into chat_messages (session_id, content, attachments) values ($1, 'two', $2::jsonb)",
            elsewhere,
            json.dumps(files),
        )
        deleter = await db.fetchval("select pg_backend_pid()")

        async def delete_first() -> None:
            async with db.transaction():
                await db.execute(
                    "select set_config('request.jwt.claims', $1, true)", Actor("u", "authenticated", user).claims
                )
                await db.execute("set local role authenticated")
                await db.execute("delete from chat_messages where id = $1", uuid.UUID(first))

        deleting = asyncio.create_task(delete_first())
        for _ in range(400):  # until the deletion waits for the question's lock
            if await watcher.fetchval("select wait_event_type from pg_stat_activity where pid = $1", deleter) == "Lock":
                break
            await asyncio.sleep(0.025)
        assert not deleting.done(), "the deletion did not wait for the question listing its file"
        await storing.commit()
        await deleting
    finally:
        await other.close()
        await watcher.close()
    assert await db.fetchval("select count(*) from chat_messages where content = 'two'") == 1
    assert await db.fetchval("select count(*) from storage.objects where name = $1", files[0]["path"]) == 1
