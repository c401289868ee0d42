"""Message search latency through `search_messages` as a signed-in user (RLS on), on two data sets.

One user, 200,000 messages: a 2-character Chinese query, a 4-character one, an English word and a
term in every 5th message (its first page, and a page 20,000 matches deep, past the 500 it ranks).

Many users (`SEARCH_BENCH_MESSAGES`, 1,000,000 by default, over 1,000 users): one heavy user holds a
tenth of them, a light user 20, the others ~900 each; 天气 is in every 5th message of every user
(200,000 matches across the table) and 量子计算 kubernetes in every 1,000th. Each user's search
must find their own matches only, so its cost should follow what that user has, not the table:
measured for the light and the heavy user, a common and a rare term, each on a new connection.
The rows are loaded with set-based SQL with the table's triggers off (`session_replication_role =
replica`; owners and search vectors are written directly), then vacuumed and analyzed.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid

import asyncpg

from bench.harness import summary_ms, throwaway_cluster, write_report

TOTAL = 200_000
ROUNDS = 50
QUERIES = {  # label: (query, matches skipped)
    "zh_2_chars": ("量子", 0),
    "zh_4_chars": ("量子计算", 0),
    "en_word": ("kubernetes", 0),
    "zh_common": ("天气", 0),
    "zh_common_deep": ("天气", 20_000),
}
MANY_TOTAL = int(os.environ.get("SEARCH_BENCH_MESSAGES", "1000000"))
MANY_USERS = 1_000
LIGHT_MESSAGES = 20
MANY_QUERIES = {"common": "天气", "rare": "kubernetes"}
TEMPLATES = """array['今天天气很好','我们去公园散步','学习编程需要耐心','please explain closures',
                     'write a short poem']"""


async def _populate(conn: asyncpg.Connection) -> str:
    user = str(uuid.uuid4())
    await conn.execute(
        "insert into auth.users (id, aud, role, email, raw_user_meta_data) values"
        " ($1, 'authenticated', 'authenticated', 'bench@example.com', '{\"username\": \"bencher\"}')",
        user,
    )
    session = await conn.fetchval("insert into chat_sessions (user_id) values ($1) returning id", user)
    await conn.execute(
        f"""insert into chat_messages (session_id, user_id, content)
           select $1, $2, ({TEMPLATES})[1 + g % 5]
                          || case when g % 1000 = 0 then ' 量子计算 kubernetes' else '' end || ' #' || g
             from generate_series(1, $3) g""",
        session,
        user,
        TOTAL,
    )
    await conn.execute("vacuum analyze chat_messages")
    return user


async def _populate_many(conn: asyncpg.Connection) -> dict[str, str]:
    """MANY_USERS users, each with one session; user 1 is the heavy one, user 2 the light one."""
    await conn.execute(
        """insert into auth.users (id, aud, role, email, raw_user_meta_data)
           select ('00000000-0000-4000-8000-' || lpad(to_hex(u), 12, '0'))::uuid, 'authenticated',
                  'authenticated', 'many' || u || '@example.com',
                  jsonb_build_object('username', 'many' || u)
             from generate_series(1, $1) u""",
        MANY_USERS,
    )
    await conn.execute(
        """insert into chat_sessions (id, user_id)
           select id, id from auth.users where email like 'many%@example.com'"""
    )
    heavy = MANY_TOTAL // 10
    rest = (MANY_TOTAL - heavy - LIGHT_MESSAGES) // (MANY_USERS - 2)
    async with conn.transaction():
        await conn.execute("set local session_replication_role = replica")
        # Message g of user u; created_at spread over a year, interleaving the users' messages.
        await conn.execute(
            # The search vector is written with each row, as its trigger (off here) writes it.
            f"""insert into chat_messages (session_id, user_id, content, created_at, search_vector)
               select m.uid, m.uid, m.content, m.created_at, public.search_document(m.content)
                 from (select x.uid, ({TEMPLATES})[1 + g % 5]
                              || case when g % 1000 = 0 then ' 量子计算 kubernetes' else '' end || ' #' || g
                                as content,
                              now() - (g::float8 / n * 365 * 86400 + u) * interval '1 second' as created_at
                         from generate_series(1, $1) u
                         cross join lateral (
                           select ('00000000-0000-4000-8000-' || lpad(to_hex(u), 12, '0'))::uuid as uid,
                                  case u when 1 then $2::int when 2 then $3::int else $4::int end as n) x
                         cross join lateral generate_series(1, x.n) g) m""",
            MANY_USERS,
            heavy,
            LIGHT_MESSAGES,
            rest,
        )
    await conn.execute("vacuum analyze chat_messages")
    return {
        "heavy": "00000000-0000-4000-8000-000000000001",
        "light": "00000000-0000-4000-8000-000000000002",
    }


async def _search(conn: asyncpg.Connection, user: str, query: str, skip: int) -> tuple[int, dict[str, float]]:
    claims = json.dumps({"sub": user, "role": "authenticated"})
    samples = []
    hits = 0
    for round_no in range(ROUNDS + 1):  # round 0, untimed, is a new connection's loading of the function
        t0 = time.perf_counter()
        async with conn.transaction():
            await conn.execute("select set_config('request.jwt.claims', $1, true)", claims)
            await conn.execute("set local role authenticated")
            hits = len(await conn.fetch("select id from search_messages($1, null, 20, $2)", query, skip))
        if round_no:
            samples.append(time.perf_counter() - t0)
    return hits, summary_ms(samples)


async def _measure(dsn: str) -> dict[str, object]:
    conn = await asyncpg.connect(dsn)
    try:
        started = time.perf_counter()
        user = await _populate(conn)
        load_s = time.perf_counter() - started
        figures: dict[str, object] = {"messages": TOTAL, "load_seconds": round(load_s, 1)}
        for label, (query, skip) in QUERIES.items():
            hits, summary = await _search(conn, user, query, skip)
            figures[label] = {"query": query, "skip": skip, "hits": hits, **summary}
        await conn.execute("truncate chat_messages cascade")
        started = time.perf_counter()
        users = await _populate_many(conn)
        many: dict[str, object] = {
            "messages": await conn.fetchval("select count(*) from chat_messages"),
            "users": MANY_USERS,
            "load_seconds": round(time.perf_counter() - started, 1),
        }
        for who, uid in users.items():
            own = await conn.fetchval("select count(*) from chat_messages where user_id = $1", uid)
            for label, query in MANY_QUERIES.items():
                # Each on a connection of its own: what one search leaves in a connection's plan
                # cache (PL/pgSQL turns to a generic plan after five calls) shapes the next one's.
                fresh = await asyncpg.connect(dsn)
                try:
                    hits, summary = await _search(fresh, uid, query, 0)
                finally:
                    await fresh.close()
                many[f"{who}_{label}"] = {"own_messages": own, "query": query, "hits": hits, **summary}
        figures["many_users"] = many
        return figures
    finally:
        await conn.close()


def main() -> None:
    with throwaway_cluster() as cluster:
        write_report("search", asyncio.run(_measure(cluster.url)))


if __name__ == "__main__":
    main()
