"""The storage schema as Supabase has it, and the product's attachment rules on top of it:
helper functions, the delete guard, the byte-deletion queue, and what a message may reference."""

from __future__ import annotations

import asyncio
import json

import asyncpg
import pytest

from tests.db.actors import Actor, acting_as, create_user


async def _object(db: asyncpg.Connection, bucket: str, name: str, owner: str, size: int = 3) -> str:
    return str(
        await db.fetchval(
            "insert into storage.objects (bucket_id, name, owner_id, version, metadata)"
            " values ($1, $2, $3, 'v1', $4::text::jsonb) returning id",
            bucket,
            name,
            owner,
            json.dumps({"size": size, "mimetype": "image/png"}),
        )
    )


async def _session(db: asyncpg.Connection, user: str) -> str:
    return str(await db.fetchval("insert into chat_sessions (user_id, title) values ($1, 't') returning id", user))


def _attachment(path: str, size: int = 3, **extra: object) -> str:
    item = {
        "bucket": "attachments", "path": path, "name": "pic.png", "mime_type": "image/png", "size": size,
        "width": 1, "height": 1,
    }  # fmt: skip
    return json.dumps([{**item, **extra}])


async def test_helper_functions_match_supabase(db: asyncpg.Connection) -> None:
    row = await db.fetchrow(
        "select storage.foldername('a/b/c.png') f, storage.foldername('c.png') r,"
        " storage.filename('a/b/c.png') n, storage.extension('a/b/c.tar.gz') e, storage.extension('a/noext') x"
    )
    assert (row["f"], row["r"], row["n"], row["e"], row["x"]) == (["a", "b"], [], "c.png", "gz", "noext")


async def test_direct_delete_is_refused_without_the_storage_setting(db: asyncpg.Connection) -> None:
    user = await create_user(db, "deleter")
    await _object(db, "avatars", f"{user}/a.png", user)
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="Direct deletion"):
        await db.execute("delete from storage.objects")
    assert await db.fetchval("select count(*) from storage.objects") == 1


async def test_deleting_a_message_deletes_its_objects_and_queues_their_bytes(db: asyncpg.Connection) -> None:
    user = await create_user(db, "sender")
    session = await _session(db, user)
    object_id = await _object(db, "attachments", f"{user}/pic.png", user)
    kept = await _object(db, "attachments", f"{user}/other.png", user)
    message = await db.fetchval(
        "insert into chat_messages (session_id, user_id, content, attachments)"
        " values ($1, $2, 'x', $3::text::jsonb) returning id",
        session,
        user,
        _attachment(f"{user}/pic.png"),
    )
    await db.execute("delete from chat_sessions where id = $1", session)
    assert await db.fetchval("select count(*) from chat_messages where id = $1", message) == 0
    names = await db.fetch("select id::text from storage.objects")
    assert [r["id"] for r in names] == [kept]
    queued = await db.fetch("select object_id::text, version from storage.blob_deletions")
    assert [(r["object_id"], r["version"]) for r in queued] == [(object_id, "v1")]


async def test_deleting_an_account_deletes_everything_in_its_folders(db: asyncpg.Connection) -> None:
    user = await create_user(db, "leaver")
    other = await create_user(db, "stayer")
    await _object(db, "avatars", f"{user}/me.png", user)
    await _object(db, "attachments", f"{user}/doc.png", user)
    await _object(db, "attachments", f"{other}/doc.png", other)
    await db.execute("delete from auth.users where id = $1", user)
    rows = await db.fetch("select name from storage.objects")
    assert [r["name"] for r in rows] == [f"{other}/doc.png"]
    assert await db.fetchval("select count(*) from storage.blob_deletions") == 2


async def test_upsert_queues_the_replaced_version(db: asyncpg.Connection) -> None:
    user = await create_user(db, "upserter")
    await _object(db, "avatars", f"{user}/me.png", user)
    await db.execute("update storage.objects set version = 'v2' where name = $1", f"{user}/me.png")
    await db.execute("update storage.objects set metadata = '{}' where name = $1", f"{user}/me.png")
    assert [r["version"] for r in await db.fetch("select version from storage.blob_deletions")] == ["v1"]


@pytest.mark.parametrize(
    ("attachments", "error"),
    [
        ('{"not": "an array"}', "must be a JSON array"),
        ('[{"bucket": "avatars", "path": "{u}/pic.png", "name": "p", "mime_type": "image/png", "size": 3}]', "is not"),
        ('[{"bucket": "attachments", "path": "{u}/pic.png", "name": "p", "mime_type": "image/png"}]', "is not"),
        (
            '[{"bucket": "attachments", "path": "{u}/pic.png", "name": "p", "mime_type": "image/png", "size": 3,'
            ' "url": "http://evil"}]',
            "is not",
        ),
        (
            '[{"bucket": "attachments", "path": "{u}/nope.png", "name": "p", "mime_type": "image/png", "size": 3}]',
            "does not exist",
        ),
        (
            '[{"bucket": "attachments", "path": "{u}/pic.png", "name": "p", "mime_type": "image/png", "size": 4}]',
            "does not match",
        ),
        (
            '[{"bucket": "attachments", "path": "{u}/pic.png", "name": "p", "mime_type": "text/plain", "size": 3}]',
            "does not match",
        ),
        (
            '[{"bucket": "attachments", "path": "{o}/pic.png", "name": "p", "mime_type": "image/png", "size": 3}]',
            "owner's folder",
        ),
    ],
)
async def test_a_message_references_only_its_owners_stored_objects(
    db: asyncpg.Connection, attachments: str, error: str
) -> None:
    user = await create_user(db, "checker")
    other = await create_user(db, "victim")
    await _object(db, "attachments", f"{user}/pic.png", user)
    await _object(db, "attachments", f"{other}/pic.png", other)
    session = await _session(db, user)
    value = attachments.replace("{u}", user).replace("{o}", other)
    with pytest.raises(asyncpg.PostgresError, match=error):
        async with acting_as(db, Actor("owner", "authenticated", user)):
            await db.execute(
                "insert into chat_messages (session_id, content, attachments) values ($1, 'x', $2::text::jsonb)",
                session,
                value,
            )


async def test_an_attachment_another_message_still_lists_survives(db: asyncpg.Connection) -> None:
    user = await create_user(db, "regenerator")
    session = await _session(db, user)
    await _object(db, "attachments", f"{user}/pic.png", user)
    first, second = [
        await db.fetchval(
            "insert into chat_messages (session_id, user_id, content, attachments)"
            " values ($1, $2, 'x', $3::text::jsonb) returning id",
            session,
            user,
            _attachment(f"{user}/pic.png"),
        )
        for _ in range(2)
    ]
    await db.execute("delete from chat_messages where id = $1", first)
    assert await db.fetchval("select count(*) from storage.objects") == 1
    await db.execute("delete from chat_messages where id = $1", second)
    assert await db.fetchval("select count(*) from storage.objects") == 0


UPSERT_AS_OWNER = (
    "insert into storage.objects (bucket_id, name, owner_id, version, metadata) values ('attachments', $1, $2, 'v2',"
    ' \'{"size": 12058624, "mimetype": "application/pdf"}\') on conflict (bucket_id, name) do update'
    " set version = excluded.version, metadata = excluded.metadata"
)


async def test_a_replacement_sent_with_its_message_waits_for_it_and_is_refused(
    db: asyncpg.Connection, db_dsn: str
) -> None:
    user = await create_user(db, "racer")
    session = await _session(db, user)
    await _object(db, "attachments", f"{user}/pic.png", user)
    sender, replacer = await asyncpg.connect(db_dsn), await asyncpg.connect(db_dsn)
    claims = json.dumps({"role": "authenticated", "sub": user})
    try:
        sending = sender.transaction()
        await sending.start()
        for conn in (sender, replacer):
            await conn.execute("select set_config('request.jwt.claims', $1, false)", claims)
            await conn.execute("set role authenticated")
        await sender.execute(  # checked against the PNG and holding it until commit
            "insert into chat_messages (session_id, content, attachments) values ($1, 'x', $2::text::jsonb)",
            session,
            _attachment(f"{user}/pic.png"),
        )
        replacing = asyncio.create_task(replacer.execute(UPSERT_AS_OWNER, f"{user}/pic.png", user))
        for _ in range(200):  # the upsert waits for the message's transaction
            waiting = await db.fetchval(
                "select wait_event_type from pg_stat_activity where pid = $1", replacer.get_server_pid()
            )
            if waiting == "Lock" or replacing.done():
                break
            await asyncio.sleep(0.025)
        assert not replacing.done(), "the upsert did not wait for the message that lists the file"
        await sending.commit()
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
            await replacing
    finally:
        await sender.close()
        await replacer.close()
    stored = await db.fetchrow("select version, metadata from storage.objects where name = $1", f"{user}/pic.png")
    assert (stored["version"], json.loads(stored["metadata"])) == ("v1", {"size": 3, "mimetype": "image/png"})


async def test_a_listed_file_stays_as_sent_whoever_writes(db: asyncpg.Connection) -> None:
    """The rule binds every writer (a signed upload URL writes as Storage's admin), not only the
    owner's policies: here the superuser, as service_role or a signed URL would write."""
    user = await create_user(db, "keeper")
    session = await _session(db, user)
    listed, free = f"{user}/pic.png", f"{user}/free.png"
    await _object(db, "attachments", listed, user)
    await _object(db, "attachments", free, user)
    await db.execute(
        "insert into chat_messages (session_id, user_id, content, attachments) values ($1, $2, 'x', $3::text::jsonb)",
        session,
        user,
        _attachment(listed),
    )
    for sql in (
        UPSERT_AS_OWNER,
        "update storage.objects set version = 'v2' where bucket_id = 'attachments' and name = $1",
        'update storage.objects set metadata = \'{"size": 3, "mimetype": "text/plain"}\' where name = $1',
        "update storage.objects set name = $1 || '.moved' where name = $1",
        "update storage.objects set bucket_id = 'avatars' where name = $1",
    ):
        args = (listed, user) if sql == UPSERT_AS_OWNER else (listed,)
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="listed by a message"):
            await db.execute(sql, *args)
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="listed by a message"):  # moved onto it
        await db.execute("update storage.objects set name = $1 where name = $2", listed, free)
    # What writes no new file passes, and deleting it stays allowed; its path then takes nothing new.
    await db.execute(
        "update storage.objects set last_accessed_at = now(), user_metadata = '{\"k\": 1}' where name = $1", listed
    )
    async with db.transaction():
        await db.execute("select set_config('storage.allow_delete_query', 'true', true)")
        await db.execute("delete from storage.objects where name = $1", listed)
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="listed by a message"):
        await _object(db, "attachments", listed, user)
    await db.execute("update storage.objects set version = 'v2' where name = $1", free)  # no message lists it
    assert await db.fetchval("select version from storage.objects where name = $1", free) == "v2"


@pytest.mark.parametrize("bucket", ["avatars", "attachments"])
async def test_a_product_file_lives_in_an_existing_accounts_folder(db: asyncpg.Connection, bucket: str) -> None:
    user = await create_user(db, f"folder-{bucket}")
    gone = await create_user(db, f"gone-{bucket}")
    await db.execute("delete from auth.users where id = $1", gone)
    for name in ("root.png", f"{user.upper()}/a.png", f"{gone}/a.png", f"not-a-user/{user}.png"):
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="account"):
            await _object(db, bucket, name, user)
    await _object(db, bucket, f"{user}/a.png", user)
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="no existing account"):
        await db.execute("update storage.objects set name = $1 where name = $2", f"{gone}/a.png", f"{user}/a.png")
    # Other buckets keep storage-api's rules alone.
    await db.execute("insert into storage.buckets (id, name) values ($1, $1)", f"free-{bucket}")
    await _object(db, f"free-{bucket}", "root.png", user)


async def test_an_upload_racing_the_accounts_deletion_is_removed_with_it(db: asyncpg.Connection, db_dsn: str) -> None:
    """The write locks the account's row to its commit: the deletion waits for it, and its cascade
    then finds the file (it found nothing while the upload was uncommitted, and the file stayed)."""
    user = await create_user(db, "racing")
    uploader, deleter = await asyncpg.connect(db_dsn), await asyncpg.connect(db_dsn)
    try:
        uploading = uploader.transaction()
        await uploading.start()
        await _object(uploader, "avatars", f"{user}/late.png", user)
        deleting = asyncio.create_task(deleter.execute("delete from auth.users where id = $1", user))
        for _ in range(200):
            waiting = await db.fetchval(
                "select wait_event_type from pg_stat_activity where pid = $1", deleter.get_server_pid()
            )
            if waiting == "Lock" or deleting.done():
                break
            await asyncio.sleep(0.025)
        assert not deleting.done(), "the deletion did not wait for the upload into the account's folder"
        await uploading.commit()
        await deleting
    finally:
        await uploader.close()
        await deleter.close()
    assert await db.fetchval("select count(*) from storage.objects where name like $1", f"{user}/%") == 0
