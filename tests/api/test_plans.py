"""Plans and quotas through the real doors: the API (two replicas), supabase-py straight to REST,
and two workers settling; usage, disabled accounts, admins, and who can see whose usage."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import asyncpg
import httpx
import pytest
from postgrest import APIError

from core.settings import LlmSettings, Settings, SupabaseSettings, WorkerSettings, login_as
from fakescope.server import FakeScope
from tests.api.conftest import ApiUser, client_for, make_admin, new_session, register_and_login, start_api
from tests.conftest import LocalStack, rows_of
from worker.app import Worker

QUESTION = "How far is the moon?"
T = TypeVar("T")


async def put_on_plan(pg: asyncpg.Connection, user: ApiUser, plan: str, **limits: int | None) -> None:
    columns = ", ".join(["id", "name", *limits])
    values = ", ".join(f"${i}" for i in range(1, len(limits) + 3))
    await pg.execute(
        f"insert into plans ({columns}) values ({values}) on conflict (id) do nothing", plan, plan, *limits.values()
    )
    await pg.execute("update user_plans set plan_id = $2 where user_id = $1", user.id, plan)


async def test_fifty_sends_over_two_apis_then_two_workers_admit_exactly_ten_and_settle_each_once(
    quiet_stack: LocalStack, fake: FakeScope, tmp_path: Path
) -> None:
    """Admission across two API replicas: 10 of 50 concurrent sends fit. No worker runs during
    the burst (so no settlement frees room meanwhile); two workers then answer the ten, and each
    reservation is settled once with the answer's real usage."""
    apis = [start_api(quiet_stack, tmp_path / f"api{i}.log", API_ANSWER_TIMEOUT="0.2") for i in range(2)]
    clients = [httpx.AsyncClient(base_url=a.url, timeout=60, trust_env=False) for a in apis]
    pg = await asyncpg.connect(quiet_stack.dsn)
    workers: list[Worker] = []
    try:
        user = await register_and_login(clients[0])
        per = int(await pg.fetchval("select usage_reservation(null, $1)", QUESTION))
        await put_on_plan(pg, user, "ten", tokens_per_day=per * 10)
        session = await new_session(clients[1], user, title="quota")  # titled: no title call charges the ledger

        async def send(i: int) -> httpx.Response:
            body = {"session_id": session["id"], "message": QUESTION}
            return await clients[i % 2].post("/api/chat/send", json=body, headers=user.headers)

        responses = await asyncio.gather(*(send(i) for i in range(50)))
        codes = [r.json()["error"]["code"] for r in responses]
        assert sorted(set(codes)) == ["AnswerTimeout", "QuotaExceeded"]
        assert codes.count("AnswerTimeout") == 10  # admitted and stored; the answer follows
        refused = [r for r in responses if r.status_code == 429]
        assert len(refused) == 40
        assert all(int(r.headers["retry-after"]) > 0 and r.json()["error"]["resets_at"] for r in refused)
        stored = await pg.fetchval("select count(*) from chat_messages where session_id = $1", session["id"])
        assert stored == 10

        for _ in range(2):
            settings = Settings(
                supabase=SupabaseSettings(url=quiet_stack.url, jwt_secret=quiet_stack.jwt_secret),
                llm=LlmSettings(api_key="sk-test", dashscope_base_url=fake.native_url),
                worker=WorkerSettings(
                    database_url=login_as(quiet_stack.dsn, "authenticator"),
                    sweep_interval=0.5,
                    flush_interval=0.1,
                    lease_seconds=5.0,
                ),
            )
            workers.append(Worker(settings))
            await workers[-1].start()
        ledger_sql = """select l.state, l.charged, l.input_tokens as l_in, l.output_tokens as l_out,
                               a.input_tokens, a.output_tokens,
                               usage_charge(a.model, a.input_tokens, a.output_tokens, null, null, null) as expected
                          from usage_ledger l join chat_messages a on a.reply_to = l.message_id
                         where l.user_id = $1 and a.status = 'completed'"""
        ledger = await wait_until(lambda: pg.fetch(ledger_sql, user.id), lambda rows: len(rows) == 10)
    finally:
        for running in workers:
            await running.stop(grace=1.0)
        for client in clients:
            await client.aclose()
        for api in apis:
            api.stop()
    assert await pg.fetchval("select count(*) from usage_ledger") == 10
    for row in ledger:
        assert row["state"] == "settled"
        assert row["input_tokens"] > 0
        assert row["output_tokens"] > 0
        assert (row["l_in"], row["l_out"]) == (row["input_tokens"], row["output_tokens"])
        assert row["charged"] == row["expected"] == row["input_tokens"] + row["output_tokens"]
    allowance = json.loads(await pg.fetchval("select usage_allowance($1)", user.id))
    assert allowance["day"]["used"] == sum(row["charged"] for row in ledger)
    await pg.close()


async def wait_until(read: Callable[[], Awaitable[T]], done: Callable[[T], bool], within: float = 60.0) -> T:
    """Re-read until `done` holds (answers arrive asynchronously), failing after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        value = await read()
        if done(value) or time.monotonic() > deadline:
            assert done(value), value
            return value
        await asyncio.sleep(0.1)


async def test_usage_endpoint_reports_the_settled_answer(http: httpx.AsyncClient, worker: Worker) -> None:
    user = await register_and_login(http)
    session = await new_session(http, user, title="usage")  # titled: the answer is the only charge
    sent = await http.post("/api/chat/send", json={"session_id": session["id"], "message": "hi"}, headers=user.headers)
    assert sent.status_code == 200, sent.text
    usage = (await http.get("/api/usage", headers=user.headers)).json()
    assert usage["allowance"]["plan"]["id"] == "free"
    assert usage["allowance"]["day"]["used"] == sent.json()["tokens_used"]
    assert usage["allowance"]["day"]["remaining"] == 1_000_000 - sent.json()["tokens_used"]
    assert usage["allowance"]["day"]["resets_at"]
    [day] = usage["daily"]
    assert day["tokens"] == sent.json()["tokens_used"]
    assert day["requests"] == 1
    assert day["model"] == sent.json()["model"]
    bad = await http.get("/api/usage", params={"days": 0}, headers=user.headers)
    assert bad.status_code == 400


async def test_a_disabled_account_cannot_send_but_can_sign_in_and_export(
    http: httpx.AsyncClient, pg: asyncpg.Connection, stack: LocalStack
) -> None:
    user = await register_and_login(http)
    session = await new_session(http, user)
    await pg.execute("update user_plans set disabled = true where user_id = $1", user.id)
    refused = await http.post(
        "/api/chat/send", json={"session_id": session["id"], "message": "still here?"}, headers=user.headers
    )
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "AccountDisabled")
    client = await client_for(stack, user)  # signing in still works
    with pytest.raises(APIError) as direct:
        await client.table("chat_messages").insert({"session_id": session["id"], "content": "via REST"}).execute()
    assert direct.value.code == "AccountDisabled"
    exported = await http.get("/api/account/export", headers=user.headers)
    assert exported.status_code == 200
    document = json.loads(exported.content)
    assert document["user"]["id"] == user.id
    assert document["plan"]["disabled"] is True
    assert (document["usage"], document["api_keys"]) == ([], [])
    assert await pg.fetchval("select count(*) from chat_messages where session_id = $1", session["id"]) == 0


async def test_nobody_raises_their_own_plan_or_reads_another_users_usage(
    http: httpx.AsyncClient, pg: asyncpg.Connection, stack: LocalStack, worker: Worker
) -> None:
    alice, bob = await register_and_login(http), await register_and_login(http)
    session = await new_session(http, bob)
    sent = await http.post("/api/chat/send", json={"session_id": session["id"], "message": "x"}, headers=bob.headers)
    assert sent.status_code == 200
    client = await client_for(stack, alice)
    # user_metadata is the user's to write: claiming admin there changes nothing
    await client.auth.update_user({"data": {"role": "admin"}})
    refreshed = await client.auth.refresh_session()
    assert refreshed.session is not None
    token = refreshed.session.access_token
    headers = {"Authorization": f"Bearer {token}"}

    raised = await client.table("user_plans").update({"plan_id": "unlimited"}).eq("user_id", alice.id).execute()
    assert raised.data == []
    with pytest.raises(APIError):
        await client.table("user_plans").update({"day_used": 0}).eq("user_id", alice.id).execute()
    assert await pg.fetchval("select plan_id from user_plans where user_id = $1", alice.id) == "free"
    assert (await client.table("usage_ledger").select("*").eq("user_id", bob.id).execute()).data == []
    assert (await client.rpc("usage_allowance", {"target": bob.id}).execute()).data is None
    assert (await client.rpc("usage_daily", {"days": 30, "target": bob.id}).execute()).data == []
    assert [row["user_id"] for row in rows_of((await client.table("user_plans").select("*").execute()).data)] == [
        alice.id
    ]
    for path in (f"/api/admin/users/{bob.id}/usage", "/api/admin/users"):
        answer = await http.get(path, headers=headers)
        assert (answer.status_code, answer.json()["error"]["code"]) == (403, "AdminOnly")
    patched = await http.patch(f"/api/admin/users/{alice.id}", json={"plan_id": "unlimited"}, headers=headers)
    assert patched.status_code == 403
    own = (await http.get("/api/usage", headers=headers)).json()
    assert own["allowance"]["user_id"] == alice.id
    assert own["daily"] == []


async def test_admin_lists_users_changes_plans_disables_and_is_audited(
    http: httpx.AsyncClient, pg: asyncpg.Connection, stack: LocalStack
) -> None:
    admin = await make_admin(stack, http)
    bob = await register_and_login(http)
    found = await http.get("/api/admin/users", params={"q": bob.username}, headers=admin.headers)
    assert found.status_code == 200, found.text
    assert [(u["id"], u["plan_id"], u["disabled"]) for u in found.json()["users"]] == [(bob.id, "free", False)]
    changed = await http.patch(
        f"/api/admin/users/{bob.id}", json={"plan_id": "pro", "disabled": True}, headers=admin.headers
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["users"][0]["plan_id"], changed.json()["users"][0]["disabled"]) == ("pro", True)
    missing = await http.patch(f"/api/admin/users/{bob.id}", json={"plan_id": "nope"}, headers=admin.headers)
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "PlanNotFound")
    usage = await http.get(f"/api/admin/users/{bob.id}/usage", headers=admin.headers)
    assert usage.json()["allowance"]["plan"]["id"] == "pro"
    assert usage.json()["allowance"]["disabled"] is True
    role = await http.patch(
        "/api/admin/roles/casual_chat", json={"description": "Light conversation"}, headers=admin.headers
    )
    assert role.status_code == 200, role.text
    events = await pg.fetch(
        "select details from audit.events where kind = 'admin_action' and user_id = $1 order by id", admin.id
    )
    actions = [(json.loads(e["details"])["action"], json.loads(e["details"]).get("table")) for e in events]
    assert actions == [
        ("list_users", None),
        ("update", "user_plans"),
        ("view_usage", None),
        ("update", "ai_roles"),
    ]
    unknown = await http.get(f"/api/admin/users/{uuid.uuid4()}/usage", headers=admin.headers)
    assert unknown.status_code == 404
