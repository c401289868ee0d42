"""postgres_changes filters with patterns (like, ilike, match, imatch): they match as Postgres would,
a pattern that does not compile is refused, and no subscriber's pattern can stall the fan-out of
everyone's changes: with Python's `re` a `like` of six `%a` over a 3,000-character message held the
gateway for over a minute (other handshakes timed out), since a pattern runs against every change of the
table before RLS decides who sees it."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import asyncpg
from realtime import AsyncRealtimeClient
from realtime import RealtimePostgresChangesListenEvent as Change

from tests.localbase.realtime.conftest import RealtimeUser, eventually, new_session, subscribed

_INSERT = "insert into chat_messages (session_id, content) values ($1, $2) returning id"


async def test_a_slow_pattern_does_not_hold_up_anyone_and_patterns_match_as_postgres(
    pg: asyncpg.Connection,
    alice: RealtimeUser,
    bob: RealtimeUser,
    realtime_client: Callable[..., AsyncRealtimeClient],
) -> None:
    slow: list[Any] = []
    evil = realtime_client(bob.access_token).channel("slow-pattern")
    for pattern in ("like.%a%a%a%a%a%a%b", "match.^(a|a)*(a|a)*(a|a)*b$"):
        evil.on_postgres_changes(
            Change.All, slow.append, table="chat_messages", schema="public", filter=f"content={pattern}"
        )
    await subscribed(evil)
    got: dict[str, list[Any]] = {"all": [], "like": [], "imatch": []}
    good = realtime_client(alice.access_token).channel("patterns")
    for name, condition in (
        ("all", None),
        ("like", "content=like.first%line"),
        ("imatch", "content=imatch.^FIRST.+LINE$"),
    ):
        good.on_postgres_changes(
            Change.Insert, got[name].append, table="chat_messages", schema="public", filter=condition
        )
    await subscribed(good)
    session = await new_session(pg, alice.id)

    started = time.monotonic()
    await pg.fetchval(_INSERT, session, "a" * 3000)
    await eventually(lambda: len(got["all"]) == 1, within=10, what="a change behind the slow patterns")
    assert time.monotonic() - started < 5  # the old fan-out took minutes; this is ~30 ms

    # `%` and `.` match line breaks, as in Postgres; each binding gets only what it matches.
    await pg.fetchval(_INSERT, session, "first\nline")
    await pg.fetchval(_INSERT, session, "no match")
    await eventually(lambda: len(got["all"]) == 3, what="the other two changes")
    assert [p["data"]["record"]["content"] for p in got["like"]] == ["first\nline"]
    assert [p["data"]["record"]["content"] for p in got["imatch"]] == ["first\nline"]
    assert slow == []  # bob's own patterns never see alice's rows, slow or not


async def test_a_pattern_that_does_not_compile_is_a_binding_error(
    alice: RealtimeUser, realtime_client: Callable[..., AsyncRealtimeClient]
) -> None:
    # Once an exception in the gateway's join that closed the socket with 1011.
    channel = realtime_client(alice.access_token).channel("bad-pattern")
    channel.on_postgres_changes(
        Change.All, lambda _: None, table="chat_messages", schema="public", filter="content=match.("
    )
    states: list[Any] = []
    await channel.subscribe(lambda state, error: states.append((state, error)))
    await eventually(lambda: len(states) > 1, what="the system message's error")
    assert [state.value for state, _ in states[:2]] == ["SUBSCRIBED", "CHANNEL_ERROR"]
    assert "Unable to subscribe to changes" in str(states[1][1])


async def _bindings_state(client: AsyncRealtimeClient, name: str, filters: list[str]) -> list[str]:
    """The states of a channel with one binding per filter: SUBSCRIBED, then CHANNEL_ERROR if the
    bindings were refused; SUBSCRIBED alone once "Subscribed to PostgreSQL" came."""
    channel = client.channel(name)
    for condition in filters:
        channel.on_postgres_changes(
            Change.All, lambda _: None, table="chat_messages", schema="public", filter=condition
        )
    states: list[Any] = []
    confirmed: list[Any] = []
    channel.on_system(confirmed.append)
    await channel.subscribe(lambda state, error: states.append((state, error)))
    await eventually(lambda: len(states) > 1 or bool(confirmed), what="the system message")
    return [state.value for state, _ in states[:2]]


async def test_a_pattern_too_costly_to_compile_is_refused_before_it_is_compiled(
    alice: RealtimeUser, realtime_client: Callable[..., AsyncRealtimeClient]
) -> None:
    # One join frame's `match.a{2000000}` held the gateway's event loop (every socket, and Auth,
    # REST and Storage) for ~1 s and kept half a gigabyte: `regex` expands counted repeats.
    client = realtime_client(alice.access_token)
    refused = ["SUBSCRIBED", "CHANNEL_ERROR"]
    assert await _bindings_state(client, "huge-repeat", ["content=match.a{2000000}"]) == refused
    assert await _bindings_state(client, "over-postgres-limit", ["content=match.a{256}"]) == refused
    assert await _bindings_state(client, "nested-repeats", ["content=match.(?:(?:a{100}){100}){100}"]) == refused
    assert await _bindings_state(client, "long", ["content=like." + "a" * 257]) == refused
    assert await _bindings_state(client, "verbose", ["content=match.(?x)a"]) == refused
    # The join's patterns share one budget: each of these alone is accepted.
    two = ["content=match.(?:a{255}){7}", "content=imatch.(?:b{255}){7}"]
    assert await _bindings_state(client, "over-the-join-budget", two) == refused
    at_the_limits = ["content=match.(?:a{255}){7}", "content=like." + "%a" * 50]
    assert await _bindings_state(client, "at-the-limits", at_the_limits) == ["SUBSCRIBED"]
