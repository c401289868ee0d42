"""The change fan-out shares work without sharing mistakes: sockets with equal bindings are matched
once, a run of changes is written to each socket in one piece, and still every channel gets exactly
its own changes, once, in commit order, under its own binding ids (realtime-py dispatches on them).

Changes reach a socket in commit order, so once every channel has the marker row committed last,
anything earlier meant for it is already there: that is how "once" is asserted without sleeps.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import pytest
from realtime import AsyncRealtimeClient
from realtime import RealtimePostgresChangesListenEvent as Change

from tests.conftest import LocalStack
from tests.localbase.realtime.conftest import eventually, subscribed

_MARKER = 100


@pytest.fixture
async def fanout_table(pg: asyncpg.Connection) -> AsyncIterator[str]:
    """A published table without RLS, dropped afterwards."""
    await pg.execute(
        "create table public.rt_fanout (id bigint primary key, body text);"
        "alter publication supabase_realtime add table public.rt_fanout"
    )
    try:
        yield "rt_fanout"
    finally:
        await pg.execute("drop table public.rt_fanout")


def _ids(got: list[Any]) -> list[tuple[str, int]]:
    return [(p["data"]["type"], p["data"]["record"]["id"]) for p in got]


async def test_equal_and_different_bindings_each_get_their_own_changes_once_in_order(
    stack: LocalStack,
    pg: asyncpg.Connection,
    fanout_table: str,
    realtime_client: Callable[..., AsyncRealtimeClient],
) -> None:
    same: list[list[Any]] = [[], [], []]
    for index, got in enumerate(same):  # three sockets, one group of equal bindings
        client = realtime_client(stack.service_role_key)
        await subscribed(
            client.channel(f"all-{index}").on_postgres_changes(Change.Insert, got.append, table=fanout_table)
        )
    # One socket, two channels: its frames for a run go out together, each under its own topic.
    shared = realtime_client(stack.service_role_key)
    filtered: list[Any] = []
    everything: list[Any] = []
    await subscribed(
        shared.channel("even").on_postgres_changes(
            Change.Insert, filtered.append, table=fanout_table, filter=f"id=in.(2,4,{_MARKER})"
        )
    )
    await subscribed(shared.channel("every").on_postgres_changes(Change.All, everything.append, table=fanout_table))
    updates: list[Any] = []
    watcher = realtime_client(stack.service_role_key)
    await subscribed(watcher.channel("updates").on_postgres_changes(Change.Update, updates.append, table=fanout_table))

    async with pg.transaction():  # one commit: the five inserts reach the server as one run
        await pg.execute("insert into public.rt_fanout select g, 'x' from generate_series(1, 5) g")
        await pg.execute("update public.rt_fanout set body = 'y' where id = 3")
    await pg.execute("insert into public.rt_fanout values ($1, 'marker')", _MARKER)
    await pg.execute("update public.rt_fanout set body = 'marker' where id = $1", _MARKER)

    def marked(got: list[Any], event: str) -> bool:
        return (event, _MARKER) in _ids(got)

    def all_marked() -> bool:
        inserted = all(marked(got, "INSERT") for got in [*same, filtered])
        return inserted and marked(everything, "UPDATE") and marked(updates, "UPDATE")

    await eventually(all_marked, what="the marker row's insert and update")
    inserts = [("INSERT", n) for n in (1, 2, 3, 4, 5, _MARKER)]
    for got in same:
        assert _ids(got) == inserts
    assert _ids(filtered) == [("INSERT", 2), ("INSERT", 4), ("INSERT", _MARKER)]
    assert _ids(everything) == [*inserts[:5], ("UPDATE", 3), ("INSERT", _MARKER), ("UPDATE", _MARKER)]
    assert _ids(updates) == [("UPDATE", 3), ("UPDATE", _MARKER)]
    assert all(p["data"]["table"] == fanout_table for got in [*same, filtered, everything, updates] for p in got)
