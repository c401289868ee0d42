"""The gateway's one LISTEN connection (localbase/notify.py), through the real stack: realtime,
the schema cache and Storage follow their channels on it; when its backend dies, the gateway
connects again, the schema cache reloads what it may have missed meanwhile and hears `NOTIFY
pgrst` again (its own listening connection used to stay dead until the gateway restarted)."""

from __future__ import annotations

import asyncio
import time
import uuid

import asyncpg
import httpx

from localbase.notify import listener_name
from tests.conftest import LocalStack

_LISTENER = "select pid from pg_stat_activity where datname = current_database() and application_name = $1"


async def listener(
    stack: LocalStack, db: asyncpg.Connection, other_than: int | None = None, within: float = 10.0
) -> int:
    """The backend LISTENing for the stack's gateway (once it is not `other_than`)."""
    assert stack.process is not None
    deadline = time.monotonic() + within
    while True:
        pids = [row["pid"] for row in await db.fetch(_LISTENER, listener_name(stack.process.pid))]
        if len(pids) == 1 and pids[0] != other_than:
            return int(pids[0])
        assert time.monotonic() < deadline, f"listening backends: {pids}"
        await asyncio.sleep(0.05)


async def served(stack: LocalStack, table: str, within: float = 10.0) -> None:
    """Until REST answers 200 for `table`."""
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(headers={"apikey": stack.service_role_key}, timeout=10) as http:
        while True:
            response = await http.get(f"{stack.url}/rest/v1/{table}?select=id")
            if response.status_code == 200:
                return
            assert time.monotonic() < deadline, f"{table}: {response.status_code} {response.text}"
            await asyncio.sleep(0.05)


async def new_table(db: asyncpg.Connection, notify: bool) -> str:
    name = f"notify_probe_{uuid.uuid4().hex[:8]}"
    await db.execute(f"create table public.{name} (id int primary key); grant select on public.{name} to service_role")
    if notify:
        await db.execute("notify pgrst, 'reload schema'")
    return name


async def test_one_backend_listens_and_after_it_dies_the_schema_cache_catches_up_and_hears_again(
    stack: LocalStack, pg: asyncpg.Connection
) -> None:
    before = await listener(stack, pg)
    missed = await new_table(pg, notify=False)  # made without a reload: only a reload on the gap finds it
    assert await pg.fetchval("select pg_terminate_backend($1)", before)
    await listener(stack, pg, other_than=before)
    tables = [missed]
    try:
        await served(stack, missed)
        heard = await new_table(pg, notify=True)
        tables.append(heard)
        await served(stack, heard)
    finally:
        for name in tables:
            await pg.execute(f"drop table public.{name}")
        await pg.execute("notify pgrst, 'reload schema'")
