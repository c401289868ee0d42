"""Reads through the unmodified supabase-py client: every filter operator, logic trees, embeds,
order, paging, counts, singular responses and CSV, against tables created after the stack
started (so the schema cache must have reloaded to see them)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from postgrest import APIResponse
from postgrest.exceptions import APIError
from postgrest.types import CountMethod
from supabase import Client

from tests.conftest import rows_of


def ids(response: APIResponse) -> list[int]:
    return sorted(row["id"] for row in rows_of(response.data))


def test_comparison_operators(service_client: Client) -> None:
    things = service_client.table("rest_things")
    assert ids(things.select("id").eq("score", 20).execute()) == [2]
    assert ids(things.select("id").neq("score", 20).execute()) == [1, 3, 5]
    assert ids(things.select("id").gt("score", 20).execute()) == [3, 5]
    assert ids(things.select("id").gte("score", 20).execute()) == [2, 3, 5]
    assert ids(things.select("id").lt("score", 20).execute()) == [1]
    assert ids(things.select("id").lte("score", 20).execute()) == [1, 2]
    assert ids(things.select("id").in_("id", [1, 3, 99]).execute()) == [1, 3]
    assert ids(things.select("id").in_("name", ['eggplant, "purple"', "apple"]).execute()) == [1, 5]
    assert ids(things.select("id").not_.in_("id", [1, 2, 3]).execute()) == [4, 5]


def test_pattern_operators(service_client: Client) -> None:
    things = service_client.table("rest_things")
    assert ids(things.select("id").like("name", "%ana%").execute()) == [2]
    assert ids(things.select("id").ilike("name", "d%").execute()) == [4]
    assert ids(things.select("id").filter("name", "match", "^[ab]").execute()) == [1, 2]
    assert ids(things.select("id").filter("name", "imatch", "^D").execute()) == [4]
    assert ids(things.select("id").like_any_of("name", "a*,*t").execute()) == [1, 3]
    assert ids(things.select("id").ilike_all_of("name", "*A*,*N*").execute()) == [2, 4, 5]
    assert ids(things.select("id").filter("score", "eq(any)", "{10,30}").execute()) == [1, 3]


def test_is_and_isdistinct(service_client: Client) -> None:
    things = service_client.table("rest_things")
    assert ids(things.select("id").is_("score", "null").execute()) == [4]
    assert ids(things.select("id").not_.is_("score", "null").execute()) == [1, 2, 3, 5]
    assert ids(things.select("id").filter("score", "isdistinct", "10").execute()) == [2, 3, 4, 5]


def test_array_range_and_jsonb_operators(service_client: Client) -> None:
    things = service_client.table("rest_things")
    assert ids(things.select("id").contains("tags", ["fruit"]).execute()) == [1, 2]
    assert ids(things.select("id").contained_by("tags", ["red", "fruit", "purple"]).execute()) == [1, 4, 5]
    assert ids(things.select("id").overlaps("tags", ["purple", "red"]).execute()) == [1, 5]
    assert ids(things.select("id").contains("data", {"kind": "veg"}).execute()) == [3, 5]
    assert ids(things.select("id").contains("during", "[2,3]").execute()) == [1]
    assert ids(things.select("id").range_lt("during", (10, 12)).execute()) == [1, 2]
    assert ids(things.select("id").range_gt("during", (10, 12)).execute()) == [5]
    assert ids(things.select("id").range_gte("during", (10, 12)).execute()) == [5]
    assert ids(things.select("id").range_lte("during", (10, 12)).execute()) == [1, 2]
    assert ids(things.select("id").range_adjacent("during", (20, 30)).execute()) == [5]
    assert ids(things.select("id").overlaps("during", "[4,6)").execute()) == [1, 2]


def test_json_paths_in_filters_and_select(service_client: Client) -> None:
    response = (
        service_client.table("rest_things")
        .select("id,kind:data->>kind,w:data->size->w")
        .eq("data->>kind", "fruit")
        .order("id")
        .execute()
    )
    assert response.data == [{"id": 1, "kind": "fruit", "w": 3}, {"id": 2, "kind": "fruit", "w": 5}]


def test_full_text_search_family(service_client: Client) -> None:
    things = service_client.table("rest_things")
    assert ids(things.select("id").text_search("doc", "quick & fox").execute()) == [1]
    assert ids(things.select("id").text_search("body", "quick", {"config": "english"}).execute()) == [1, 3]
    assert ids(things.select("id").text_search("doc", "lazy dog", {"type": "plain"}).execute()) == [2]
    assert ids(things.select("id").text_search("doc", "purple eggplant", {"type": "phrase"}).execute()) == [5]
    assert ids(things.select("id").text_search("doc", '"quick brown" -dog', {"type": "web_search"}).execute()) == [1]


def test_logic_trees(service_client: Client) -> None:
    things = service_client.table("rest_things")
    assert ids(things.select("id").or_("id.in.(1,4),tags.cs.{purple}").execute()) == [1, 4, 5]
    assert ids(things.select("id").or_("score.gt.40,and(score.gte.10,score.lte.20)").execute()) == [1, 2, 5]
    nested = "or=(id.eq.1,not.or(score.lt.30,score.is.null))&select=id"
    assert ids(things.select("id").or_("id.eq.1,not.or(score.lt.30,score.is.null)").execute()) == [1, 3, 5], nested
    assert ids(things.select("id").filter("name", "in", '("eggplant, \\"purple\\"")').execute()) == [5]


def test_order_with_nulls(service_client: Client) -> None:
    things = service_client.table("rest_things")
    rows = rows_of(things.select("id").order("score", desc=True, nullsfirst=False).execute().data)
    assert [r["id"] for r in rows] == [5, 3, 2, 1, 4]
    rows = rows_of(things.select("id").order("score", nullsfirst=True).execute().data)
    assert [r["id"] for r in rows] == [4, 1, 2, 3, 5]


def test_embeds_to_one_to_many_inner_and_scoped_modifiers(service_client: Client) -> None:
    groups = service_client.table("rest_groups")
    rows = groups.select("name,rest_things(id)").order("id").order("id", foreign_table="rest_things").execute().data
    assert rows == [
        {"name": "alpha", "rest_things": [{"id": 1}, {"id": 2}]},
        {"name": "beta", "rest_things": [{"id": 3}, {"id": 4}]},
        {"name": "empty", "rest_things": []},
    ]
    rows = groups.select("name,items:rest_things!inner(id,name)").eq("items.name", "carrot").execute().data
    assert rows == [{"name": "beta", "items": [{"id": 3, "name": "carrot"}]}]
    rows = (
        groups.select("name,rest_things(id)")
        .order("id")
        .order("id", desc=True, foreign_table="rest_things")
        .limit(1, foreign_table="rest_things")
        .or_("id.eq.1,id.eq.4", reference_table="rest_things")
        .execute()
        .data
    )
    assert rows == [
        {"name": "alpha", "rest_things": [{"id": 1}]},
        {"name": "beta", "rest_things": [{"id": 4}]},
        {"name": "empty", "rest_things": []},
    ]
    thing = service_client.table("rest_things").select("id,rest_groups!group_id(name)").eq("id", 3).single().execute()
    assert thing.data == {"id": 3, "rest_groups": {"name": "beta"}}
    orphan = service_client.table("rest_things").select("id,rest_groups(name)").eq("id", 5).single().execute()
    assert orphan.data == {"id": 5, "rest_groups": None}


def test_count_range_and_content_range(
    service_client: Client, rest: Callable[..., httpx.Response], things: object
) -> None:
    things_table = service_client.table("rest_things")
    for method in ("exact", "planned", "estimated"):
        response = things_table.select("id", count=method).range(1, 2).order("id").execute()  # type: ignore[arg-type]
        assert [r["id"] for r in rows_of(response.data)] == [2, 3]
        assert response.count is not None
        assert response.count >= (5 if method != "planned" else 1)
    exact = rest(
        "rest_things?select=id&order=id",
        headers={"Range": "1-2", "Prefer": "count=exact"},
        token=service_client.supabase_key,
    )
    assert exact.status_code == 206
    assert exact.headers["content-range"] == "1-2/5"
    assert [r["id"] for r in exact.json()] == [2, 3]
    plain = rest("rest_things?select=id&limit=0", token=service_client.supabase_key)
    assert plain.json() == []
    assert plain.headers["content-range"] == "*/*"
    beyond = rest(
        "rest_things?select=id&offset=10", headers={"Prefer": "count=exact"}, token=service_client.supabase_key
    )
    assert beyond.status_code == 416
    assert beyond.json()["code"] == "PGRST103"
    head = service_client.table("rest_things").select("*", count=CountMethod.exact, head=True).execute()
    assert head.count == 5


def test_single_and_maybe_single(service_client: Client) -> None:
    things = service_client.table("rest_things")
    assert things.select("id,name").eq("id", 2).single().execute().data == {"id": 2, "name": "banana"}
    with pytest.raises(APIError) as caught:
        things.select("id").gt("id", 1).single().execute()
    assert caught.value.code == "PGRST116"
    assert "4 rows" in str(caught.value.details)
    assert things.select("id").eq("id", 99).maybe_single().execute() is None
    assert things.select("id").eq("id", 1).maybe_single().execute().data == {"id": 1}  # type: ignore[union-attr]


def test_csv(service_client: Client) -> None:
    text = service_client.table("rest_things").select("name,score").in_("id", [1, 4, 5]).order("id").csv().execute()
    assert text.data == 'name,score\napple,10\nDurian,\n"eggplant, ""purple""",50'


def test_casts_and_aliases(service_client: Client) -> None:
    row = service_client.table("rest_things").select("label:name,score::text").eq("id", 1).single().execute().data
    assert row == {"label": "apple", "score": "10"}


def test_rpc_post_get_head(service_client: Client) -> None:
    assert service_client.rpc("rest_add", {"a": 2, "b": 40}).execute().data == 42
    assert service_client.rpc("rest_add", {"a": 2, "b": 3}, get=True).execute().data == 5
    names = service_client.rpc("rest_names", {}).execute().data
    assert isinstance(names, list)
    assert names[0] == "apple"
    assert service_client.rpc("rest_echo", {"payload": {"deep": [1, {"x": None}]}}).execute().data == {
        "deep": [1, {"x": None}]
    }
    rows = (
        service_client.rpc("rest_things_by_min_score", {"min_score": 20})
        .select("id,name")
        .lt("id", 5)
        .order("id", desc=True)
        .execute()
    )
    assert rows.data == [{"id": 3, "name": "carrot"}, {"id": 2, "name": "banana"}]
    counted = service_client.rpc(
        "rest_things_by_min_score", {"min_score": 20}, count=CountMethod.exact, head=True
    ).execute()
    assert counted.count == 3
    got = service_client.rpc("rest_things_by_min_score", {"min_score": 30}, get=True).select("id").execute()
    assert [r["id"] for r in rows_of(got.data)] == [3, 5]


def test_void_rpc_writes_and_refuses_get(service_client: Client, things: object) -> None:
    assert service_client.rpc("rest_touch", {}).execute().data in ([], None)
    with pytest.raises(APIError) as caught:
        service_client.rpc("rest_touch", {}, get=True).execute()
    assert caught.value.code == "25006"
