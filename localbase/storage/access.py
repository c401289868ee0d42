"""Who a storage request runs as, and the two ways it reaches PostgreSQL.

The bearer JWT is verified by the REST layer's `Authenticator` (the one place the stack verifies
JWTs, so a change of algorithm or key set covers Storage too). `as_caller` opens a transaction on
the `authenticator` pool switched to the JWT's role with its claims, exactly as storage-api sets
them (role, request.jwt.claims, request.jwt.claim.sub/role, storage.operation), so the
storage.objects/storage.buckets policies decide. `as_admin` is the service's own privileged
transaction, for the steps storage-api runs as its superuser (bucket lookups, final writes,
public and signed reads). Both allow storage's own deletes (`storage.allow_delete_query`), and
both answer a 42501 (a policy's, or a trigger's that binds every writer) as storage-api does:
403 AccessDenied.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
import msgspec

from localbase.rest.errors import RestError
from localbase.rest.identity import Authenticator, Identity
from localbase.storage.errors import access_denied, invalid_request, rls_denied

_SETUP = (
    "select set_config('request.jwt.claims', $1, true), set_config('request.jwt.claim.sub', $2, true),"
    " set_config('request.jwt.claim.role', $3, true), set_config('storage.operation', $4, true),"
    " set_config('storage.allow_delete_query', 'true', true), set_config('role', $3, true)"
)
_ADMIN_SETUP = (
    "select set_config('storage.operation', $1, true), set_config('storage.allow_delete_query', 'true', true)"
)


@dataclass(frozen=True, slots=True)
class Caller:
    role: str
    claims_json: str
    sub: str | None

    @property
    def owner_uuid(self) -> str | None:
        """`sub` when it is a UUID (storage-api fills the deprecated `owner` column only then)."""
        if self.sub is None:
            return None
        try:
            return str(uuid.UUID(self.sub))
        except ValueError:
            return None


ANON_CLAIMS = '{"role": "anon"}'
_EXPIRED = '"exp" claim timestamp check failed'  # jose's words, as storage-api answers an expired JWT


class Access:
    def __init__(self, authenticator: Authenticator, api: asyncpg.Pool, admin: asyncpg.Pool) -> None:
        self.authenticator = authenticator
        self.api = api
        self.admin = admin

    def caller(self, token: str | None, *, optional: bool) -> Caller:
        """The verified caller; `optional` routes treat a missing or bad token as anon."""
        if token is None:
            if optional:
                return self.anon()
            raise invalid_request("headers must have required property 'authorization'")
        try:
            identity = self.authenticator.identify(token)
        except RestError as exc:
            if optional:
                return self.anon()
            raise access_denied(_EXPIRED if exc.code == "PGRST303" else exc.message) from exc
        caller, exp = _caller(identity)
        # storage-api verifies with jose and no clock tolerance: past `exp` is refused at once,
        # where the shared verifier allows REST's 30 s of skew.
        if exp is not None and exp <= time.time():
            if optional:
                return self.anon()
            raise access_denied(_EXPIRED)
        return caller

    def anon(self) -> Caller:
        return Caller("anon", ANON_CLAIMS, None)

    @asynccontextmanager
    async def as_caller(self, caller: Caller, operation: str) -> AsyncIterator[asyncpg.Connection]:
        async with self.api.acquire() as conn, conn.transaction():
            await conn.execute(_SETUP, caller.claims_json, caller.sub or "", caller.role, operation)
            try:
                yield conn
            except asyncpg.InsufficientPrivilegeError as exc:
                raise rls_denied() from exc

    @asynccontextmanager
    async def as_admin(self, operation: str) -> AsyncIterator[asyncpg.Connection]:
        async with self.admin.acquire() as conn, conn.transaction():
            await conn.execute(_ADMIN_SETUP, operation)
            try:
                yield conn
            except asyncpg.InsufficientPrivilegeError as exc:  # a trigger's refusal binds admin too
                raise rls_denied() from exc


class Rollback(Exception):
    """Raised inside `as_caller` to undo a permission probe after it succeeded."""


async def probe(access: Access, caller: Caller, operation: str, sql: str, *args: Any) -> None:
    """Run a write as the caller and roll it back: RLS's verdict without the write (canUpload)."""
    try:
        async with access.as_caller(caller, operation) as conn:
            await conn.execute(sql, *args)
            raise Rollback
    except Rollback:
        return


def _caller(identity: Identity) -> tuple[Caller, float | None]:
    """The caller and its token's `exp` (None without one)."""
    # The claims literal is the verified claims JSON, quoted for SQL; unquote it to read `sub`.
    claims_json = identity.claims_literal[1:-1].replace("''", "'")
    claims = msgspec.json.decode(claims_json)
    sub = claims.get("sub") if isinstance(claims, dict) else None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    caller = Caller(identity.role, claims_json, sub if isinstance(sub, str) and sub else None)
    return caller, float(exp) if isinstance(exp, int | float) and not isinstance(exp, bool) else None
