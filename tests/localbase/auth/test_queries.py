"""Every named query of the Auth service matches the migrated schema (prepared, never guessed)."""

from __future__ import annotations

import asyncpg
import pytest

from localbase.auth.queries import Q
from localbase.db import _init_connection


@pytest.mark.parametrize("name", sorted(Q))
async def test_named_query_prepares_against_the_schema(db: asyncpg.Connection, name: str) -> None:
    await _init_connection(db)
    await db.prepare(Q[name])
