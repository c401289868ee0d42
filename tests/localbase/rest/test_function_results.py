"""What a function call's result goes through, as PostgREST 12/13 does it (`Query/Statements.hs`,
`prepareCall`): the call is the `pgrst_source` CTE, run once, and the page, the count and the
filters read that CTE.

- `Prefer: count=exact` counts the rows the one call returned: a volatile function that writes is
  not called a second time to count (its rows stored twice, the total of the second call).
"""

from __future__ import annotations

import asyncio

import pytest
from supabase import Client

from tests.conftest import LocalStack
from tests.localbase.rest.conftest import install, superuser_fetch
from tests.localbase.rest.supabase_js import SupabaseJs

FIXTURE_SQL = """
create table if not exists public.rest_call_log (id serial primary key, note text not null);
grant all on public.rest_call_log to anon, authenticated, service_role;
grant all on sequence public.rest_call_log_id_seq to anon, authenticated, service_role;
create or replace function public.rest_log_rows(note text) returns setof public.rest_call_log
language sql as $$ insert into public.rest_call_log (note) values (note), (note || '+') returning * $$;
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
    assert (counted.count, [row["note"] for row in counted.data]) == (2, ["py-rows", "py-rows+"])
    assert stored(calls, "py-rows") == ["py-rows", "py-rows+"]
    result = js.run(
        """
        const rows = await service.rpc('rest_log_rows', { note: 'js-rows' }, { count: 'exact' });
        return [rows.status, rows.count, rows.data.length];
        """
    )
    assert result == [200, 2, 2]
    assert stored(calls, "js-rows") == ["js-rows", "js-rows+"]
