"""The lists the web app pages through over REST (supabase-js, as supabase-py here) read by keyset:
`sessions_page` and `api_requests_page`, with `page_cursor` selected as a computed field, start
right after a row read before, whatever was made or deleted meanwhile; a cursor no list gave is
422 InvalidCursor; another user's rows stay RLS's. The admin's user list (`users_page`) does the
same, and `GET /api/sessions` and `GET /api/admin/users` give `next_cursor` (their page and offset
still work)."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx
import pytest
from postgrest.exceptions import APIError
from supabase import AsyncClient

from tests.api.conftest import ApiUser, client_for, error_of, make_admin, new_session, register_and_login
from tests.conftest import LocalStack, rows_of


async def test_the_chat_list_reads_over_rest_page_after_page_by_cursor(
    http: httpx.AsyncClient, stack: LocalStack, alice: ApiUser, bob: ApiUser
) -> None:
    made = [await new_session(http, alice, title=f"chat {i}") for i in range(5)]
    await new_session(http, bob, title="bob's")
    rest = await client_for(stack, alice)

    async def page(size: int, after: str | None = None) -> list[dict[str, Any]]:
        args: dict[str, Any] = {"max_rows": size} | ({"after": after} if after else {})
        return rows_of((await rest.rpc("sessions_page", args).select("id,title,page_cursor").execute()).data)

    first = await page(2)
    assert [s["title"] for s in first] == ["chat 4", "chat 3"]
    await rest.table("chat_sessions").delete().eq("id", made[4]["id"]).execute()
    await new_session(http, alice, title="new")
    second = await page(2, first[-1]["page_cursor"])
    assert [s["title"] for s in second] == ["chat 2", "chat 1"]  # by offset: chat 1, chat 0
    assert [s["title"] for s in await page(10, second[-1]["page_cursor"])] == ["chat 0"]
    with pytest.raises(APIError) as refused:
        await page(2, "bm9wZQ")
    assert (refused.value.code, refused.value.message) == ("InvalidCursor", "The cursor is not one this list gave.")


async def test_a_days_api_requests_read_over_rest_page_after_page_by_cursor(
    http: httpx.AsyncClient, stack: LocalStack, pg: asyncpg.Connection, alice: ApiUser, bob: ApiUser
) -> None:
    day = await new_session(http, alice, title="key of the day")
    for i in range(5):
        await pg.execute(
            "insert into chat_messages (session_id, user_id, parent_id, content, created_at)"
            " values ($1, $2, null, $3, now() - interval '1 hour' + $4 * interval '1 second')",
            uuid.UUID(day["id"]),
            uuid.UUID(alice.id),
            f"request {i}",
            i,
        )
    rest = await client_for(stack, alice)

    async def page(size: int, after: str | None = None, who: AsyncClient = rest) -> list[dict[str, Any]]:
        args: dict[str, Any] = {"session": day["id"], "max_rows": size} | ({"after": after} if after else {})
        read = who.rpc("api_requests_page", args).select("id,content,page_cursor:request_cursor")
        return rows_of((await read.execute()).data)

    first = await page(2)
    assert [r["content"] for r in first] == ["request 4", "request 3"]
    await pg.execute(
        "insert into chat_messages (session_id, user_id, parent_id, content) values ($1, $2, null, 'new')",
        uuid.UUID(day["id"]),
        uuid.UUID(alice.id),
    )
    second = await page(2, first[-1]["page_cursor"])
    assert [r["content"] for r in second] == ["request 2", "request 1"]  # by offset: request 3 again
    assert await page(2, second[-1]["page_cursor"], await client_for(stack, bob)) == []  # RLS: none of hers
    with pytest.raises(APIError) as refused:
        await page(2, first[-1]["page_cursor"][3:])
    assert refused.value.code == "InvalidCursor"


async def test_the_admins_user_list_pages_by_cursor_through_the_api_and_rest(
    http: httpx.AsyncClient, stack: LocalStack, pg: asyncpg.Connection
) -> None:
    admin = await make_admin(stack, http)
    tag = uuid.uuid4().hex[:6]
    members = [await register_and_login(http) for _ in range(5)]
    for i, member in enumerate(members):  # a second apart, the first the oldest, all named by the tag
        await pg.execute(
            "update profiles set username = $2, created_at = now() - interval '1 hour' + $3 * interval '1 second'"
            " where id = $1",
            uuid.UUID(member.id),
            f"{tag}_{i}",
            i,
        )

    async def page(after: str | None = None, **params: Any) -> dict[str, Any]:
        query = {"q": tag, "limit": 2, **params} | ({"cursor": after} if after else {})
        answer = await http.get("/api/admin/users", params=query, headers=admin.headers)
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found

    first = await page()
    assert [u["username"] for u in first["users"]] == [f"{tag}_4", f"{tag}_3"]
    await pg.execute("delete from auth.users where id = $1", uuid.UUID(members[4].id))  # deleted meanwhile
    second = await page(first["next_cursor"])
    assert [u["username"] for u in second["users"]] == [f"{tag}_2", f"{tag}_1"]  # by offset: _1, _0
    last = await page(second["next_cursor"])
    assert ([u["username"] for u in last["users"]], last["next_cursor"]) == ([f"{tag}_0"], None)
    by_offset = await page(offset=1)
    assert [u["username"] for u in by_offset["users"]] == [f"{tag}_2", f"{tag}_1"]
    assert [u["plan_id"] for u in by_offset["users"]] == ["free", "free"]
    for cursor in ("bm9wZQ", "a\u200bb"):
        bad = await http.get("/api/admin/users", params={"cursor": cursor}, headers=admin.headers)
        assert (bad.status_code, error_of(bad)["code"]) == (422, "InvalidCursor")
    rest = await client_for(stack, admin)
    over_rest = (
        await rest.rpc("users_page", {"q": tag, "max_rows": 2}).select("username,page_cursor:user_cursor").execute()
    )
    assert [u["username"] for u in rows_of(over_rest.data)] == [f"{tag}_3", f"{tag}_2"]
    oldest = await client_for(stack, members[0])
    theirs = await oldest.rpc("users_page", {"q": tag, "after": first["next_cursor"]}).select("id").execute()
    assert [u["id"] for u in rows_of(theirs.data)] == [members[0].id]  # no admin: themselves at most


async def test_a_cursor_no_list_gave_is_refused_whatever_its_characters(
    http: httpx.AsyncClient, alice: ApiUser
) -> None:
    for cursor in ("bm9wZQ", "a\u200bb", "%", "=" * 8):
        bad = await http.get("/api/sessions", params={"cursor": cursor}, headers=alice.headers)
        assert (bad.status_code, error_of(bad)["code"]) == (422, "InvalidCursor"), cursor
