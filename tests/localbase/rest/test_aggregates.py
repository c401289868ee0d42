"""Aggregates behind db-aggregates-enabled, through supabase-py and supabase-js.

Off (the default) any aggregate is 400 PGRST123. On (here through PostgREST's in-database config,
`pgrst.db_aggregates_enabled`), `count()`, `col.sum()`, `avg`, `max`, `min` work with aliases and
casts (`total:amount.sum()::int`, `qty::numeric.avg()`); the plain columns beside them group; a bare
`count` inside an embed counts the related rows; aggregates in a spread are hoisted to the parent;
RPC results aggregate like tables.
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
from tests.localbase.rest.conftest import install, wait_until
from tests.localbase.rest.supabase_js import SupabaseJs

FIXTURE_SQL = """
drop table if exists public.rest_orders, public.rest_customers cascade;
create table public.rest_customers (id integer primary key, name text not null);
create table public.rest_orders (
  id integer primary key, customer_id integer references public.rest_customers (id), amount numeric(8,2), qty integer
);
create or replace function public.rest_all_orders() returns setof public.rest_orders language sql stable
  as $$ select * from public.rest_orders $$;
grant all on public.rest_customers, public.rest_orders to anon, authenticated, service_role;
insert into public.rest_customers values (1, 'acme'), (2, 'globex'), (3, 'initech');
insert into public.rest_orders values (1, 1, 10.50, 1), (2, 1, 20.00, 3), (3, 2, 5.25, 2);
"""


def superuser(stack: LocalStack, sql: str) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(stack.dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


def count_status(stack: LocalStack) -> int:
    headers = {"apikey": stack.service_role_key}
    return httpx.get(f"{stack.url}/rest/v1/rest_orders?select=count()", headers=headers, timeout=10).status_code


@pytest.fixture(scope="module")
def orders(things: LocalStack) -> LocalStack:
    install(things, FIXTURE_SQL, "rest_orders")
    return things


@pytest.fixture
def enabled(orders: LocalStack) -> Iterator[LocalStack]:
    superuser(
        orders, "alter role authenticator set pgrst.db_aggregates_enabled = 'true'; notify pgrst, 'reload config'"
    )
    try:
        wait_until(lambda: count_status(orders) == 200, message="db-aggregates-enabled to take effect")
        yield orders
    finally:
        superuser(orders, "alter role authenticator reset pgrst.db_aggregates_enabled; notify pgrst, 'reload config'")
        wait_until(lambda: count_status(orders) == 400, message="aggregates to be off again")


def test_aggregates_are_refused_while_off(orders: LocalStack, service_client: Client, js: SupabaseJs) -> None:
    with pytest.raises(APIError) as refused:
        service_client.table("rest_orders").select("count()").execute()
    assert (refused.value.code, refused.value.message) == ("PGRST123", "Use of aggregate functions is not allowed")
    result = js.run("return await service.from('rest_orders').select('amount.sum()');")
    assert (result["status"], result["error"]["code"]) == (400, "PGRST123")


def test_aggregates_with_grouping_aliases_and_casts(
    enabled: LocalStack, service_client: Client, js: SupabaseJs
) -> None:
    assert service_client.table("rest_orders").select("count()").execute().data == [{"count": 3}]
    grouped = (
        service_client.table("rest_orders")
        .select("customer_id, total:amount.sum(), qty.max(), average:qty::numeric.avg()::int")
        .order("customer_id")
        .execute()
    )
    assert grouped.data == [
        {"customer_id": 1, "total": 30.50, "max": 3, "average": 2},
        {"customer_id": 2, "total": 5.25, "max": 2, "average": 2},
    ]
    result = js.run("return await service.from('rest_orders').select('amount.min(), amount.max()');")
    assert result["data"] == [{"min": 5.25, "max": 20.00}]


def test_count_in_embeds_spreads_and_rpc(enabled: LocalStack, service_client: Client, js: SupabaseJs) -> None:
    counted = service_client.table("rest_customers").select("name, rest_orders(count)").order("id").execute()
    assert counted.data == [
        {"name": "acme", "rest_orders": [{"count": 2}]},
        {"name": "globex", "rest_orders": [{"count": 1}]},
        {"name": "initech", "rest_orders": [{"count": 0}]},
    ]
    result = js.run(
        """
        const spread = await service.from('rest_customers')
          .select('name, ...rest_orders(total:amount.sum())').order('id');
        const rpc = await service.rpc('rest_all_orders').select('qty.sum()');
        return [spread.data, rpc.data];
        """
    )
    assert result == [
        [{"name": "acme", "total": 30.50}, {"name": "globex", "total": 5.25}, {"name": "initech", "total": None}],
        [{"sum": 6}],
    ]
