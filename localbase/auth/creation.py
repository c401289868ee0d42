"""Creating users: one INSERT into auth.users (with its identity) that fires the app's triggers.

Sign-up, the admin API, invites and magic links all come through `insert_user`, so the profiles
trigger runs for every new user and a failing trigger fails the whole creation, as in Supabase:
500 `unexpected_failure` with GoTrue's message (our API layer checks usernames beforehand).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg

from localbase.auth.errors import AuthError, unexpected, unprocessable
from localbase.auth.queries import Q
from localbase.auth.users import User

log = logging.getLogger(__name__)


@dataclass
class NewUser:
    email: str | None
    phone: str | None = None
    password_hash: str | None = None
    email_confirmed: bool = False
    phone_confirmed: bool = False
    confirmation_hash: str | None = None
    role: str = "authenticated"
    app_metadata: dict[str, Any] = field(default_factory=dict)
    user_metadata: dict[str, Any] = field(default_factory=dict)
    invited: bool = False
    banned_until: datetime | None = None
    id: UUID = field(default_factory=uuid4)

    def provider(self) -> str:
        return "email" if self.email else "phone"


async def insert_user(conn: asyncpg.Connection, new: NewUser, duplicate: AuthError, failure: str) -> User:
    """Insert `new`; `duplicate` answers a taken email (or id), `failure` names a trigger failure."""
    provider = new.provider()
    app_metadata = {"provider": provider, "providers": [provider], **new.app_metadata}
    # user_metadata is what the caller sent; identity fields (sub, email) live on the identity.
    # Confirming at creation adds `email_verified`/`phone_verified: true`, as GoTrue's Confirm does.
    user_metadata = {
        **new.user_metadata,
        **({"email_verified": True} if new.email_confirmed else {}),
        **({"phone_verified": True} if new.phone_confirmed else {}),
    }
    try:
        row = await conn.fetchrow(
            Q["insert_user"],
            new.id,
            new.email,
            new.phone,
            new.password_hash,
            new.email_confirmed,
            new.phone_confirmed,
            new.confirmation_hash,
            new.role,
            app_metadata,
            user_metadata,
            new.invited,
            new.banned_until,
        )
    except asyncpg.UniqueViolationError as exc:
        if exc.schema_name == "auth" and exc.table_name == "users":
            if exc.constraint_name == "users_phone_key":
                raise unprocessable(
                    "phone_exists", "A user with this phone number has already been registered"
                ) from exc
            raise duplicate from exc
        log.warning(
            "user creation refused by a trigger", extra={"event": "auth.user_trigger_failed", "detail": str(exc)}
        )
        raise unexpected(failure) from exc
    except asyncpg.PostgresError as exc:
        log.exception("user creation failed", extra={"event": "auth.user_insert_failed"})
        raise unexpected(failure) from exc
    assert row is not None
    return User.from_row(row)
