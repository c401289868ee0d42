"""postgres_changes filter values quoted as realtime-js's filter builder quotes them and read as
Realtime reads them: a value holding `,()"\\` or blanks at either end is double-quoted, `\\`
escaping `"` and `\\`; inside `in.(...)` each element is quoted alike (a Postgres array literal);
a LIKE pattern is Postgres's (`*` is itself, `\\` escapes). The gateway split the filter at every
comma and kept the quotes, so `eq."Hello, world"` was refused, `in.("a,b",c)` matched `a` and
`b`, `eq." padded "` matched nothing, and `like.a*` matched everything starting with `a`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg
from realtime import AsyncRealtimeClient
from realtime import RealtimePostgresChangesListenEvent as Change

from tests.localbase.realtime.conftest import RealtimeUser, eventually, new_session, subscribed

# What RealtimePostgresFilterBuilder (realtime-js 2.109) sends for each call, and what it matches.
_FILTERS = {
    "eq('content', 'Hello, world')": ('content=eq."Hello, world"', ["Hello, world"]),
    "in('content', ['a,b', 'c'])": ('content=in.("a,b",c)', ["a,b", "c"]),
    "eq('content', ' padded ')": ('content=eq." padded "', [" padded "]),
    "eq('content', 'say \"hi\" \\\\ bye')": ('content=eq."say \\"hi\\" \\\\ bye"', ['say "hi" \\ bye']),
    "neq('content', '(b)').like('content', '(%')": ('content=not.eq."(b)",content=like."(%"', ["(a)"]),
    # LIKE as Postgres reads it: `*` is itself (PostgREST's `*` for `%` is not Realtime's), `\\` escapes.
    "like('content', 'a*')": ("content=like.a*", ["a*"]),
    "like('content', 'a\\\\%')": ('content=like."a\\\\%"', ["a%"]),
}
_CONTENTS = ["Hello, world", "a,b", "a", "b", "c", " padded ", 'say "hi" \\ bye', "(b)", "(a)", "a*", "a%", "ab"]


async def test_quoted_filter_values_match_what_they_quote(
    pg: asyncpg.Connection, alice: RealtimeUser, realtime_client: Callable[..., AsyncRealtimeClient]
) -> None:
    got: dict[str, list[str]] = {name: [] for name in [*_FILTERS, "all"]}
    channel = realtime_client(alice.access_token).channel("quoted-filters")

    def collect(name: str) -> Callable[[Any], None]:
        return lambda change: got[name].append(change["data"]["record"]["content"])

    for name, (condition, _) in _FILTERS.items():
        channel.on_postgres_changes(
            Change.Insert, collect(name), table="chat_messages", schema="public", filter=condition
        )
    channel.on_postgres_changes(Change.Insert, collect("all"), table="chat_messages", schema="public")
    await subscribed(channel)
    session = await new_session(pg, alice.id)
    for content in _CONTENTS:
        await pg.execute("insert into chat_messages (session_id, content) values ($1, $2)", session, content)

    await eventually(lambda: len(got["all"]) == len(_CONTENTS), what="every insert")
    assert {name: got[name] for name in _FILTERS} == {name: wanted for name, (_, wanted) in _FILTERS.items()}
