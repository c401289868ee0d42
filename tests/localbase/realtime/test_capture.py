"""The change listener on its own, against the real database: what it does when a parked change
cannot be read, and when the LISTEN connection is lost between changes."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg

from localbase.notify import Notifications
from localbase.realtime.capture import CHANNEL, Batch, ChangeListener


async def test_a_parked_change_that_cannot_be_read_is_reported_as_a_gap_and_the_stream_goes_on(
    stack_db_dsn: str, pg: asyncpg.Connection
) -> None:
    batches: list[Batch] = []
    gaps: list[None] = []
    delivered = asyncio.Event()

    async def on_batch(batch: Batch) -> None:
        batches.append(batch)
        delivered.set()

    async def on_gap() -> None:
        gaps.append(None)

    pool = await asyncpg.create_pool(stack_db_dsn, min_size=1, max_size=1)
    notifications = Notifications(stack_db_dsn, "capture test")
    listener = ChangeListener(notifications, pool, on_batch, on_gap)
    await listener.start()
    try:
        await pool.close()  # the parked read below fails: the pool is closed
        await pg.execute("select pg_notify($1, $2)", CHANNEL, json.dumps({"k": "o", "id": 1}))
        change: dict[str, Any] = {"k": "i", "marker": "after the failed read"}
        await pg.execute("select pg_notify($1, $2)", CHANNEL, json.dumps(change))
        await asyncio.wait_for(delivered.wait(), 10)
        assert gaps == [None]
        assert batches == [[change]]
    finally:
        await listener.stop()
        await notifications.close()


async def test_a_lost_connection_is_a_gap_after_the_changes_heard_before_it_and_before_those_after(
    stack_db_dsn: str, pg: asyncpg.Connection
) -> None:
    events: list[Any] = []
    after, gap = asyncio.Event(), asyncio.Event()

    async def on_batch(batch: Batch) -> None:
        events.extend(change["marker"] for change in batch)
        if "after" in events:
            after.set()

    async def on_gap() -> None:
        events.append("gap")
        gap.set()

    pool = await asyncpg.create_pool(stack_db_dsn, min_size=1, max_size=1)
    notifications = Notifications(stack_db_dsn, "capture test")
    listener = ChangeListener(notifications, pool, on_batch, on_gap)
    await listener.start()
    try:
        await pg.execute("select pg_notify($1, $2)", CHANNEL, json.dumps({"k": "i", "marker": "before"}))
        kill = "select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'capture test'"
        assert await pg.fetchval(kill)
        await asyncio.wait_for(gap.wait(), 10)  # told once connected again
        await pg.execute("select pg_notify($1, $2)", CHANNEL, json.dumps({"k": "i", "marker": "after"}))
        await asyncio.wait_for(after.wait(), 10)
        assert events == ["before", "gap", "after"]
    finally:
        await listener.stop()
        await notifications.close()
        await pool.close()
