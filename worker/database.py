"""The worker's door to Postgres: its SQL functions (claim, flush, sweep, titles) and the models
list, called on a small asyncpg pool as `service_role`, the role the service_role key gives it
through the REST API, and nothing more.

Why not PostgREST RPCs: a claim is on the critical path of every first token, and going through
the REST layer cost one HTTP round trip plus PostgREST's argument and result wrapping on every call
(measured on the local stack at 50 conversations: ~1.8 ms of Postgres CPU per claim for the
wrapping alone, ~2 ms of gateway CPU per turn, and the largest hop of the added latency). Here each
call is one prepared statement in one round trip.

Connecting: WORKER_DATABASE_URL logs in as a role that may become `service_role` (the local stack's
and Supabase's `authenticator`, or Supabase's `postgres`), directly or through Supavisor's *session*
mode (port 5432): the role is a startup parameter, so it is the session's default (even a RESET
keeps it); transaction mode (6543) does not keep it. Every connection that did not become
`service_role` is refused before its first use, so a worker on such a login does not start.

Guarantees: every statement runs as `service_role`, one statement per call (so each is its own
transaction, as each RPC was), and no call leaves session state behind, so connections go back to
the pool without a reset. A lost connection surfaces as an exception to the caller, which retries
(dispatch.py, writer.py, sweep.py); the pool replaces the connection.
"""

from __future__ import annotations

from typing import Any, NamedTuple, cast

import asyncpg
import msgspec

from worker.histories import Walked

ROLE = "service_role"

# A claim row as the worker reads it (worker_claim's and worker_claim_contexts' columns), the
# message ids as text: a claim round's histories are then lists of strings only, which the cyclic
# collector never looks at (as uuid objects, each id was one more for every young collection).
CLAIM_COLUMNS = "claim::text, ids::text[], types, contents, depths, files"
_CLAIM = f"select {CLAIM_COLUMNS} from public.worker_claim($1::uuid[], $2, $3, $4, $5, $6::uuid[], $7::bigint[])"
_FLUSH = "select id::text, cancel_requested, length, tokens_used from public.worker_flush($1, $2, $3::jsonb)"
_SWEEP = "select public.worker_sweep($1, $2)::text"
_TITLE_NEEDED = "select public.worker_title_needed($1::uuid)"
_SET_TITLE = "select public.worker_set_title($1::uuid, $2)"
_CHARGE_TITLE = "select public.worker_charge_title($1::uuid, $2, $3, $4, $5)"
_MODELS = (
    "select id, context_window, max_input, max_output, supports_thinking, supports_vision, supports_search,"
    " multimodal_endpoint, max_reasoning from public.models where is_active"
)


class Flushed(NamedTuple):
    """A row the flush wrote, still held or (a finish) ended by it."""

    cancel_requested: bool
    length: int | None = None  # a finish's: the row's text as it ended (a retake's kept text included)
    tokens_used: int | None = None  # a finish's: what the row ended charging


class WrongDatabaseRole(RuntimeError):
    """The worker's connection did not become service_role; it will not start with it."""


class WorkerDatabase:
    def __init__(self, dsn: str, size: int) -> None:
        self._dsn = dsn
        self._size = size
        self._pool: asyncpg.Pool | None = None

    async def start(self) -> None:
        """Opens every connection now and keeps them (a connection lost is replaced in the
        background, asyncpg's floor), each made ready by `_ready` before its first use."""
        self._pool = await asyncpg.create_pool(
            self._dsn,
            min_size=self._size,
            max_size=self._size,
            init=_ready,
            reset=_no_reset,
            server_settings={"role": ROLE, "application_name": "chatgalaxy-worker"},
        )

    def _db(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("WorkerDatabase.start() has not run")
        return self._pool

    async def claim(
        self,
        message_ids: list[str],
        worker: str,
        lease_seconds: float,
        max_attempts: int,
        history_limit: int,
        *,
        tips: list[str | None],
        epochs: list[int | None],
    ) -> list[dict[str, Any]]:
        """`tips[i]`, `epochs[i]`: the history kept for `message_ids[i]`'s session, or None."""
        rows = await self._db().fetch(
            _CLAIM, message_ids, worker, lease_seconds, max_attempts, history_limit, tips, epochs
        )
        return [claim_row(row) for row in rows]

    async def flush(self, worker: str, lease_seconds: float, updates: list[dict[str, Any]]) -> dict[str, Flushed]:
        """The rows `worker` still holds after the writes, and those its finishes ended, by id."""
        rows = await self._db().fetch(_FLUSH, worker, lease_seconds, msgspec.json.encode(updates).decode())
        return {row[0]: Flushed(bool(row[1]), row[2], row[3]) for row in rows}

    async def sweep(self, lookback_seconds: float, max_results: int) -> list[str]:
        rows = await self._db().fetch(_SWEEP, lookback_seconds, max_results)
        return [row[0] for row in rows]

    async def title_needed(self, session_id: str) -> bool:
        return bool(await self._db().fetchval(_TITLE_NEEDED, session_id))

    async def set_title(self, session_id: str, title: str) -> bool:
        return bool(await self._db().fetchval(_SET_TITLE, session_id, title))

    async def charge_title(
        self, session_id: str, model: str, input_tokens: int, output_tokens: int, reasoning_tokens: int | None
    ) -> bool:
        """Charge a title call's usage to the session's owner (once per session; False when not)."""
        return bool(
            await self._db().fetchval(_CHARGE_TITLE, session_id, model, input_tokens, output_tokens, reasoning_tokens)
        )

    async def models(self) -> list[dict[str, Any]]:
        return [dict(row) for row in await self._db().fetch(_MODELS)]

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


def claim_row(row: asyncpg.Record) -> dict[str, Any]:
    """A row of `worker_claim` (or `worker_claim_contexts`), its claim as text: the claim its JSON
    says, with its `history` (worker/histories.py)."""
    return {**cast(dict[str, Any], msgspec.json.decode(row[0])), "history": Walked(*row[1:6])}


async def _ready(conn: asyncpg.Connection) -> None:
    """A new connection, before any use: it must act as service_role, and the claim and the flush
    run once with nothing to do. Postgres compiles the two functions and plans their statements, and
    asyncpg prepares both statements, here rather than inside the turn that first uses the
    connection: that turn's claim and flush took ~35-45 ms on a cold connection against ~7 on a
    ready one and ~4.5 warm (bench: a pool grown on demand reached for new connections mid-run at
    50 and 200 conversations, each such claim one more sample in the tail)."""
    role = await conn.fetchval("select current_user")
    if role != ROLE:
        raise WrongDatabaseRole(f"WORKER_DATABASE_URL acts as {role!r}, not {ROLE!r}")
    await conn.fetch(_CLAIM, [], "", 0.0, 0, 0, [], [])
    await conn.fetch(_FLUSH, "", 0.0, "[]")


async def _no_reset(conn: asyncpg.Connection) -> None:
    """Each call is one statement that leaves no session state behind (no SET, LISTEN or advisory
    lock; the functions' own `search_path` ends with them), so a connection needs no reset on its
    way back to the pool: asyncpg's default reset is one more round trip after every call, paid
    before the caller gets its result (a claim's, on the first token's path)."""
