"""The gateway's one LISTEN connection, for every channel its services follow.

Realtime's change stream (`localbase_realtime`), the schema cache (`pgrst`) and Storage's byte
deletions (`storage_blob_deletions`) each used to LISTEN on a connection of its own. Postgres 15
wakes every backend that LISTENs in a database on each NOTIFY there, whatever its channels, so
each change a row made woke three backends where one reads it: two wake-ups for nothing, on the
first token's path (every question, answer row and write notifies) and in every burst. One
connection LISTENs on all of them here.

It also gives the three the same care when the connection is lost (Postgres restarted, the
backend killed): reconnect (0.1 s doubling to 2 s), LISTEN again, then tell each follower
through its `on_gap`, since what was notified meanwhile is gone. The schema cache and Storage had
no such care before: after a Postgres restart the gateway no longer heard `NOTIFY pgrst` until
it was restarted itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncpg

log = logging.getLogger(__name__)


def listener_name(pid: int) -> str:
    """How the LISTEN connection of gateway process `pid` shows in pg_stat_activity."""
    return f"localbase notifications (pid {pid})"


@dataclass(frozen=True)
class _Follower:
    on_notify: Callable[[str], None]
    on_gap: Callable[[], None]


class Notifications:
    def __init__(self, dsn: str, application_name: str | None = None) -> None:
        self._dsn = dsn
        self._application_name = application_name or listener_name(os.getpid())
        self._followers: dict[str, _Follower] = {}
        self._conn: asyncpg.Connection | None = None
        self._lost = asyncio.Event()
        self._keeper: asyncio.Task[None] | None = None
        self._connecting = asyncio.Lock()

    async def listen(self, channel: str, on_notify: Callable[[str], None], on_gap: Callable[[], None]) -> None:
        """Follow `channel` (one follower each): `on_notify(payload)` for each notification, in
        commit order; `on_gap()` once the connection was lost and made again. Both are called in
        the event loop and must not block; an exception in them is logged."""
        if channel in self._followers:
            raise ValueError(f"{channel} is followed already")
        self._followers[channel] = _Follower(on_notify, on_gap)
        try:
            async with self._connecting:
                if self._conn is None:
                    await self._connect()  # LISTENs on every channel followed so far, this one included
                    self._keeper = asyncio.create_task(self._keep())
                    return
                if self._lost.is_set():
                    return  # the keeper's reconnect LISTENs on it
                await self._conn.add_listener(channel, self._received)
        except BaseException:
            del self._followers[channel]  # not followed: a later listen() may try again
            raise

    async def close(self) -> None:
        if self._keeper is not None:
            self._keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keeper
        if self._conn is not None and not self._conn.is_closed():
            await self._conn.close()

    async def _connect(self) -> None:
        conn = await asyncpg.connect(self._dsn, server_settings={"application_name": self._application_name})
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _conn: lost.set())
        try:
            for channel in self._followers:
                await conn.add_listener(channel, self._received)
        except BaseException:
            conn.terminate()
            raise
        self._conn, self._lost = conn, lost

    def _received(self, _conn: Any, _pid: int, channel: str, payload: str) -> None:
        follower = self._followers.get(channel)
        if follower is None:
            return
        try:
            follower.on_notify(payload)
        except Exception:
            log.exception("a notification on %s was not taken", channel)

    async def _keep(self) -> None:
        """Whenever the connection drops: connect again, then tell every follower of the gap."""
        while True:
            await self._lost.wait()
            log.warning("the gateway's LISTEN connection was lost; reconnecting")
            delay = 0.1
            while True:
                try:
                    async with self._connecting:
                        await self._connect()
                    break
                except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 2.0)
            for channel, follower in list(self._followers.items()):
                try:
                    follower.on_gap()
                except Exception:
                    log.exception("telling the follower of %s of a gap failed", channel)
