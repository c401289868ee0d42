"""The data lifecycle jobs: archive idle sessions, delete long-archived ones, forget old security
events, delete uploads no message lists, delete guests who never signed up and went quiet. Each
calls its SQL function (service_role only) in bounded batches until a batch comes back short, so no
single statement locks many rows and a run can be interrupted at any point.
"""

from __future__ import annotations

from typing import Any

from postgrest import AsyncPostgrestClient


async def _batches(rest: AsyncPostgrestClient, function: str, params: dict[str, Any], batch: int) -> int:
    total = 0
    while True:
        response = await rest.rpc(function, params).execute()
        done = response.data if isinstance(response.data, int) else 0
        total += done
        if done < batch:
            return total


async def archive_sessions(rest: AsyncPostgrestClient, older_than: float, batch: int) -> int:
    """Archive sessions whose last message is older than `older_than` seconds; how many."""
    params = {"older_than_seconds": older_than, "max_sessions": batch}
    return await _batches(rest, "archive_sessions", params, batch)


async def delete_archived_sessions(rest: AsyncPostgrestClient, archived_for: float, batch: int) -> int:
    """Delete sessions archived more than `archived_for` seconds ago, with their messages; how many."""
    params = {"archived_for_seconds": archived_for, "max_sessions": batch}
    return await _batches(rest, "delete_archived_sessions", params, batch)


async def purge_security_events(rest: AsyncPostgrestClient, older_than: float, batch: int) -> int:
    """Forget security events older than `older_than` seconds; how many."""
    params = {"older_than_seconds": older_than, "max_rows": batch}
    return await _batches(rest, "purge_security_events", params, batch)


async def sweep_stray_uploads(rest: AsyncPostgrestClient, older_than: float, batch: int) -> int:
    """Delete attachments uploaded more than `older_than` seconds ago that no message of their
    owner lists (attached in the composer, never sent); how many."""
    params = {"older_than_seconds": older_than, "max_objects": batch}
    return await _batches(rest, "sweep_stray_attachments", params, batch)


async def delete_stale_guests(rest: AsyncPostgrestClient, idle_for: float, batch: int) -> int:
    """Delete anonymous users (guests who never signed up) with no sign-in, refresh or message for
    `idle_for` seconds, with everything they had; how many."""
    params = {"idle_seconds": idle_for, "max_users": batch}
    return await _batches(rest, "delete_stale_guests", params, batch)
