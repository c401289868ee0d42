"""Acting as Supabase's API roles inside a transaction, as PostgREST does: SET ROLE plus
`request.jwt.claims`, each in a statement of its own before the query."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg


@dataclass(frozen=True)
class Actor:
    name: str
    role: str
    sub: str | None = None

    @property
    def claims(self) -> str:
        claims: dict[str, str] = {"role": self.role}
        if self.sub:
            claims["sub"] = self.sub
        return json.dumps(claims)


@asynccontextmanager
async def acting_as(conn: asyncpg.Connection, actor: Actor) -> AsyncIterator[asyncpg.Connection]:
    """A transaction as `actor`, always rolled back so each probe leaves the database untouched."""
    tx = conn.transaction()
    await tx.start()
    try:
        await conn.execute("select set_config('request.jwt.claims', $1, true)", actor.claims)
        await conn.execute(f"set local role {actor.role}")
        yield conn
    finally:
        await tx.rollback()


async def create_user(conn: asyncpg.Connection, username: str) -> str:
    """An auth.users row as GoTrue writes it; the sign-up trigger creates the profile."""
    user_id = str(uuid.uuid4())
    await conn.execute(
        """insert into auth.users (id, aud, role, email, raw_user_meta_data, raw_app_meta_data,
                                   email_confirmed_at, created_at, updated_at)
           values ($1, 'authenticated', 'authenticated', $2, $3::jsonb, '{"provider":"email"}', now(), now(), now())""",
        user_id,
        f"{username}@example.com",
        json.dumps({"username": username}),
    )
    return user_id
