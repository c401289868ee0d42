"""`python -m ops stale-guests --idle-for 30d`: guests (anonymous users who never signed up) with no
sign-in, token refresh or message for longer than the idle time are deleted with everything they
had (profile, chats, files); a guest who came back, one whose tab still refreshes its token, a new
one and a member who has been away as long are kept. Only the service role may sweep, and never
guests idle for less than a day."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg
import httpx
import pytest

from tests.api.conftest import register_and_login
from tests.conftest import LocalStack
from tests.ops.conftest import ops, ops_run

DAY_S = 86400


@dataclass(frozen=True)
class Guest:
    id: str
    token: str


async def guest(stack: LocalStack) -> Guest:
    """A visitor who pressed "try without an account": an anonymous sign-in."""
    async with httpx.AsyncClient(base_url=f"{stack.url}/auth/v1") as auth:
        signed = await auth.post("/signup", json={}, headers={"apikey": stack.anon_key})
    assert signed.status_code == 200, signed.text
    body = signed.json()
    return Guest(body["user"]["id"], body["access_token"])


async def chatted(pg: asyncpg.Connection, user_id: str, days_ago: float) -> str:
    """A chat of the user with one question asked `days_ago` days ago; its id."""
    session = await pg.fetchval(
        "insert into public.chat_sessions (user_id, title) values ($1, 'tried it') returning id::text",
        uuid.UUID(user_id),
    )
    await pg.execute(
        """insert into public.chat_messages (session_id, user_id, message_type, content, created_at)
           values ($1, $2, 'system', 'hello there', now() - make_interval(days => $3))""",
        uuid.UUID(session),
        uuid.UUID(user_id),
        days_ago,
    )
    return str(session)


async def quiet_since(pg: asyncpg.Connection, user_id: str, days: int) -> None:
    """Signed up (or in), last signed in and last refreshed `days` days ago."""
    user = uuid.UUID(user_id)
    await pg.execute(
        """update auth.users set created_at = now() - make_interval(days => $2),
                  last_sign_in_at = now() - make_interval(days => $2) where id = $1""",
        user,
        days,
    )
    await pg.execute(
        """update auth.sessions set created_at = now() - make_interval(days => $2),
                  updated_at = now() - make_interval(days => $2) where user_id = $1""",
        user,
        days,
    )


async def upload(stack: LocalStack, owner: Guest) -> str:
    """A file in the guest's folder of the attachments bucket, through Storage; its path."""
    path = f"{owner.id}/{uuid.uuid4()}/notes.txt"
    async with httpx.AsyncClient(base_url=f"{stack.url}/storage/v1") as storage:
        done = await storage.post(
            f"/object/attachments/{path}",
            content=b"a guest's notes",
            headers={"apikey": stack.anon_key, "Authorization": f"Bearer {owner.token}", "content-type": "text/plain"},
        )
    assert done.status_code == 200, done.text
    return path


async def test_idle_guests_go_with_everything_they_had_and_nobody_else(
    http: httpx.AsyncClient, pg: asyncpg.Connection, stack: LocalStack
) -> None:
    stale, returning, refreshing, fresh = [await guest(stack) for _ in range(4)]
    member = await register_and_login(http)
    stale_chat = await chatted(pg, stale.id, 40)
    stale_file = await upload(stack, stale)
    await chatted(pg, returning.id, 1)  # asked again yesterday
    for user_id in (stale.id, returning.id, refreshing.id, member.id):
        await quiet_since(pg, user_id, 40)
    await pg.execute(  # the tab stayed open: its token was refreshed an hour ago
        "update auth.sessions set updated_at = now() - interval '1 hour' where user_id = $1", uuid.UUID(refreshing.id)
    )

    assert ops(stack, "stale-guests", "--idle-for", "30d", "--batch", "1") == {"guests_deleted": 1}
    kept = await pg.fetch(
        "select id::text from auth.users where id = any($1::uuid[])",
        [uuid.UUID(u) for u in (stale.id, returning.id, refreshing.id, fresh.id, member.id)],
    )
    assert {r["id"] for r in kept} == {returning.id, refreshing.id, fresh.id, member.id}
    assert await pg.fetchval("select count(*) from public.profiles where id = $1", uuid.UUID(stale.id)) == 0
    assert await pg.fetchval("select count(*) from public.chat_sessions where id = $1", uuid.UUID(stale_chat)) == 0
    assert await pg.fetchval("select count(*) from public.chat_messages where user_id = $1", uuid.UUID(stale.id)) == 0
    assert await pg.fetchval("select count(*) from storage.objects where name = $1", stale_file) == 0
    assert ops(stack, "stale-guests", "--idle-for", "30d") == {"guests_deleted": 0}  # nothing left to do


async def test_only_the_service_role_deletes_guests(http: httpx.AsyncClient, stack: LocalStack) -> None:
    member = await register_and_login(http)
    visitor = await guest(stack)
    async with httpx.AsyncClient(base_url=f"{stack.url}/rest/v1") as rest:
        for token in (member.access_token, visitor.token, stack.anon_key):
            refused = await rest.post(
                "/rpc/delete_stale_guests",
                json={"idle_seconds": 30 * DAY_S, "max_users": 10},
                headers={"apikey": stack.anon_key, "Authorization": f"Bearer {token}"},
            )
            assert refused.status_code in (401, 403), refused.text
            assert refused.json()["code"] == "42501"


def test_a_sweep_of_guests_idle_under_a_day_is_refused(stack: LocalStack) -> None:
    done = ops_run(stack, "stale-guests", "--idle-for", "12h")
    assert (done.returncode, done.stdout) == (2, "")
    assert "at least 1d" in done.stderr


async def test_the_function_refuses_guests_idle_under_a_day(pg: asyncpg.Connection) -> None:
    with pytest.raises(asyncpg.PostgresError, match="at least 86400") as refused:
        await pg.execute("select public.delete_stale_guests(3600, 10)")
    assert refused.value.sqlstate == "PGRST"  # REST's refusal: 400 ValidationError
