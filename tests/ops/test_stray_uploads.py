"""`python -m ops stray-uploads --older-than 1d`: attachments uploaded and never sent are deleted
once old enough; a listed one, a fresh one and an avatar are kept; a message being sent with an
old upload keeps it (the sweep skips the row its check locked), and a message whose upload the
sweep took first is refused clearly instead of pointing at a file that is gone, and a message
stored after the sweep's first look and before its lock is seen at its second. Only the service
role may sweep."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from tests.api.conftest import ApiUser, new_session, register_and_login, until
from tests.conftest import LocalStack
from tests.ops.conftest import ops, ops_run

DAY_S = 86400


async def upload(
    stack: LocalStack, user: ApiUser, bucket: str, name: str, mime_type: str = "text/plain"
) -> dict[str, Any]:
    """`name` uploaded into the user's folder of `bucket` through Storage; its attachment entry."""
    path = f"{user.id}/{uuid.uuid4()}/{name}"
    body = f"bytes of {name}".encode()
    async with httpx.AsyncClient(base_url=f"{stack.url}/storage/v1") as storage:
        done = await storage.post(
            f"/object/{bucket}/{path}",
            content=body,
            headers={**user.headers, "apikey": stack.anon_key, "content-type": mime_type},
        )
    assert done.status_code == 200, done.text
    return {"bucket": bucket, "path": path, "name": name, "mime_type": mime_type, "size": len(body)}


async def age(pg: asyncpg.Connection, *paths: str, days: int = 2) -> None:
    await pg.execute(
        "update storage.objects set created_at = now() - make_interval(days => $2) where name = any($1::text[])",
        list(paths),
        days,
    )


async def stored(pg: asyncpg.Connection, *paths: str) -> set[str]:
    rows = await pg.fetch("select name from storage.objects where name = any($1::text[])", list(paths))
    return {r["name"] for r in rows}


def message_with(session_id: str, user_id: str, attachment: dict[str, Any]) -> tuple[str, str, str, str]:
    sql = "insert into chat_messages (session_id, user_id, content, attachments) values ($1, $2, 'see', $3::jsonb)"
    return sql, session_id, user_id, json.dumps([attachment])


async def test_old_uploads_no_message_lists_are_deleted_and_nothing_else(
    http: httpx.AsyncClient, pg: asyncpg.Connection, stack: LocalStack
) -> None:
    user = await register_and_login(http)
    session = await new_session(http, user)
    unsent = await upload(stack, user, "attachments", "unsent.txt")
    sent = await upload(stack, user, "attachments", "sent.txt")
    fresh = await upload(stack, user, "attachments", "fresh.txt")
    avatar = await upload(stack, user, "avatars", "me.png", "image/png")
    await pg.execute(*message_with(session["id"], user.id, sent))
    await age(pg, unsent["path"], sent["path"], avatar["path"])

    assert ops(stack, "stray-uploads", "--older-than", "1d", "--batch", "1")["stray_uploads_deleted"] >= 1
    assert await stored(pg, unsent["path"], sent["path"], fresh["path"], avatar["path"]) == {
        sent["path"],
        fresh["path"],
        avatar["path"],
    }
    async with httpx.AsyncClient(base_url=f"{stack.url}/storage/v1") as storage:
        gone = await storage.get(
            f"/object/authenticated/attachments/{unsent['path']}", headers={**user.headers, "apikey": stack.anon_key}
        )
        kept = await storage.get(
            f"/object/authenticated/attachments/{sent['path']}", headers={**user.headers, "apikey": stack.anon_key}
        )
    assert gone.status_code in (400, 404)
    assert (kept.status_code, kept.content) == (200, b"bytes of sent.txt")


async def unsent_for_days(
    http: httpx.AsyncClient, pg: asyncpg.Connection, stack: LocalStack
) -> tuple[str, str, dict[str, Any]]:
    """A new user's session id, user id and an attachment uploaded two days ago, not yet sent."""
    user = await register_and_login(http)
    session = await new_session(http, user)
    attachment = await upload(stack, user, "attachments", "waiting.txt")
    await age(pg, attachment["path"])
    return session["id"], user.id, attachment


async def test_a_message_being_sent_keeps_its_old_upload(
    http: httpx.AsyncClient, pg: asyncpg.Connection, stack: LocalStack
) -> None:
    session_id, user_id, attachment = await unsent_for_days(http, pg, stack)
    sender = await asyncpg.connect(stack.dsn)
    try:
        async with sender.transaction():  # the message's insert is under way: its check holds the row
            await sender.execute(*message_with(session_id, user_id, attachment))
            await pg.execute("select public.sweep_stray_attachments($1, 1000)", float(DAY_S))  # skips it
        assert await stored(pg, attachment["path"]) == {attachment["path"]}
        await pg.execute("select public.sweep_stray_attachments($1, 1000)", float(DAY_S))  # now a message lists it
        assert await stored(pg, attachment["path"]) == {attachment["path"]}
    finally:
        await sender.close()


async def test_a_message_whose_upload_the_sweep_took_first_is_refused(
    http: httpx.AsyncClient, pg: asyncpg.Connection, stack: LocalStack
) -> None:
    session_id, user_id, attachment = await unsent_for_days(http, pg, stack)
    sweeper, sender = await asyncpg.connect(stack.dsn), await asyncpg.connect(stack.dsn)
    try:
        sweep = sweeper.transaction()
        await sweep.start()
        assert await sweeper.fetchval("select public.sweep_stray_attachments($1, 1000)", float(DAY_S)) >= 1
        sending = asyncio.create_task(sender.execute(*message_with(session_id, user_id, attachment)))

        async def waiting() -> bool | None:
            pid = sender.get_server_pid()
            event = await pg.fetchval("select wait_event_type from pg_stat_activity where pid = $1", pid)
            return True if event == "Lock" else None

        await until(waiting)  # the message's check waits for the sweep's row lock
        await sweep.commit()
        with pytest.raises(asyncpg.ForeignKeyViolationError, match="does not exist"):
            await sending
        assert await stored(pg, attachment["path"]) == set()
    finally:
        await sweeper.close()
        await sender.close()


async def waiting_on(pg: asyncpg.Connection, conn: asyncpg.Connection, *lock_types: str) -> bool | None:
    """Whether `conn` waits for a lock of one of `lock_types` (pg_locks.locktype)."""
    waits = await pg.fetchval(
        "select true from pg_locks where pid = $1 and not granted and locktype = any($2::text[])",
        conn.get_server_pid(),
        list(lock_types),
    )
    return True if waits else None


async def settled_or_waiting(pg: asyncpg.Connection, task: asyncio.Task[Any], conn: asyncpg.Connection) -> bool | None:
    return True if task.done() else await waiting_on(pg, conn, "transactionid", "tuple")  # a row lock's wait


async def test_a_question_stored_after_the_sweep_began_keeps_its_old_file(
    http: httpx.AsyncClient, pg: asyncpg.Connection, stack: LocalStack
) -> None:
    """The sweep has read the messages and not yet locked an old file when a question listing it
    (a /v1 image stored days ago, sent again) is stored: the sweep must see that question, not
    delete the file under it. A test trigger holds the sweep on the deletion of an older stray."""
    user = await register_and_login(http)
    session_id, user_id = (await new_session(http, user))["id"], user.id
    first = await upload(stack, user, "attachments", "first.txt")
    reused = await upload(stack, user, "attachments", "reused.txt")
    await age(pg, first["path"], days=3)  # swept before `reused`
    await age(pg, reused["path"], days=2)
    gate = 0x5EE9
    holder, sweeper, sender = [await asyncpg.connect(stack.dsn) for _ in range(3)]
    await pg.execute(
        "create function public.test_sweep_gate() returns trigger language plpgsql as "
        f"$$ begin perform pg_advisory_xact_lock_shared({gate}); return old; end $$"
    )
    await pg.execute(
        "create trigger test_sweep_gate before delete on storage.objects for each row "
        f"when (old.name = '{first['path']}') execute function public.test_sweep_gate()"
    )
    try:
        await holder.execute("select pg_advisory_lock($1)", gate)
        sweeping = asyncio.create_task(
            sweeper.fetchval("select public.sweep_stray_attachments($1, 1000)", float(DAY_S))
        )
        await until(lambda: waiting_on(pg, sweeper, "advisory"))  # it has read the messages
        sending = asyncio.create_task(sender.execute(*message_with(session_id, user_id, reused)))
        await until(lambda: settled_or_waiting(pg, sending, sender))
        await holder.execute("select pg_advisory_unlock($1)", gate)
        await sweeping
        try:
            await sending
        except asyncpg.ForeignKeyViolationError:  # the sweep took the file first: refused, clearly
            listed = False
        else:
            listed = True
        assert await stored(pg, reused["path"]) == ({reused["path"]} if listed else set())
        assert await stored(pg, first["path"]) == set()
    finally:
        await pg.execute("drop trigger if exists test_sweep_gate on storage.objects")
        await pg.execute("drop function if exists public.test_sweep_gate()")
        for conn in (holder, sweeper, sender):
            await conn.close()


async def test_only_the_service_role_sweeps(http: httpx.AsyncClient, stack: LocalStack) -> None:
    user = await register_and_login(http)
    async with httpx.AsyncClient(base_url=f"{stack.url}/rest/v1") as rest:
        for token in (user.access_token, stack.anon_key):
            refused = await rest.post(
                "/rpc/sweep_stray_attachments",
                json={"older_than_seconds": DAY_S, "max_objects": 10},
                headers={"apikey": stack.anon_key, "Authorization": f"Bearer {token}"},
            )
            assert refused.status_code in (401, 403), refused.text
            assert refused.json()["code"] == "42501"


def test_a_sweep_younger_than_an_hour_is_refused(stack: LocalStack) -> None:
    done = ops_run(stack, "stray-uploads", "--older-than", "30m")
    assert (done.returncode, done.stdout) == (2, "")
    assert "at least 1h" in done.stderr


async def test_the_function_refuses_a_sweep_younger_than_an_hour(pg: asyncpg.Connection) -> None:
    with pytest.raises(asyncpg.PostgresError, match="at least 3600") as refused:
        await pg.execute("select public.sweep_stray_attachments(1800, 10)")
    assert refused.value.sqlstate == "PGRST"  # REST's refusal: 400 ValidationError
