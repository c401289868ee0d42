"""Share links and branched history through the API and supabase-py, with a real worker answering."""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg
import httpx
import openai
import pytest
from postgrest.types import ReturnMethod
from supabase import AsyncClient, acreate_client
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.api.conftest import ApiProcess, ApiUser, error_of, make_admin, new_session, until
from tests.api.test_openai_files import document
from tests.conftest import LocalStack
from worker.app import Worker


async def as_user(stack: LocalStack, user: ApiUser) -> AsyncClient:
    client = await acreate_client(stack.url, stack.anon_key)
    client.postgrest.auth(user.access_token)
    return client


async def send(http: httpx.AsyncClient, user: ApiUser, session_id: str, text: str) -> dict[str, Any]:
    response = await http.post("/api/chat/send", json={"message": text, "session_id": session_id}, headers=user.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def answered(pg: asyncpg.Connection, question: str) -> str:
    async def probe() -> str | None:
        row = await pg.fetchrow(
            "select content, status from chat_messages where reply_to = $1 order by answer_no desc limit 1",
            uuid.UUID(question),
        )
        return str(row["content"]) if row is not None and row["status"] == "completed" else None

    return await until(probe)


async def test_a_share_is_the_path_at_share_time_for_anyone_with_the_link(
    http: httpx.AsyncClient, alice: ApiUser, worker: Worker, pg: asyncpg.Connection, stack: LocalStack
) -> None:
    session = await new_session(http, alice, title="Weekend")
    first = await send(http, alice, session["id"], "Plan a weekend in Suzhou.")
    await send(http, alice, session["id"], "Add a tea house.")
    client = await as_user(stack, alice)
    edit: Any = (
        await client.table("chat_messages")
        .insert({"session_id": session["id"], "content": "Add a museum.", "parent_id": first["message_id"]})
        .execute()
    ).data
    museum = await answered(pg, edit[0]["id"])

    made = await http.post(f"/api/sessions/{session['id']}/share", json={}, headers=alice.headers)
    assert made.status_code == 201, made.text
    share = made.json()["share"]
    assert share["path"] == f"/s/{share['token']}"

    expected = ["Plan a weekend in Suzhou.", first["ai_response"], "Add a museum.", museum]
    opened = await http.get(f"/api/share/{share['token']}")  # no Authorization header
    assert opened.status_code == 200, opened.text
    assert opened.headers["x-robots-tag"].startswith("noindex")
    body = opened.json()["share"]
    assert (body["title"], [m["content"] for m in body["messages"]]) == ("Weekend", expected)
    assert [m["type"] for m in body["messages"]] == ["user", "assistant", "user", "assistant"]
    assert "Add a tea house." not in [m["content"] for m in body["messages"]]

    # The branched session's history is its path too, and later turns do not reach the share.
    history = await http.get("/api/chat/history", params={"session_id": session["id"]}, headers=alice.headers)
    assert [m["content"] for m in reversed(history.json()["messages"])] == expected
    assert history.json()["total"] == 4
    walked: list[str] = []  # and a cursor walks the path, two at a time, to its start
    params = {"session_id": session["id"], "limit": 2}
    while True:
        page = (await http.get("/api/chat/history", params=params, headers=alice.headers)).json()
        walked += [m["content"] for m in page["messages"]]
        if page["next_cursor"] is None:
            break
        params = {**params, "cursor": page["next_cursor"]}
    assert list(reversed(walked)) == expected
    await send(http, alice, session["id"], "And dinner?")
    assert (await http.get(f"/api/share/{share['token']}")).json()["share"] == body

    # The token is nowhere in the database in clear.
    dump = await pg.fetchval("select string_agg(t::text, ' ') from chat_shares t")
    assert share["token"] not in dump

    # Listed, then revoked: the link is gone.
    listed = await http.get("/api/shares", headers=alice.headers)
    assert [s["id"] for s in listed.json()["shares"]] == [share["id"]]
    revoked = await http.delete(f"/api/shares/{share['id']}", headers=alice.headers)
    assert revoked.status_code == 200, revoked.text
    gone = await http.get(f"/api/share/{share['token']}")
    assert (gone.status_code, error_of(gone)["code"]) == (404, "ShareNotFound")
    assert (await http.delete(f"/api/shares/{share['id']}", headers=alice.headers)).status_code == 404


async def test_no_one_else_shares_lists_or_revokes_through_any_door(
    *, http: httpx.AsyncClient, alice: ApiUser, bob: ApiUser, worker: Worker, stack: LocalStack, api: ApiProcess
) -> None:
    session = await new_session(http, alice)
    await send(http, alice, session["id"], "A private thought.")
    share = (await http.post(f"/api/sessions/{session['id']}/share", headers=alice.headers)).json()["share"]

    # API
    stolen = await http.post(f"/api/sessions/{session['id']}/share", headers=bob.headers)
    assert (stolen.status_code, error_of(stolen)["code"]) == (404, "SessionNotFound")
    assert (await http.get("/api/shares", headers=bob.headers)).json()["shares"] == []
    refused = await http.delete(f"/api/shares/{share['id']}", headers=bob.headers)
    assert (refused.status_code, error_of(refused)["code"]) == (404, "ShareNotFound")
    assert (await http.post(f"/api/sessions/{session['id']}/share")).status_code == 401

    # REST, as the web app would (supabase-py)
    client = await as_user(stack, bob)
    with pytest.raises(Exception, match="SessionNotFound"):
        await client.rpc("share_session", {"session_id": session["id"]}).execute()
    assert (await client.table("chat_shares").select("id").execute()).data == []
    await client.table("chat_shares").delete(returning=ReturnMethod.minimal).eq("id", share["id"]).execute()
    anon = await acreate_client(stack.url, stack.anon_key)
    with pytest.raises(Exception, match="permission denied"):
        await anon.table("chat_shares").select("id").execute()

    # WebSocket: bob cannot open the shared session's live socket either.
    async with connect(f"{api.ws_url}/ws/chat/{session['id']}?token={bob.access_token}") as socket:
        with pytest.raises(ConnectionClosed) as closed:
            await socket.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4404

    # The share still stands for anyone with the link.
    assert (await http.get(f"/api/share/{share['token']}")).status_code == 200


async def test_bad_share_requests_are_clear_errors(http: httpx.AsyncClient, alice: ApiUser) -> None:
    assert error_of(await http.get("/api/share/short"))["code"] == "ShareNotFound"
    assert error_of(await http.get("/api/share/" + "x" * 40))["code"] == "ShareNotFound"
    assert (
        error_of(await http.post("/api/sessions/not-a-uuid/share", headers=alice.headers))["code"] == "SessionNotFound"
    )
    bad = await http.post(
        f"/api/sessions/{uuid.uuid4()}/share", json={"include_reasoning": "yes"}, headers=alice.headers
    )
    assert bad.status_code == 400
    assert error_of(await http.delete("/api/shares/nope", headers=alice.headers))["code"] == "ShareNotFound"


async def test_a_share_named_by_its_client_is_made_once(
    http: httpx.AsyncClient, alice: ApiUser, bob: ApiUser, pg: asyncpg.Connection
) -> None:
    session = await new_session(http, alice, title="Named")
    share_id = str(uuid.uuid4())
    made = await http.post(f"/api/sessions/{session['id']}/share", json={"share_id": share_id}, headers=alice.headers)
    assert made.status_code == 201, made.text
    assert made.json()["share"]["id"] == share_id
    # Sent again after its answer was lost: refused, nothing stored; the first token still opens it.
    again = await http.post(f"/api/sessions/{session['id']}/share", json={"share_id": share_id}, headers=alice.headers)
    assert again.status_code == 409
    assert error_of(again)["code"] == "ShareIdTaken"
    assert error_of(again)["field"] == "share_id"
    assert (await http.get(f"/api/share/{made.json()['share']['token']}")).status_code == 200
    # Another user's id is refused the same way, and their share is not touched.
    theirs = await new_session(http, bob, title="Bob's")
    taken = await http.post(f"/api/sessions/{theirs['id']}/share", json={"share_id": share_id}, headers=bob.headers)
    assert error_of(taken)["code"] == "ShareIdTaken"
    rows = await pg.fetch("select session_id::text from chat_shares where id = $1", uuid.UUID(share_id))
    assert [r["session_id"] for r in rows] == [session["id"]]
    bad = await http.post(f"/api/sessions/{session['id']}/share", json={"share_id": "nope"}, headers=alice.headers)
    assert error_of(bad)["code"] == "InvalidId"


@pytest.mark.usefixtures("worker")
async def test_a_share_with_its_attachments_says_what_each_file_is_never_whose_it_is(
    sdk: openai.AsyncOpenAI, http: httpx.AsyncClient, alice: ApiUser, pg: asyncpg.Connection, stack: LocalStack
) -> None:
    """Through the API and through read_share, as the web app's page reads it."""
    question = f"Summarise the notes {uuid.uuid4().hex[:6]}"
    content: list[Any] = [
        {"type": "text", "text": question},
        document("text/plain", b"# Notes\nbuy tea\n", "notes.txt"),
    ]
    await sdk.chat.completions.create(model="qwen-turbo", messages=[{"role": "user", "content": content}])
    session = await pg.fetchval("select session_id::text from chat_messages where content = $1", question)
    made = await http.post(f"/api/sessions/{session}/share", json={"include_attachments": True}, headers=alice.headers)
    assert made.status_code == 201, made.text
    token = made.json()["share"]["token"]
    opened = await http.get(f"/api/share/{token}")
    assert opened.status_code == 200, opened.text
    anon = await acreate_client(stack.url, stack.anon_key)
    direct: Any = (await anon.rpc("read_share", {"token": token}).execute()).data
    notes_file = [{"name": "notes.txt", "mime_type": "text/plain", "size": 16}]
    assert opened.json()["share"]["messages"][0]["attachments"] == direct["messages"][0]["attachments"] == notes_file
    assert alice.id not in opened.text
    assert alice.id not in json.dumps(direct)


@pytest.mark.usefixtures("worker")
async def test_a_shared_searched_answer_keeps_its_sources_through_the_api(
    sdk: openai.AsyncOpenAI, http: httpx.AsyncClient, alice: ApiUser, pg: asyncpg.Connection, stack: LocalStack
) -> None:
    question = f"What happened in Hangzhou today? {uuid.uuid4().hex[:6]}"
    await sdk.chat.completions.create(
        model="qwen-plus", messages=[{"role": "user", "content": question}], extra_body={"enable_search": True}
    )
    session = await pg.fetchval("select session_id::text from chat_messages where content = $1", question)
    made = await http.post(f"/api/sessions/{session}/share", json={}, headers=alice.headers)
    assert made.status_code == 201, made.text
    token = made.json()["share"]["token"]
    anon = await acreate_client(stack.url, stack.anon_key)
    direct: Any = (await anon.rpc("read_share", {"token": token}).execute()).data
    sources = direct["messages"][-1]["sources"]
    assert sources
    assert (await http.get(f"/api/share/{token}")).json()["share"]["messages"][-1]["sources"] == sources


async def test_a_disabled_accounts_links_answer_as_revoked_ones_until_it_is_enabled(
    http: httpx.AsyncClient, alice: ApiUser, stack: LocalStack
) -> None:
    """Disabled by an admin, the account's links read as a revoked link does, through the API and
    through read_share (the web app's shared page); enabled again, they read as before."""
    session = await new_session(http, alice, title="Published")
    share = (await http.post(f"/api/sessions/{session['id']}/share", headers=alice.headers)).json()["share"]
    anon = await acreate_client(stack.url, stack.anon_key)
    shown = (await http.get(f"/api/share/{share['token']}")).json()
    revoked_session = await new_session(http, alice)
    revoked = (await http.post(f"/api/sessions/{revoked_session['id']}/share", headers=alice.headers)).json()["share"]
    assert (await http.delete(f"/api/shares/{revoked['id']}", headers=alice.headers)).status_code == 200
    as_revoked = await http.get(f"/api/share/{revoked['token']}")

    admin = await make_admin(stack, http)
    changed = await http.patch(f"/api/admin/users/{alice.id}", json={"disabled": True}, headers=admin.headers)
    assert changed.status_code == 200, changed.text
    hidden = await http.get(f"/api/share/{share['token']}")
    assert (hidden.status_code, error_of(hidden)) == (as_revoked.status_code, error_of(as_revoked))
    assert error_of(hidden)["code"] == "ShareNotFound"
    assert (await anon.rpc("read_share", {"token": share["token"]}).execute()).data is None

    changed = await http.patch(f"/api/admin/users/{alice.id}", json={"disabled": False}, headers=admin.headers)
    assert changed.status_code == 200, changed.text
    assert (await http.get(f"/api/share/{share['token']}")).json() == shown
    assert (await anon.rpc("read_share", {"token": share["token"]}).execute()).data is not None


async def test_the_share_list_pages_by_cursor_to_the_oldest_link(
    http: httpx.AsyncClient, alice: ApiUser, bob: ApiUser, pg: asyncpg.Connection
) -> None:
    """More links than a page holds: a cursor walks them all, newest first, each once, ties on the
    same instant included; a cursor this API did not issue is a clear 422."""
    session = await new_session(http, alice, title="Many")
    await new_session(http, bob)
    await pg.execute(
        "insert into chat_shares (session_id, user_id, token_hash, messages, created_at)"
        " select $1, $2, sha256(gen_random_uuid()::text::bytea), '[]',"
        " timestamptz '2026-01-01' + (n / 3) * interval '1 minute' from generate_series(1, 205) n",
        uuid.UUID(session["id"]),
        uuid.UUID(alice.id),
    )
    expected = [
        str(r["id"])
        for r in await pg.fetch(
            "select id from chat_shares where user_id = $1 order by created_at desc, id desc", uuid.UUID(alice.id)
        )
    ]
    first = await http.get("/api/shares", headers=alice.headers)
    assert first.status_code == 200, first.text
    assert [s["id"] for s in first.json()["shares"]] == expected[:200]  # the default page, as before
    assert first.json()["next_cursor"]

    walked: list[str] = []
    params: dict[str, Any] = {"limit": 7, "session_id": session["id"]}
    while True:
        page = await http.get("/api/shares", params=params, headers=alice.headers)
        assert page.status_code == 200, page.text
        walked += [s["id"] for s in page.json()["shares"]]
        if page.json()["next_cursor"] is None:
            break
        params = {**params, "cursor": page.json()["next_cursor"]}
    assert walked == expected

    # Another user's cursor over the same instants reads only their own links.
    theirs = await http.get("/api/shares", params={"cursor": first.json()["next_cursor"]}, headers=bob.headers)
    assert theirs.json() == {"shares": [], "next_cursor": None, "success": True}
    for bad in ("nope", "W10", "x" * 201):
        refused = await http.get("/api/shares", params={"cursor": bad}, headers=alice.headers)
        assert refused.status_code in (400, 422), (bad, refused.text)
    assert error_of(await http.get("/api/shares", params={"cursor": "nope"}, headers=alice.headers))["code"] == (
        "InvalidCursor"
    )
    assert (await http.get("/api/shares", params={"limit": 0}, headers=alice.headers)).status_code == 400

    schema = (await http.get("/schema/openapi.json")).json()
    documented = {p["name"]: p for p in schema["paths"]["/api/shares"]["get"]["parameters"]}
    assert {"session_id", "limit", "cursor"} <= set(documented)
    assert documented["limit"]["schema"]["maximum"] == 200
    assert documented["cursor"]["description"]
    listed = schema["components"]["schemas"]["SharesResponse"]["properties"]
    assert "next_cursor" in listed
