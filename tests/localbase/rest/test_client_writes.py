"""Writes, RLS and error mapping through supabase-py (sync and async), checked in the database."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable

import httpx
import pytest
from postgrest.exceptions import APIError
from supabase import Client, acreate_client

from tests.conftest import LocalStack, SignedUpUser, rows_of
from tests.localbase.rest.conftest import superuser_fetch
from tests.localbase.rest.supabase_js import SupabaseJs

_ids = itertools.count(1000)


def group_names(stack: LocalStack, *ids: int) -> dict[int, str]:
    rows = asyncio.run(superuser_fetch(stack.dsn, "select id, name from rest_groups where id = any($1)", list(ids)))
    return {row["id"]: row["name"] for row in rows}


def test_insert_update_upsert_delete(service_client: Client, things: LocalStack) -> None:
    a, b = next(_ids), next(_ids)
    groups = service_client.table("rest_groups")
    inserted = groups.insert([{"id": a, "name": f"g{a}"}, {"id": b, "name": f"g{b}"}]).execute()
    assert inserted.data == [{"id": a, "name": f"g{a}"}, {"id": b, "name": f"g{b}"}]
    assert groups.update({"name": f"u{a}"}).eq("id", a).execute().data == [{"id": a, "name": f"u{a}"}]
    upserted = groups.upsert([{"id": b, "name": f"m{b}"}]).execute()
    assert upserted.data == [{"id": b, "name": f"m{b}"}]
    ignored = groups.upsert({"id": b, "name": "ignored"}, ignore_duplicates=True).execute()
    assert ignored.data == []
    assert group_names(things, a, b) == {a: f"u{a}", b: f"m{b}"}
    assert groups.delete().in_("id", [a, b]).execute().data == [{"id": a, "name": f"u{a}"}, {"id": b, "name": f"m{b}"}]
    assert group_names(things, a, b) == {}


def test_minimal_returns_and_missing_default(service_client: Client, things: LocalStack) -> None:
    thing_id = next(_ids)
    things_table = service_client.table("rest_things")
    response = things_table.insert({"id": thing_id, "name": "x"}, returning="minimal").execute()  # type: ignore[arg-type]
    assert response.data == []
    row = things_table.select("note,tags").eq("id", thing_id).single().execute().data
    assert row == {"note": "fresh", "tags": []}
    bulk = [{"id": next(_ids), "name": "with note", "note": "given"}, {"id": next(_ids), "name": "without"}]
    rows = rows_of(things_table.insert(bulk, default_to_null=False).execute().data)
    assert [r["note"] for r in rows] == ["given", "fresh"]
    things_table.delete().gte("id", 1000).execute()


def test_unique_violation_is_409(service_client: Client, rest: Callable[..., httpx.Response]) -> None:
    with pytest.raises(APIError) as caught:
        service_client.table("rest_groups").insert({"id": 1, "name": "dup"}).execute()
    assert caught.value.code == "23505"
    assert "already exists" in str(caught.value.details)
    raw = rest("rest_groups", token=service_client.supabase_key, method="POST", json={"id": 1, "name": "x"})
    assert raw.status_code == 409
    assert set(raw.json()) == {"code", "message", "details", "hint"}
    assert raw.headers["proxy-status"] == "PostgREST; error=23505"


def test_singular_write_violation_rolls_back(service_client: Client, things: LocalStack) -> None:
    with pytest.raises(APIError) as caught:
        service_client.table("rest_things").update({"note": "clobbered"}).in_("id", [2, 3]).single().execute()
    assert caught.value.code == "PGRST116"
    rows = asyncio.run(superuser_fetch(things.dsn, "select note from rest_things where id in (2, 3)"))
    assert [r["note"] for r in rows] == ["fresh", "fresh"]


def test_an_update_of_no_columns_changes_nothing_and_answers_like_any_update(
    service_client: Client, things: LocalStack, js: SupabaseJs
) -> None:
    """PostgREST runs `SELECT ... WHERE false` for `{}`: no row, so `[]` when rows were asked for
    (and 406 PGRST116 for a single object), 204 otherwise; Content-Range counts the 0 rows."""
    assert service_client.table("rest_things").update({}).eq("id", 1).execute().data == []
    result = js.run(
        """
        const rows = await service.from('rest_things').update({}, { count: 'exact' }).eq('id', 1).select();
        const one = await service.from('rest_things').update({}).eq('id', 1).select().single();
        const none = await service.from('rest_things').update({}).eq('id', 1);
        return [rows.status, rows.data, rows.count, one.status, one.error && one.error.code, none.status];
        """
    )
    assert result == [200, [], 0, 406, "PGRST116", 204]


def test_user_b_cannot_see_or_change_user_a_sessions(
    as_user: Callable[[SignedUpUser], Client], user_a: SignedUpUser, user_b: SignedUpUser, stack: LocalStack
) -> None:
    alice, bob = as_user(user_a), as_user(user_b)
    session = rows_of(alice.table("chat_sessions").insert({"title": "private"}).execute().data)[0]
    alice.table("chat_messages").insert({"session_id": session["id"], "content": "hello"}).execute()
    assert session["user_id"] == user_a.id
    assert bob.table("chat_sessions").select("*").eq("id", session["id"]).execute().data == []
    assert bob.table("chat_messages").select("*").eq("session_id", session["id"]).execute().data == []
    assert bob.table("chat_sessions").update({"title": "pwned"}).eq("id", session["id"]).execute().data == []
    assert bob.table("chat_sessions").delete().eq("id", session["id"]).execute().data == []
    with pytest.raises(APIError) as caught:
        bob.table("chat_messages").insert({"session_id": session["id"], "content": "intrusion"}).execute()
    assert caught.value.code == "42501"
    rows = asyncio.run(
        superuser_fetch(stack.dsn, "select title, message_count from chat_sessions where id = $1::uuid", session["id"])
    )
    assert [(r["title"], r["message_count"]) for r in rows] == [("private", 1)]
    # chat_sessions.current_leaf_id also references chat_messages: the embed names its key, as PostgREST needs.
    embedded = (
        alice.table("chat_sessions")
        .select("title,chat_messages!chat_messages_session_id_fkey(content)")
        .eq("id", session["id"])
        .single()
    )
    assert embedded.execute().data == {"title": "private", "chat_messages": [{"content": "hello"}]}


def test_rls_refusals_are_403_for_users_and_401_for_anon(
    rest: Callable[..., httpx.Response], user_a: SignedUpUser
) -> None:
    as_user = rest(
        "chat_messages",
        token=user_a.access_token,
        method="POST",
        json={"session_id": "00000000-0000-0000-0000-000000000000", "content": "x", "message_type": "assistant"},
    )
    assert as_user.status_code in (403, 409)
    forged = rest(
        "chat_sessions",
        token=user_a.access_token,
        method="POST",
        json={"title": "x", "user_id": "00000000-0000-0000-0000-000000000001"},
    )
    assert forged.status_code == 403
    assert forged.json()["code"] == "42501"
    anon = rest("chat_sessions", method="POST", json={"title": "x"})
    assert anon.status_code == 401
    assert anon.json()["code"] == "42501"


def test_unknown_table_column_and_function(service_client: Client) -> None:
    with pytest.raises(APIError) as caught:
        service_client.table("no_such_table").select("*").execute()
    assert caught.value.code == "PGRST205"
    with pytest.raises(APIError) as caught:
        service_client.table("rest_groups").select("nope").execute()
    assert caught.value.code == "42703"
    with pytest.raises(APIError) as caught:
        service_client.table("rest_groups").insert({"id": 5000, "nope": 1}).execute()
    assert caught.value.code == "PGRST204"
    with pytest.raises(APIError) as caught:
        service_client.rpc("no_such_function", {"a": 1}).execute()
    assert caught.value.code == "PGRST202"
    with pytest.raises(APIError) as caught:
        service_client.rpc("rest_add", {"a": 1, "c": 2}).execute()
    assert caught.value.code == "PGRST202"


def test_schema_profiles(rest: Callable[..., httpx.Response], stack: LocalStack) -> None:
    refused = rest("rest_groups", token=stack.service_role_key, headers={"Accept-Profile": "auth"})
    assert refused.status_code == 406
    assert refused.json()["code"] == "PGRST106"
    assert "public" in refused.json()["hint"]


async def test_async_client(things: LocalStack) -> None:
    client = await acreate_client(things.url, things.service_role_key)
    rows = await client.table("rest_things").select("id,rest_groups(name)").eq("id", 2).execute()
    assert rows.data == [{"id": 2, "rest_groups": {"name": "alpha"}}]
    group_id = next(_ids)
    await client.table("rest_groups").insert({"id": group_id, "name": f"async{group_id}"}).execute()
    single = await client.table("rest_groups").select("name").eq("id", group_id).single().execute()
    assert single.data == {"name": f"async{group_id}"}
    await client.table("rest_groups").delete().eq("id", group_id).execute()
    assert (await client.rpc("rest_add", {"a": 1, "b": 1}).execute()).data == 2
