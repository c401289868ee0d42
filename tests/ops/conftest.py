"""Fixtures for operations tests: a gateway and database of their own (scale-out and metrics count
what their own workers did), API replicas and worker processes from the API and worker suites'
factories, a client of the suite's API, `python -m ops` run as an operator runs it, and read access
to what the API recorded in `audit.events`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from localbase.postgres import Cluster
from tests.api.conftest import ApiProcess, spawn_api, start_api
from tests.conftest import LocalStack, isolated_stack
from tests.worker.conftest import fake, spawn_worker

__all__ = ["fake", "ops_api", "spawn_api", "spawn_worker", "stack"]


@pytest.fixture(scope="session")
def stack(pg_cluster: Cluster, template_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """The operations suite's own gateway; refresh tokens may not be retried at all here, so a
    reused one is caught at once."""
    with isolated_stack(pg_cluster, "cg_ops_stack", tmp_path_factory, REFRESH_TOKEN_REUSE_INTERVAL="0") as local:
        yield local


@pytest.fixture(scope="session")
def ops_api(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiProcess]:
    api = start_api(stack, tmp_path_factory.mktemp("ops-api") / "api.log")
    try:
        yield api
    finally:
        api.stop()


@pytest.fixture
async def http(ops_api: ApiProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=ops_api.url, timeout=60.0, trust_env=False) as client:
        yield client


def ops_run(stack: LocalStack, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m ops ...` against the stack, as an operator runs it, whatever it answers."""
    env = {**os.environ, "SUPABASE_URL": stack.url, "SUPABASE_JWT_SECRET": stack.jwt_secret}
    return subprocess.run(
        [sys.executable, "-m", "ops", *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def ops(stack: LocalStack, *args: str) -> dict[str, Any]:
    """`python -m ops ...` against the stack; its JSON summary, asserting it succeeded."""
    done = ops_run(stack, *args)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


async def events_of(pg: asyncpg.Connection, kind: str, **details: str) -> list[asyncpg.Record]:
    """Recorded security events of `kind` whose details contain `details`."""
    events: list[asyncpg.Record] = await pg.fetch(
        "select * from audit.events where kind = $1 and details @> $2::jsonb order by id",
        kind,
        json.dumps(details),
    )
    return events


def json_lines(*paths: Path) -> list[dict[str, Any]]:
    """Every line of the given log files, each required to be one JSON object."""
    lines: list[dict[str, Any]] = []
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                entry = json.loads(line)
                assert isinstance(entry, dict), line
                lines.append(entry)
    return lines
