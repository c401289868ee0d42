"""Security events: what the API records in audit.events, who may read or write it, and that
secrets and message text never reach a log line."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path

import asyncpg
import httpx
import pytest
import websockets

from tests.api.conftest import ApiProcess, ApiUser, error_of, new_session, register_and_login, until
from tests.conftest import LocalStack
from tests.ops.conftest import events_of, json_lines
from tests.worker.conftest import RecordingFakeScope, WorkerProcess


async def test_failed_login_is_recorded_with_the_address(http: httpx.AsyncClient, pg: asyncpg.Connection) -> None:
    user = await register_and_login(http)
    response = await http.post("/api/auth/login", json={"email": user.email, "password": "wrong-password-1"})
    assert response.status_code == 401

    [event] = await until(lambda: events_of(pg, "login_failed", email=user.email.lower()))
    assert str(event["ip"]) == "127.0.0.1"
    assert event["user_id"] is None  # the API does not know who failed, only which address was tried


async def test_refresh_token_reuse_is_recorded(http: httpx.AsyncClient, pg: asyncpg.Connection) -> None:
    user = await register_and_login(http)
    first = await http.post("/api/auth/refresh", json={"refresh_token": user.refresh_token})
    second = await http.post("/api/auth/refresh", json={"refresh_token": first.json()["refresh_token"]})
    assert first.status_code == second.status_code == 200
    before = len(await events_of(pg, "refresh_token_reuse"))

    reused = await http.post("/api/auth/refresh", json={"refresh_token": user.refresh_token})
    assert reused.status_code == 401
    assert error_of(reused)["code"] == "InvalidToken"
    await until(lambda: _more_than(pg, "refresh_token_reuse", before))


async def _more_than(pg: asyncpg.Connection, kind: str, count: int) -> bool:
    return len(await events_of(pg, kind)) > count


async def test_reading_another_users_session_is_recorded(http: httpx.AsyncClient, pg: asyncpg.Connection) -> None:
    alice, bob = await register_and_login(http), await register_and_login(http)
    session = await new_session(http, alice)

    response = await http.get(f"/api/sessions/{session['id']}", headers=bob.headers)
    assert response.status_code == 404  # indistinguishable from a missing one, to bob

    [event] = await until(lambda: events_of(pg, "permission_denied", session_id=session["id"]))
    assert str(event["user_id"]) == bob.id
    details = json.loads(event["details"])
    assert details["code"] == "SessionNotFound"
    assert details["route"] == "/api/sessions/{session_id}"


async def test_only_foreign_sessions_count_as_probes(pg: asyncpg.Connection, stack: LocalStack) -> None:
    """The database decides: a missing session or one's own is not an event, another's is."""
    owner, prober = str(uuid.uuid4()), str(uuid.uuid4())
    for user_id in (owner, prober):
        await pg.execute(
            "insert into auth.users (id, aud, role, email, raw_user_meta_data) values ($1, 'authenticated',"
            " 'authenticated', $2, jsonb_build_object('username', $3::text))",
            user_id,
            f"{user_id}@example.com",
            f"u_{user_id[:8]}",
        )
    session = str(await pg.fetchval("insert into chat_sessions (user_id) values ($1) returning id", owner))
    record = "select public.record_security_event('permission_denied', $1, '10.0.0.1', $2::jsonb)"

    def about(session_id: str) -> str:
        return f'{{"code": "SessionNotFound", "session_id": "{session_id}"}}'

    assert await pg.fetchval(record, prober, about(str(uuid.uuid4()))) is False
    assert await pg.fetchval(record, owner, about(session)) is False
    assert await pg.fetchval(record, prober, about("not-a-uuid")) is False
    assert await pg.fetchval(record, prober, about(session)) is True


async def test_only_the_service_role_reads_or_writes_events(stack: LocalStack, ops_api: ApiProcess) -> None:
    async with httpx.AsyncClient(base_url=ops_api.url, trust_env=False, timeout=20) as http:
        user: ApiUser = await register_and_login(http)
    rest = f"{stack.url}/rest/v1"
    async with httpx.AsyncClient(trust_env=False, timeout=20) as client:
        for token in (stack.anon_key, user.access_token):
            headers = {"apikey": stack.anon_key, "Authorization": f"Bearer {token}"}
            write = await client.post(
                f"{rest}/rpc/record_security_event", headers=headers, json={"event_kind": "login_failed"}
            )
            assert write.status_code in (401, 403), write.text
            read = await client.get(f"{rest}/events", headers={**headers, "Accept-Profile": "audit"})
            assert read.status_code >= 400, read.text  # the audit schema is not exposed at all
        service = {"apikey": stack.anon_key, "Authorization": f"Bearer {stack.service_role_key}"}
        read = await client.get(f"{rest}/events", headers={**service, "Accept-Profile": "audit"})
        assert read.status_code >= 400, read.text  # not even to the service key, through REST


async def test_authenticated_users_cannot_touch_the_audit_table(pg: asyncpg.Connection) -> None:
    async with pg.transaction():
        await pg.execute("set local role authenticated")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await pg.fetch("select * from audit.events")
    async with pg.transaction():
        await pg.execute("set local role service_role")
        assert await pg.fetchval("select count(*) >= 0 from audit.events")


async def test_refused_websocket_is_recorded(ops_api: ApiProcess, pg: asyncpg.Connection) -> None:
    session_id = str(uuid.uuid4())
    url = f"{ops_api.ws_url}/ws/chat/{session_id}?token=not-a-jwt"
    async with websockets.connect(url, open_timeout=10) as socket:
        with pytest.raises(websockets.ConnectionClosed):
            await socket.recv()
        assert socket.close_code == 4401
    await until(lambda: events_of(pg, "ws_refused", code="InvalidToken"))


async def test_rate_limit_hits_are_recorded(spawn_api: Callable[..., ApiProcess], pg: asyncpg.Connection) -> None:
    api = spawn_api(API_RATE_AUTH_PER_IP="2", API_RATE_WINDOW="3600")
    async with httpx.AsyncClient(base_url=api.url, trust_env=False, timeout=20) as http:
        statuses = [
            (await http.post("/api/auth/login", json={"email": "x@example.com", "password": "nope12345"})).status_code
            for _ in range(3)
        ]
    assert statuses[-1] == 429
    await until(lambda: events_of(pg, "rate_limited", scope="auth"))


async def test_logs_hold_no_secrets_or_message_text(
    spawn_api: Callable[..., ApiProcess],
    spawn_worker: Callable[..., WorkerProcess],
    fake: RecordingFakeScope,
    stack: LocalStack,
) -> None:
    """Wrong password, a send (answered), a refresh: no log line of the API, the worker or the
    gateway carries the password, the tokens, the service key or the message text."""
    api = spawn_api()
    worker = spawn_worker(fake)
    text = f"my secret plans {uuid.uuid4().hex}"
    async with httpx.AsyncClient(base_url=api.url, trust_env=False, timeout=40) as http:
        user = await register_and_login(http)
        wrong = f"Wrong-{uuid.uuid4().hex}"
        assert (await http.post("/api/auth/login", json={"email": user.email, "password": wrong})).status_code == 401
        session = await new_session(http, user)
        sent = await http.post(
            "/api/chat/send", json={"session_id": session["id"], "message": text}, headers=user.headers
        )
        assert sent.status_code == 200, sent.text
        refreshed = await http.post("/api/auth/refresh", json={"refresh_token": user.refresh_token})
        assert refreshed.status_code == 200
    api.stop()
    worker.terminate()

    secrets = {
        "password": user.password,
        "wrong password": wrong,
        "access token": user.access_token,
        "refresh token": user.refresh_token,
        "new access token": refreshed.json()["access_token"],
        "new refresh token": refreshed.json()["refresh_token"],
        "service key": stack.service_role_key,
        "message text": text,
    }
    lines = json_lines(api.log, worker.log, Path(stack.env["LOCALBASE_LOG"]))
    assert any(line.get("message") == "request" for line in lines)  # the API did log its requests
    for number, line in enumerate(lines):
        flat = str(line)
        for name, secret in secrets.items():
            assert secret not in flat, f"{name} in log line {number}: {flat[:300]}"
