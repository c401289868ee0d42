"""Query-string details where PostgREST 12/13 (`ApiRequest/QueryParams.hs`, `Plan.hs`) answers
something a client can see, through supabase-js and supabase-py as they send them.

- A selected JSON path that ends in an array index is named by the last key before it, or by
  the column when there is none (`data->tags->0` is `tags`, `tags->0` is `tags`), never by the
  index (`"0"`, twice in one object when two such paths were selected).
- An `in` list is read as PostgREST's `pListVal`: an empty item is the empty string (supabase-js
  and supabase-py send `.in('name', ['', 'x'])` as `in.(,x)`), an item is quoted only when it is
  wholly one quoted value, so a lone `"` inside an item is a character of it (supabase-js sends
  `.in('name', ['5" screen'])` unquoted); `in.()` matches nothing.
- A negative `limit` is 416 PGRST103 "Limit should be greater than or equal to zero." (PostgREST's
  `NegativeLimit`), a negative `offset` PostgreSQL's own 2201X (PostgREST passes it to OFFSET).
- `is` takes its value in any case (`is.NULL`, `is.True`), as PostgREST's `ciString` reads it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from supabase import Client

from tests.conftest import LocalStack, rows_of
from tests.localbase.rest.conftest import superuser_fetch
from tests.localbase.rest.supabase_js import SupabaseJs

# Rows whose names are what `in` lists get wrong; removed after the test.
ODD_NAMES = {901: "", 902: '5" screen', 903: 'a"b', 904: 'c"d', 905: "x"}


@pytest.fixture
def odd_names(things: LocalStack) -> Iterator[None]:
    values = ", ".join(f"({key}, ${i + 1})" for i, key in enumerate(ODD_NAMES))
    asyncio.run(
        superuser_fetch(things.dsn, f"insert into public.rest_things (id, name) values {values}", *ODD_NAMES.values())
    )
    try:
        yield
    finally:
        asyncio.run(superuser_fetch(things.dsn, "delete from public.rest_things where id between 901 and 905"))


def test_a_json_path_ending_in_an_index_is_named_by_its_last_key(
    things: LocalStack, service_client: Client, js: SupabaseJs
) -> None:
    rows = service_client.table("rest_things").select("id,tags->0,data->size->w,data->size->0").eq("id", 1).execute()
    assert rows.data == [{"id": 1, "tags": "red", "w": 3, "size": None}]
    aliased = service_client.table("rest_things").select("first:tags->>-1").eq("id", 2).execute()
    assert aliased.data == [{"first": "fruit"}]
    result = js.run(
        """
        const { data, error } = await service.from('rest_things')
          .select('id, tags->1, data->0, groups:rest_groups(name->0,id)').eq('id', 3);
        return { data, error };
        """
    )
    row = {"id": 3, "tags": "vegetable", "data": None, "groups": {"name": "beta", "id": 2}}
    assert result == {"data": [row], "error": None}


def test_in_lists_read_as_postgrest_reads_them(odd_names: None, service_client: Client, js: SupabaseJs) -> None:
    def names(*values: str) -> list[int]:
        found = service_client.table("rest_things").select("id").in_("name", list(values)).execute()
        return sorted(int(row["id"]) for row in rows_of(found.data))

    assert names("", "x") == [901, 905]
    assert names("x", "") == [901, 905]
    assert names('5" screen') == [902]
    assert names('a"b', 'c"d') == [903, 904]
    assert names('a"b', "x") == [903, 905]
    result = js.run(
        """
        const ask = async (values) => {
          const { data, error } = await service.from('rest_things').select('id').in('name', values).order('id');
          return error || data.map((row) => row.id);
        };
        return [await ask(['', 'x']), await ask(['5" screen']), await ask(['a"b', 'c"d']), await ask([])];
        """
    )
    assert result == [[901, 905], [902], [903, 904], []]


def test_negative_limit_and_offset(things: LocalStack, js: SupabaseJs) -> None:
    result = js.run(
        """
        const limit = await service.from('rest_things').select('id').limit(-1);
        const range = await service.from('rest_things').select('id').range(-2, 0);
        return [limit.status, limit.error, range.status, range.error && range.error.code];
        """
    )
    refused = {
        "code": "PGRST103",
        "details": "Limit should be greater than or equal to zero.",
        "hint": None,
        "message": "Requested range not satisfiable",
    }
    assert result == [416, refused, 400, "2201X"]


def test_is_takes_its_value_in_any_case(things: LocalStack, service_client: Client, js: SupabaseJs) -> None:
    found = service_client.table("rest_things").select("id").filter("score", "is", "NULL").lte("id", 5).execute()
    assert found.data == [{"id": 4}]
    result = js.run(
        """
        const things = () => service.from('rest_things').select('id');
        const nulls = await things().not('score', 'is', 'Null').lte('id', 5).order('id');
        const any = await things().or('score.is.NULL,id.eq.1').order('id');
        const unknown = await things().filter('score', 'is', 'UNKNOWN');
        return [nulls.data, any.data, unknown.error];
        """
    )
    assert result[:2] == [[{"id": 1}, {"id": 2}, {"id": 3}, {"id": 5}], [{"id": 1}, {"id": 4}]]
    assert result[2]["code"] == "42804"  # `score IS UNKNOWN` on an integer: what PostgreSQL answers
