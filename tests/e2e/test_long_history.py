"""A heavy user's history in Debian's Chromium (web/e2e/long_history.mjs): more sessions than one
page of the list (the sidebar and /history read 200 at a time and offer the older ones), more
search hits than one page, a conversation longer than one PostgREST response may hold (`max_rows`
= 1,000 in supabase/config.toml), and, the user being an admin, more users than one page of the
admin's list: every session, hit, turn and user reachable, the newest turn where the conversation
opens. The history is written straight into Postgres with triggers off (as a restore
would), so the worker hears none of it and the journey sees exactly what was arranged.
Screenshots: tests/e2e/screenshots/long_history/."""

from __future__ import annotations

import asyncio
import json
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from tests.conftest import sign_up
from tests.e2e.conftest import Product, make_admin, no_page_errors, passed
from tests.e2e.journeys import Journey, launcher, prepare_journey

pytestmark = pytest.mark.timeout(420)

OLD_SESSIONS = 230  # past the list's page of 200
TURNS = 520  # 1,040 rows: past one response of 1,000
CROWD = 130  # users named alike: past the admin list's page of 100


async def _seed(dsn: str, user_id: str) -> dict[str, Any]:
    """The user's sessions: `OLD_SESSIONS` quiet ones a day apart (the oldest with a question to
    find), and one long conversation active now, a chain question -> answer -> question ... as the
    tree triggers would have placed it."""
    user = uuid.UUID(user_id)
    now = datetime.now(UTC)
    long_id = uuid.uuid4()
    rows: list[tuple[Any, ...]] = []
    parent: uuid.UUID | None = None
    start = now - timedelta(hours=2)
    for turn in range(1, TURNS + 1):
        question, answer = uuid.uuid4(), uuid.uuid4()
        asked = start + timedelta(seconds=turn * 10)
        rows.append((question, "user", f"question {turn}", None, None, parent, asked))
        rows.append((answer, "assistant", f"answer {turn}", question, 1, question, asked + timedelta(seconds=1)))
        parent = answer
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            # The triggers are off for the load: the search vector (kept by a trigger since
            # 20261206172000) is written with the rows, as that trigger writes it.
            await conn.execute("set local session_replication_role = replica")
            await conn.execute(
                """insert into public.chat_sessions (id, user_id, title, created_at, last_message_at)
                   select gen_random_uuid(), $1, 'old chat ' || i, $2::timestamptz - make_interval(days => i),
                          $2::timestamptz - make_interval(days => i)
                     from generate_series(1, $3) as i""",
                user,
                now,
                OLD_SESSIONS,
            )
            await conn.execute(
                """insert into public.chat_sessions (id, user_id, title, created_at, last_message_at,
                                                     message_count, current_leaf_id)
                   values ($1, $2, 'long chat', $3, $4, $5, $6)""",
                long_id,
                user,
                start,
                rows[-1][6],
                len(rows),
                parent,
            )
            # The needle is its chat's one message, a root (no parent) and the chat's leaf, as the
            # tree triggers would have placed it (the column's default is only their placeholder).
            await conn.execute(
                """with needle as (
                     insert into public.chat_messages (session_id, user_id, content, created_at, parent_id,
                                                       search_vector)
                     select s.id, s.user_id, 'a needle in the oldest chat', s.created_at, null,
                            public.search_document('a needle in the oldest chat')
                       from public.chat_sessions s where s.user_id = $1 and s.title = $2
                     returning id, session_id)
                   update public.chat_sessions s set message_count = 1, current_leaf_id = needle.id
                     from needle where s.id = needle.session_id""",
                user,
                f"old chat {OLD_SESSIONS}",
            )
            await conn.executemany(
                """insert into public.chat_messages (id, session_id, user_id, message_type, content,
                                                     reply_to, answer_no, parent_id, created_at, status,
                                                     search_vector)
                   values ($1, $8, $9, $2, $3, $4, $5, $6, $7, 'completed', public.search_document($3))""",
                [(*row, long_id, user) for row in rows],
            )
    finally:
        await conn.close()
    return {"long": str(long_id), "sessions": OLD_SESSIONS + 1, "turns": TURNS, "oldest": f"old chat {OLD_SESSIONS}"}


async def _crowd(dsn: str, tag: str) -> None:
    """`CROWD` users named crowd_<tag>_<n>, signed up as Auth would store them (the product's
    trigger makes each a profile and a plan)."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            """insert into auth.users (id, aud, role, email, raw_user_meta_data)
               select gen_random_uuid(), 'authenticated', 'authenticated', 'crowd-' || $1 || '-' || g || '@example.com',
                      jsonb_build_object('username', 'crowd_' || $1 || '_' || g)
                 from generate_series(1, $2) as g""",
            tag,
            CROWD,
        )
    finally:
        await conn.close()


@launcher("long_history")
def start(request: pytest.FixtureRequest, servers: ExitStack) -> Journey:
    """A user with a long history of their own, then the journey."""
    product: Product = request.getfixturevalue("product")
    tag = uuid.uuid4().hex[:6]
    made = sign_up(product.stack, f"heavy_{tag}")
    make_admin(product.stack, made.id)
    seeded = asyncio.run(_seed(product.stack.dsn, made.id))
    asyncio.run(_crowd(product.stack.dsn, tag))
    users = {
        "heavy": {"id": made.id, "email": made.email, "password": made.password},
        "crowd": f"crowd_{tag}_",
        "crowdSize": CROWD,
        **seeded,
    }
    chromium_path: str = request.getfixturevalue("chromium_path")
    journey = prepare_journey(product, chromium_path, "long_history", env={"E2E_USERS": json.dumps(users)})
    journey.extras["users"] = users
    return journey


@pytest.fixture(scope="module")
def long_history(journeys: dict[str, Journey]) -> dict[str, Any]:
    return journeys["long_history"].result()


def test_every_session_is_listed_a_page_at_a_time(long_history: dict[str, Any]) -> None:
    detail = passed(long_history, "the sidebar lists 200 chats and the older ones on asking")["detail"]
    assert detail == {"first": 200, "all": OLD_SESSIONS + 1, "oldest": f"old chat {OLD_SESSIONS}"}


def test_history_lists_them_all_too(long_history: dict[str, Any]) -> None:
    detail = passed(long_history, "/history lists the older chats on asking")["detail"]
    assert detail == {"first": 200, "all": OLD_SESSIONS + 1}


def test_search_pages_its_hits_and_names_a_chat_not_listed_yet(long_history: dict[str, Any]) -> None:
    detail = passed(long_history, "search reads 50 hits at a time and names a chat the list has not read")["detail"]
    assert detail == {"needle": f"old chat {OLD_SESSIONS}", "first": 50, "more": 100}


def test_a_conversation_longer_than_one_response_opens_at_its_newest_turn(long_history: dict[str, Any]) -> None:
    detail = passed(long_history, "a conversation of 1,040 messages opens whole, at its newest turn")["detail"]
    assert detail == {"turns": TURNS, "first": "question 1", "last": f"answer {TURNS}"}


def test_an_admin_pages_through_every_user(long_history: dict[str, Any]) -> None:
    detail = passed(long_history, "an admin's user list reads 100 at a time and the rest on asking")["detail"]
    assert detail == {"first": 100, "all": CROWD}


def test_no_page_errors(long_history: dict[str, Any]) -> None:
    no_page_errors(long_history)
