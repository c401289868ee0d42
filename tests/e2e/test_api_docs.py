"""The API docs render offline (web/e2e/api_docs.mjs): Swagger UI's files come from a PyPI package
and are served by the API; Chromium refuses every other host, so a CDN reference would fail here.
Screenshots: tests/e2e/screenshots/api_docs/."""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

import httpx
import pytest

from tests.api.conftest import ApiProcess, start_api
from tests.e2e.conftest import Product, no_page_errors, passed
from tests.e2e.journeys import Journey, launcher, prepare_journey

pytestmark = pytest.mark.timeout(420)


@launcher("api_docs")
def start(request: pytest.FixtureRequest, servers: ExitStack) -> Journey:
    """An API of its own on the product's stack, then the journey (started with the others by `journeys`)."""
    product: Product = request.getfixturevalue("product")
    api = start_api(product.stack, request.getfixturevalue("tmp_path_factory").mktemp("docs-api") / "api.log")
    servers.callback(api.stop)
    chromium_path: str = request.getfixturevalue("chromium_path")
    journey = prepare_journey(product, chromium_path, "api_docs", env={"API_URL": api.url})
    journey.extras["api"] = api
    return journey


@pytest.fixture(scope="module")
def docs_api(journeys: dict[str, Journey]) -> ApiProcess:
    api: ApiProcess = journeys["api_docs"].extras["api"]
    return api


@pytest.fixture(scope="module")
def journey(journeys: dict[str, Journey]) -> dict[str, Any]:
    return journeys["api_docs"].result()


def test_swagger_renders_the_operations_offline(journey: dict[str, Any]) -> None:
    step = passed(journey, "Swagger UI renders every operation offline")
    assert step["detail"]["operations"] >= 15


def test_an_operation_opens(journey: dict[str, Any]) -> None:
    passed(journey, "an operation opens with its parameters and responses")


def test_schema_root_is_swagger(journey: dict[str, Any]) -> None:
    passed(journey, "/schema opens the same page")


def test_nothing_from_outside(journey: dict[str, Any]) -> None:
    passed(journey, "nothing was fetched from outside")
    assert journey["refused"] == []
    no_page_errors(journey)


def test_no_page_references_a_cdn(docs_api: ApiProcess) -> None:
    for path in ("/schema/swagger", "/schema", "/schema/openapi.json"):
        page = httpx.get(f"{docs_api.url}{path}", trust_env=False)
        assert page.status_code == 200, path
        for cdn in ("cdn.jsdelivr.net", "unpkg.com", "cdnjs", "fonts.googleapis"):
            assert cdn not in page.text, (path, cdn)
    asset = httpx.get(f"{docs_api.url}/schema/assets/swagger-ui-bundle.js", trust_env=False)
    assert asset.status_code == 200
    assert "javascript" in asset.headers["content-type"]
    for gone in ("/schema/redoc", "/schema/elements", "/schema/rapidoc", "/schema/scalar"):
        assert httpx.get(f"{docs_api.url}{gone}", trust_env=False).status_code == 404, gone
