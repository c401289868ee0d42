"""Storage: download throughput of a 1 MB object against a plain static file server on the same
file in the same run, and 100 concurrent 1 MB uploads (throughput and the gateway's peak memory).

    .venv/bin/python -m bench.storage_bench   (about 40 s; writes bench/out/storage.json)

Downloads: bench/loadgen.py keeps CONNECTIONS keep-alive connections busy on the public object
URL of the gateway (`python -m localbase serve`) and on the same bytes served by
bench/storage_baseline.py (Litestar static files on uvicorn), in ROUNDS alternating rounds of
ROUND_S seconds so that the shared machine's changing load hits both alike; the target is a
ratio of at least 0.8. Uploads: 100 raw 1 MB bodies sent at once through one httpx client; then
one 100 MB upload streamed in 1 MB chunks. Memory is the gateway's VmHWM (peak resident set)
read from /proc before and after each phase, so the growth shows whether bodies were held whole.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

from bench.harness import child, free_port, loadgen, summary_ms, throwaway_cluster, write_report
from core.settings import Settings

CONNECTIONS = 8
ROUND_S = 2.0
ROUNDS = 3
STORAGE_PATH = "/storage/v1/object/public/bench/one.bin"
MB = 1 << 20
UPLOADS = 100
BIG_MB = 100


def _load(port: int, path: str) -> dict[str, Any]:
    """One round of bench/loadgen.py: CONNECTIONS keep-alive connections GETting `path`."""
    result = loadgen(port, ROUND_S, [[{"method": "GET", "path": path}]] * CONNECTIONS)
    return {
        "req_per_s": round(result["count"] / result["elapsed"], 1),
        "errors": result["errors"],
        **summary_ms(result["latencies"]),
    }


def _merge(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Rounds of one server as one figure: mean requests/s, summed errors, the worst p99."""
    return {
        "req_per_s": round(sum(r["req_per_s"] for r in rounds) / len(rounds), 1),
        "errors": sum(r["errors"] for r in rounds),
        "rounds_req_per_s": [r["req_per_s"] for r in rounds],
        "p50_ms": sorted(r["p50_ms"] for r in rounds)[len(rounds) // 2],
        "p99_ms": max(r["p99_ms"] for r in rounds),
    }


def _kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _mib(kib: int) -> float:
    return round(kib / 1024, 1)


async def _uploads(base: str, headers: dict[str, str], bucket: str, body: bytes) -> tuple[float, int]:
    async with httpx.AsyncClient(
        base_url=base, headers=headers, timeout=120, limits=httpx.Limits(max_connections=UPLOADS)
    ) as client:
        started = time.perf_counter()
        responses = await asyncio.gather(
            *(
                client.post(
                    f"/object/{bucket}/up/{i}.bin", content=body, headers={"content-type": "application/octet-stream"}
                )
                for i in range(UPLOADS)
            )
        )
        elapsed = time.perf_counter() - started
    return elapsed, sum(1 for r in responses if r.status_code != 200)


async def _big_upload(base: str, headers: dict[str, str], bucket: str) -> tuple[float, int]:
    chunk = os.urandom(MB)

    async def body() -> AsyncIterator[bytes]:
        for _ in range(BIG_MB):
            yield chunk

    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=300) as client:
        started = time.perf_counter()
        response = await client.post(
            f"/object/{bucket}/big.bin", content=body(), headers={"content-type": "application/octet-stream"}
        )
        return time.perf_counter() - started, response.status_code


def main() -> int:
    settings = Settings()
    key = settings.supabase.service_role_key
    headers = {"apikey": key, "Authorization": f"Bearer {key}"}
    with throwaway_cluster() as cluster, tempfile.TemporaryDirectory(prefix="cg-bench-storage-") as tmp:
        port, base_port = free_port(), free_port()
        static = Path(tmp) / "static"
        static.mkdir()
        payload = os.urandom(MB)
        (static / "one.bin").write_bytes(payload)
        env = {
            **os.environ,
            "DATABASE_URL": cluster.url,
            "STORAGE_ROOT": str(Path(tmp) / "storage"),
            "STORAGE_FILE_SIZE_LIMIT": str(200 * MB),
            "NO_PROXY": "127.0.0.1",
        }
        serve = ["-m", "localbase", "serve", "--port", str(port)]
        with (
            child("gateway", serve, env, f"http://127.0.0.1:{port}/storage/v1/status") as gateway,
            child(
                "storage_baseline",
                ["-m", "bench.storage_baseline", str(base_port), str(static)],
                env,
                f"http://127.0.0.1:{base_port}/static/one.bin",
            ),
        ):
            base = f"http://127.0.0.1:{port}/storage/v1"
            httpx.post(f"{base}/bucket", json={"name": "bench", "public": True}, headers=headers).raise_for_status()
            httpx.post(
                f"{base}/object/bench/one.bin",
                content=payload,
                headers={**headers, "content-type": "application/octet-stream"},
            ).raise_for_status()
            served = httpx.get(f"{base}/object/public/bench/one.bin").content
            if served != payload or httpx.get(f"http://127.0.0.1:{base_port}/static/one.bin").content != payload:
                raise AssertionError("the two servers do not serve the same bytes")
            # Alternate short rounds so that a change in the shared machine's load hits both alike.
            runs: dict[str, list[dict[str, Any]]] = {"storage": [], "static": []}
            for _ in range(ROUNDS):
                runs["storage"].append(_load(port, STORAGE_PATH))
                runs["static"].append(_load(base_port, "/static/one.bin"))
            storage, plain = _merge(runs["storage"]), _merge(runs["static"])
            ratio = round(storage["req_per_s"] / plain["req_per_s"], 3) if plain["req_per_s"] else 0.0
            print(
                f"download 1 MB: storage {storage['req_per_s']} req/s, static {plain['req_per_s']} req/s, ratio {ratio}"
            )
            before = _kib(gateway.pid, "VmRSS")
            elapsed, failed = asyncio.run(_uploads(base, headers, "bench", payload))
            after_many = _kib(gateway.pid, "VmHWM")
            print(
                f"{UPLOADS} x 1 MB uploads: {elapsed:.2f} s, {UPLOADS / elapsed:.1f} MB/s, failed {failed},"
                f" peak RSS {_mib(after_many)} MiB (was {_mib(before)})"
            )
            big_elapsed, big_status = asyncio.run(_big_upload(base, headers, "bench"))
            after_big = _kib(gateway.pid, "VmHWM")
            print(
                f"{BIG_MB} MB streamed upload: {big_elapsed:.2f} s, status {big_status}, peak RSS {_mib(after_big)} MiB"
            )
    figures: dict[str, Any] = {
        "download_1mb": {
            "connections": CONNECTIONS,
            "rounds": ROUNDS,
            "round_s": ROUND_S,
            "storage": storage,
            "static": plain,
            "ratio": ratio,
            "target": 0.8,
        },
        "upload_100x1mb": {
            "seconds": round(elapsed, 3),
            "mb_per_s": round(UPLOADS / elapsed, 1),
            "failed": failed,
            "gateway_rss_before_mib": _mib(before),
            "gateway_peak_rss_mib": _mib(after_many),
        },
        "upload_100mb_streamed": {
            "seconds": round(big_elapsed, 3),
            "status": big_status,
            "gateway_peak_rss_mib": _mib(after_big),
            "peak_growth_mib": round(_mib(after_big) - _mib(after_many), 1),
        },
    }
    write_report("storage", figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
