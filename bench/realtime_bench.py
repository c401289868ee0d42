"""Realtime: commit-to-delivery latency with 1/100/1,000 subscribers, broadcast throughput, and
memory per idle connection. Own throwaway cluster and gateway subprocess; subscribers run in a
separate process so their work does not share the server's (or the writer's) CPU budget.

python -m bench.realtime_bench          (about a minute; writes bench/out/realtime.json)
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import websockets

from bench.harness import free_port, summary_ms, throwaway_cluster, write_report
from core.settings import Settings

_INSERTS = 100
_CLIENT_MESSAGES_PER_S = 5000  # keep the one subscriber process from being the bottleneck
_BROADCASTS = 5000


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def _join(ws: Any, topic: str, config: dict[str, Any]) -> None:
    await ws.send(
        json.dumps({"topic": topic, "event": "phx_join", "payload": {"config": config}, "ref": "1", "join_ref": "1"})
    )
    while True:
        reply = json.loads(await ws.recv())
        if reply["event"] == "phx_reply":
            return


async def subscribers(url: str, count: int, expected: int) -> None:
    """Child process: `count` sockets on the bench table; prints receive times per row id."""
    changes = {"postgres_changes": [{"event": "INSERT", "schema": "public", "table": "rt_bench"}]}
    sockets = [await websockets.connect(url, max_queue=None) for _ in range(count)]
    for ws in sockets:
        await _join(ws, "realtime:bench", changes)
    print("ready", flush=True)
    received: list[tuple[int, float]] = []

    async def listen(ws: Any) -> None:
        seen = 0
        while seen < expected:
            message = json.loads(await ws.recv())
            if message["event"] == "postgres_changes":
                received.append((message["payload"]["data"]["record"]["id"], time.time()))
                seen += 1

    await asyncio.wait_for(asyncio.gather(*(listen(ws) for ws in sockets)), timeout=120)
    print(json.dumps(received), flush=True)
    for ws in sockets:
        await ws.close()


async def _latency(dsn: str, url: str, count: int) -> dict[str, Any]:
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.realtime_bench",
        "subscribers",
        url,
        str(count),
        str(_INSERTS),
        stdout=asyncio.subprocess.PIPE,
        limit=1 << 26,
    )
    assert child.stdout is not None
    assert (await child.stdout.readline()).strip() == b"ready"
    conn = await asyncpg.connect(dsn)
    await asyncio.sleep(1.0)  # the "Subscribed to PostgreSQL" confirmations settle
    committed: dict[int, float] = {}
    for row in range(_INSERTS):
        committed[row] = time.time()
        await conn.execute("insert into public.rt_bench (id) values ($1)", row + count * 1000)
        await asyncio.sleep(max(0.02, count / _CLIENT_MESSAGES_PER_S))
    await conn.close()
    received = json.loads(await child.stdout.readline())
    await child.wait()
    samples = [at - committed[row - count * 1000] for row, at in received]
    return {"subscribers": count, **summary_ms(samples)}


async def _broadcast_rate(url: str) -> dict[str, Any]:
    async with websockets.connect(url, max_queue=None) as sender, websockets.connect(url, max_queue=None) as receiver:
        for ws in (sender, receiver):
            await _join(ws, "realtime:firehose", {"broadcast": {"self": False}})
        started = time.perf_counter()
        for n in range(_BROADCASTS):
            frame = {"type": "broadcast", "event": "e", "payload": {"n": n}}
            await sender.send(
                json.dumps({"topic": "realtime:firehose", "event": "broadcast", "payload": frame, "ref": None})
            )
        got = 0
        while got < _BROADCASTS:
            if json.loads(await receiver.recv())["event"] == "broadcast":
                got += 1
        elapsed = time.perf_counter() - started
    return {"messages": _BROADCASTS, "seconds": round(elapsed, 3), "messages_per_s": round(_BROADCASTS / elapsed)}


async def _idle_memory(url: str, pid: int, count: int = 1000) -> dict[str, Any]:
    before = _rss_kb(pid)
    sockets = [await websockets.connect(url) for _ in range(count)]
    for ws in sockets:
        await _join(ws, "realtime:idle", {})
    await asyncio.sleep(1.0)
    after = _rss_kb(pid)
    for ws in sockets:
        await ws.close()
    return {
        "connections": count,
        "rss_delta_kb": after - before,
        "kb_per_connection": round((after - before) / count, 2),
    }


async def _run(dsn: str, port: int, pid: int) -> dict[str, Any]:
    settings = Settings()
    url = f"ws://127.0.0.1:{port}/realtime/v1/websocket?apikey={settings.supabase.service_role_key}&vsn=1.0.0"
    conn = await asyncpg.connect(dsn)
    await conn.execute(
        "create table public.rt_bench (id bigint primary key, at timestamptz default now());"
        "alter publication supabase_realtime add table public.rt_bench"
    )
    await conn.close()
    memory = await _idle_memory(url, pid)
    latency = [await _latency(dsn, url, count) for count in (1, 100, 1000)]
    broadcast = await _broadcast_rate(url)
    return {"idle_memory": memory, "insert_to_delivery": latency, "broadcast": broadcast}


def _wait_until_up(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def main() -> None:
    with throwaway_cluster() as cluster:
        port = free_port()
        env = {**os.environ, "DATABASE_URL": cluster.url, "LOCALBASE_PORT": str(port), "NO_PROXY": "127.0.0.1"}
        server = subprocess.Popen([sys.executable, "-m", "localbase", "serve", "--port", str(port)], env=env)
        try:
            _wait_until_up(f"http://127.0.0.1:{port}/realtime/v1/api/broadcast")
            figures = asyncio.run(_run(cluster.url, port, server.pid))
        finally:
            server.terminate()
            server.wait(timeout=10)
    write_report("realtime", figures)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "subscribers":
        asyncio.run(subscribers(sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
    else:
        main()
