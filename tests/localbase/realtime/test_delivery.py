"""Nothing lost: a burst of 10,000 inserts arrives in commit order; big rows arrive intact;
after a server restart clients reconnect, resubscribe and get later changes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import pytest
from realtime import AsyncRealtimeClient
from realtime import RealtimePostgresChangesListenEvent as Change

from tests.conftest import LocalStack, launch_stack
from tests.localbase.realtime.conftest import eventually, subscribed, ws_url


@pytest.fixture
async def burst_table(pg: asyncpg.Connection) -> AsyncIterator[str]:
    """A published table without RLS, dropped afterwards."""
    await pg.execute(
        "create table public.rt_burst (id bigint primary key, body text);"
        "alter publication supabase_realtime add table public.rt_burst"
    )
    try:
        yield "rt_burst"
    finally:
        await pg.execute("drop table public.rt_burst")


async def test_burst_of_ten_thousand_inserts_arrives_in_commit_order(
    stack: LocalStack,
    pg: asyncpg.Connection,
    burst_table: str,
    realtime_client: Callable[..., AsyncRealtimeClient],
) -> None:
    client = realtime_client(stack.service_role_key)
    got: list[Any] = []
    await subscribed(client.channel("burst").on_postgres_changes(Change.Insert, got.append, table=burst_table))

    next_id = 0
    for _ in range(50):  # 50 transactions of multi-row statements, 200 rows each
        async with pg.transaction():
            for _ in range(4):
                await pg.execute(
                    "insert into public.rt_burst (id, body) "
                    "select g, 'x' from generate_series($1::bigint, $2::bigint) g",
                    next_id,
                    next_id + 49,
                )
                next_id += 50
    await eventually(lambda: len(got) >= 10_000, within=60, what=f"10,000 inserts (got {len(got)})")
    assert [p["data"]["record"]["id"] for p in got] == list(range(10_000))

    big = "y" * 100_000
    await pg.execute("insert into public.rt_burst (id, body) values (-1, $1)", big)
    await eventually(lambda: len(got) == 10_001, within=30, what="the 100 KB row")
    assert got[-1]["data"]["record"]["body"] == big


async def test_clients_resubscribe_after_server_restart(
    stack: LocalStack,
    pg: asyncpg.Connection,
    burst_table: str,
    realtime_client: Callable[..., AsyncRealtimeClient],
) -> None:
    client = realtime_client(stack.service_role_key, initial_backoff=0.2, max_retries=20)
    got: list[Any] = []
    system: list[Any] = []
    channel = client.channel("survivor").on_postgres_changes(Change.Insert, got.append, table=burst_table)
    await subscribed(channel)
    channel.on_system(system.append)
    stack.restart()
    await eventually(lambda: channel.is_joined and len(system) >= 1, within=30, what="the rejoin after restart")
    await pg.execute("insert into public.rt_burst (id, body) values (1, 'after restart')")
    await eventually(lambda: bool(got), what="a change after the restart")
    assert got[0]["data"]["record"]["body"] == "after restart"


async def test_a_big_row_reaches_subscribers_of_every_gateway_on_the_database(
    stack: LocalStack,
    pg: asyncpg.Connection,
    burst_table: str,
    realtime_client: Callable[..., AsyncRealtimeClient],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Two gateways on one database both hear a parked (over-8000-byte) change: neither may take
    the payload away from the other."""
    second = launch_stack(stack.dsn, tmp_path_factory)
    other: AsyncRealtimeClient | None = None
    try:
        other = AsyncRealtimeClient(ws_url(second.url), second.service_role_key)
        got_first: list[Any] = []
        got_second: list[Any] = []
        await subscribed(
            realtime_client(stack.service_role_key)
            .channel("big-1")
            .on_postgres_changes(Change.Insert, got_first.append, table=burst_table)
        )
        await subscribed(
            other.channel("big-2").on_postgres_changes(Change.Insert, got_second.append, table=burst_table)
        )

        big = "z" * 50_000
        await pg.execute("insert into public.rt_burst (id, body) values (-2, $1)", big)
        await eventually(lambda: len(got_first) == 1 and len(got_second) == 1, what="the big row at both gateways")
        assert got_first[0]["data"]["record"]["body"] == got_second[0]["data"]["record"]["body"] == big
    finally:
        if other is not None:
            await other.close()
        second.stop()
