"""Property test over the published OpenAPI schema: no input makes the API answer 5xx.

Schemathesis generates requests for every operation from the schema the API itself serves
(Hypothesis drives it directly; a bounded number of examples per operation keeps it well under a
minute), sent over real HTTP with a signed-in user's token so handlers past the auth check run.
"""

from __future__ import annotations

import uuid

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings

from tests.api.conftest import ApiProcess

EXAMPLES_PER_OPERATION = 25


@pytest.fixture
def bearer(api: ApiProcess) -> dict[str, str]:
    with httpx.Client(base_url=api.url, trust_env=False, timeout=20) as client:
        tag = uuid.uuid4().hex[:10]
        credentials = {"email": f"fuzz-{tag}@example.com", "password": "password123"}
        client.post("/api/auth/register", json={**credentials, "username": f"fuzz_{tag}"}).raise_for_status()
        login = client.post("/api/auth/login", json=credentials)
        login.raise_for_status()
        return {"Authorization": f"Bearer {login.json()['access_token']}"}


def test_no_input_makes_the_api_fail(api: ApiProcess, bearer: dict[str, str]) -> None:
    schema = schemathesis.openapi.from_url(f"{api.url}/schema/openapi.json")
    schema.config.update(base_url=api.url)
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    for operation in operations:
        if operation.path == "/api/auth/logout":
            continue  # signing the fuzzer's own user out would only narrow what it reaches

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def probe(case: schemathesis.Case) -> None:
            response = case.call(headers=bearer, timeout=30)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}")

        probe()
    assert failures == []
