"""Hostile input: SQL in every identifier and value position, forged tokens, oversized bodies.
Every attempt must end in a clear 4xx (or a literal match) with the database unchanged."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Callable

import httpx
import jwt
import pytest

from tests.conftest import LocalStack
from tests.localbase.rest.conftest import superuser_fetch

PAYLOADS = ['x"; drop table rest_groups; --', "x'); drop table rest_groups; --", "id) or (1=1", "pg_sleep(1)"]


def fingerprint(stack: LocalStack) -> list[tuple[int, str]]:
    rows = asyncio.run(superuser_fetch(stack.dsn, "select id, name from rest_groups where id < 1000 order by id"))
    return [(r["id"], r["name"]) for r in rows]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_sql_in_identifiers_is_refused(rest: Callable[..., httpx.Response], things: LocalStack, payload: str) -> None:
    before = fingerprint(things)
    key = things.service_role_key
    attempts = [
        rest("rest_groups", key, params={"select": payload}),
        rest("rest_groups", key, params={"select": f"id,{payload}(id)"}),
        rest("rest_groups", key, params={"order": payload}),
        rest("rest_groups", key, params={payload: "eq.1"}),
        rest("rest_groups", key, params={"or": f"({payload}.eq.1)"}),
        rest("rest_groups", key, params={"select": f"id,name::{payload}"}),
        rest("rest_groups", key, method="POST", params={"on_conflict": payload}, json={"id": 1, "name": "alpha"},
             headers={"Prefer": "resolution=merge-duplicates"}),
        rest("rest_groups", key, method="POST", params={"columns": payload}, json=[{"id": 1}]),
        rest("rest_groups", key, method="POST", json={payload: 1}),
        rest("rest_groups", key, method="PATCH", params={"id": "eq.1"}, json={payload: "x"}),
        rest(f"rpc/{payload}", key, method="POST", json={}),
        rest("rpc/rest_add", key, method="POST", json={payload: 1, "a": 1, "b": 2}),
        rest(payload, key),
        rest("rest_groups", key, headers={"Accept-Profile": payload}),
        rest("rest_groups", key, method="POST", headers={"Content-Profile": payload}, json={"id": 9}),
    ]  # fmt: skip
    for response in attempts:
        assert 400 <= response.status_code < 500, (response.request.url, response.status_code, response.text)
        assert set(response.json()) == {"code", "message", "details", "hint"}
    assert fingerprint(things) == before


@pytest.mark.parametrize("payload", PAYLOADS)
def test_sql_in_values_matches_literally(rest: Callable[..., httpx.Response], things: LocalStack, payload: str) -> None:
    before = fingerprint(things)
    key = things.service_role_key
    for params in (
        {"name": f"eq.{payload}"},
        {"name": f"in.({json.dumps(payload)})"},
        {"name": f"like.{payload}"},
        {"or": f"(name.eq.{_quoted(payload)},name.eq.nothing)"},
        {"select": "id,data->>x", "data->>kind": f"eq.{payload}"},
    ):
        response = rest("rest_things" if "data->>kind" in params else "rest_groups", key, params=params)
        assert response.status_code == 200, response.text
        assert response.json() == []
    stored = rest(
        "rest_groups",
        key,
        method="POST",
        json={"id": 999, "name": payload},
        headers={"Prefer": "return=representation"},
    )
    assert stored.status_code == 201
    assert stored.json()[0]["name"] == payload
    found = rest("rest_groups", key, params={"name": f"eq.{payload}", "select": "id"})
    assert found.json() == [{"id": 999}]
    assert rest("rest_groups", key, method="DELETE", params={"id": "eq.999"}).status_code == 204
    assert fingerprint(things) == before


def _quoted(value: str) -> str:
    """How postgrest-py quotes a value inside a logic tree."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _unsigned(claims: dict[str, object]) -> str:
    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


@pytest.mark.parametrize(
    ("name", "make", "code"),
    [
        ("alg none", lambda s: _unsigned({"role": "service_role"}), "PGRST301"),
        ("wrong secret", lambda s: jwt.encode({"role": "service_role"}, "x" * 40, algorithm="HS256"), "PGRST301"),
        ("expired", lambda s: jwt.encode({"role": "authenticated", "exp": int(time.time()) - 3600}, s), "PGRST303"),
        ("garbage", lambda s: "not-a-jwt", "PGRST301"),
    ],
)  # fmt: skip
def test_untrustworthy_tokens_are_401(
    rest: Callable[..., httpx.Response], stack: LocalStack, name: str, make: Callable[[str], str], code: str
) -> None:
    response = rest("chat_sessions", make(stack.jwt_secret))
    assert response.status_code == 401, name
    assert response.json()["code"] == code
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')


def test_unknown_role_claim_is_401(rest: Callable[..., httpx.Response], stack: LocalStack) -> None:
    token = jwt.encode({"role": "nobody_at_all"}, stack.jwt_secret, algorithm="HS256")
    response = rest("rest_groups", token)
    assert response.status_code == 401
    assert response.json()["code"] == "22023"


def test_oversized_body_is_413(rest: Callable[..., httpx.Response], stack: LocalStack) -> None:
    huge = "x" * (2 * 1024 * 1024)
    response = rest("rest_groups", stack.service_role_key, method="POST", content=json.dumps({"name": huge}),
                    headers={"Content-Type": "application/json"})  # fmt: skip
    assert response.status_code == 413
    assert set(response.json()) == {"code", "message", "details", "hint"}


def test_invalid_json_body_is_pgrst102(rest: Callable[..., httpx.Response], stack: LocalStack) -> None:
    response = rest("rest_groups", stack.service_role_key, method="POST", content=b"{nope",
                    headers={"Content-Type": "application/json"})  # fmt: skip
    assert response.status_code == 400
    assert response.json()["code"] == "PGRST102"
