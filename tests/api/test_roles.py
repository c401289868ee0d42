"""Roles: the seed's role objects, and private custom roles that no other user can reach."""

from __future__ import annotations

import uuid

import httpx

from tests.api.conftest import ApiUser, error_of

SEED_ROLES = {
    "assistant": "智能助手",
    "creative_writer": "创意作家",
    "tech_expert": "技术专家",
    "casual_chat": "轻松聊天",
}


async def test_roles_lists_the_seed_roles_in_the_seed_shape(http: httpx.AsyncClient, alice: ApiUser) -> None:
    response = await http.get("/api/roles", headers=alice.headers)
    body = response.json()
    assert body["success"] is True
    assert {r["id"]: r["name"] for r in body["roles"]} == SEED_ROLES
    assistant = body["roles"][0]
    assert set(assistant) >= {"id", "name", "description", "avatar_url", "system_prompt"}
    assert assistant["description"] == "专业的AI助手，可以回答各种问题"


async def test_custom_role_lifecycle(http: httpx.AsyncClient, alice: ApiUser) -> None:
    slug = f"poet-{uuid.uuid4().hex[:6]}"
    created = await http.post(
        "/api/roles",
        json={"id": slug, "name": "诗人", "system_prompt": "你是一位诗人。", "description": "writes poems"},
        headers=alice.headers,
    )
    assert created.status_code == 201, created.text
    assert created.json()["role"] | {"uuid": None} == {
        "id": slug,
        "name": "诗人",
        "description": "writes poems",
        "avatar_url": None,
        "system_prompt": "你是一位诗人。",
        "uuid": None,
        "is_custom": True,
    }
    listed = await http.get("/api/roles", headers=alice.headers)
    assert slug in {r["id"] for r in listed.json()["roles"]}
    renamed = await http.patch(f"/api/roles/{slug}", json={"name": "大诗人"}, headers=alice.headers)
    assert renamed.json()["role"]["name"] == "大诗人"
    deleted = await http.delete(f"/api/roles/{slug}", headers=alice.headers)
    assert deleted.json()["success"] is True
    gone = await http.get(f"/api/roles/{slug}", headers=alice.headers)
    assert gone.status_code == 404
    assert error_of(gone)["code"] == "RoleNotFound"


async def test_user_b_cannot_see_or_change_user_a_custom_role(
    http: httpx.AsyncClient, alice: ApiUser, bob: ApiUser
) -> None:
    slug = f"secret-{uuid.uuid4().hex[:6]}"
    created = await http.post(
        "/api/roles", json={"id": slug, "name": "Secret", "system_prompt": "shh"}, headers=alice.headers
    )
    role_uuid = created.json()["role"]["uuid"]
    listed = await http.get("/api/roles", headers=bob.headers)
    assert slug not in {r["id"] for r in listed.json()["roles"]}
    for ref in (slug, role_uuid):
        assert (await http.get(f"/api/roles/{ref}", headers=bob.headers)).status_code == 404
        assert (await http.patch(f"/api/roles/{ref}", json={"name": "x"}, headers=bob.headers)).status_code == 404
        assert (await http.delete(f"/api/roles/{ref}", headers=bob.headers)).status_code == 404
    still = await http.get(f"/api/roles/{slug}", headers=alice.headers)
    assert still.json()["role"]["name"] == "Secret"


async def test_builtin_roles_are_read_only(http: httpx.AsyncClient, alice: ApiUser) -> None:
    response = await http.patch("/api/roles/assistant", json={"name": "mine"}, headers=alice.headers)
    assert response.status_code == 403
    assert error_of(response)["code"] == "RoleNotEditable"


async def test_custom_role_cannot_take_a_builtin_slug_or_a_bad_one(http: httpx.AsyncClient, alice: ApiUser) -> None:
    taken = await http.post(
        "/api/roles", json={"id": "assistant", "name": "x", "system_prompt": "y"}, headers=alice.headers
    )
    assert taken.status_code == 409
    assert error_of(taken) | {"message": ""} == {"code": "SlugTaken", "field": "id", "message": ""}
    bad = await http.post(
        "/api/roles", json={"id": "Bad Slug!", "name": "x", "system_prompt": "y"}, headers=alice.headers
    )
    assert bad.status_code == 422
    assert error_of(bad)["field"] == "id"


async def test_roles_need_a_token(http: httpx.AsyncClient) -> None:
    response = await http.get("/api/roles")
    assert response.status_code == 401
