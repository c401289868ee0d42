"""Data lifecycle: archiving idle sessions (`python -m ops archive`), deleting archived ones,
exporting one's history, and deleting one's account with everything in it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import asyncpg
import httpx
import pyotp
from supabase import AsyncClientOptions, acreate_client

from api.export import PAGE_ROWS
from tests.api.conftest import ApiUser, error_of, new_session, register_and_login, until
from tests.conftest import LocalStack
from tests.localbase.storage.conftest import PNG
from tests.ops.conftest import events_of, ops


async def add_messages(pg: asyncpg.Connection, session_id: str, user_id: str, count: int) -> None:
    await pg.execute(
        "insert into chat_messages (session_id, user_id, content, created_at)"
        " select $1, $2, 'message ' || n, clock_timestamp() from generate_series(1, $3) n",
        session_id,
        user_id,
        count,
    )


async def idle_for(pg: asyncpg.Connection, session_id: str, days: int) -> None:
    await pg.execute(
        "update chat_sessions set last_message_at = now() - make_interval(days => $2) where id = $1",
        session_id,
        days,
    )


async def listed(http: httpx.AsyncClient, user: ApiUser, **params: str) -> list[str]:
    response = await http.get("/api/sessions", params={"limit": "100", **params}, headers=user.headers)
    assert response.status_code == 200, response.text
    return [s["id"] for s in response.json()["sessions"]]


async def test_archive_hides_idle_sessions_and_keeps_history_and_counts(
    http: httpx.AsyncClient, pg: asyncpg.Connection, stack: LocalStack
) -> None:
    user = await register_and_login(http)
    old, recent = await new_session(http, user), await new_session(http, user)
    await add_messages(pg, old["id"], user.id, 25)
    await add_messages(pg, recent["id"], user.id, 5)
    await idle_for(pg, old["id"], 100)

    result = ops(stack, "archive", "--older-than", "90d", "--batch", "1")
    assert result["archived"] >= 1  # batch 1: the loop ran until a batch came back short

    assert await listed(http, user) == [recent["id"]]
    assert await listed(http, user, archived="true") == [old["id"]]
    row = await pg.fetchrow("select is_active, archived_at, message_count from chat_sessions where id = $1", old["id"])
    assert row["archived_at"] is not None
    assert row["is_active"] is False
    assert row["message_count"] == 25

    pages, cursor = [], None
    while True:
        params = {"session_id": old["id"], "limit": "10", **({"cursor": cursor} if cursor else {})}
        page = (await http.get("/api/chat/history", params=params, headers=user.headers)).json()
        assert page["total"] == 25
        pages.append([m["id"] for m in page["messages"]])
        if not (cursor := page["next_cursor"]):
            break
    assert [len(p) for p in pages] == [10, 10, 5]
    everything = (await http.get("/api/chat/history", headers=user.headers)).json()
    assert everything["total"] == 30  # the user's total counts archived sessions too

    # Asking again in an archived session brings it back.
    await add_messages(pg, old["id"], user.id, 1)
    assert sorted(await listed(http, user)) == sorted([old["id"], recent["id"]])


async def test_long_archived_sessions_are_deleted_with_their_messages(
    http: httpx.AsyncClient, pg: asyncpg.Connection, stack: LocalStack
) -> None:
    user = await register_and_login(http)
    doomed, kept = await new_session(http, user), await new_session(http, user)
    await add_messages(pg, doomed["id"], user.id, 7)
    await add_messages(pg, kept["id"], user.id, 3)
    await idle_for(pg, doomed["id"], 400)
    ops(stack, "archive", "--older-than", "365d")
    await pg.execute("update chat_sessions set archived_at = now() - interval '31 days' where id = $1", doomed["id"])

    result = ops(stack, "archive", "--older-than", "365d", "--delete-after", "30d")
    assert result["deleted"] >= 1
    assert await pg.fetchval("select count(*) from chat_sessions where id = $1", doomed["id"]) == 0
    assert await pg.fetchval("select count(*) from chat_messages where session_id = $1", doomed["id"]) == 0
    assert await pg.fetchval("select message_count from chat_sessions where id = $1", kept["id"]) == 3
    assert (await http.get("/api/chat/history", headers=user.headers)).json()["total"] == 3


async def test_lifecycle_functions_are_for_the_service_role_only(stack: LocalStack, http: httpx.AsyncClient) -> None:
    user = await register_and_login(http)
    async with httpx.AsyncClient(trust_env=False, timeout=20) as client:
        for token in (stack.anon_key, user.access_token):
            headers = {"apikey": stack.anon_key, "Authorization": f"Bearer {token}"}
            for function, params in (
                ("archive_sessions", {"older_than_seconds": 0.001, "max_sessions": 10}),
                ("delete_archived_sessions", {"archived_for_seconds": 0.001, "max_sessions": 10}),
                ("purge_security_events", {"older_than_seconds": 0.001, "max_rows": 10}),
            ):
                response = await client.post(f"{stack.url}/rest/v1/rpc/{function}", headers=headers, json=params)
                assert response.status_code in (401, 403), (function, response.text)


def test_ops_refuses_a_bad_age(stack: LocalStack) -> None:
    env = {**os.environ, "SUPABASE_URL": stack.url}
    done = subprocess.run(
        [sys.executable, "-m", "ops", "archive", "--older-than", "soon"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2
    assert "not an age" in done.stderr


async def test_export_streams_the_whole_history_and_nothing_else(
    http: httpx.AsyncClient, pg: asyncpg.Connection, stack: LocalStack
) -> None:
    user, other = await register_and_login(http), await register_and_login(http)
    first, second = await new_session(http, user), await new_session(http, user)
    await add_messages(pg, first["id"], user.id, PAGE_ROWS + 300)  # several pages
    await add_messages(pg, second["id"], user.id, 4)
    theirs = await new_session(http, other)
    await add_messages(pg, theirs["id"], other.id, 3)
    await idle_for(pg, second["id"], 200)
    ops(stack, "archive", "--older-than", "150d")
    texts = {"en": {"name": "Poet", "description": "Writes poems"}}
    made = await http.post(
        "/api/roles", json={"name": "诗人", "system_prompt": "写诗。", "translations": texts}, headers=user.headers
    )
    assert made.status_code == 201, made.text

    async with http.stream("GET", "/api/account/export", headers=user.headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/json")
        assert "content-length" not in response.headers  # streamed, not built in memory
        chunks = [chunk async for chunk in response.aiter_raw()]
    document = json.loads(b"".join(chunks))

    assert document["user"]["id"] == user.id
    assert sorted(s["id"] for s in document["sessions"]) == sorted([first["id"], second["id"]])
    assert any(s["archived_at"] for s in document["sessions"])  # archived sessions are exported too
    assert [(r["name"], r["translations"]) for r in document["roles"]] == [("诗人", texts)]
    messages = document["messages"]
    assert len(messages) == PAGE_ROWS + 304
    assert len({m["id"] for m in messages}) == len(messages)
    assert {m["session_id"] for m in messages} == {first["id"], second["id"]}
    stamps = [(m["created_at"], m["id"]) for m in messages]
    assert stamps == sorted(stamps)
    await until(lambda: events_of(pg, "account_exported"))

    anonymous = await http.get("/api/account/export")
    assert anonymous.status_code == 401


async def test_account_deletion_needs_the_password_and_removes_everything(
    http: httpx.AsyncClient, pg: asyncpg.Connection
) -> None:
    user = await register_and_login(http)
    session = await new_session(http, user)
    await add_messages(pg, session["id"], user.id, 3)
    role = await http.post(
        "/api/roles",
        json={"id": "my_helper", "name": "Mine", "system_prompt": "Be brief."},
        headers=user.headers,
    )
    assert role.status_code == 201, role.text

    wrong = await http.request("DELETE", "/api/account", json={"password": "not-my-password1"}, headers=user.headers)
    assert wrong.status_code == 403
    assert error_of(wrong)["code"] == "InvalidPassword"
    assert await pg.fetchval("select count(*) from auth.users where id = $1", user.id) == 1

    deleted = await http.request("DELETE", "/api/account", json={"password": user.password}, headers=user.headers)
    assert deleted.status_code == 200, deleted.text
    counts = await pg.fetchrow(
        """select (select count(*) from auth.users where id = $1) as users,
                  (select count(*) from profiles where id = $1) as profiles,
                  (select count(*) from ai_roles where created_by = $1) as roles,
                  (select count(*) from chat_sessions where user_id = $1) as sessions,
                  (select count(*) from chat_messages where user_id = $1) as messages,
                  (select count(*) from auth.refresh_tokens where user_id = $1::text) as tokens""",
        user.id,
    )
    assert dict(counts) == {"users": 0, "profiles": 0, "roles": 0, "sessions": 0, "messages": 0, "tokens": 0}
    login = await http.post("/api/auth/login", json={"email": user.email, "password": user.password})
    assert login.status_code == 401
    [event] = await until(lambda: _deleted_events(pg, user.id))
    assert event["kind"] == "account_deleted"  # the record outlives the account


async def test_account_deletion_checks_the_password_of_the_current_address(
    http: httpx.AsyncClient, pg: asyncpg.Connection, stack: LocalStack
) -> None:
    """A still-valid token may carry an address changed since: the right password deletes."""
    user = await register_and_login(http)
    service = await acreate_client(stack.url, stack.service_role_key)
    moved = f"moved-{user.id[:8]}@example.com"
    await service.auth.admin.update_user_by_id(user.id, {"email": moved, "email_confirm": True})
    deleted = await http.request("DELETE", "/api/account", json={"password": user.password}, headers=user.headers)
    assert deleted.status_code == 200, deleted.text
    assert await pg.fetchval("select count(*) from auth.users where id = $1", user.id) == 0


async def test_a_guest_deletes_their_account_without_a_password(
    http: httpx.AsyncClient, pg: asyncpg.Connection, stack: LocalStack
) -> None:
    """A guest has no password (the profile page asks none of them): their session, which already
    reads and deletes every chat of theirs, deletes the account, instead of a 401 InvalidToken that
    told the client to drop a valid session."""
    guest = await acreate_client(
        stack.url, stack.anon_key, AsyncClientOptions(persist_session=False, auto_refresh_token=False)
    )
    signed = await guest.auth.sign_in_anonymously()
    assert signed.session is not None
    assert signed.user is not None
    headers = {"Authorization": f"Bearer {signed.session.access_token}"}
    session = await http.post("/api/sessions", json={"title": "trying"}, headers=headers)
    assert session.status_code == 201, session.text
    deleted = await http.request("DELETE", "/api/account", json={}, headers=headers)
    assert deleted.status_code == 200, deleted.text
    counts = await pg.fetchrow(
        """select (select count(*) from auth.users where id = $1) as users,
                  (select count(*) from chat_sessions where user_id = $1) as sessions""",
        signed.user.id,
    )
    assert dict(counts) == {"users": 0, "sessions": 0}
    [event] = await until(lambda: _deleted_events(pg, signed.user.id))  # type: ignore[union-attr]
    assert json.loads(event["details"]) == {"guest": True}


async def test_a_deleted_accounts_still_valid_token_uploads_no_file(http: httpx.AsyncClient, stack: LocalStack) -> None:
    """The deletion removes the account's files; its access token lives on until it expires, and
    must not put a file in the public avatars bucket (or attachments) that nothing would remove."""
    user = await register_and_login(http)
    deleted = await http.request("DELETE", "/api/account", json={"password": user.password}, headers=user.headers)
    assert deleted.status_code == 200, deleted.text
    headers = {**user.headers, "apikey": stack.anon_key, "content-type": "image/png"}
    async with httpx.AsyncClient(base_url=f"{stack.url}/storage/v1", trust_env=False) as storage:
        for bucket in ("avatars", "attachments"):
            upload = await storage.post(f"/object/{bucket}/{user.id}/after-delete.png", content=PNG, headers=headers)
            assert (upload.status_code, upload.json()["code"]) == (400, "AccessDenied"), upload.text  # as storage-api
        public = await storage.get(f"/object/public/avatars/{user.id}/after-delete.png")
    assert (public.status_code, public.json()["statusCode"], public.json()["code"]) == (400, "404", "NoSuchKey")


async def test_account_deletion_with_only_the_password_of_a_two_factor_user_is_refused(
    http: httpx.AsyncClient, pg: asyncpg.Connection, stack: LocalStack
) -> None:
    """A stolen password signs in at aal1 only: RLS hides the account's data, and deleting it
    needs the code too."""
    user = await register_and_login(http)
    member = await acreate_client(
        stack.url, stack.anon_key, AsyncClientOptions(persist_session=False, auto_refresh_token=False)
    )
    await member.auth.sign_in_with_password({"email": user.email, "password": user.password})
    enrolled = await member.auth.mfa.enroll({"factor_type": "totp", "friendly_name": "phone"})
    secret = enrolled.totp.secret  # type: ignore[union-attr]
    await member.auth.mfa.challenge_and_verify({"factor_id": enrolled.id, "code": pyotp.TOTP(secret).now()})

    login = await http.post("/api/auth/login", json={"email": user.email, "password": user.password})
    assert login.status_code == 200, login.text
    aal1 = {"Authorization": f"Bearer {login.json()['access_token']}"}
    refused = await http.request("DELETE", "/api/account", json={"password": user.password}, headers=aal1)
    assert refused.status_code == 403, refused.text
    assert error_of(refused)["code"] == "SecondFactorRequired"
    assert await pg.fetchval("select count(*) from auth.users where id = $1", user.id) == 1

    session = await member.auth.get_session()  # raised to aal2 by the code
    assert session is not None
    aal2 = {"Authorization": f"Bearer {session.access_token}"}
    deleted = await http.request("DELETE", "/api/account", json={"password": user.password}, headers=aal2)
    assert deleted.status_code == 200, deleted.text
    assert await pg.fetchval("select count(*) from auth.users where id = $1", user.id) == 0


async def _deleted_events(pg: asyncpg.Connection, user_id: str) -> list[asyncpg.Record]:
    events: list[asyncpg.Record] = await pg.fetch(
        "select * from audit.events where kind = 'account_deleted' and user_id = $1", user_id
    )
    return events


async def test_a_deleted_accounts_token_writing_is_told_it_is_invalid(
    http: httpx.AsyncClient, pg: asyncpg.Connection
) -> None:
    """Its token outlives the account until it expires. A write for the account (a new session, a
    role) got 404 NotFound, as if it named something missing; it is 401 InvalidToken, which tells
    a client to sign in again (which fails, the account being gone), and nothing is stored. Reads
    of what it owned stay empty, as they were."""
    user = await register_and_login(http)
    session = await new_session(http, user, title="Gone")
    deleted = await http.request("DELETE", "/api/account", json={"password": user.password}, headers=user.headers)
    assert deleted.status_code == 200, deleted.text
    calls = [
        ("/api/sessions", {"title": "after"}),
        ("/api/sessions", {"title": "after", "id": session["id"]}),
        ("/api/roles", {"name": "After", "system_prompt": "Be brief."}),
    ]
    for path, body in calls:
        answer = await http.post(path, json=body, headers=user.headers)
        assert (answer.status_code, error_of(answer)["code"]) == (401, "InvalidToken"), (path, answer.text)
    assert (await http.get("/api/sessions", headers=user.headers)).json()["sessions"] == []
    opened = await http.get(f"/api/sessions/{session['id']}", headers=user.headers)
    assert error_of(opened)["code"] == "SessionNotFound"
    counts = await pg.fetchrow(
        """select (select count(*) from chat_sessions where user_id = $1) as sessions,
                  (select count(*) from ai_roles where created_by = $1) as roles""",
        user.id,
    )
    assert dict(counts) == {"sessions": 0, "roles": 0}
