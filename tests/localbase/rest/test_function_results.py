"""What a function call's result goes through, as PostgREST 12/13 does it (`Query/Statements.hs`,
`prepareCall`): the call is the `pgrst_source` CTE, run once, and the page, the count and the
filters read that CTE.

- `Prefer: count=exact` counts the rows the one call returned: a volatile function that writes is
  not called a second time to count (its rows stored twice, the total of the second call).
- A function returning a set of scalars (`setof int`, `setof text`) is paged like any set: limit,
  offset, the Range header and counts apply, and Content-Range says what was sent.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from supabase import Client

from tests.conftest import LocalStack, rows_of
from tests.localbase.rest.conftest import install, superuser_fetch
from tests.localbase.rest.supabase_js import SupabaseJs

FIXTURE_SQL = """
create table if not exists public.rest_call_log (id serial primary key, note text not null);
grant all on public.rest_call_log to anon, authenticated, service_role;
grant all on sequence public.rest_call_log_id_seq to anon, authenticated, service_role;
create or replace function public.rest_log_rows(note text) returns setof public.rest_call_log
language sql as $$ insert into public.rest_call_log (note) values (note), (note || '+') returning * $$;
create or replace function public.rest_log_ids(note text) returns setof integer
language sql as $$ insert into public.rest_call_log (note) values (note), (note || '+') returning id $$;
create or replace function public.rest_series(n integer) returns setof integer
language sql immutable as $$ select generate_series(1, n) $$;
"""


@pytest.fixture(scope="module")
def calls(things: LocalStack) -> LocalStack:
    install(things, FIXTURE_SQL, "rest_call_log")
    return things


def stored(stack: LocalStack, prefix: str) -> list[str]:
    rows = asyncio.run(
        superuser_fetch(stack.dsn, "select note from public.rest_call_log where note like $1 order by id", prefix + "%")
    )
    return [row["note"] for row in rows]


def test_a_counted_call_runs_the_function_once(calls: LocalStack, service_client: Client, js: SupabaseJs) -> None:
    counted = service_client.rpc("rest_log_rows", {"note": "py-rows"}, count="exact").execute()  # type: ignore[arg-type]
    assert (counted.count, [row["note"] for row in rows_of(counted.data)]) == (2, ["py-rows", "py-rows+"])
    assert stored(calls, "py-rows") == ["py-rows", "py-rows+"]
    result = js.run(
        """
        const rows = await service.rpc('rest_log_rows', { note: 'js-rows' }, { count: 'exact' });
        const ids = await service.rpc('rest_log_ids', { note: 'js-ids' }, { count: 'estimated' });
        return [rows.status, rows.count, rows.data.length, ids.status, ids.count, ids.data.length];
        """
    )
    assert result == [200, 2, 2, 200, 2, 2]
    assert stored(calls, "js-rows") == ["js-rows", "js-rows+"]
    assert stored(calls, "js-ids") == ["js-ids", "js-ids+"]


def test_a_set_of_scalars_is_paged_and_counted(calls: LocalStack, service_client: Client, js: SupabaseJs) -> None:
    assert service_client.rpc("rest_series", {"n": 5}).limit(2).execute().data == [1, 2]
    page = service_client.rpc("rest_series", {"n": 5}, count="exact").range(1, 3).execute()  # type: ignore[arg-type]
    assert (page.data, page.count) == ([2, 3, 4], 5)
    result = js.run(
        """
        const page = await service.rpc('rest_series', { n: 5 }, { count: 'exact' }).range(3, 9);
        const got = await service.rpc('rest_series', { n: 5 }, { get: true }).limit(1);
        const head = await service.rpc('rest_series', { n: 4 }, { head: true, count: 'exact' });
        return [page.status, page.count, page.data, got.data, head.status, head.count];
        """
    )
    assert result == [206, 5, [4, 5], [1], 200, 4]
    url = f"{calls.url}/rest/v1/rpc/rest_series?n=5"
    headers = {"apikey": calls.service_role_key, "Prefer": "count=exact"}
    ranged = httpx.get(url, headers={**headers, "Range": "1-2"}, timeout=10)
    assert (ranged.status_code, ranged.json(), ranged.headers["content-range"]) == (206, [2, 3], "1-2/5")
    past = httpx.get(f"{url}&offset=9", headers=headers, timeout=10)
    assert (past.status_code, past.json()["code"]) == (416, "PGRST103")
