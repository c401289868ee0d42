"""`GET /api/chat/history` through the API with 10k, 100k and 1,000,000 messages in one session.

A throwaway cluster, the localbase gateway and `python -m api` as subprocesses; one user signed
up through the API; messages bulk-loaded as superuser with generate_series (the statement
triggers keep chat_sessions.message_count right; the realtime capture trigger is paused for the
load, there are no subscribers). At each size it measures, sequentially:
  - page 1 (newest 20) through the API, and the same page through supabase-py straight to REST;
  - a deep page by cursor (the 20 messages after 99 % of the session) through the API and
    through supabase-py with the same keyset filter;
  - the same deep page by OFFSET through the API (what offset paging costs);
  - page 1 and the deep page straight on asyncpg as the user under RLS (the floor);
and, at 1M, requests/s with several connections (bench/loadgen.py) for page 1 and the deep
cursor page. Figures are printed and written to bench/out/api.json. Bounded: under ~3 minutes.

    python -m bench.api_bench
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

import asyncpg
import httpx
from supabase import acreate_client

from api.history import encode_cursor
from bench.harness import (
    RUNS,
    child,
    cpu_seconds,
    free_port,
    loadgen,
    postgres_cpu_seconds,
    spread,
    stack_env,
    summary_ms,
    throwaway_cluster,
    write_report,
)
from core.jwt import decode
from core.settings import Settings

SIZES = (10_000, 100_000, 1_000_000)
SAMPLES = 150
LOAD_SECONDS = 3.0
LOAD_CONNECTIONS = 8
COLUMNS = (
    "id,session_id,message_type,content,role_id,status,reply_to,tokens_used,response_time,"
    "model,finish_reason,error_code,error_message,created_at"
)


async def _timed(call: Callable[[], Awaitable[Any]], samples: int = SAMPLES) -> dict[str, float]:
    for _ in range(5):
        await call()
    durations = []
    for _ in range(samples):
        started = time.perf_counter()
        await call()
        durations.append(time.perf_counter() - started)
    return summary_ms(durations)


async def _load(pg: asyncpg.Connection, session_id: str, start: int, stop: int) -> float:
    """Messages start+1..stop, one millisecond apart (newest = highest number)."""
    began = time.monotonic()
    await pg.execute("alter table public.chat_messages disable trigger localbase_realtime_capture")
    try:
        await pg.execute(
            """insert into public.chat_messages (session_id, message_type, content, created_at)
               select $1, case when i % 2 = 0 then 'user' else 'system' end::public.message_type,
                      'message ' || i, timestamptz '2026-01-01' + i * interval '1 millisecond'
                 from generate_series($2::int + 1, $3::int) as i""",
            uuid.UUID(session_id),
            start,
            stop,
        )
    finally:
        await pg.execute("alter table public.chat_messages enable trigger localbase_realtime_capture")
    # Vacuumed as well as analyzed, so autovacuum does not take up the freshly loaded rows in the
    # middle of the timed loads (its CPU counted as the reads', and a core taken from them) and the
    # reads see settled pages, as a table that has lived a while has (trees_bench does the same).
    await pg.execute("vacuum analyze public.chat_messages")
    return time.monotonic() - began


async def _deep_row(pg: asyncpg.Connection, session_id: str, depth: int) -> dict[str, str]:
    row = await pg.fetchrow(
        """select id::text as id, to_json(created_at) #>> '{}' as created_at from public.chat_messages
            where session_id = $1 order by created_at desc, id desc offset $2 limit 1""",
        uuid.UUID(session_id),
        depth,
    )
    assert row is not None
    return {"id": row["id"], "created_at": row["created_at"]}


_ASYNCPG_PAGE = f"""
    select {COLUMNS} from public.chat_messages where session_id = $1
     order by created_at desc, id desc limit 21"""
_ASYNCPG_DEEP_PAGE = f"""
    select {COLUMNS} from public.chat_messages where session_id = $1 and (created_at, id) < ($2, $3)
     order by created_at desc, id desc limit 21"""


async def _asyncpg_page(pg: asyncpg.Connection, claims: str, session_id: str, deep: dict[str, str] | None) -> None:
    """The baseline: the same page straight on asyncpg, as the user under RLS (role + claims)."""
    async with pg.transaction():
        await pg.execute("select set_config('request.jwt.claims', $1, true)", claims)
        await pg.execute("set local role authenticated")
        if deep is None:
            rows = await pg.fetch(_ASYNCPG_PAGE, uuid.UUID(session_id))
        else:
            keyset = (datetime.fromisoformat(deep["created_at"]), uuid.UUID(deep["id"]))
            rows = await pg.fetch(_ASYNCPG_DEEP_PAGE, uuid.UUID(session_id), *keyset)
    assert len(rows) == 21


async def _branched_beside(pg: asyncpg.Connection, http: httpx.AsyncClient, cursor: str) -> dict[str, Any]:
    """The same user's history over all sessions once a second chat has branched: a 200-message path
    after an edited first question (the path walk only a branched session pays), newest of all."""
    created = await http.post("/api/sessions", json={"title": "branched"})
    branched = uuid.UUID(created.json()["session"]["id"])
    insert = (
        "insert into public.chat_messages (session_id, message_type, content, created_at{}) values"
        " ($1, 'system', 'b' || $2::int, timestamptz '2027-01-01' + $2::int * interval '1 millisecond'{})"
    )
    await pg.execute(insert.format("", ""), branched, 0)
    await pg.execute(insert.format(", parent_id", ", null"), branched, 1)  # an edit of the first question
    for i in range(2, 201):
        await pg.execute(insert.format("", ""), branched, i)

    async def api_all_page(params: dict[str, Any]) -> None:
        response = await http.get("/api/chat/history", params=params)
        response.raise_for_status()
        assert len(response.json()["messages"]) == 20

    entry = {
        "total_reported": (await http.get("/api/chat/history")).json()["total"],
        "api_all_sessions_page1": await _timed(lambda: api_all_page({})),
        "api_all_sessions_deep_cursor": await _timed(partial(api_all_page, {"cursor": cursor})),
    }
    print(f"all sessions beside a branched chat: {json.dumps(entry)}", flush=True)
    return entry


def _loadgen(port: int, path: str, headers: dict[str, str], server_pid: int, pgdata: Path) -> dict[str, Any]:
    """One load run of LOAD_SECONDS; requests/s, latency and the server process's CPU per request."""
    request = {"method": "GET", "path": path, "headers": headers}
    cpu_before, pg_before = cpu_seconds(server_pid), postgres_cpu_seconds(pgdata)
    result = loadgen(port, LOAD_SECONDS, [[request] for _ in range(LOAD_CONNECTIONS)])
    cpu, pg = cpu_seconds(server_pid) - cpu_before, postgres_cpu_seconds(pgdata) - pg_before
    served = result["count"] + LOAD_CONNECTIONS  # the warm-up requests ran inside the CPU window too
    return {
        "requests_per_s": round(result["count"] / result["elapsed"], 1),
        "errors": result["errors"],
        "server_cpu_ms_per_request": round(cpu * 1000 / max(1, served), 3),
        "postgres_cpu_ms_per_request": round(pg * 1000 / max(1, served), 3),
        **summary_ms(result["latencies"]),
    }


def _throughput(
    doors: dict[str, tuple[int, int, dict[str, str]]],
    cases: dict[str, dict[str, str]],
    pgdata: Path,
    runs_wanted: int = RUNS,
) -> dict[str, Any]:
    """Each case through each door, `runs_wanted` times, interleaved so both doors see the same machine.

    `doors` maps a door to (port, server pid, headers); `cases` maps a case to a path per door.
    Per case: requests/s, p99 and server CPU per request for each door (median and range over the
    runs), and the API's share of REST's throughput computed within each run."""
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {case: {door: [] for door in doors} for case in cases}
    for _ in range(runs_wanted):
        for case, paths in cases.items():
            for door, (port, pid, headers) in doors.items():
                runs[case][door].append(_loadgen(port, paths[door], headers, pid, pgdata))
    figures: dict[str, Any] = {"connections": LOAD_CONNECTIONS, "seconds_per_run": LOAD_SECONDS, "runs": runs_wanted}
    for case, by_door in runs.items():
        entry: dict[str, Any] = {}
        for door, results in by_door.items():
            entry[door] = {
                "requests_per_s": spread([r["requests_per_s"] for r in results]),
                "p99_ms": spread([r["p99_ms"] for r in results], 2),
                "p50_ms": spread([r["p50_ms"] for r in results], 2),
                "server_cpu_ms_per_request": spread([r["server_cpu_ms_per_request"] for r in results], 3),
                "postgres_cpu_ms_per_request": spread([r["postgres_cpu_ms_per_request"] for r in results], 3),
                "errors": sum(r["errors"] for r in results),
            }
        if "api" in by_door and "rest" in by_door:
            ratios = [
                a["requests_per_s"] / r["requests_per_s"] for a, r in zip(by_door["api"], by_door["rest"], strict=True)
            ]
            entry["api_over_rest"] = spread(ratios, 2)
            # What the ratio becomes when the two cores are the limit: REST's CPU per request (its
            # server and Postgres) over the API's, from the processes' own counters.
            cpu = {
                door: [r["server_cpu_ms_per_request"] + r["postgres_cpu_ms_per_request"] for r in by_door[door]]
                for door in ("api", "rest")
            }
            entry["api_over_rest_by_cpu"] = spread([r / a for a, r in zip(cpu["api"], cpu["rest"], strict=True)], 2)
        figures[case] = entry
        print(f"throughput {case}: {json.dumps(entry)}", flush=True)
    return figures


def _other_routes(session_id: str, user_id: str) -> dict[str, dict[str, str]]:
    """The facade's other reads beside the closest REST request (one run each: in proportion)."""
    sessions = "id,title,role_id,is_active,message_count,last_message_at,created_at,updated_at"
    roles = "id,slug,name,description,avatar_url,system_prompt,created_by"
    profile = "id,username,email,avatar_url,is_active,last_login_at,created_at,updated_at"
    return {
        "sessions_list": {
            "api": "/api/sessions",
            "rest": f"/rest/v1/chat_sessions?select={sessions}&archived_at=is.null"
            "&order=last_message_at.desc.nullslast,created_at.desc&limit=20",
        },
        "session_get": {
            "api": f"/api/sessions/{session_id}",
            "rest": f"/rest/v1/chat_sessions?select={sessions}&id=eq.{session_id}",
        },
        "roles_list": {
            "api": "/api/roles",
            "rest": f"/rest/v1/ai_roles?select={roles}&is_active=eq.true&order=sort_order,created_at",
        },
        "profile_get": {"api": "/api/profile", "rest": f"/rest/v1/profiles?select={profile}&id=eq.{user_id}"},
    }


async def _asyncpg_rate(database: str, claims: str, session_id: str, deep: dict[str, str] | None) -> dict[str, Any]:
    """Pages/s straight on asyncpg with as many connections as the HTTP load uses: the floor."""
    pool = await asyncpg.create_pool(database, min_size=LOAD_CONNECTIONS, max_size=LOAD_CONNECTIONS)
    latencies: list[float] = []
    deadline = time.monotonic() + LOAD_SECONDS

    async def client() -> None:
        async with pool.acquire() as conn:
            while time.monotonic() < deadline:
                started = time.perf_counter()
                await _asyncpg_page(conn, claims, session_id, deep)
                latencies.append(time.perf_counter() - started)

    began = time.monotonic()
    await asyncio.gather(*(client() for _ in range(LOAD_CONNECTIONS)))
    elapsed = time.monotonic() - began
    await pool.close()
    return {"requests_per_s": round(len(latencies) / elapsed, 1), "errors": 0, **summary_ms(latencies)}


async def _measure(
    api_url: str, supabase_url: str, anon_key: str, token: str, database: str, *, pids: dict[str, int], pgdata: Path
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    figures: dict[str, Any] = {"sizes": {}}
    pg = await asyncpg.connect(database)
    claims = json.dumps(decode(token, Settings().supabase.jwt_secret))
    direct = await acreate_client(supabase_url, anon_key)
    direct.postgrest.auth(token)
    async with httpx.AsyncClient(base_url=api_url, headers=headers, timeout=60, trust_env=False) as http:
        created = await http.post("/api/sessions", json={"title": "bench"})
        session_id = created.json()["session"]["id"]
        loaded = 0
        for size in SIZES:
            load_s = await _load(pg, session_id, loaded, size)
            loaded = size
            deep = await _deep_row(pg, session_id, int(size * 0.99))
            cursor = encode_cursor(deep)
            stamp = f'"{deep["created_at"]}"'
            keyset = f"created_at.lt.{stamp},and(created_at.eq.{stamp},id.lt.{deep['id']})"

            async def api_page(params: dict[str, Any], session_id: str = session_id) -> None:
                response = await http.get("/api/chat/history", params={"session_id": session_id, **params})
                response.raise_for_status()
                assert len(response.json()["messages"]) == 20

            async def api_all_page(params: dict[str, Any]) -> None:
                response = await http.get("/api/chat/history", params=params)
                response.raise_for_status()
                assert len(response.json()["messages"]) == 20

            async def direct_page(deep_page: bool, deep: dict[str, str] = deep, keyset: str = keyset) -> None:
                query = direct.table("chat_messages").select(COLUMNS).eq("session_id", session_id)
                if deep_page:
                    query = query.lte("created_at", deep["created_at"]).or_(keyset)
                query = query.order("created_at", desc=True).order("id", desc=True).limit(21)
                assert len((await query.execute()).data) == 21

            total = (await http.get("/api/chat/history", params={"session_id": session_id})).json()["total"]
            entry = {
                "load_seconds": round(load_s, 1),
                "total_reported": total,
                "api_page1": await _timed(lambda: api_page({})),
                "direct_page1": await _timed(lambda: direct_page(False)),
                "asyncpg_page1": await _timed(lambda: _asyncpg_page(pg, claims, session_id, None)),
                "api_deep_cursor": await _timed(partial(api_page, {"cursor": cursor})),
                "direct_deep_cursor": await _timed(lambda: direct_page(True)),
                "asyncpg_deep_cursor": await _timed(partial(_asyncpg_page, pg, claims, session_id, deep)),
                "api_all_sessions_page1": await _timed(lambda: api_all_page({})),
                "api_all_sessions_deep_cursor": await _timed(partial(api_all_page, {"cursor": cursor})),
                "api_deep_offset": await _timed(
                    partial(api_page, {"page": int(size * 0.99) // 20, "limit": 20}), samples=10
                ),
            }
            figures["sizes"][str(size)] = entry
            print(f"{size:>9} messages: {json.dumps(entry)}", flush=True)
        figures["branched_beside_1m"] = await _branched_beside(pg, http, cursor)
        api_base = f"/api/chat/history?session_id={session_id}"
        rest_base = (
            f"/rest/v1/chat_messages?select={COLUMNS}&session_id=eq.{session_id}&order=created_at.desc,id.desc&limit=21"
        )
        rest_deep = f"{rest_base}&created_at=lte.{quote(deep['created_at'])}&or=({quote(keyset)})"
        doors = {
            "api": (pids["api_port"], pids["api"], headers),
            "rest": (pids["gateway_port"], pids["gateway"], {**headers, "apikey": anon_key}),
        }
        cases = {
            "page1": {"api": api_base, "rest": rest_base},
            "deep_cursor": {"api": f"{api_base}&cursor={cursor}", "rest": rest_deep},
        }
        user_id = json.loads(claims)["sub"]
        figures["other_routes"] = _throughput(doors, _other_routes(session_id, user_id), pgdata, runs_wanted=1)
        figures["throughput_1m"] = {
            **_throughput(doors, cases, pgdata),
            "asyncpg_page1": await _asyncpg_rate(database, claims, session_id, None),
            "asyncpg_deep_cursor": await _asyncpg_rate(database, claims, session_id, deep),
        }
    await pg.close()
    return figures


def main() -> None:
    started = time.monotonic()
    settings = Settings()
    with tempfile.TemporaryDirectory(prefix="cg-api-bench-") as scratch, throwaway_cluster() as cluster:
        gateway_port, api_port = free_port(), free_port()
        supabase_url = f"http://127.0.0.1:{gateway_port}"
        env = stack_env(
            cluster.url,
            gateway_port,
            settings.supabase.jwt_secret,
            LOCALBASE_MAIL_DIR=str(Path(scratch) / "mail"),
            API_RATE_LIMIT_ENABLED="false",
            # The bench user signs in right after registering (config.toml has confirmations on).
            GOTRUE_MAILER_AUTOCONFIRM="true",
            GOTRUE_RATE_LIMIT_OTP="1000000000",  # GoTrue's limits have no "off": 0 allows none
            GOTRUE_RATE_LIMIT_TOKEN_REFRESH="1000000000",  # noqa: S106 (a rate, not a password)
        )
        gateway = ["-m", "localbase", "serve", "--port", str(gateway_port)]
        api = ["-m", "api", "--port", str(api_port)]
        with (
            child("gateway", gateway, env, f"{supabase_url}/auth/v1/health") as gateway_process,
            child("api", api, env, f"http://127.0.0.1:{api_port}/health") as api_process,
        ):
            pids = {
                "api": api_process.pid,
                "api_port": api_port,
                "gateway": gateway_process.pid,
                "gateway_port": gateway_port,
            }
            api_url = f"http://127.0.0.1:{api_port}"
            email, password = f"bench-{uuid.uuid4().hex[:8]}@example.com", "password123"
            httpx.post(
                f"{api_url}/api/auth/register", json={"username": "bench_user", "email": email, "password": password}
            ).raise_for_status()
            login = httpx.post(f"{api_url}/api/auth/login", json={"email": email, "password": password})
            login.raise_for_status()
            figures = asyncio.run(
                _measure(
                    api_url,
                    supabase_url,
                    settings.supabase.anon_key,
                    login.json()["access_token"],
                    cluster.url,
                    pids=pids,
                    pgdata=cluster.data_dir,
                )
            )
    figures["seconds"] = round(time.monotonic() - started, 1)
    write_report("api", figures)


if __name__ == "__main__":
    main()
