"""REST throughput against a minimal hand-written baseline, in the same run on the same machine.

    .venv/bin/python -m bench.rest_bench   (about 45 s; writes bench/out/rest.json)

Starts a throwaway cluster, seeds users with 30 chat sessions each, then runs the gateway
(`python -m localbase serve`) and bench/rest_baseline.py (Litestar + asyncpg) side by side and
loads each with bench/loadgen.py for three scenarios, each with a user JWT so RLS decides:
(a) one row by primary key, (b) a filtered, ordered 20-row page, (c) a single-row insert.
Each server is a single uvicorn process; the target is REST >= 90% of the baseline and >= 2,500
req/s for (a).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import uuid
from typing import Any

import asyncpg
import httpx

from bench.harness import child, free_port, loadgen, summary_ms, throwaway_cluster, write_report
from core.jwt import encode
from core.settings import Settings
from localbase.db import with_user

USERS = 8
SESSIONS_PER_USER = 30
CONNECTIONS = 16
DURATION = 5.0


async def seed(dsn: str) -> list[tuple[str, list[str]]]:
    """Users (through auth.users, so the profile trigger runs) and their sessions."""
    conn = await asyncpg.connect(dsn)
    users: list[tuple[str, list[str]]] = []
    try:
        for _ in range(USERS):
            uid = str(uuid.uuid4())
            await conn.execute(
                "insert into auth.users (id, email, raw_user_meta_data) values ($1, $2, $3)",
                uuid.UUID(uid),
                f"bench-{uid[:8]}@example.com",
                json.dumps({"username": f"bench_{uid[:8]}"}),
            )
            rows = await conn.fetch(
                "insert into public.chat_sessions (user_id, title) select $1, 'session ' || g"
                " from generate_series(1, $2) g returning id",
                uuid.UUID(uid),
                SESSIONS_PER_USER,
            )
            users.append((uid, [str(r["id"]) for r in rows]))
    finally:
        await conn.close()
    return users


def token(uid: str, secret: str) -> str:
    now = int(time.time())
    claims = {"sub": uid, "role": "authenticated", "aud": "authenticated", "iat": now, "exp": now + 3600}
    return encode(claims, secret)


def load(port: int, connections: list[list[dict[str, Any]]]) -> dict[str, Any]:
    result = loadgen(port, DURATION, connections)
    figures = {"req_per_s": round(result["count"] / result["elapsed"], 1), "errors": result["errors"]}
    figures.update(summary_ms(result["latencies"]))
    return figures


def scenarios(users: list[tuple[str, list[str]]], secret: str, rest: bool) -> dict[str, list[list[dict[str, Any]]]]:
    prefix = "/rest/v1" if rest else ""
    out: dict[str, list[list[dict[str, Any]]]] = {"get_by_pk": [], "page_20": [], "insert": []}
    for index in range(CONNECTIONS):
        uid, sessions = users[index % len(users)]
        auth = {"Authorization": f"Bearer {token(uid, secret)}", "Accept": "application/json"}
        if rest:
            auth["apikey"] = Settings().supabase.anon_key
        out["get_by_pk"].append(
            [
                {"method": "GET", "path": f"{prefix}/chat_sessions?select=*&id=eq.{sid}" if rest
                 else f"/chat_sessions/{sid}", "headers": auth}
                for sid in sessions[:10]
            ]
        )  # fmt: skip
        page = "/chat_sessions?select=*&is_active=eq.true&order=created_at.desc&limit=20"
        out["page_20"].append([{"method": "GET", "path": prefix + page if rest else "/chat_sessions", "headers": auth}])
        insert_headers = {**auth, "Content-Type": "application/json", "Prefer": "return=minimal"}
        out["insert"].append(
            [{"method": "POST", "path": f"{prefix}/chat_sessions", "headers": insert_headers, "body": '{"title": "t"}'}]
        )
    return out


def check_same_rows(rest_port: int, rest_runs: Any, base_port: int, base_runs: Any) -> None:
    """Both servers answer the read scenarios with the same rows (so RLS let the right ones through)."""
    for name, expected in (("get_by_pk", 1), ("page_20", 20)):
        answers = []
        for port, runs in ((rest_port, rest_runs), (base_port, base_runs)):
            request = runs[name][0][0]
            response = httpx.get(f"http://127.0.0.1:{port}{request['path']}", headers=request["headers"])
            answers.append(sorted(row["id"] for row in response.json()))
        if answers[0] != answers[1] or len(answers[0]) != expected:
            raise AssertionError(f"{name}: REST and baseline disagree: {answers}")


def main() -> int:
    secret = Settings().supabase.jwt_secret
    with throwaway_cluster() as cluster:
        dsn = cluster.url
        users = asyncio.run(seed(dsn))
        rest_port, base_port = free_port(), free_port()
        env = {**os.environ, "DATABASE_URL": dsn, "SUPABASE_JWT_SECRET": secret, "NO_PROXY": "127.0.0.1"}
        baseline = ["-m", "bench.rest_baseline", str(base_port), with_user(dsn, "authenticator"), secret]
        with (
            child(
                "gateway",
                ["-m", "localbase", "serve", "--port", str(rest_port)],
                env,
                f"http://127.0.0.1:{rest_port}/rest/v1/",
            ),
            child("rest_baseline", baseline, env, f"http://127.0.0.1:{base_port}/chat_sessions"),
        ):
            rest_runs = scenarios(users, secret, rest=True)
            base_runs = scenarios(users, secret, rest=False)
            check_same_rows(rest_port, rest_runs, base_port, base_runs)
            results: dict[str, Any] = {}
            for name in rest_runs:
                rest_figures = load(rest_port, rest_runs[name])
                base_figures = load(base_port, base_runs[name])
                ratio = rest_figures["req_per_s"] / base_figures["req_per_s"] if base_figures["req_per_s"] else 0.0
                results[name] = {"rest": rest_figures, "baseline": base_figures, "ratio": round(ratio, 3)}
                print(
                    f"{name:10s} rest {rest_figures['req_per_s']:8.1f} req/s p50 {rest_figures['p50_ms']:.2f} ms"
                    f" p99 {rest_figures['p99_ms']:.2f} ms | baseline {base_figures['req_per_s']:8.1f} req/s"
                    f" p50 {base_figures['p50_ms']:.2f} ms p99 {base_figures['p99_ms']:.2f} ms | ratio {ratio:.2f}"
                )
    write_report(
        "rest",
        {"connections": CONNECTIONS, "duration_s": DURATION, "users": USERS, "scenarios": results},
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
