"""Functions (`/rpc/...`) as PostgREST 12/13 calls them, through supabase-py and supabase-js.

- A function with one unnamed json/jsonb parameter receives the whole JSON body (a `{"": value}`
  body too, which names that parameter); one unnamed text, xml or bytea parameter receives a raw
  text/plain, text/xml or application/octet-stream body.
- Overloads resolve by the argument names given; PGRST202/PGRST203 answer with PostgREST's
  message, details and hint word for word (candidates in its order, its fuzzy "Perhaps you meant").
- GET passes plain query parameters as arguments (`?iso=DZ`) and filters the result with
  operator parameters; `character(n)` arguments read values of any length.
- `Prefer: count=exact` and HEAD report the total in Content-Range.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from postgrest.exceptions import APIError
from supabase import Client

from tests.conftest import LocalStack, rows_of
from tests.localbase.rest.conftest import install
from tests.localbase.rest.supabase_js import SupabaseJs

FIXTURE_SQL = """
create or replace function public.rest_body_json(json) returns json language sql immutable as $$ select $1 $$;
create or replace function public.rest_body_text(text) returns text language sql immutable as $$ select $1 $$;
create or replace function public.rest_body_xml(xml) returns text language sql immutable as $$ select $1::text $$;
create or replace function public.rest_body_bytes(bytea) returns integer language sql immutable
  as $$ select length($1) $$;
create or replace function public.rest_over(a integer) returns text language sql immutable as $$ select 'a' $$;
create or replace function public.rest_over(a integer, b integer) returns text language sql immutable
  as $$ select 'a,b' $$;
create or replace function public.rest_amb(x text) returns text language sql immutable as $$ select 'text' $$;
create or replace function public.rest_amb(x integer) returns text language sql immutable as $$ select 'int' $$;
create or replace function public.rest_code(iso character(2)) returns text language sql immutable
  as $$ select iso || '!' $$;
create or replace function public.rest_no_args() returns integer language sql immutable as $$ select 7 $$;
create table if not exists public.rest_fn_probe (id integer);
grant all on public.rest_fn_probe to anon, authenticated, service_role;
"""


@pytest.fixture(scope="module")
def functions(things: LocalStack) -> LocalStack:
    install(things, FIXTURE_SQL, "rest_fn_probe")
    return things


def raw(stack: LocalStack, name: str, body: bytes, content_type: str) -> httpx.Response:
    headers = {"apikey": stack.service_role_key, "Content-Type": content_type}
    return httpx.post(f"{stack.url}/rest/v1/rpc/{name}", content=body, headers=headers, timeout=10)


def test_single_unnamed_json_parameter_gets_the_body(functions: LocalStack, service_client: Client) -> None:
    assert service_client.rpc("rest_body_json", {"a": 1, "b": [2]}).execute().data == {"a": 1, "b": [2]}
    assert service_client.rpc("rest_body_json", {"": 5}).execute().data == {"": 5}
    assert service_client.rpc("rest_body_json", {}).execute().data == {}


def test_single_unnamed_text_parameter_through_json_gets_the_raw_body(
    functions: LocalStack, service_client: Client, js: SupabaseJs
) -> None:
    # `{"": value}` names the unnamed parameter; PostgREST passes it the body as sent.
    assert service_client.rpc("rest_body_text", {"": "hi"}).execute().data == '{"":"hi"}'
    result = js.run("return await service.rpc('rest_body_text', { '': 'hi' });")
    assert (result["status"], result["data"], result["error"]) == (200, '{"":"hi"}', None)


def test_raw_bodies_reach_text_xml_and_bytea_parameters(functions: LocalStack) -> None:
    text = raw(functions, "rest_body_text", "plain 文字, not JSON".encode(), "text/plain; charset=utf-8")
    assert (text.status_code, text.json()) == (200, "plain 文字, not JSON")
    xml = raw(functions, "rest_body_xml", b"<a>b</a>", "text/xml")
    assert (xml.status_code, xml.json()) == (200, "<a>b</a>")
    octets = raw(functions, "rest_body_bytes", bytes(range(256)), "application/octet-stream")
    assert (octets.status_code, octets.json()) == (200, 256)
    refused = raw(functions, "rest_over", b"x", "text/plain")
    assert refused.status_code == 404
    assert refused.json() == {
        "code": "PGRST202",
        "details": "Searched for the function public.rest_over with a single unnamed text parameter, "
        "but no matches were found in the schema cache.",
        "hint": None,
        "message": "Could not find the function public.rest_over in the schema cache",
    }
    other = raw(functions, "rest_body_text", b"x", "image/png")
    assert (other.status_code, other.json()["code"], other.json()["message"]) == (
        400,
        "PGRST102",
        "Content-Type not acceptable: image/png",
    )


def test_overloads_resolve_by_argument_names(functions: LocalStack, service_client: Client, js: SupabaseJs) -> None:
    assert service_client.rpc("rest_over", {"a": 1}).execute().data == "a"
    assert service_client.rpc("rest_over", {"a": 1, "b": 2}).execute().data == "a,b"
    result = js.run(
        """
        const one = await service.rpc('rest_over', { a: 1 });
        const two = await service.rpc('rest_over', { a: 1, b: 2 }, { get: true });
        return [one.data, two.data];
        """
    )
    assert result == ["a", "a,b"]


AMBIGUOUS = {
    "code": "PGRST203",
    "details": None,
    "hint": "Try renaming the parameters or the function itself in the database so function overloading can be "
    "resolved",
    "message": "Could not choose the best candidate function between: public.rest_amb(x => integer), "
    "public.rest_amb(x => text)",
}
NOT_FOUND_PARAMS = {
    "code": "PGRST202",
    "details": "Searched for the function public.rest_over with parameters a, bb or with a single unnamed "
    "json/jsonb parameter, but no matches were found in the schema cache.",
    "hint": "Perhaps you meant to call the function public.rest_over(a, b)",
    "message": "Could not find the function public.rest_over(a, bb) in the schema cache",
}
NOT_FOUND_NAME = {
    "code": "PGRST202",
    "details": "Searched for the function public.rest_ovr without parameters, but no matches were found in the "
    "schema cache.",
    "hint": "Perhaps you meant to call the function public.rest_over",
    "message": "Could not find the function public.rest_ovr without parameters in the schema cache",
}


def api_error(error: APIError) -> dict[str, Any]:
    return {"code": error.code, "details": error.details, "hint": error.hint, "message": error.message}


def test_pgrst202_and_pgrst203_word_for_word_through_supabase_py(functions: LocalStack, service_client: Client) -> None:
    with pytest.raises(APIError) as ambiguous:
        service_client.rpc("rest_amb", {"x": "1"}).execute()
    assert api_error(ambiguous.value) == AMBIGUOUS
    with pytest.raises(APIError) as params:
        service_client.rpc("rest_over", {"a": 1, "bb": 2}).execute()
    assert api_error(params.value) == NOT_FOUND_PARAMS
    with pytest.raises(APIError) as name:
        service_client.rpc("rest_ovr", {}, get=True).execute()
    assert api_error(name.value) == NOT_FOUND_NAME


def test_pgrst202_and_pgrst203_word_for_word_through_supabase_js(functions: LocalStack, js: SupabaseJs) -> None:
    result = js.run(
        """
        const amb = await service.rpc('rest_amb', { x: '1' });
        const params = await service.rpc('rest_over', { a: 1, bb: 2 });
        const name = await service.rpc('rest_ovr', {}, { get: true });
        return [amb, params, name].map((r) => ({ status: r.status, error: r.error }));
        """
    )
    assert result == [
        {"status": 300, "error": AMBIGUOUS},
        {"status": 404, "error": NOT_FOUND_PARAMS},
        {"status": 404, "error": NOT_FOUND_NAME},
    ]


def test_get_arguments_and_result_filters(functions: LocalStack, service_client: Client, js: SupabaseJs) -> None:
    # character(2) arguments keep their length (not `character`, i.e. character(1)).
    assert service_client.rpc("rest_code", {"iso": "DZ"}, get=True).execute().data == "DZ!"
    assert service_client.rpc("rest_code", {"iso": "DZ"}).execute().data == "DZ!"
    scored = service_client.rpc("rest_things_by_min_score", {"min_score": 10}, get=True).lt("score", 30).execute()
    assert [row["id"] for row in rows_of(scored.data)] == [1, 2]
    result = js.run(
        """
        const code = await service.rpc('rest_code', { iso: 'DZ' }, { get: true });
        const noArgs = await service.rpc('rest_no_args', { x: 1 }, { get: true });
        return [code.data, noArgs.error];
        """
    )
    assert result[0] == "DZ!"
    assert result[1]["message"] == "Could not find the function public.rest_no_args(x) in the schema cache"


def test_count_exact_and_head_on_functions(functions: LocalStack, service_client: Client, js: SupabaseJs) -> None:
    counted = service_client.rpc("rest_things_by_min_score", {"min_score": 10}, count="exact").limit(2).execute()  # type: ignore[arg-type]
    assert (counted.count, [row["id"] for row in rows_of(counted.data)]) == (4, [1, 2])
    head = service_client.rpc("rest_things_by_min_score", {"min_score": 20}, count="exact", head=True).execute()  # type: ignore[arg-type]
    assert head.count == 3
    result = js.run(
        """
        const head = await service.rpc('rest_things_by_min_score', { min_score: 20 }, { head: true, count: 'exact' });
        const page = await service.rpc('rest_things_by_min_score', { min_score: 10 }, { count: 'exact' }).range(1, 2);
        return { head: [head.status, head.count, head.data], page: [page.status, page.count, page.data.length] };
        """
    )
    assert result == {"head": [200, 3, None], "page": [206, 4, 2]}
