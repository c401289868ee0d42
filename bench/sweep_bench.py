"""The stray-upload sweep (`sweep_stray_attachments`, `python -m ops stray-uploads`) over 100 users
with 2,000 messages each, 20 uploads listed by their messages and 2 stray per user, all two days
old: rounds that find and delete 200 strays (2 new ones per user before each, as a day of
abandoned composers leaves them), and the rounds that find nothing, each reading every old upload
again.

A round that finds strays looks twice (20261206122000): it locks the unlisted ones, then asks of
each again, in a statement of its own, whether a message lists it now. Only such a round pays for
the second look (a round that finds none returns before it), so it is measured over as many rounds
as the empty ones, not from the one first round the figure came from before (taken on 12-04,
before the second look existed)."""

from __future__ import annotations

import asyncio
import time

import asyncpg

from bench.harness import summary_ms, throwaway_cluster, write_report

USERS = 100
MESSAGES = 2_000  # per user
LISTED = 20  # uploads per user that a message lists
STRAY = 2  # uploads per user that none lists
ROUNDS = 20
DAY_S = 86_400.0


async def _populate(conn: asyncpg.Connection) -> None:
    await conn.execute(
        "insert into auth.users (id, aud, role, email)"
        " select gen_random_uuid(), 'authenticated', 'authenticated', 'sweep' || g || '@example.com'"
        " from generate_series(1, $1) g",
        USERS,
    )
    await conn.execute("insert into chat_sessions (user_id) select id from auth.users")
    await conn.execute("alter table storage.objects disable trigger user")  # no Storage server here to tell
    await conn.execute(
        """insert into storage.objects (bucket_id, name, owner_id, metadata, created_at)
           select 'attachments', s.user_id || '/' || gen_random_uuid() || '/notes.txt', s.user_id::text,
                  '{"size": 10, "mimetype": "text/plain"}', now() - interval '2 days'
             from chat_sessions s cross join generate_series(1, $1)""",
        LISTED + STRAY,
    )
    await conn.execute("alter table storage.objects enable trigger user")
    await conn.execute(
        "insert into chat_messages (session_id, user_id, content)"
        " select s.id, s.user_id, 'message ' || g from chat_sessions s cross join generate_series(1, $1) g",
        MESSAGES - LISTED,
    )
    await conn.execute(
        """insert into chat_messages (session_id, user_id, content, attachments)
           select s.id, s.user_id, 'see the notes',
                  jsonb_build_array(jsonb_build_object('bucket', 'attachments', 'path', o.name, 'name', 'notes.txt',
                                                       'mime_type', 'text/plain', 'size', 10))
             from chat_sessions s
             cross join lateral (select name from storage.objects
                                  where bucket_id = 'attachments' and owner_id = s.user_id::text
                                  order by name limit $1) o""",
        LISTED,
    )
    await conn.execute("vacuum analyze")


async def _strays(conn: asyncpg.Connection) -> None:
    """STRAY new uploads per user, two days old, that no message lists (Storage's trigger off, as
    in _populate: no Storage server here)."""
    await conn.execute("alter table storage.objects disable trigger user")
    await conn.execute(
        """insert into storage.objects (bucket_id, name, owner_id, metadata, created_at)
           select 'attachments', s.user_id || '/' || gen_random_uuid() || '/stray.txt', s.user_id::text,
                  '{"size": 10, "mimetype": "text/plain"}', now() - interval '2 days'
             from chat_sessions s cross join generate_series(1, $1)""",
        STRAY,
    )
    await conn.execute("alter table storage.objects enable trigger user")


async def _measure(dsn: str) -> dict[str, object]:
    conn = await asyncpg.connect(dsn)
    try:
        started = time.perf_counter()
        await _populate(conn)
        load_s = time.perf_counter() - started
        t0 = time.perf_counter()
        swept = await conn.fetchval("select sweep_stray_attachments($1, 100000)", DAY_S)
        first_s = time.perf_counter() - t0
        sweeping = []
        for _ in range(ROUNDS):
            await _strays(conn)
            t0 = time.perf_counter()
            found = await conn.fetchval("select sweep_stray_attachments($1, 100000)", DAY_S)
            sweeping.append(time.perf_counter() - t0)
            if found != USERS * STRAY:
                raise RuntimeError(f"a round swept {found} of {USERS * STRAY} strays")
        samples = []
        for _ in range(ROUNDS):
            t0 = time.perf_counter()
            if await conn.fetchval("select sweep_stray_attachments($1, 100000)", DAY_S):
                raise RuntimeError("a later round swept a listed upload")
            samples.append(time.perf_counter() - t0)
        return {
            "users": USERS,
            "messages": USERS * MESSAGES,
            "uploads_listed": USERS * LISTED,
            "load_seconds": round(load_s, 1),
            "first_round": {"swept": swept, "ms": round(first_s * 1000, 1)},
            "sweeping_rounds": {"swept": USERS * STRAY, **summary_ms(sweeping)},
            "later_rounds": summary_ms(samples),
        }
    finally:
        await conn.close()


def main() -> None:
    with throwaway_cluster() as cluster:
        write_report("sweep", asyncio.run(_measure(cluster.url)))


if __name__ == "__main__":
    main()
