"""Execution plans behind db-plan-enabled, and PostgREST's in-database configuration.

- `.explain()` (Accept: application/vnd.pgrst.plan+json/+text; for=...; options=...) is 406
  PGRST107 while db-plan-enabled is off (the default); on, it answers PostgreSQL's EXPLAIN of the
  very statement the request would run, with its options, and PostgREST's Content-Type.
- `alter role authenticator [in database ...] set pgrst.<setting>` overrides the environment once
  `notify pgrst, 'reload config'` is sent; the database-specific value wins over the global one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import asyncpg
import httpx
import pytest
from postgrest.exceptions import APIError
from supabase import Client

from tests.conftest import LocalStack
from tests.localbase.rest.conftest import superuser_fetch, wait_until
from tests.localbase.rest.supabase_js import SupabaseJs

RESET = (
    "alter role authenticator reset pgrst.db_plan_enabled; alter role authenticator reset pgrst.db_max_rows;"
    " alter role authenticator in database {db} reset pgrst.db_max_rows; notify pgrst, 'reload config'"
)


def superuser(stack: LocalStack, sql: str) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(stack.dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


def database(stack: LocalStack) -> str:
    return str(asyncio.run(superuser_fetch(stack.dsn, "select current_database() as db"))[0]["db"])


def explain_status(stack: LocalStack) -> int:
    headers = {"apikey": stack.service_role_key, "Accept": "application/vnd.pgrst.plan+json"}
    return httpx.get(f"{stack.url}/rest/v1/rest_groups?select=id", headers=headers, timeout=10).status_code


@pytest.fixture
def plans_on(things: LocalStack) -> Iterator[LocalStack]:
    """db-plan-enabled switched on in the database, as PostgREST reads it; reset afterwards."""
    reset = RESET.format(db=f'"{database(things)}"')
    superuser(things, "alter role authenticator set pgrst.db_plan_enabled = 'true'; notify pgrst, 'reload config'")
    try:
        wait_until(lambda: explain_status(things) == 200, message="db-plan-enabled to take effect")
        yield things
    finally:
        superuser(things, reset)
        wait_until(lambda: explain_status(things) == 406, message="db-plan-enabled to be off again")


def test_explain_is_refused_while_plans_are_off(things: LocalStack, service_client: Client, js: SupabaseJs) -> None:
    with pytest.raises(APIError) as refused:
        service_client.table("rest_groups").select("id").explain(format="json").execute()
    assert refused.value.code == "PGRST107"
    result = js.run("return await service.from('rest_groups').select('id').explain({ format: 'json' });")
    assert (result["status"], result["error"]["code"]) == (406, "PGRST107")


def test_explain_through_both_clients(plans_on: LocalStack, service_client: Client, js: SupabaseJs) -> None:
    plan = service_client.table("rest_groups").select("id,name").eq("id", 1).explain(format="json").execute().data
    assert isinstance(plan, list)
    assert "Plan" in plan[0]
    # postgrest-py hands a text plan back as the string itself.
    text = service_client.table("rest_groups").select("id").explain(analyze=True, verbose=True).execute()
    assert isinstance(text, str)
    assert "actual time=" in text
    assert "Output:" in text
    result = js.run(
        """
        const json = await service.from('rest_groups').select('id').explain({ format: 'json', analyze: true });
        const text = await service.from('rest_groups').select('id').eq('id', 1)
          .explain({ settings: true, buffers: true });
        const call = await service.rpc('rest_things_by_min_score', { min_score: 10 }).explain({ format: 'json' });
        return { json: [json.status, json.data[0]['Plan']['Actual Rows'] !== undefined],
                 text: [text.status, typeof text.data], call: [call.status, Array.isArray(call.data)] };
        """
    )
    assert result == {"json": [200, True], "text": [200, "string"], "call": [200, True]}


def test_explain_content_type_says_what_was_explained(plans_on: LocalStack) -> None:
    headers = {
        "apikey": plans_on.service_role_key,
        "Accept": 'application/vnd.pgrst.plan+json; for="text/csv"; options=verbose|analyze',
    }
    response = httpx.get(f"{plans_on.url}/rest/v1/rest_groups?select=id", headers=headers, timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"] == (
        'application/vnd.pgrst.plan+json; for="text/csv"; options=analyze|verbose; charset=utf-8'
    )
    assert response.json()[0]["Plan"]["Actual Loops"] == 1


def test_in_database_config_overrides_and_reloads(things: LocalStack, service_client: Client, js: SupabaseJs) -> None:
    db = database(things)
    all_groups = len(service_client.table("rest_groups").select("id").execute().data)
    assert all_groups >= 3
    superuser(
        things,
        "alter role authenticator set pgrst.db_max_rows = '3';"
        f" alter role authenticator in database \"{db}\" set pgrst.db_max_rows = '2';"
        " notify pgrst, 'reload config'",
    )
    try:
        wait_until(
            lambda: len(service_client.table("rest_groups").select("id").execute().data) == 2,
            message="pgrst.db_max_rows to take effect",
        )
        result = js.run("return (await service.from('rest_groups').select('id')).data.length;")
        assert result == 2
    finally:
        superuser(things, RESET.format(db=f'"{db}"'))
    wait_until(
        lambda: len(service_client.table("rest_groups").select("id").execute().data) == all_groups,
        message="the environment's max rows again",
    )
