"""Private channel authorization: RLS probes on realtime.messages, as Supabase Realtime does.

Each probe runs in a transaction that is always rolled back. Read: probe rows for `broadcast` and
`presence` are inserted as `postgres`, then selected as the subscriber's role with its claims and
`realtime.topic`; a visible row allows reading. Write: the subscriber's role inserts a probe row.
service_role bypasses RLS and is never probed (the worker streams answers that way). Write results
are cached per (claims, topic, extension) for `ttl` seconds; reads are checked fresh at each join.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import asyncpg

BYPASS_ROLES = frozenset({"service_role", "postgres", "supabase_admin"})

# The probe rows carry the topic and the extension alone, as Realtime's (Realtime.Api.Message
# changesets): every other column, `private` among them, is the table's default (false), so a
# policy that reads it decides as on Supabase.
_PROBE = "insert into realtime.messages (topic, extension) values ($1, 'broadcast'), ($1, 'presence') returning id"
_AS_SUBSCRIBER = (
    "select set_config('role', $1, true), set_config('request.jwt.claims', $2, true), "
    "set_config('request.jwt.claim.role', $1, true), set_config('request.jwt.claim.sub', $3, true), "
    "set_config('realtime.topic', $4, true), set_config('request.headers', '{}', true)"
)
_READABLE = "select extension from realtime.messages where id = any($1::uuid[])"
_WRITE = "insert into realtime.messages (topic, extension) values ($1, $2)"


def claims_key(claims: dict[str, Any]) -> str:
    # Interned: every channel of the same token holds one shared copy, not its own.
    return sys.intern(json.dumps(claims, sort_keys=True, separators=(",", ":")))


class Authorizer:
    def __init__(self, pool: asyncpg.Pool, ttl: float) -> None:
        self._pool = pool
        self._ttl = ttl
        self._writes: dict[tuple[str, str, str], tuple[float, bool]] = {}

    async def readable(self, claims: dict[str, Any], topic: str) -> frozenset[str]:
        """The extensions (`broadcast`, `presence`) the claims may read on private `topic`."""
        role = str(claims.get("role", "anon"))
        if role in BYPASS_ROLES:
            return frozenset({"broadcast", "presence"})
        async with self._pool.acquire() as conn:
            tx = conn.transaction()
            await tx.start()
            try:
                ids = [row[0] for row in await conn.fetch(_PROBE, topic)]
                await conn.fetchrow(_AS_SUBSCRIBER, role, claims_key(claims), str(claims.get("sub", "")), topic)
                rows = await conn.fetch(_READABLE, ids)
            except asyncpg.PostgresError:
                return frozenset()
            finally:
                await tx.rollback()
        return frozenset(row[0] for row in rows)

    async def writable(self, claims: dict[str, Any], topic: str, extension: str) -> bool:
        role = str(claims.get("role", "anon"))
        if role in BYPASS_ROLES:
            return True
        key = (claims_key(claims), topic, extension)
        cached = self._writes.get(key)
        now = time.monotonic()
        if cached is not None and cached[0] > now:
            return cached[1]
        allowed = await self._probe_write(role, claims, topic, extension)
        if len(self._writes) > 10_000:
            self._writes.clear()
        self._writes[key] = (now + self._ttl, allowed)
        return allowed

    async def _probe_write(self, role: str, claims: dict[str, Any], topic: str, extension: str) -> bool:
        async with self._pool.acquire() as conn:
            tx = conn.transaction()
            await tx.start()
            try:
                await conn.fetchrow(_AS_SUBSCRIBER, role, claims_key(claims), str(claims.get("sub", "")), topic)
                await conn.execute(_WRITE, topic, extension)
            except asyncpg.PostgresError:
                return False
            finally:
                await tx.rollback()
        return True
