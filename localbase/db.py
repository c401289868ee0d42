"""Connection pools the local stack's services share.

`api` connects as `authenticator` (NOINHERIT, member of anon/authenticated/service_role), exactly as
PostgREST does: a request that failed to switch role would have no table rights at all. `admin`
connects as `postgres` for GoTrue's own tables and Realtime's privileged work.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import asyncpg


def with_user(dsn: str, user: str) -> str:
    """The same database URL, logging in as `user` (local roles share the CLI's password)."""
    parts = urlsplit(dsn)
    host = parts.hostname or "127.0.0.1"
    port = f":{parts.port}" if parts.port else ""
    password = f":{parts.password}" if parts.password else ""
    return urlunsplit((parts.scheme, f"{user}{password}@{host}{port}", parts.path, parts.query, parts.fragment))


async def _init_connection(conn: asyncpg.Connection) -> None:
    # json/jsonb as Python objects in both directions.
    for kind in ("json", "jsonb"):
        await conn.set_type_codec(kind, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


init_connection = _init_connection  # for services that keep pools of their own


@dataclass
class Database:
    dsn: str
    min_size: int = 2
    max_size: int = 20
    api: asyncpg.Pool | None = None
    admin: asyncpg.Pool | None = None

    async def connect(self) -> None:
        self.api = await asyncpg.create_pool(
            with_user(self.dsn, "authenticator"),
            min_size=self.min_size,
            max_size=self.max_size,
            init=_init_connection,
        )
        self.admin = await asyncpg.create_pool(
            self.dsn, min_size=1, max_size=max(4, self.max_size // 2), init=_init_connection
        )

    async def close(self) -> None:
        for pool in (self.api, self.admin):
            if pool is not None:
                await pool.close()

    @property
    def api_pool(self) -> asyncpg.Pool:
        assert self.api is not None, "Database.connect() was not awaited"
        return self.api

    @property
    def admin_pool(self) -> asyncpg.Pool:
        assert self.admin is not None, "Database.connect() was not awaited"
        return self.admin
