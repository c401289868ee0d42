"""Relationships beyond a direct foreign key, through supabase-py: many-to-many through a junction
table, spread embeds, ordering by a to-one related column, and relationships inferred through a
view over a table with foreign keys."""

from __future__ import annotations

from typing import Any

import pytest
from postgrest.exceptions import APIError
from supabase import Client


def data(response: Any) -> Any:
    """The rows of a supabase-py response (typed as JSON, which mypy will not index)."""
    return response.data


def test_many_to_many_through_a_junction_table(service_client: Client) -> None:
    rows = service_client.table("rest_things").select("id, rest_labels(name)").lte("id", 4).order("id").execute()
    labels = {row["id"]: sorted(label["name"] for label in row["rest_labels"]) for row in data(rows)}
    assert labels == {1: ["red", "sweet"], 2: ["sweet"], 3: ["red"], 4: []}
    # The other direction, with an inner join, a filter and an order inside the embed.
    back = (
        service_client.table("rest_labels")
        .select("name, rest_things!inner(id)")
        .order("id", foreign_table="rest_things", desc=True)
        .order("id")
        .execute()
    )
    assert data(back) == [
        {"name": "red", "rest_things": [{"id": 3}, {"id": 1}]},
        {"name": "sweet", "rest_things": [{"id": 2}, {"id": 1}]},
    ]
    # The junction's name disambiguates, as in PostgREST.
    hinted = service_client.table("rest_labels").select("id, rest_things!rest_thing_labels(id)").eq("id", 3).execute()
    assert data(hinted) == [{"id": 3, "rest_things": []}]


def test_spread_embed_merges_a_to_one_relation(service_client: Client) -> None:
    rows = service_client.table("rest_things").select("id, ...rest_groups(group_name:name)").order("id").execute()
    assert data(rows) == [
        {"id": 1, "group_name": "alpha"},
        {"id": 2, "group_name": "alpha"},
        {"id": 3, "group_name": "beta"},
        {"id": 4, "group_name": "beta"},
        {"id": 5, "group_name": None},
    ]
    inner = service_client.table("rest_things").select("id, ...rest_groups!inner(name)").order("id").execute()
    assert [row["id"] for row in data(inner)] == [1, 2, 3, 4]
    # A to-many spread (PostgREST 13): one array per column, `[]` where there is nothing.
    many = (
        service_client.table("rest_groups")
        .select("id, ...rest_things(name)")
        .lte("id", 3)
        .order("id", foreign_table="rest_things")
        .order("id")
        .execute()
    )
    assert data(many) == [
        {"id": 1, "name": ["apple", "banana"]},
        {"id": 2, "name": ["carrot", "Durian"]},
        {"id": 3, "name": []},
    ]


def test_order_by_a_to_one_related_column(service_client: Client) -> None:
    rows = (
        service_client.table("rest_things")
        .select("id, rest_groups(name)")
        .order("rest_groups(name)", desc=True, nullsfirst=False)
        .order("id", desc=True)
        .execute()
    )
    assert [row["id"] for row in data(rows)] == [4, 3, 2, 1, 5]
    # The relation may also be named by the embed's alias, or not be selected at all.
    aliased = (
        service_client.table("rest_things").select("id, g:rest_groups(name)").order("g(name)").order("id").execute()
    )
    assert [row["id"] for row in data(aliased)] == [1, 2, 3, 4, 5]
    unselected = service_client.table("rest_things").select("id").order("rest_groups(name)").order("id").execute()
    assert [row["id"] for row in data(unselected)] == [1, 2, 3, 4, 5]
    with pytest.raises(APIError) as failure:
        service_client.table("rest_groups").select("id").order("rest_things(name)").execute()
    assert failure.value.code == "PGRST118"


def test_relationships_through_a_view(service_client: Client) -> None:
    view = service_client.table("rest_things_view")
    rows = view.select("thing_id, rest_groups(name)").lte("thing_id", 3).order("thing_id").execute()
    assert data(rows) == [
        {"thing_id": 1, "rest_groups": {"name": "alpha"}},
        {"thing_id": 2, "rest_groups": {"name": "alpha"}},
        {"thing_id": 3, "rest_groups": {"name": "beta"}},
    ]
    # The reverse direction (to-many) and the junction table both see the view's renamed columns.
    groups = service_client.table("rest_groups").select("id, rest_things_view(thing_id)").eq("id", 2).execute()
    assert data(groups) == [{"id": 2, "rest_things_view": [{"thing_id": 3}, {"thing_id": 4}]}]
    labelled = view.select("thing_id, rest_labels(name)").eq("thing_id", 3).execute()
    assert data(labelled) == [{"thing_id": 3, "rest_labels": [{"name": "red"}]}]


def test_unknown_relationship_is_still_pgrst200(service_client: Client) -> None:
    with pytest.raises(APIError) as failure:
        service_client.table("rest_labels").select("id, rest_groups(name)").execute()
    assert failure.value.code == "PGRST200"
