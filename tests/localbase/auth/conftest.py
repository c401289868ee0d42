"""Clients and a second gateway for the Auth tests.

`stack` (tests/conftest.py) runs with the CLI defaults: autoconfirm on, 10 s refresh reuse window.
`confirming_stack` is a second gateway on its own port and mail folder, configured like a hardened
project: email confirmations on and no refresh-token reuse window (`second_gateway` makes others).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from supabase import AsyncClient, AsyncClientOptions, Client, ClientOptions, acreate_client, create_client

from tests.conftest import LocalStack, free_port, stack_env


def client(stack: LocalStack, key: str | None = None) -> Client:
    """A supabase-py client that keeps its session in memory only, one per test."""
    options = ClientOptions(persist_session=False, auto_refresh_token=False)
    return create_client(stack.url, key or stack.anon_key, options)


async def async_client(stack: LocalStack, key: str | None = None) -> AsyncClient:
    options = AsyncClientOptions(persist_session=False, auto_refresh_token=False)
    return await acreate_client(stack.url, key or stack.anon_key, options)


def new_email() -> str:
    return f"auth-{uuid.uuid4().hex[:12]}@example.com"


def new_username() -> str:
    return f"u_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def anon(stack: LocalStack) -> Client:
    return client(stack)


@pytest.fixture
def service(stack: LocalStack) -> Client:
    return client(stack, stack.service_role_key)


def second_gateway(stack: LocalStack, folder: Path, settings: dict[str, str]) -> Iterator[LocalStack]:
    """A gateway of its own (port, log, mail folder) on `stack`'s database, with `settings` on top."""
    port = free_port()
    env = stack_env(stack.dsn, port, folder / "localbase.log")
    env.update(settings)
    local = LocalStack(
        url=f"http://127.0.0.1:{port}",
        port=port,
        dsn=stack.dsn,
        anon_key=stack.anon_key,
        service_role_key=stack.service_role_key,
        jwt_secret=stack.jwt_secret,
        env=env,
    )
    local.start()
    try:
        yield local
    finally:
        local.stop()


@pytest.fixture(scope="session")
def confirming_stack(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    folder = tmp_path_factory.mktemp("localbase-confirming")
    yield from second_gateway(stack, folder, {"LOCALBASE_AUTOCONFIRM": "false", "REFRESH_TOKEN_REUSE_INTERVAL": "0"})


def mail_dir(stack: LocalStack) -> Path:
    return Path(stack.env["LOCALBASE_MAIL_DIR"])
