"""Sessions and the profile: each user's own, and another user's is a 404 like a missing one; a
session created under the client's id is made once."""

from __future__ import annotations

import uuid

import asyncpg
import httpx

from tests.api.conftest import ApiUser, error_of, new_session


async def test_session_lifecycle(http: httpx.AsyncClient, alice: ApiUser) -> None:
    session = await new_session(http, alice, title="Vue3 学习", role_id="tech_expert")
    assert (session["title"], session["role_id"], session["message_count"]) == ("Vue3 学习", "tech_expert", 0)
    listed = await http.get("/api/sessions", headers=alice.headers)
    assert [s["id"] for s in listed.json()["sessions"]] == [session["id"]]
    renamed = await http.patch(f"/api/sessions/{session['id']}", json={"title": "新标题"}, headers=alice.headers)
    assert renamed.json()["session"]["title"] == "新标题"
    rebound = await http.patch(f"/api/sessions/{session['id']}", json={"role_id": "casual_chat"}, headers=alice.headers)
    assert rebound.json()["session"]["role_id"] == "casual_chat"
    deleted = await http.delete(f"/api/sessions/{session['id']}", headers=alice.headers)
    assert deleted.json()["success"] is True
    gone = await http.get(f"/api/sessions/{session['id']}", headers=alice.headers)
    assert gone.status_code == 404
    assert error_of(gone)["code"] == "SessionNotFound"


async def test_the_sessions_list_puts_pinned_chats_first_and_says_when_they_were_pinned(
    http: httpx.AsyncClient, alice: ApiUser, pg: asyncpg.Connection
) -> None:
    """As the web app's sidebar lists them: the newest pin on top, then by last activity; the web app
    pins over REST (`chat_sessions.pinned_at`)."""
    old, middle, new = [await new_session(http, alice, title=t) for t in ("old", "middle", "new")]
    for i, session in enumerate((old, middle, new)):
        await pg.execute(
            "insert into chat_messages (session_id, message_type, content, created_at)"
            " values ($1, 'system', 'hi', now() - ($2 * interval '1 hour'))",
            uuid.UUID(session["id"]),
            3 - i,
        )
    await pg.execute(
        "update chat_sessions set pinned_at = now() - interval '1 minute' where id = $1", uuid.UUID(old["id"])
    )
    await pg.execute("update chat_sessions set pinned_at = now() where id = $1", uuid.UUID(middle["id"]))
    listed = (await http.get("/api/sessions", headers=alice.headers)).json()["sessions"]
    assert [s["title"] for s in listed] == ["middle", "old", "new"]
    assert [s["pinned_at"] is not None for s in listed] == [True, True, False]
    first = (await http.get("/api/sessions", params={"limit": 1}, headers=alice.headers)).json()["sessions"]
    assert [s["title"] for s in first] == ["middle"]
    one = (await http.get(f"/api/sessions/{old['id']}", headers=alice.headers)).json()["session"]
    assert one["pinned_at"] == listed[1]["pinned_at"]
    renamed = await http.patch(f"/api/sessions/{old['id']}", json={"title": "old pinned"}, headers=alice.headers)
    assert renamed.json()["session"]["pinned_at"] is not None


async def test_a_session_named_by_its_client_is_made_once(
    http: httpx.AsyncClient, alice: ApiUser, bob: ApiUser
) -> None:
    session_id = str(uuid.uuid4())
    body = {"id": session_id, "title": "Named", "role_id": "tech_expert"}
    made = await http.post("/api/sessions", json=body, headers=alice.headers)
    assert made.status_code == 201, made.text
    assert made.json()["session"]["id"] == session_id
    again = await http.post("/api/sessions", json=body, headers=alice.headers)  # its answer was lost
    assert again.status_code == 201
    assert again.json()["session"] == made.json()["session"]
    listed = (await http.get("/api/sessions", headers=alice.headers)).json()["sessions"]
    assert [s["id"] for s in listed] == [session_id]
    taken = await http.post("/api/sessions", json={"id": session_id}, headers=bob.headers)
    assert (taken.status_code, error_of(taken)["code"], error_of(taken)["field"]) == (409, "SessionIdTaken", "id")
    assert (await http.get("/api/sessions", headers=bob.headers)).json()["sessions"] == []
    bad = await http.post("/api/sessions", json={"id": "nope"}, headers=alice.headers)
    assert error_of(bad)["code"] == "InvalidId"


async def test_unknown_role_for_a_session_is_404(http: httpx.AsyncClient, alice: ApiUser) -> None:
    response = await http.post("/api/sessions", json={"role_id": "no_such_role"}, headers=alice.headers)
    assert response.status_code == 404
    assert error_of(response)["code"] == "RoleNotFound"


async def test_user_b_cannot_read_change_or_delete_user_a_session(
    http: httpx.AsyncClient, alice: ApiUser, bob: ApiUser
) -> None:
    session = await new_session(http, alice, title="private")
    path = f"/api/sessions/{session['id']}"
    missing = f"/api/sessions/{uuid.uuid4()}"
    for target in (path, missing):
        read = await http.get(target, headers=bob.headers)
        assert (read.status_code, error_of(read)["code"]) == (404, "SessionNotFound")
    assert (await http.patch(path, json={"title": "mine"}, headers=bob.headers)).status_code == 404
    assert (await http.delete(path, headers=bob.headers)).status_code == 404
    assert (await http.get("/api/sessions", headers=bob.headers)).json()["sessions"] == []
    assert (await http.get(path, headers=alice.headers)).json()["session"]["title"] == "private"


async def test_an_id_in_any_spelling_but_the_canonical_uuid_is_404_at_every_door(
    http: httpx.AsyncClient, alice: ApiUser
) -> None:
    """`uuid.UUID()` reads `urn:uuid:...`, braces and 32 hex digits with the dashes moved, Postgres
    does not: such an id names nothing (404), never a raw 400 from REST; upper case still finds."""
    session = await new_session(http, alice, title="t")
    hex_ = session["id"].replace("-", "")
    for odd in ("urn:" + hex_, "{" + hex_ + "}", "----" + hex_):
        for method, path, body, code in (
            ("GET", f"/api/sessions/{odd}", None, "SessionNotFound"),
            ("PATCH", f"/api/sessions/{odd}", {"title": "x"}, "SessionNotFound"),
            ("DELETE", f"/api/sessions/{odd}", None, "SessionNotFound"),
            ("POST", "/api/chat/send", {"message": "hi", "session_id": odd}, "SessionNotFound"),
            ("POST", "/api/chat/stop", {"session_id": odd}, "SessionNotFound"),
            ("PATCH", f"/api/roles/{odd}", {"name": "x"}, "RoleNotFound"),
        ):
            response = await http.request(method, path, json=body, headers=alice.headers)
            assert (response.status_code, error_of(response)["code"]) == (404, code), (odd, method, path, response.text)
    upper = await http.patch(f"/api/sessions/{session['id'].upper()}", json={"title": "upper"}, headers=alice.headers)
    assert upper.json()["session"]["title"] == "upper"


async def test_profile_get_and_update(http: httpx.AsyncClient, alice: ApiUser, bob: ApiUser) -> None:
    profile = (await http.get("/api/profile", headers=alice.headers)).json()["profile"]
    assert (profile["id"], profile["username"], profile["email"]) == (alice.id, alice.username, alice.email)
    new_name = f"新名字{uuid.uuid4().hex[:4]}"
    updated = await http.patch(
        "/api/profile", json={"username": new_name, "avatar_url": "https://example.com/a.png"}, headers=alice.headers
    )
    assert updated.json()["profile"] | {"updated_at": None} == profile | {
        "username": new_name,
        "avatar_url": "https://example.com/a.png",
        "updated_at": None,
    }
    taken = await http.patch("/api/profile", json={"username": bob.username}, headers=alice.headers)
    assert (taken.status_code, error_of(taken)["code"]) == (409, "UsernameTaken")
    short = await http.patch("/api/profile", json={"username": "a"}, headers=alice.headers)
    assert (short.status_code, error_of(short)["field"]) == (422, "username")


async def test_a_username_with_a_control_or_invisible_format_character_inside_is_refused(
    http: httpx.AsyncClient, alice: ApiUser
) -> None:
    """Unicode Cc (a line break, a tab, a carriage return) and Cf (a zero-width space, a direction
    override, a soft hyphen) anywhere in the name: 422 InvalidUsername, at sign-up as in the profile."""
    for name in ("ab\ncd", "ab\tcd", "ab\rcd", "ab\u200bcd", "ab\u202ecd", "ab\u00adcd", "ab\x85cd"):
        response = await http.patch("/api/profile", json={"username": name}, headers=alice.headers)
        assert (response.status_code, error_of(response)["code"]) == (422, "InvalidUsername"), (name, response.text)
    register = await http.post(
        "/api/auth/register",
        json={"username": "new\u200duser", "email": f"zw{uuid.uuid4().hex[:8]}@example.com", "password": "password123"},
    )
    assert (register.status_code, error_of(register)["code"]) == (422, "InvalidUsername")
    profile = (await http.get("/api/profile", headers=alice.headers)).json()["profile"]
    assert profile["username"] == alice.username


async def test_an_avatar_is_an_absolute_http_url_with_a_host(http: httpx.AsyncClient, alice: ApiUser) -> None:
    for bad in (
        "javascript:alert(1)",
        "not a url",
        "/avatars/a.png",
        "ftp://example.com/a.png",
        "https://",
        "http://a b/c",
    ):
        profile = await http.patch("/api/profile", json={"avatar_url": bad}, headers=alice.headers)
        assert (profile.status_code, error_of(profile)["code"], error_of(profile)["field"]) == (
            422,
            "InvalidUrl",
            "avatar_url",
        ), (bad, profile.text)
        role = await http.post(
            "/api/roles", json={"name": "n", "system_prompt": "p", "avatar_url": bad}, headers=alice.headers
        )
        assert (role.status_code, error_of(role)["code"]) == (422, "InvalidUrl"), (bad, role.text)
    storage = "http://127.0.0.1:54321/storage/v1/object/public/avatars/u/a.png?v=2"
    kept = await http.patch("/api/profile", json={"avatar_url": storage}, headers=alice.headers)
    assert kept.json()["profile"]["avatar_url"] == storage
    cleared = await http.patch("/api/profile", json={"avatar_url": ""}, headers=alice.headers)
    assert cleared.json()["profile"]["avatar_url"] is None


async def test_the_sessions_list_pages_by_cursor_past_chats_made_and_deleted_meanwhile(
    http: httpx.AsyncClient, bob: ApiUser
) -> None:
    """By `page`, a chat deleted from page 1 made page 2 start one late (its first chat never
    listed); by `next_cursor` page 2 starts right after page 1's last chat. `page` still works."""
    made = [await new_session(http, bob, title=f"chat {i}") for i in range(7)]  # newest last
    first = (await http.get("/api/sessions", params={"limit": 3}, headers=bob.headers)).json()
    assert [s["title"] for s in first["sessions"]] == ["chat 6", "chat 5", "chat 4"]
    assert (await http.delete(f"/api/sessions/{made[5]['id']}", headers=bob.headers)).status_code == 200
    await new_session(http, bob, title="new")
    second = await http.get("/api/sessions", params={"limit": 3, "cursor": first["next_cursor"]}, headers=bob.headers)
    assert second.status_code == 200, second.text
    assert [s["title"] for s in second.json()["sessions"]] == ["chat 3", "chat 2", "chat 1"]
    after = second.json()["next_cursor"]
    last = (await http.get("/api/sessions", params={"limit": 3, "cursor": after}, headers=bob.headers)).json()
    assert ([s["title"] for s in last["sessions"]], last["next_cursor"]) == (["chat 0"], None)
    by_page = (await http.get("/api/sessions", params={"limit": 3, "page": 2}, headers=bob.headers)).json()
    assert [s["title"] for s in by_page["sessions"]] == ["chat 3", "chat 2", "chat 1"]
    bad = await http.get("/api/sessions", params={"cursor": "bm9wZQ"}, headers=bob.headers)
    assert (bad.status_code, error_of(bad)["code"]) == (422, "InvalidCursor")


async def test_a_body_naming_a_field_its_door_does_not_take_is_refused_and_changes_nothing(
    http: httpx.AsyncClient, alice: ApiUser
) -> None:
    """A misspelt or unsupported field (`titel`, a session's `is_active`, a question's `role`) was
    ignored: a PATCH answered 200 having changed nothing, a POST made a session without its title
    and a question went to the session's persona; the client believed it done. Each is now 400
    ValidationError naming the field (`field`: it), as the share and admin doors already refused one
    (their `field` said `data`), and nothing changes."""
    session = await new_session(http, alice, title="kept")
    role = (
        await http.post("/api/roles", json={"name": "Poet", "system_prompt": "Rhyme."}, headers=alice.headers)
    ).json()["role"]
    sid = session["id"]
    refused = [
        ("PATCH", f"/api/sessions/{sid}", {"titel": "renamed"}, "titel"),
        ("PATCH", f"/api/sessions/{sid}", {"title": "renamed", "is_active": False}, "is_active"),
        ("POST", "/api/sessions", {"titel": "new"}, "titel"),
        ("POST", "/api/chat/send", {"message": "hi", "session_id": sid, "role": "poet"}, "role"),
        ("POST", "/api/chat/stop", {"session_id": sid, "all": True}, "all"),
        ("PATCH", f"/api/roles/{role['id']}", {"name": "Bard", "prompt": "Sing."}, "prompt"),
        ("POST", "/api/roles", {"name": "Bard", "system_prompt": "Sing.", "slug": "bard"}, "slug"),
        ("PATCH", "/api/profile", {"user_name": "renamed"}, "user_name"),
    ]
    for method, url, body, field in refused:
        answer = await http.request(method, url, json=body, headers=alice.headers)
        assert answer.status_code == 400, (url, body, answer.text)
        error = error_of(answer)
        assert error["code"] == "ValidationError", (url, body)
        assert f"unknown field `{field}`" in error["message"], (url, body)
        assert error["field"] == field, (url, body)
    sessions = (await http.get("/api/sessions", headers=alice.headers)).json()["sessions"]
    assert [(s["id"], s["title"], s["is_active"]) for s in sessions] == [(sid, "kept", True)]
    history = (await http.get("/api/chat/history", params={"session_id": sid}, headers=alice.headers)).json()
    assert history["messages"] == []
    roles = (await http.get("/api/roles", headers=alice.headers)).json()["roles"]
    assert [r["name"] for r in roles if r["is_custom"]] == ["Poet"]
    profile = (await http.get("/api/profile", headers=alice.headers)).json()["profile"]
    assert profile["username"] == alice.username
