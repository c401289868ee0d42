"""What every benchmark needs: a throwaway migrated cluster, its servers as child processes, the
load generator, CPU and memory read from /proc, percentiles, and the JSON report."""

from __future__ import annotations

import asyncio
import atexit
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from realtime import BroadcastPayload, RealtimeChannelOptions
from supabase import AsyncClient, acreate_client

from localbase.migrate import migrate
from localbase.postgres import Cluster

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
# Each child process's stderr goes to <bench>-<name>.log here, replaced when a bench starts it again.
LOG_DIR = Path(os.environ.get("BENCH_LOG_DIR", Path(tempfile.gettempdir()) / "cg-bench-logs"))


# A session's private channel as the web app joins it: broadcasts from others only, no presence.
CHAT_CHANNEL: RealtimeChannelOptions = {
    "config": {"private": True, "broadcast": {"self": False, "ack": False}, "presence": {"key": "", "enabled": False}}
}


def wait_http(url: str, process: subprocess.Popen[bytes], timeout: float = 60.0, ready: str = "") -> None:
    """Until `url` answers (with `ready` in its body, when given: e.g. a worker's `worker_listening`
    gauge at 1 once it has joined its Realtime subscription)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}; see {LOG_DIR}")
        try:
            if ready in httpx.get(url, timeout=1.0).text:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise TimeoutError(url)


@contextmanager
def child(
    name: str, args: list[str], env: Mapping[str, str], ready_url: str | None
) -> Iterator[subprocess.Popen[bytes]]:
    """`python <args>` from the repository's root, its stderr in LOG_DIR/<bench>-<name>.log, yielded
    once `ready_url` answers; stopped (SIGTERM, then SIGKILL after 20 s) when the block ends."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    with open(LOG_DIR / f"{Path(sys.argv[0]).stem}-{name}.log", "wb") as log:
        process = subprocess.Popen(
            [sys.executable, *args], env=dict(env), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log
        )
    try:
        if ready_url:
            wait_http(ready_url, process)
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def loadgen(port: int, duration: float, connections: list[list[dict[str, Any]]]) -> dict[str, Any]:
    """bench/loadgen.py's figures ({"count", "errors", "elapsed", "latencies"}) for `connections`,
    each cycling through its requests, against 127.0.0.1:`port` for `duration` seconds, run in a
    process of its own so the load generator does not share this one's interpreter."""
    spec = {"host": "127.0.0.1", "port": port, "duration": duration, "connections": connections}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(spec, handle)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bench.loadgen", handle.name], capture_output=True, check=True, cwd=ROOT
        )
    finally:
        os.unlink(handle.name)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def stack_env(database_url: str, port: int, jwt_secret: str, **extra: str) -> dict[str, str]:
    """The environment of a benchmark's gateway, worker and API on one cluster, with `extra` on top."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "SUPABASE_URL": f"http://127.0.0.1:{port}",
        "LOCALBASE_PORT": str(port),
        "SUPABASE_JWT_SECRET": jwt_secret,
        "NO_PROXY": "127.0.0.1,localhost",
        **extra,
    }


async def chat_listener(
    gateway: str, anon_key: str, token: str, session: str, on: Mapping[str, Callable[[BroadcastPayload], None]]
) -> AsyncClient:
    """A client joined to `chat:<session>` as the owner whose `token` it carries, calling `on[event]`
    for each broadcast of that event."""
    client = await acreate_client(gateway, anon_key)
    await client.realtime.set_auth(token)
    channel = client.channel(f"chat:{session}", CHAT_CHANNEL)
    for event, callback in on.items():
        channel.on_broadcast(event, callback)
    await channel.subscribe()
    return client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# A cluster initialised, migrated and stopped once per process: each throwaway cluster starts as a
# copy of its data folder. The drills build eight clusters in a test session, and initdb and the
# migrations cost 3-6 s each of CPU (twice that on a loaded machine); a copy of the folder, 0.2 s.
_PRISTINE: list[Path] = []
_PRISTINE_LOCK = threading.Lock()


def _pristine_data() -> Path:
    """The data folder of a migrated, cleanly stopped cluster, made on the first call."""
    with _PRISTINE_LOCK:
        if not _PRISTINE:
            root = Path(tempfile.mkdtemp(prefix="cg-bench-pristine-"))
            root.chmod(0o755)
            atexit.register(shutil.rmtree, root, ignore_errors=True)
            cluster = Cluster(root / "data", port=free_port(), durable=False)
            cluster.start()
            try:
                asyncio.run(migrate(cluster.url))
            finally:
                cluster.stop()
            _PRISTINE.append(cluster.data_dir)
        return _PRISTINE[0]


@contextmanager
def throwaway_cluster() -> Iterator[Cluster]:
    """A migrated PostgreSQL 15 on a free port in a temporary folder of its own (a copy of the
    process's pristine cluster: the same files initdb and the migrations write), removed afterwards."""
    pristine = _pristine_data()
    root = Path(tempfile.mkdtemp(prefix="cg-bench-pg-"))
    root.chmod(0o755)
    # cp -a keeps the files' owner (`postgres` when we are root) and modes, as PostgreSQL requires.
    subprocess.run(["cp", "-a", str(pristine), str(root / "data")], check=True)
    cluster = Cluster(root / "data", port=free_port(), durable=False)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.destroy()
        shutil.rmtree(root, ignore_errors=True)


def percentile(samples: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank; samples need not be sorted."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def summary_ms(samples_s: Sequence[float]) -> dict[str, float]:
    """p50/p99/mean/max of durations given in seconds, reported in milliseconds."""
    ms = [s * 1000 for s in samples_s]
    return {
        "n": len(ms),
        "p50_ms": round(percentile(ms, 50), 3),
        "p99_ms": round(percentile(ms, 99), 3),
        "mean_ms": round(sum(ms) / len(ms), 3) if ms else float("nan"),
        "max_ms": round(max(ms), 3) if ms else float("nan"),
    }


RUNS = int(os.environ.get("BENCH_RUNS", "5"))  # repetitions of the key figures, for their spread


def spread(values: Sequence[float], digits: int = 1) -> dict[str, Any]:
    """Median and range of one figure over the runs (each run measured in the same process)."""
    ordered = sorted(values)
    middle = (
        ordered[len(ordered) // 2]
        if len(ordered) % 2
        else (ordered[len(ordered) // 2 - 1] + ordered[len(ordered) // 2]) / 2
    )
    return {
        "median": round(middle, digits),
        "min": round(ordered[0], digits),
        "max": round(ordered[-1], digits),
        "runs": [round(v, digits) for v in values],
    }


def rss_kb(pid: int) -> int:
    """The process's resident memory now, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(*pids: int) -> float:
    """User + system CPU seconds these processes have used so far, all threads (0 for one gone)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def postgres_pids(data_dir: Path) -> list[int]:
    """The postmaster and its children (backends, background workers) right now."""
    postmaster = int((data_dir / "postmaster.pid").read_text().split()[0])
    pids = [postmaster]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == postmaster:
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def postgres_cpu_seconds(data_dir: Path) -> float:
    """CPU seconds the cluster has used so far: its live processes, plus what the postmaster has
    collected from children that already exited (cutime, cstime). Unlike summing a pid list taken
    earlier, a backend that starts or exits between two readings is counted, not lost."""
    pids = postgres_pids(data_dir)
    try:
        fields = Path(f"/proc/{pids[0]}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return cpu_seconds(*pids)
    reaped = int(fields[13]) + int(fields[14])  # cutime, cstime
    return cpu_seconds(*pids) + reaped / os.sysconf("SC_CLK_TCK")


def machine() -> dict[str, Any]:
    cpu = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        cpu = next(
            (
                line.split(":", 1)[1].strip()
                for line in cpuinfo.read_text().splitlines()
                if line.startswith("model name")
            ),
            "",
        )
    pg = subprocess.run(
        ["/usr/lib/postgresql/15/bin/postgres", "--version"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "postgres": pg,
        "platform": platform.platform(),
        "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
    }


def write_report(name: str, figures: dict[str, Any]) -> Path:
    OUT.mkdir(exist_ok=True)
    path = OUT / f"{name}.json"
    path.write_text(json.dumps({"benchmark": name, "machine": machine(), **figures}, indent=2, ensure_ascii=False))
    print(json.dumps(figures, indent=2, ensure_ascii=False))
    return path
