"""The chat list, an API key's day of requests and the admin's user list page by a keyset cursor,
as search does: a row written or deleted between two pages neither shows a row twice nor skips one
(by offset, a deletion on a page already shown made the next page start one row late, its first
row never shown; a new row put the previous page's last row on the next page again). A cursor these
lists did not give is refused 422 InvalidCursor; another user's cursor only says where to start in
the caller's own rows."""

from __future__ import annotations

import json

import asyncpg
import pytest

from tests.db.actors import Actor, acting_as, create_user
from tests.db.refusals import refusal


def _me(user: str) -> Actor:
    return Actor("user", "authenticated", user)


async def _sessions(db: asyncpg.Connection, user: str, count: int, pinned: int = 0) -> list[str]:
    """`count` sessions, active a minute apart (the first `pinned` pinned, one with no message yet)."""
    return [
        str(r["id"])
        for r in await db.fetch(
            """insert into chat_sessions (user_id, title, last_message_at, pinned_at, created_at)
               select $1, 'chat ' || g,
                      case when g = 3 then null else now() - g * interval '1 minute' end,
                      case when g <= $3 then now() - g * interval '1 second' end,
                      now() - interval '1 day' - g * interval '1 second'
                 from generate_series(1, $2) g
               returning id""",
            user,
            count,
            pinned,
        )
    ]


async def _session_page(db: asyncpg.Connection, user: str, size: int, after: str | None) -> list[asyncpg.Record]:
    async with acting_as(db, _me(user)):
        return list(await db.fetch("select s.*, page_cursor(s) as cursor from sessions_page($1, $2) s", size, after))


async def test_the_chat_list_pages_by_cursor_under_writes_and_deletes(db: asyncpg.Connection) -> None:
    user = await create_user(db, "lister")
    await _sessions(db, user, 25, pinned=2)
    first = await _session_page(db, user, 10, None)
    # Between the pages: two chats already shown are deleted, a new one is made (it goes on top).
    await db.execute("delete from chat_sessions where id = any($1::uuid[])", [first[2]["id"], first[6]["id"]])
    await db.execute("insert into chat_sessions (user_id, title, last_message_at) values ($1, 'new', now())", user)
    second = await _session_page(db, user, 10, first[-1]["cursor"])
    third = await _session_page(db, user, 10, second[-1]["cursor"])
    titles = [r["title"] for r in first + second + third]
    assert len(titles) == len(set(titles)) == 25  # each once; the new one is above the cursor
    assert [r["title"] for r in first[:2]] == ["chat 1", "chat 2"]  # pinned first
    assert await _session_page(db, user, 10, third[-1]["cursor"]) == []


async def test_the_chat_list_keeps_its_order_and_filters_archived(db: asyncpg.Connection) -> None:
    user = await create_user(db, "archiver")
    ids = await _sessions(db, user, 6, pinned=1)
    await db.execute("update chat_sessions set archived_at = now() where id = $1", ids[4])
    async with acting_as(db, _me(user)):
        listed = await db.fetch("select title from sessions_page(3, null, false)")
        archived = await db.fetch("select title from sessions_page(10, null, true)")
        every = await db.fetch("select title from sessions_page(10)")
    # Pinned, then by last activity (a chat with none after every active one), archived left out.
    assert [r["title"] for r in listed] == ["chat 1", "chat 2", "chat 4"]
    assert [r["title"] for r in archived] == ["chat 5"]
    assert [r["title"] for r in every] == ["chat 1", "chat 2", "chat 4", "chat 5", "chat 6", "chat 3"]


@pytest.mark.parametrize(
    "cursor",
    [
        "nope",
        "W10",  # []
        "WyJzIl0",  # ["s"]
        "eyJhIjoxfQ",  # {"a":1}
        "WyJzIiwgMSwgIngiLCBudWxsLCAieSJd",  # ["s", 1, "x", null, "y"]
        "WyJ1IiwiMjAyNi0xMi0wNVQwMDowMDowMCswMDowMCIsIjAwMDAwMDAwLTAwMDAtMDAwMC0wMDAwLTAwMDAwMDAwMDAwMCJd",  # a user's
    ],
)
async def test_a_cursor_the_chat_list_did_not_give_is_refused(db: asyncpg.Connection, cursor: str) -> None:
    user = await create_user(db, "prober")
    with pytest.raises(asyncpg.PostgresError) as caught:
        await _session_page(db, user, 10, cursor)
    assert refusal(caught.value)[:2] == (422, "InvalidCursor")


async def test_another_users_cursor_reads_only_the_callers_chats(db: asyncpg.Connection) -> None:
    alice, bob = await create_user(db, "alice"), await create_user(db, "bob")
    await _sessions(db, alice, 5)
    mine = await _sessions(db, bob, 5)
    theirs = await _session_page(db, alice, 2, None)
    read = await _session_page(db, bob, 10, theirs[-1]["cursor"])
    assert [r["title"] for r in read] == ["chat 4", "chat 5", "chat 3"]  # Bob's, from Alice's position on
    assert {str(r["id"]) for r in read} <= set(mine)


async def _requests(db: asyncpg.Connection, user: str, session: str, count: int) -> None:
    """`count` root questions (an API key's requests), a second apart, each with an answer below it."""
    await db.execute(
        """with q as (
             insert into chat_messages (session_id, user_id, parent_id, content, created_at)
             select $1, $2, null, 'request ' || g, now() - interval '1 hour' + g * interval '1 second'
               from generate_series(1, $3) g
             returning id, created_at)
           insert into chat_messages
                  (session_id, user_id, message_type, reply_to, parent_id, content, status, created_at)
           select $1, $2, 'assistant', q.id, q.id, 'answer', 'completed', q.created_at from q""",
        session,
        user,
        count,
    )


async def _request_page(
    db: asyncpg.Connection, user: str, session: str, size: int, after: str | None
) -> list[asyncpg.Record]:
    async with acting_as(db, _me(user)):
        return list(
            await db.fetch(
                "select m.*, request_cursor(m) as cursor from api_requests_page($1, $2, $3) m", session, size, after
            )
        )


async def test_a_days_api_requests_page_by_cursor_under_writes_and_deletes(db: asyncpg.Connection) -> None:
    user = await create_user(db, "keyholder")
    session = str(await db.fetchval("insert into chat_sessions (user_id) values ($1) returning id", user))
    await _requests(db, user, session, 25)
    first = await _request_page(db, user, session, 10, None)
    assert [r["content"] for r in first[:2]] == ["request 25", "request 24"]  # newest first, questions only
    await db.execute("delete from chat_messages where id = any($1::uuid[])", [first[1]["id"], first[4]["id"]])
    await db.execute(
        "insert into chat_messages (session_id, user_id, parent_id, content) values ($1, $2, null, 'new')",
        session,
        user,
    )
    second = await _request_page(db, user, session, 10, first[-1]["cursor"])
    third = await _request_page(db, user, session, 10, second[-1]["cursor"])
    shown = [r["content"] for r in first + second + third]
    assert len(shown) == len(set(shown)) == 25  # each once; the new request is above the cursor
    assert await _request_page(db, user, session, 10, third[-1]["cursor"]) == []
    with pytest.raises(asyncpg.PostgresError) as caught:
        await _request_page(db, user, session, 10, first[-1]["cursor"][:-2])
    assert refusal(caught.value)[:2] == (422, "InvalidCursor")
    sessions = await _session_page(db, user, 1, None)
    with pytest.raises(asyncpg.PostgresError) as caught:
        await _request_page(db, user, session, 10, sessions[0]["cursor"])  # a chat's, not a request's
    assert refusal(caught.value)[:2] == (422, "InvalidCursor")


async def test_another_users_day_of_requests_reads_as_none(db: asyncpg.Connection) -> None:
    alice, bob = await create_user(db, "alicekeys"), await create_user(db, "bobkeys")
    session = str(await db.fetchval("insert into chat_sessions (user_id) values ($1) returning id", alice))
    await _requests(db, alice, session, 3)
    cursor = (await _request_page(db, alice, session, 1, None))[0]["cursor"]
    assert await _request_page(db, bob, session, 10, None) == []
    assert await _request_page(db, bob, session, 10, cursor) == []


class _Admin(Actor):
    @property
    def claims(self) -> str:
        return json.dumps({"role": self.role, "sub": self.sub, "app_metadata": {"role": "admin"}})


async def _user_page(
    db: asyncpg.Connection, actor: Actor, q: str | None, size: int, after: str | None
) -> list[asyncpg.Record]:
    async with acting_as(db, actor):
        return list(
            await db.fetch("select p.*, user_cursor(p) as cursor from users_page($1, $2, $3) p", q, size, after)
        )


async def test_the_admins_user_list_pages_by_cursor_under_sign_ups_and_deletions(db: asyncpg.Connection) -> None:
    admin = _Admin("admin", "authenticated", await create_user(db, "listadmin"))
    members = [await create_user(db, f"member{i:02}") for i in range(12)]
    await db.execute(  # a second apart, member00 the oldest
        "update profiles p set created_at = now() - interval '1 day' + n * interval '1 second'"
        " from unnest($1::uuid[]) with ordinality u(id, n) where p.id = u.id",
        members,
    )
    first = await _user_page(db, admin, "member", 5, None)
    assert [r["username"] for r in first] == [f"member{i:02}" for i in (11, 10, 9, 8, 7)]
    await db.execute("delete from auth.users where id = any($1::uuid[])", [first[0]["id"], first[3]["id"]])
    await create_user(db, "member_new")  # a sign-up meanwhile, on top
    second = await _user_page(db, admin, "member", 5, first[-1]["cursor"])
    third = await _user_page(db, admin, "member", 5, second[-1]["cursor"])
    shown = [r["username"] for r in first + second + third]
    assert len(shown) == len(set(shown)) == 12  # by offset, member06 and member05 skipped
    assert [r["username"] for r in await _user_page(db, admin, "MEMBER1", 5, None)] == ["member10"]
    assert await _user_page(db, admin, "100%_", 5, None) == []  # LIKE's wildcards are read as text
    await db.execute("insert into chat_sessions (user_id) values ($1)", members[1])
    a_chats = (await _session_page(db, members[1], 1, None))[0]["cursor"]
    for bad in ("nope", first[-1]["cursor"][:-3], a_chats):
        with pytest.raises(asyncpg.PostgresError) as caught:
            await _user_page(db, admin, None, 5, bad)
        assert refusal(caught.value)[:2] == (422, "InvalidCursor")


async def test_a_user_who_is_no_admin_reads_only_themselves_in_the_user_list(db: asyncpg.Connection) -> None:
    admin = _Admin("admin", "authenticated", await create_user(db, "listadmin2"))
    someone = await create_user(db, "someone")
    await create_user(db, "another")
    cursor = (await _user_page(db, admin, None, 1, None))[0]["cursor"]
    for after in (None, cursor):
        assert [str(r["id"]) for r in await _user_page(db, _me(someone), None, 50, after)] in ([someone], [])
    assert [str(r["id"]) for r in await _user_page(db, _me(someone), None, 50, None)] == [someone]
