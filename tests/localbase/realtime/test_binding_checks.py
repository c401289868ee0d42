"""A postgres_changes binding is checked against its table as its subscriber's role reads it, as
Realtime's realtime.subscription_check_filters checks a subscription when it stores it: a filter or
select naming a column the role may not SELECT (or none at all), a value that is not of the
column's type, `is` on a non-boolean, a pattern on a column without the operator. Each is the
`system` error realtime-py turns into CHANNEL_ERROR, where the gateway used to say "Subscribed to
PostgreSQL" and then never match (a typo'd column), or let a filter test a column the subscriber
cannot read. A refreshed token has them checked again with its role, as Realtime stores them again."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import pytest
import websockets
from realtime import AsyncRealtimeClient
from realtime import RealtimePostgresChangesListenEvent as Change

from localbase.realtime.catalog import Catalog
from tests.localbase.realtime.conftest import RealtimeUser, eventually, mint, ws_url


@pytest.fixture
async def hidden(pg: asyncpg.Connection) -> AsyncIterator[None]:
    """A published table whose `secret` column authenticated may not SELECT."""
    await pg.execute(
        "create table public.rt_hidden (id int primary key, secret text, shown text);"
        "revoke select on public.rt_hidden from authenticated;"  # the default privileges grant it all
        "grant select (id, shown) on public.rt_hidden to authenticated;"
        "alter publication supabase_realtime add table public.rt_hidden"
    )
    yield
    await pg.execute("drop table public.rt_hidden")


async def _states(
    client: AsyncRealtimeClient, name: str, table: str, heard: Callable[[Any], None] = lambda _: None, **binding: Any
) -> list[tuple[str, str]]:
    """The channel's states once the system message came: SUBSCRIBED, then CHANNEL_ERROR (with the
    reason) if its binding was refused."""
    system: list[Any] = []
    states: list[tuple[str, str]] = []
    channel = client.channel(name)
    channel.on_system(system.append)
    channel.on_postgres_changes(Change.All, heard, table=table, schema="public", **binding)
    await channel.subscribe(lambda state, error: states.append((state.value, _reason(error))))
    await eventually(lambda: bool(system) or len(states) > 1, what=f"{name}'s system message")
    return states


def _reason(error: Exception | None) -> str:
    """The system message's text (realtime-py hands the payload over as JSON in an exception)."""
    try:
        return str(json.loads(str(error))["message"])
    except (ValueError, KeyError, TypeError):
        return str(error)


@pytest.mark.parametrize(
    ("binding", "why"),
    [
        ({"filter": "sesion_id=eq.x"}, "invalid column for filter sesion_id"),
        ({"filter": "session_id=eq.not-a-uuid"}, 'invalid input syntax for type uuid: "not-a-uuid"'),
        ({"filter": "attempts=in.(1,two)"}, 'invalid input syntax for type integer: "two"'),
        ({"filter": "message_type=eq.robot"}, 'invalid input value for enum message_type: "robot"'),
        ({"filter": "content=is.true"}, "is true filter requires a boolean column, got text"),
        ({"filter": "attempts=like.1%"}, "operator like requires a text-compatible column type, got integer"),
        ({"filter": "role_id=match.^a"}, "operator match requires a text-compatible column type, got character"),
        ({"select": ["id", "contnt"]}, "invalid column for select contnt"),
    ],
)
async def test_a_binding_its_table_cannot_take_is_refused(
    alice: RealtimeUser, realtime_client: Callable[..., AsyncRealtimeClient], binding: dict[str, Any], why: str
) -> None:
    states = await _states(realtime_client(alice.access_token), "bad-binding", "chat_messages", **binding)
    assert [state for state, _ in states] == ["SUBSCRIBED", "CHANNEL_ERROR"]
    assert "Unable to subscribe to changes with given parameters" in states[1][1]
    assert why in states[1][1]


async def test_a_column_the_subscriber_may_not_read_is_neither_filtered_nor_selected(
    hidden: None, alice: RealtimeUser, realtime_client: Callable[..., AsyncRealtimeClient]
) -> None:
    client = realtime_client(alice.access_token)
    refused = await _states(client, "hidden-filter", "rt_hidden", filter="secret=eq.x")
    assert [state for state, _ in refused] == ["SUBSCRIBED", "CHANNEL_ERROR"]
    assert "invalid column for filter secret" in refused[1][1]
    refused = await _states(client, "hidden-select", "rt_hidden", select=["id", "secret"])
    assert "invalid column for select secret" in refused[-1][1]
    allowed = await _states(client, "shown-filter", "rt_hidden", filter="shown=eq.x,id=in.(1,2)", select=["shown"])
    assert [state for state, _ in allowed] == ["SUBSCRIBED"]


async def test_a_select_on_a_wildcard_subscription_is_refused(
    alice: RealtimeUser, realtime_client: Callable[..., AsyncRealtimeClient]
) -> None:
    states = await _states(realtime_client(alice.access_token), "wild-select", "*", select=["id"])
    assert [state for state, _ in states] == ["SUBSCRIBED", "CHANNEL_ERROR"]
    assert "Column selection is not supported for wildcard subscriptions" in states[1][1]


def _recorder(got: list[tuple[str, str]]) -> Callable[[Any, Exception | None], None]:
    """A subscribe callback appending each state with its reason to `got`."""
    return lambda state, error: got.append((state.value, _reason(error)))


async def test_a_refreshed_token_has_the_bindings_checked_again_with_its_role(
    hidden: None,
    stack: Any,
    pg: asyncpg.Connection,
    alice: RealtimeUser,
    realtime_client: Callable[..., AsyncRealtimeClient],
) -> None:
    # Realtime stores the subscriptions again with the new claims after an `access_token` (its
    # handle_in re-runs postgres_subscribe): "Subscribed to PostgreSQL" again, or the check's error.
    # The gateway checked at join only, so a token whose role may not read a filter's column went on
    # testing that column for it.
    client = realtime_client(mint(stack, {"role": "service_role", "exp": int(time.time()) + 3600}))
    heard: dict[str, list[Any]] = {"secret": [], "shown": []}
    system: dict[str, list[Any]] = {"secret": [], "shown": []}
    states: dict[str, list[tuple[str, str]]] = {"secret": [], "shown": []}
    for column, value in (("secret", "x"), ("shown", "y")):
        channel = client.channel(f"refresh-{column}")
        channel.on_system(system[column].append)
        channel.on_postgres_changes(
            Change.Insert, heard[column].append, table="rt_hidden", schema="public", filter=f"{column}=eq.{value}"
        )
        await channel.subscribe(_recorder(states[column]))
    await eventually(lambda: all(system.values()), what="both bindings subscribed")
    await client.set_auth(alice.access_token)  # authenticated may not read `secret`
    await eventually(lambda: len(system["shown"]) > 1, what="the allowed binding subscribed again")
    assert system["shown"][1].message == "Subscribed to PostgreSQL"
    await eventually(lambda: len(states["secret"]) > 1, what="the refused binding's error")
    assert states["secret"][1][0] == "CHANNEL_ERROR"
    assert "invalid column for filter secret" in states["secret"][1][1]
    await pg.execute("insert into public.rt_hidden values (1, 'x', 'y')")
    await eventually(lambda: bool(heard["shown"]), what="the change the allowed binding matches")
    assert heard["secret"] == [], states


@pytest.fixture
async def gated(pg: asyncpg.Connection) -> AsyncIterator[None]:
    """A published table whose `gate` column is of a domain that, for the value `wait`, waits on
    advisory lock 4242: a join's check of a filter naming `wait` holds while a test holds that lock
    (a row whose gate is not `wait` is written without waiting). authenticated may not read `secret`."""
    await pg.execute(
        "create function public.rt_gate_ok(v text) returns boolean language plpgsql as $$"
        " begin if v = 'wait' then perform pg_advisory_xact_lock_shared(4242); end if; return true; end $$;"
        "create domain public.rt_gate as text check (public.rt_gate_ok(value));"
        "create table public.rt_gated (id int primary key, gate public.rt_gate, secret text, shown text);"
        "revoke select on public.rt_gated from authenticated;"
        "grant select (id, gate, shown) on public.rt_gated to authenticated;"
        "alter publication supabase_realtime add table public.rt_gated"
    )
    yield
    await pg.execute("drop table public.rt_gated; drop domain public.rt_gate; drop function public.rt_gate_ok(text)")


async def test_a_channel_closed_while_a_refreshed_token_is_checked_stays_closed(
    gated: None, stack: Any, pg: asyncpg.Connection
) -> None:
    # The old token expiring while the new one's check ran closed the channel, and then the refresh
    # registered it again: a topic the client was told is closed went on receiving its changes.
    url = f"{ws_url(stack.url)}/websocket?apikey={stack.anon_key}&vsn=2.0.0"
    frames: list[list[Any]] = []

    async def until(ws: Any, wanted: Callable[[list[Any]], bool]) -> list[Any]:
        while True:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 15))
            frames.append(frame)
            if wanted(frame):
                return list(frame)

    def service_token(seconds: int, **extra: Any) -> str:
        return mint(stack, {"role": "service_role", "exp": int(time.time()) + seconds, **extra})

    def binding(condition: str | None) -> dict[str, Any]:
        spec = {"event": "INSERT", "schema": "public", "table": "rt_gated"}
        return {"config": {"postgres_changes": [{**spec, "filter": condition} if condition else spec]}}

    async with websockets.connect(url) as ws:
        for ref in range(100):  # until the gateway has heard rt_gated is published (see _published_states)
            await ws.send(json.dumps([str(ref), str(ref), "realtime:control", "phx_join", binding(None)]))
            joined = await until(ws, lambda f: f[2] == "realtime:control" and f[3] == "system")
            if joined[4]["status"] == "ok":
                break
        gated_join = {**binding("gate=in.(wait,x)"), "access_token": service_token(3)}
        await ws.send(json.dumps(["j", "j", "realtime:gated", "phx_join", gated_join]))
        subscribed = await until(ws, lambda f: f[2] == "realtime:gated" and f[3] == "system")
        assert subscribed[4]["status"] == "ok", subscribed
        await pg.execute("select pg_advisory_lock(4242)")
        try:
            fresh = service_token(3600, refreshed=True)
            await ws.send(json.dumps(["j", "r", "realtime:gated", "access_token", {"access_token": fresh}]))
            await until(ws, lambda f: f[2] == "realtime:gated" and f[3] == "phx_close")  # the old token expired
        finally:
            await pg.execute("select pg_advisory_unlock(4242)")
        closed = len(frames)
        await ws.send(json.dumps([None, "4", "phoenix", "heartbeat", {}]))  # answered once the refresh is done
        await until(ws, lambda f: f[1] == "4")
        await pg.execute("insert into public.rt_gated values (1, 'x', 's', 'y')")
        await until(ws, lambda f: f[2] == "realtime:control" and f[3] == "postgres_changes")
    assert [f for f in frames[closed:] if f[2] == "realtime:gated"] == []


_MOODS = (
    "create type public.rt_mood as enum ('happy', 'sad');"
    "create table public.rt_moods (id int primary key, mood public.rt_mood);"
    "alter publication supabase_realtime add table public.rt_moods"
)


async def test_a_type_made_again_is_checked_as_the_new_type(
    pg: asyncpg.Connection, alice: RealtimeUser, realtime_client: Callable[..., AsyncRealtimeClient]
) -> None:
    # The check's cast was a cached prepared statement, which holds the type's OID: once the type was
    # dropped and made again (a migration, a reset) every binding filtering on it was refused with
    # "cache lookup failed for type" until the gateway restarted.
    await pg.execute(_MOODS)
    try:
        client = realtime_client(alice.access_token)
        assert await _published_states(client, "mood-0", "rt_moods", filter="mood=eq.happy") == [("SUBSCRIBED", "None")]
        await pg.execute("drop table public.rt_moods; drop type public.rt_mood;" + _MOODS)
        for attempt in range(1, 4):
            states = await _published_states(client, f"mood-{attempt}", "rt_moods", filter="mood=eq.happy")
            assert states == [("SUBSCRIBED", "None")], states
    finally:
        await pg.execute("drop table if exists public.rt_moods; drop type if exists public.rt_mood")


async def _published_states(
    client: AsyncRealtimeClient, name: str, table: str, heard: Callable[[Any], None] = lambda _: None, **binding: Any
) -> list[tuple[str, str]]:
    """`_states` once the gateway has heard `table` is published (it hears the DDL after it
    commits, in order with the changes: a join just before is "not enabled")."""
    for attempt in range(100):
        states = await _states(client, f"{name}-{attempt}", table, heard, **binding)
        if "Please check Realtime is enabled" not in states[-1][1]:
            return states
    raise AssertionError(f"{table} was never published to the gateway")


async def test_a_binding_matches_no_change_before_its_check_has_passed(
    gated: None, pg: asyncpg.Connection, alice: RealtimeUser, realtime_client: Callable[..., AsyncRealtimeClient]
) -> None:
    # The gateway registered a join's bindings, then checked them against their tables, so a change
    # written while the check ran reached a binding about to be refused (here one filtering on a
    # column its subscriber may not read). Realtime matches a subscription once it is stored, and it
    # is stored only if it passes.
    client = realtime_client(alice.access_token)
    control: list[Any] = []
    subscribed = await _published_states(client, "gated-control", "rt_gated", control.append, filter="shown=eq.y")
    assert subscribed == [("SUBSCRIBED", "None")], subscribed
    heard: list[Any] = []
    states: list[tuple[str, str]] = []
    await pg.execute("select pg_advisory_lock(4242)")
    try:
        channel = client.channel("gated-refused")
        channel.on_postgres_changes(
            Change.Insert, heard.append, table="rt_gated", schema="public", filter="gate=in.(wait,x),secret=eq.s"
        )
        await channel.subscribe(_recorder(states))
        waiting = "select exists (select 1 from pg_locks where locktype = 'advisory' and objid = 4242 and not granted)"
        for _ in range(1000):
            if await pg.fetchval(waiting):
                break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError("the join's check never reached the gate")
        await pg.execute("insert into public.rt_gated values (1, 'x', 's', 'y')")
        await eventually(lambda: bool(control), what="the change, fanned out to the socket's bindings")
    finally:
        await pg.execute("select pg_advisory_unlock(4242)")
    await eventually(lambda: len(states) > 1, what="the refused binding's error")
    assert states[1][0] == "CHANNEL_ERROR"
    assert "invalid column for filter secret" in states[1][1]
    assert heard == []


async def test_a_table_published_since_the_cache_was_read_is_published(stack: Any, pg: asyncpg.Connection) -> None:
    """A join can come before the gateway reads the DDL notification of the table's addition to
    the publication (they travel apart): the publication is read again before a binding is refused
    as on a table not published. A fresh-clone run of the test above failed on that race."""
    pool = await asyncpg.create_pool(stack.dsn, min_size=1, max_size=1)
    try:
        catalog = Catalog(pool)
        await pg.execute("create table public.rt_late (id int primary key)")
        try:
            await catalog.refresh()  # the cache as it was before the table was published
            assert ("public", "rt_late") not in catalog.published
            await pg.execute("alter publication supabase_realtime add table public.rt_late")
            assert await catalog.is_published("public", "rt_late")
            assert not await catalog.is_published("public", "rt_never")
        finally:
            await pg.execute("drop table public.rt_late")
    finally:
        await pool.close()
