"""The stray-upload sweep (`sweep_stray_attachments`, `python -m ops stray-uploads`) over 100 users
with 2,000 messages each, 20 uploads listed by their messages and 2 stray per user, all two days
old: the first round (it deletes the 200 strays) and the rounds after it, which find nothing and
are what a daily cron pays for ever after (each reads every old upload again)."""

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


async def _measure(dsn: str) -> dict[str, object]:
    conn = await asyncpg.connect(dsn)
    try:
        started = time.perf_counter()
        await _populate(conn)
        load_s = time.perf_counter() - started
        t0 = time.perf_counter()
        swept = await conn.fetchval("select sweep_stray_attachments($1, 100000)", DAY_S)
        first_s = time.perf_counter() - t0
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
            "later_rounds": summary_ms(samples),
        }
    finally:
        await conn.close()


def main() -> None:
    with throwaway_cluster() as cluster:
        write_report("sweep", asyncio.run(_measure(cluster.url)))


if __name__ == "__main__":
    main()
