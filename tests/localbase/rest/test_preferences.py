"""PostgREST's less common request features, checked in the database: Prefer return=headers-only
(Location), tx, timezone, handling=strict and max-affected; PUT single-row upsert; the 200 of an
upsert that inserted nothing; Accept ...;nulls=stripped. Raw httpx where supabase-py has no API."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from collections.abc import Callable, Iterator

import httpx
import pytest
from supabase import Client

from tests.conftest import LocalStack, free_port, stack_env
from tests.localbase.rest.conftest import superuser_fetch

_ids = itertools.count(5000)
JSON = {"content-type": "application/json"}


def group_names(stack: LocalStack, *ids: int) -> dict[int, str]:
    rows = asyncio.run(superuser_fetch(stack.dsn, "select id, name from rest_groups where id = any($1)", list(ids)))
    return {row["id"]: row["name"] for row in rows}


def call(stack: LocalStack, method: str, path: str, **kwargs: object) -> httpx.Response:
    headers = {"apikey": stack.service_role_key, **kwargs.pop("headers", {})}  # type: ignore[dict-item]
    return httpx.request(method, f"{stack.url}/rest/v1/{path}", headers=headers, timeout=10, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def overridable(things: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """A second gateway on the same database with PostgREST's db-tx-end=commit-allow-override."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("localbase-tx") / "localbase.log"
    env = {**stack_env(things.dsn, port, log_path), "PGRST_DB_TX_END": "commit-allow-override"}
    local = dataclasses.replace(things, url=f"http://127.0.0.1:{port}", port=port, env=env, process=None)
    local.start()
    try:
        yield local
    finally:
        local.stop()


def test_headers_only_insert_sets_location(things: LocalStack) -> None:
    a = next(_ids)
    headers = {**JSON, "prefer": "return=headers-only"}
    response = call(things, "POST", "rest_groups", json={"id": a, "name": f"loc{a}"}, headers=headers)
    assert response.status_code == 201
    assert response.headers["location"] == f"/rest_groups?id=eq.{a}"
    assert response.headers["preference-applied"] == "return=headers-only"
    assert response.content == b""
    assert group_names(things, a) == {a: f"loc{a}"}
    # The Location names a row the API serves.
    fetched = call(things, "GET", response.headers["location"].lstrip("/") + "&select=name")
    assert fetched.json() == [{"name": f"loc{a}"}]


def test_tx_preference_is_ignored_unless_the_server_allows_it(things: LocalStack, overridable: LocalStack) -> None:
    a, b, c = next(_ids), next(_ids), next(_ids)
    prefer = {**JSON, "prefer": "return=representation, tx=rollback"}
    kept = call(things, "POST", "rest_groups", json={"id": a, "name": f"tx{a}"}, headers=prefer)
    assert kept.status_code == 201
    assert "tx=" not in kept.headers.get("preference-applied", "")
    rolled = call(overridable, "POST", "rest_groups", json={"id": b, "name": f"tx{b}"}, headers=prefer)
    assert rolled.status_code == 201
    assert rolled.json() == [{"id": b, "name": f"tx{b}"}]
    assert "tx=rollback" in rolled.headers["preference-applied"]
    committed = call(
        overridable, "POST", "rest_groups", json={"id": c, "name": f"tx{c}"}, headers={**JSON, "prefer": "tx=commit"}
    )
    assert committed.status_code == 201
    assert group_names(things, a, b, c) == {a: f"tx{a}", c: f"tx{c}"}


def test_timezone_preference(things: LocalStack) -> None:
    path = "rest_labels?id=eq.1&select=at"
    assert call(things, "GET", path).json() == [{"at": "2024-01-01T12:00:00+00:00"}]
    tokyo = call(things, "GET", path, headers={"prefer": "timezone=Asia/Tokyo"})
    assert tokyo.json() == [{"at": "2024-01-01T21:00:00+09:00"}]
    assert tokyo.headers["preference-applied"] == "timezone=Asia/Tokyo"
    # An unknown zone is ignored, or rejected under handling=strict.
    assert call(things, "GET", path, headers={"prefer": "timezone=Mars/Olympus"}).json() == [
        {"at": "2024-01-01T12:00:00+00:00"}
    ]
    strict = call(things, "GET", path, headers={"prefer": "handling=strict, timezone=Mars/Olympus"})
    assert strict.status_code == 400
    assert strict.json()["code"] == "PGRST122"


def test_strict_handling_rejects_unknown_preferences(things: LocalStack) -> None:
    lenient = call(things, "GET", "rest_groups?id=eq.1", headers={"prefer": "frobnicate=yes"})
    assert lenient.status_code == 200
    strict = call(things, "GET", "rest_groups?id=eq.1", headers={"prefer": "handling=strict, frobnicate=yes"})
    assert strict.status_code == 400
    assert strict.json() == {
        "code": "PGRST122",
        "message": "Invalid preferences given with handling=strict",
        "details": "Invalid preferences: frobnicate=yes",
        "hint": None,
    }


def test_max_affected_under_strict_handling_rolls_back(things: LocalStack) -> None:
    a, b = next(_ids), next(_ids)
    call(things, "POST", "rest_labels", json=[{"id": a, "name": "m"}, {"id": b, "name": "m"}], headers=JSON)

    def names() -> list[str]:
        rows = asyncio.run(superuser_fetch(things.dsn, "select name from rest_labels where id in ($1, $2)", a, b))
        return sorted(row["name"] for row in rows)

    path = f"rest_labels?id=in.({a},{b})"
    refused = call(
        things, "PATCH", path, json={"name": "x"}, headers={**JSON, "prefer": "handling=strict, max-affected=1"}
    )
    assert refused.status_code == 400
    assert refused.json()["code"] == "PGRST124"
    assert names() == ["m", "m"]
    allowed = call(
        things, "PATCH", path, json={"name": "y"}, headers={**JSON, "prefer": "handling=strict, max-affected=2"}
    )
    assert allowed.status_code == 204
    assert names() == ["y", "y"]
    # A set-returning function is held to it too.
    strict = {**JSON, "prefer": "handling=strict, max-affected=2"}
    called = call(things, "POST", "rpc/rest_things_by_min_score", json={"min_score": 20}, headers=strict)
    assert (called.status_code, called.json()["code"]) == (400, "PGRST124")
    fewer = call(things, "POST", "rpc/rest_things_by_min_score", json={"min_score": 40}, headers=strict)
    assert [row["id"] for row in fewer.json()] == [5]


def test_put_upserts_one_row_by_primary_key(things: LocalStack) -> None:
    a = next(_ids)
    created = call(things, "PUT", f"rest_groups?id=eq.{a}", json={"id": a, "name": f"put{a}"}, headers=JSON)
    assert created.status_code == 204
    assert group_names(things, a) == {a: f"put{a}"}
    replaced = call(
        things,
        "PUT",
        f"rest_groups?id=eq.{a}",
        json={"id": a, "name": f"new{a}"},
        headers={**JSON, "prefer": "return=representation"},
    )
    assert replaced.status_code == 200
    assert replaced.json() == [{"id": a, "name": f"new{a}"}]
    mismatch = call(things, "PUT", f"rest_groups?id=eq.{a}", json={"id": a + 1, "name": "no"}, headers=JSON)
    assert (mismatch.status_code, mismatch.json()["code"]) == (400, "PGRST115")
    for bad in (f"rest_groups?id=gt.{a}", f"rest_groups?name=eq.new{a}", f"rest_groups?id=eq.{a}&name=eq.x"):
        refused = call(things, "PUT", bad, json={"id": a, "name": "no"}, headers=JSON)
        assert (refused.status_code, refused.json()["code"]) == (405, "PGRST105"), bad
    assert group_names(things, a, a + 1) == {a: f"new{a}"}


def test_upsert_that_only_merges_is_200(service_client: Client, things: LocalStack) -> None:
    a = next(_ids)
    prefer = {**JSON, "prefer": "resolution=merge-duplicates, return=representation"}
    first = call(things, "POST", "rest_groups", json={"id": a, "name": f"u{a}"}, headers=prefer)
    assert first.status_code == 201
    again = call(things, "POST", "rest_groups", json={"id": a, "name": f"v{a}"}, headers=prefer)
    assert again.status_code == 200
    assert again.json() == [{"id": a, "name": f"v{a}"}]
    # supabase-py accepts the 200 like the 201.
    assert service_client.table("rest_groups").upsert({"id": a, "name": f"w{a}"}).execute().data == [
        {"id": a, "name": f"w{a}"}
    ]
    assert group_names(things, a) == {a: f"w{a}"}


def test_accept_nulls_stripped(things: LocalStack, rest: Callable[..., httpx.Response]) -> None:
    stripped = "application/vnd.pgrst.array+json;nulls=stripped"
    response = call(things, "GET", "rest_labels?select=id,note&id=in.(1,2)&order=id", headers={"accept": stripped})
    assert response.status_code == 200
    assert response.json() == [{"id": 1, "note": "warm"}, {"id": 2}]
    assert response.headers["content-type"].startswith("application/vnd.pgrst.array+json;nulls=stripped")
    single = call(
        things,
        "GET",
        "rest_labels?select=id,note&id=eq.2",
        headers={"accept": "application/vnd.pgrst.object+json;nulls=stripped"},
    )
    assert single.json() == {"id": 2}
    plain = call(things, "GET", "rest_labels?select=id,note&id=eq.2")
    assert plain.json() == [{"id": 2, "note": None}]
