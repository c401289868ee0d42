"""Fixtures every local-stack test package shares."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from tests.conftest import LocalStack


@pytest.fixture
async def stack_db(stack: LocalStack) -> AsyncIterator[asyncpg.Connection]:
    """A superuser connection to the running stack's database, to set up and check what the services did."""
    conn = await asyncpg.connect(stack.dsn)
    try:
        yield conn
    finally:
        await conn.close()
