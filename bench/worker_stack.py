"""The system under test of the benches that ask the worker questions (worker, qwen, service): the
gateway, the fake DashScope and `python -m worker` as child processes on a throwaway cluster,
fresh users with a session each, waiting until every question is answered, and what the processes
report (CPU per process, the worker's Prometheus histograms and counters, the fake's first events).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime
from pathlib import Path

import asyncpg
import httpx
from prometheus_client.parser import text_string_to_metric_families

from bench.harness import child, cpu_seconds, free_port, postgres_cpu_seconds, wait_http
from core.jwt import encode
from core.settings import Settings

TTFT_S = 0.05  # the fake's time to first token in every latency figure (subtracted from it)
WORKER_CONCURRENCY = 1200  # turns in flight per worker: room for the worker bench's 1,000 streams


class Stack:
    """The worker's side of a bench stack whose gateway (on `gateway`, Postgres at `dsn`) is running."""

    def __init__(self, dsn: str, gateway: str, env: dict[str, str]) -> None:
        self.dsn = dsn
        self.gateway = gateway
        self.env = env
        self.settings = Settings()
        self.pids: dict[str, int] = {}  # gateway, fakescope, worker: for CPU per turn
        self.worker_metrics: str | None = None  # the worker's Prometheus endpoint: the hops it times
        self.fake_url = ""
        self.pgdata: Path | None = None

    async def track_postgres_functions(self) -> None:
        """Have the throwaway cluster count time and calls per PL/pgSQL function (a clock reading
        at each call's start and end) for `postgres_functions`."""
        conn = await asyncpg.connect(self.dsn)
        try:
            await conn.execute("alter system set track_functions = 'pl'")
            await conn.execute("select pg_reload_conf()")
        finally:
            await conn.close()

    @contextmanager
    def fake_and_worker(self, fake_args: list[str], workers: int = 1, **worker_env: str) -> Iterator[tuple[str, int]]:
        port = free_port()
        fake_url = f"http://127.0.0.1:{port}"
        self.fake_url = fake_url
        with child(
            "fakescope", ["-m", "fakescope", "--port", str(port), *fake_args], self.env, f"{fake_url}/_fake/stats"
        ) as fake:
            env = {
                **self.env,
                "DASHSCOPE_API_KEY": "sk-bench",
                "DASHSCOPE_HTTP_BASE_URL": f"{fake_url}/api/v1",
                "WORKER_CONCURRENCY": str(WORKER_CONCURRENCY),
                "WORKER_LOG_LEVEL": "WARNING",
                **worker_env,
            }
            for stale in [name for name in self.pids if name.startswith("worker")]:
                del self.pids[stale]
            with ExitStack() as started:
                pids = []
                for i in range(workers):  # each with its Prometheus endpoint, started once it listens
                    metrics_port = free_port()
                    name = f"worker{i + 1 if i else ''}"
                    worker = started.enter_context(
                        child(name, ["-m", "worker"], {**env, "WORKER_METRICS_PORT": str(metrics_port)}, None)
                    )
                    metrics = f"http://127.0.0.1:{metrics_port}/metrics"
                    wait_http(metrics, worker, ready="\nworker_listening 1.0")
                    pids.append(worker.pid)
                    if i == 0:
                        self.worker_metrics = metrics
                self.pids.update(
                    fakescope=fake.pid, **{f"worker{i + 1 if i else ''}": pid for i, pid in enumerate(pids)}
                )
                yield fake_url, pids[0]

    async def users(self, conn: asyncpg.Connection, count: int, thinking: bool = False) -> list[tuple[str, str, str]]:
        """(user id, session id, access token) for `count` fresh users, one session each (on a
        thinking model with thinking on, if asked)."""
        out = []
        now = int(time.time())
        for _ in range(count):
            user = str(uuid.uuid4())
            await conn.execute(
                "insert into auth.users (id, aud, role, email, raw_user_meta_data) values"
                " ($1, 'authenticated', 'authenticated', $2, $3::jsonb)",
                user,
                f"b-{user[:8]}@example.com",
                json.dumps({"username": f"b_{user[:12]}"}),
            )
            session = str(
                await conn.fetchval(
                    "insert into chat_sessions (user_id, model, thinking) values ($1, $2, $3) returning id",
                    user,
                    "qwen-plus" if thinking else None,
                    True if thinking else None,
                )
            )
            token = encode(
                {"sub": user, "role": "authenticated", "aud": "authenticated", "exp": now + 7200},
                self.settings.supabase.jwt_secret,
            )
            out.append((user, session, token))
        return out

    async def wait_idle(self, conn: asyncpg.Connection, since: datetime, within: float = 120.0) -> None:
        """Until every user message asked from `since` on has a final answer, polled so that it costs
        the database under test next to nothing: while any answer made since `since` is still
        pending or streaming (one probe of the small partial index of open replies, ~0.2 ms) nothing
        more is read. Only when none is are the questions counted, which reads every answer of the
        table (3-15 ms as it grows; done 20 times a second through a burst it took more Postgres CPU
        than the turns it was waiting for, and took it from them)."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            if await conn.fetchval(
                "select exists (select from chat_messages where status in ('pending', 'streaming')"
                " and created_at >= $1)",
                since,
            ):
                continue
            left = await conn.fetchval(
                "select count(*) from chat_messages q where q.message_type = 'user' and q.created_at >= $1"
                " and not exists (select 1 from chat_messages a where a.reply_to = q.id"
                "  and a.status in ('completed', 'error', 'cancelled'))",
                since,
            )
            if left == 0:
                return
        raise TimeoutError("answers still missing")

    async def postgres_functions(self) -> dict[str, tuple[float, int]]:
        """(self milliseconds, calls) of each PL/pgSQL function the cluster has run so far: the
        functions and trigger functions of migrations/ (`track_functions = 'pl'`, set by
        `track_postgres_functions`). Self time is wall time inside the function's own statements,
        not in the functions it calls; each backend reports at its transaction ends at most once
        a second, so a reading can lag by that much."""
        conn = await asyncpg.connect(self.dsn)
        try:
            rows = await conn.fetch(
                "select schemaname || '.' || funcname as name, sum(self_time) as ms, sum(calls) as calls"
                " from pg_stat_user_functions group by 1"
            )
        finally:
            await conn.close()
        return {row["name"]: (float(row["ms"]), int(row["calls"])) for row in rows}

    async def fake_first_events(self) -> tuple[float, int]:
        """(seconds, streams) the fake has spent from each request's arrival to its first event."""
        async with httpx.AsyncClient() as http:
            stats = (await http.get(f"{self.fake_url}/_fake/stats")).json()
        return float(stats["first_event_seconds"]), int(stats["first_events"])

    async def histogram_totals(self) -> dict[tuple[str, str], tuple[float, float]]:
        """(sum, count) of the worker's histograms so far, by (name, its `generation` label or "");
        empty without its endpoint."""
        if self.worker_metrics is None:
            return {}
        async with httpx.AsyncClient() as http:
            text = (await http.get(self.worker_metrics)).text
        totals: dict[tuple[str, str], tuple[float, float]] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                kind = sample.name.rsplit("_", 1)[1]
                if family.type == "histogram" and kind in ("sum", "count"):
                    key = (family.name, sample.labels.get("generation", ""))
                    total, count = totals.get(key, (0.0, 0.0))
                    totals[key] = (sample.value, count) if kind == "sum" else (total, sample.value)
        return totals

    async def counter(self, name: str, **labels: str) -> float:
        """A counter of the worker's so far (the sum over its samples with these labels)."""
        if self.worker_metrics is None:
            return 0.0
        async with httpx.AsyncClient() as http:
            text = (await http.get(self.worker_metrics)).text
        for family in text_string_to_metric_families(text):
            if family.name == name:
                return sum(
                    sample.value
                    for sample in family.samples
                    if sample.name.endswith("_total") and labels.items() <= sample.labels.items()
                )
        return 0.0

    def cpu(self) -> dict[str, float]:
        """CPU seconds used so far by each process of the system under test, and by this bench."""
        used = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        used["postgres"] = postgres_cpu_seconds(self.pgdata) if self.pgdata else 0.0
        times = os.times()
        used["bench_client"] = times.user + times.system
        return used
