"""The seed's register and login with the product's e-mail confirmations on: register answers as it
always did (201, the user exists but is not confirmed), login before confirming is a clear 403
`EmailNotConfirmed` that changes nothing, and after the mailed link login works."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import ApiProcess, start_api
from tests.conftest import PRODUCT_AUTH_ENV, LocalStack, launch_stack
from tests.mailbox import Mailbox


@pytest.fixture(scope="module")
def confirming(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ApiProcess, Mailbox]]:
    gateway = launch_stack(stack.dsn, tmp_path_factory, **PRODUCT_AUTH_ENV)
    logs: Path = tmp_path_factory.mktemp("api-confirming")
    api = start_api(gateway, logs / "api.log")
    try:
        with Mailbox.start(gateway, logs) as box:
            yield api, box
    finally:
        api.stop()
        gateway.stop()


def test_register_then_confirm_then_login(confirming: tuple[ApiProcess, Mailbox]) -> None:
    api, box = confirming
    tag = uuid.uuid4().hex[:10]
    email, password = f"confirm-{tag}@example.com", "password123"
    with httpx.Client(base_url=api.url, trust_env=False, timeout=30) as http:
        registered = http.post(
            "/api/auth/register", json={"username": f"confirm_{tag}", "email": email, "password": password}
        )
        assert registered.status_code == 201, registered.text
        assert registered.json()["success"] is True
        assert registered.json()["user_id"]

        early = http.post("/api/auth/login", json={"email": email, "password": password})
        assert early.status_code == 403, early.text
        assert early.json()["error"]["code"] == "EmailNotConfirmed"
        wrong = http.post("/api/auth/login", json={"email": email, "password": "not-the-password1"})
        assert wrong.json()["error"]["code"] == "InvalidCredentials"  # the password is checked first

        link = Mailbox.link(box.wait_for(email, "Confirm Your Signup"))
        assert httpx.get(link, follow_redirects=False, trust_env=False).status_code == 303

        login = http.post("/api/auth/login", json={"email": email, "password": password})
        assert login.status_code == 200, login.text
        assert login.json()["user"]["email"] == email
