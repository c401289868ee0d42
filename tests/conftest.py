"""Real PostgreSQL for every test: one throwaway cluster per test session on a free port, a
template database migrated once, and cheap per-test clones (CREATE DATABASE ... TEMPLATE)."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from localbase.migrate import migrate
from localbase.postgres import Cluster

TEMPLATE = "cg_template"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    root = Path(tempfile.mkdtemp(prefix="cg-test-pg-"))
    root.chmod(0o755)  # PostgreSQL runs as `postgres` and must reach its data folder
    cluster = Cluster(root / "data", port=free_port(), durable=False)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.destroy()
        shutil.rmtree(root, ignore_errors=True)


async def _create_database(cluster: Cluster, name: str, template: str | None = None) -> None:
    conn = await asyncpg.connect(cluster.url)
    try:
        clause = f' template "{template}"' if template else ""
        await conn.execute(f'create database "{name}"{clause}')
    finally:
        await conn.close()


async def _drop_database(cluster: Cluster, name: str) -> None:
    conn = await asyncpg.connect(cluster.url)
    try:
        await conn.execute(f'drop database if exists "{name}" with (force)')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def template_dsn(pg_cluster: Cluster) -> str:
    """A database with the Supabase base schema and every migration applied, used as a template."""

    async def build() -> None:
        # Roles are cluster-wide, so the base schema applied here serves every clone.
        await _create_database(pg_cluster, TEMPLATE)
        await migrate(pg_cluster.dsn(TEMPLATE))

    asyncio.run(build())
    return pg_cluster.dsn(TEMPLATE)


@pytest.fixture
async def db_dsn(pg_cluster: Cluster, template_dsn: str) -> AsyncIterator[str]:
    """A fresh migrated database for one test."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    await _create_database(pg_cluster, name, TEMPLATE)
    try:
        yield pg_cluster.dsn(name)
    finally:
        await _drop_database(pg_cluster, name)


@pytest.fixture
async def db(db_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    """A superuser connection to a fresh migrated database."""
    conn = await asyncpg.connect(db_dsn)
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def stack_db_dsn(pg_cluster: Cluster, template_dsn: str) -> str:
    """One migrated database shared by the session's running stack (gateway, worker, API)."""
    name = "cg_stack"
    asyncio.run(_create_database(pg_cluster, name, TEMPLATE))
    return pg_cluster.dsn(name)


def pytest_sessionstart(session: pytest.Session) -> None:
    # Loopback only; never a proxy for our own servers.
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
