"""Health, metrics, request ids, CORS, the error envelope everywhere, body limits, OpenAPI."""

from __future__ import annotations

import httpx

from tests.api.conftest import ApiUser, error_of


async def test_health_checks_auth_and_rest(http: httpx.AsyncClient) -> None:
    response = await http.get("/health")
    assert response.json() == {"status": "ok", "checks": {"auth": "ok", "rest": "ok"}}


async def test_metrics_count_requests_by_route_and_sockets(http: httpx.AsyncClient, alice: ApiUser) -> None:
    await http.get("/api/roles", headers=alice.headers)
    text = (await http.get("/metrics")).text
    assert 'api_requests_total{method="GET",route="/api/roles",status="200"}' in text
    assert "api_request_duration_seconds_bucket" in text
    assert "api_websocket_connections" in text
    assert "# TYPE api_messages_sent_total counter" in text


async def test_request_id_is_echoed_or_minted(http: httpx.AsyncClient) -> None:
    echoed = await http.get("/health", headers={"X-Request-ID": "req-123"})
    assert echoed.headers["x-request-id"] == "req-123"
    minted = await http.get("/health", headers={"X-Request-ID": "bad id with spaces"})
    assert len(minted.headers["x-request-id"]) == 32


async def test_unknown_route_uses_the_envelope(http: httpx.AsyncClient) -> None:
    response = await http.get("/api/nothing-here", headers={"X-Request-ID": "abc"})
    assert response.status_code == 404
    assert response.json() == {
        "success": False,
        "error": {"code": "RouteNotFound", "message": "No such endpoint."},
        "request_id": "abc",
    }


async def test_cors_preflight_for_the_spa(http: httpx.AsyncClient) -> None:
    response = await http.options(
        "/api/chat/send",
        headers={
            "Origin": "http://localhost:3000",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert response.status_code in (200, 204)
    assert response.headers["access-control-allow-origin"] == "http://localhost:3000"
    other = await http.options(
        "/api/chat/send", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert other.headers.get("access-control-allow-origin") != "https://evil.example"


async def test_oversized_body_is_413(http: httpx.AsyncClient, alice: ApiUser) -> None:
    response = await http.post(
        "/api/chat/send",
        content=b'{"message": "' + b"a" * 70_000 + b'"}',
        headers={**alice.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert error_of(response)["code"] == "PayloadTooLarge"


async def test_malformed_json_is_400(http: httpx.AsyncClient, alice: ApiUser) -> None:
    response = await http.post(
        "/api/sessions", content=b"{nope", headers={**alice.headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert error_of(response)["code"] == "ValidationError"


async def test_openapi_schema_and_docs_are_served(http: httpx.AsyncClient) -> None:
    schema = (await http.get("/schema/openapi.json")).json()
    assert {"/api/auth/register", "/api/chat/send", "/api/chat/history", "/api/roles"} <= set(schema["paths"])
    assert (await http.get("/schema/swagger")).status_code == 200


async def test_the_schema_documents_each_operations_errors_in_the_envelope_they_come_in(
    http: httpx.AsyncClient, alice: ApiUser
) -> None:
    """Generated clients read errors by the schema. It documented one error, a 400 in Litestar's
    own shape ({status_code, detail, extra}), which no route answers, and none of the 401, 404,
    409, 422, 429 or 504 the routes do answer (in {success, error: {code, message, field}, request_id})."""
    schema = (await http.get("/schema/openapi.json")).json()
    envelope = schema["components"]["schemas"]["ErrorEnvelope"]
    assert set(envelope["properties"]) == {"success", "error", "request_id"}
    operations = {
        f"{method.upper()} {path}": operation
        for path, item in schema["paths"].items()
        if path.startswith("/api/")
        for method, operation in item.items()
    }
    for name, operation in operations.items():
        errors = {status: r for status, r in operation["responses"].items() if not status.startswith("2")}
        assert {"400", "500", "503"} <= set(errors), name
        for status, response in errors.items():
            ref = response["content"]["application/json"]["schema"]["$ref"]
            assert ref == "#/components/schemas/ErrorEnvelope", (name, status)
        if name != "GET /api/share/{token}" and not name.startswith("POST /api/auth/"):
            assert "401" in errors, name
    documented = {name: set(op["responses"]) for name, op in operations.items()}
    assert {"409", "422"} <= documented["POST /api/roles"]
    assert {"403", "404", "409", "422"} <= documented["PATCH /api/roles/{role_id}"]
    assert {"403", "404"} <= documented["DELETE /api/roles/{role_id}"]
    assert {"404", "409", "413", "422", "429", "504"} <= documented["POST /api/chat/send"]
    assert {"409", "422", "429"} <= documented["POST /api/auth/register"]
    assert {"401", "403", "429"} <= documented["POST /api/auth/login"]
    # What the schema says is what comes: a refused role in the documented envelope.
    refused = await http.post("/api/roles", json={"name": " ", "system_prompt": "p"}, headers=alice.headers)
    assert (refused.status_code, set(refused.json())) == (422, {"success", "error", "request_id"})


async def test_cors_preflight_for_an_openai_sdk_in_a_browser(http: httpx.AsyncClient) -> None:
    """The openai SDKs send their x-stainless-* headers with every request (openai-node in a browser,
    with dangerouslyAllowBrowser, from an origin in API_CORS_ORIGINS), and README tells clients to
    send Idempotency-Key: the preflight refused them all (400 'Disallowed CORS headers'), so no
    browser client could call /v1 at all."""
    sdk_headers = (
        "authorization,content-type,idempotency-key,x-chatgalaxy-session,x-stainless-arch,x-stainless-lang,"
        "x-stainless-os,x-stainless-package-version,x-stainless-retry-count,x-stainless-runtime,"
        "x-stainless-runtime-version,x-stainless-timeout"
    )
    response = await http.options(
        "/v1/chat/completions",
        headers={
            "Origin": "http://localhost:3000",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": sdk_headers,
        },
    )
    assert response.status_code in (200, 204), response.text
    assert response.headers["access-control-allow-origin"] == "http://localhost:3000"
    allowed = {h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")}
    assert set(sdk_headers.split(",")) <= allowed
    # what the SDK reads to decide a retry must be readable too: a browser hid x-should-retry, so the
    # SDK retried a stored question's failure that said not to (asking it again, charged again)
    refused = await http.post("/v1/chat/completions", json={}, headers={"Origin": "http://localhost:3000"})
    assert refused.headers["x-should-retry"] == "false"
    exposed = {h.strip().lower() for h in refused.headers["access-control-expose-headers"].split(",")}
    assert {"x-should-retry", "retry-after", "x-request-id", "x-chatgalaxy-message"} <= exposed
