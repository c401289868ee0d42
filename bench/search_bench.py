"""Message search latency at 200,000 messages: a 2-character Chinese query, a 4-character one,
an English word and a term in every 5th message (its first page, and a page 20,000 matches deep,
past the 500 it ranks), through `search_messages` as a signed-in user (RLS on)."""

from __future__ import annotations

import asyncio
import json
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


async def _populate(conn: asyncpg.Connection) -> str:
    user = str(uuid.uuid4())
    await conn.execute(
        "insert into auth.users (id, aud, role, email, raw_user_meta_data) values"
        " ($1, 'authenticated', 'authenticated', 'bench@example.com', '{\"username\": \"bencher\"}')",
        user,
    )
    session = await conn.fetchval("insert into chat_sessions (user_id) values ($1) returning id", user)
    await conn.execute(
        """insert into chat_messages (session_id, user_id, content)
           select $1, $2, (array['今天天气很好','我们去公园散步','学习编程需要耐心','please explain closures',
                                 'write a short poem'])[1 + g % 5]
                          || case when g % 1000 = 0 then ' 量子计算 kubernetes' else '' end || ' #' || g
             from generate_series(1, $3) g""",
        session,
        user,
        TOTAL,
    )
    await conn.execute("vacuum analyze chat_messages")
    return user


async def _measure(dsn: str) -> dict[str, object]:
    conn = await asyncpg.connect(dsn)
    try:
        started = time.perf_counter()
        user = await _populate(conn)
        load_s = time.perf_counter() - started
        claims = json.dumps({"sub": user, "role": "authenticated"})
        figures: dict[str, object] = {"messages": TOTAL, "load_seconds": round(load_s, 1)}
        for label, (query, skip) in QUERIES.items():
            samples = []
            hits = 0
            for _ in range(ROUNDS):
                t0 = time.perf_counter()
                async with conn.transaction():
                    await conn.execute("select set_config('request.jwt.claims', $1, true)", claims)
                    await conn.execute("set local role authenticated")
                    hits = len(await conn.fetch("select id from search_messages($1, null, 20, $2)", query, skip))
                samples.append(time.perf_counter() - t0)
            figures[label] = {"query": query, "skip": skip, "hits": hits, **summary_ms(samples)}
        return figures
    finally:
        await conn.close()


def main() -> None:
    with throwaway_cluster() as cluster:
        write_report("search", asyncio.run(_measure(cluster.url)))


if __name__ == "__main__":
    main()
