"""GET /api/models: the offered models, for signed-in callers only."""

from __future__ import annotations

import httpx

from tests.api.conftest import ApiUser


async def test_models_lists_the_offered_models_with_limits_and_capabilities(
    http: httpx.AsyncClient, alice: ApiUser
) -> None:
    response = await http.get("/api/models", headers=alice.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    models = {m["id"]: m for m in body["models"]}
    assert list(models)[:3] == ["qwen-turbo", "qwen-flash", "qwen-plus"]
    assert models["qwen-plus"]["supports_thinking"] is True
    assert models["qwen-vl-max"]["supports_vision"] is True
    assert models["qwen-vl-max"]["max_output"] == 8192


async def test_models_needs_a_signed_in_caller(http: httpx.AsyncClient) -> None:
    response = await http.get("/api/models")
    assert response.status_code == 401
