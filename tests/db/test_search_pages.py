"""Search results page by a keyset cursor: a message written or deleted between two pages neither
shows a result twice nor skips one, in the ranked newest 500 and in the older matches after them."""

from __future__ import annotations

import asyncpg
import pytest

from tests.db.actors import Actor, acting_as, create_user
from tests.db.refusals import refusal


async def _chat(db: asyncpg.Connection, name: str) -> tuple[str, str]:
    user = await create_user(db, name)
    session = str(await db.fetchval("insert into chat_sessions (user_id) values ($1) returning id", user))
    return user, session


async def _needles(db: asyncpg.Connection, user: str, session: str, count: int) -> None:
    """`count` matches of `needle`, a second by second, every 7th thrice (ranked higher)."""
    await db.execute(
        """insert into chat_messages (session_id, user_id, content, created_at)
           select $1, $2, 'needle number ' || g || case when g % 7 = 0 then ' needle needle' else '' end,
                  now() - interval '1 hour' - ($3 - g) * interval '1 second'
             from generate_series(1, $3) g""",
        session,
        user,
        count,
    )


async def _page(db: asyncpg.Connection, user: str, size: int, after: str | None) -> list[asyncpg.Record]:
    async with acting_as(db, Actor("user", "authenticated", user)):
        return list(await db.fetch("select * from search_messages('needle', null, $1, 0, $2)", size, after))


async def _delete(db: asyncpg.Connection, content: str) -> None:
    await db.execute("delete from chat_messages where content = $1", content)


async def test_a_write_or_a_delete_between_pages_neither_repeats_nor_skips_a_result(db: asyncpg.Connection) -> None:
    user, session = await _chat(db, "pager")
    await _needles(db, user, session, 30)
    first = await _page(db, user, 10, None)
    # Between the pages: two results already shown are deleted, a new one ranked above all is written
    # (by offset, the page after would start one result late and never show it).
    await _delete(db, first[3]["content"])
    await _delete(db, first[5]["content"])
    await db.execute(
        "insert into chat_messages (session_id, user_id, content) values ($1, $2, 'needle needle needle new')",
        session,
        user,
    )
    second = await _page(db, user, 10, first[-1]["cursor"])
    third = await _page(db, user, 10, second[-1]["cursor"])
    rest = await _page(db, user, 10, third[-1]["cursor"])
    shown = [r["content"] for r in first + second + third + rest]
    assert len(shown) == len(set(shown)) == 30  # each of the 30 once; the new one ranked above the cursor
    assert all(r["rank"] is not None for r in first + second + third)


async def test_pages_by_cursor_cross_from_the_ranked_500_to_the_older_matches_under_writes(
    db: asyncpg.Connection,
) -> None:
    user, session = await _chat(db, "deeppager")
    await _needles(db, user, session, 560)
    pages = [await _page(db, user, 100, None)]
    while pages[-1]:
        # Each page: the newest result deleted, a new match written (into the ranked window).
        await _delete(db, pages[-1][0]["content"])
        await db.execute(
            "insert into chat_messages (session_id, user_id, content) values ($1, $2, 'needle extra ' || $3)",
            session,
            user,
            str(len(pages)),
        )
        pages.append(await _page(db, user, 100, pages[-1][-1]["cursor"]))
    hits = [r for page in pages for r in page]
    numbers = [int(r["content"].split(" ")[2]) for r in hits if r["content"].startswith("needle number")]
    assert sorted(numbers) == list(range(1, 561))  # each once
    newest = range(560, 60, -1)  # the 500 newest when the first page was read, ranked
    assert numbers[:500] == [n for n in newest if n % 7 == 0] + [n for n in newest if n % 7]
    assert all(r["rank"] is not None for r in hits[: len(hits) - 60])
    assert numbers[500:] == list(range(60, 0, -1))  # then the older ones, newest first
    assert all(r["rank"] is None for r in hits[-60:])


@pytest.mark.parametrize("cursor", ["nonsense", "WyJ4Il0", "", "W10"])
async def test_a_cursor_the_search_did_not_give_is_refused(db: asyncpg.Connection, cursor: str) -> None:
    user, _ = await _chat(db, "forger")
    with pytest.raises(asyncpg.PostgresError) as refused:
        await _page(db, user, 10, cursor)
    assert refusal(refused.value)[:2] == (422, "InvalidCursor")
