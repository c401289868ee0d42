"""`make bench`: run every benchmark, each in its own process, and merge their figures into
bench/report.json (with the machine and package versions) plus PNG plots in bench/out/.

A benchmark that fails is recorded as failed in the report; the others still run.
`python -m bench api` (or several names) reruns those alone and keeps the other entries;
BENCH_RUNS=1 makes a quick pass (the key figures are repeated 5 times by default).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.harness import OUT, RUNS, machine

BENCHMARKS = [
    "search_bench",
    "sweep_bench",
    "rest_bench",
    "realtime_bench",
    "worker_bench",
    "api_bench",
    "storage_bench",
    "trees_bench",
    "service_bench",
    "qwen_bench",
]
REPORT = Path(__file__).resolve().parent / "report.json"
TIME_LIMIT_S = 900


def _versions() -> dict[str, str]:
    names = [
        "supabase",
        "postgrest",
        "realtime",
        "supabase-auth",
        "dashscope",
        "litestar",
        "msgspec",
        "asyncpg",
        "uvicorn",
    ]
    found = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


METHOD = (
    "Each benchmark runs in its own process against its own throwaway PostgreSQL 15 cluster and its own "
    "gateway/API/worker subprocesses on loopback. Key figures repeat BENCH_RUNS times (default 5) and "
    "are reported with their median, range and every run; ratios (API over local REST, REST over the "
    "hand-written baseline) are computed within one run, where both doors meet the same machine state. "
    "CPU per request or per turn comes from each process's own CPU counters (/proc), which the load "
    "from other work on a shared machine disturbs far less than wall-clock latency: judge changes by "
    "those and by the ratios. load_average is taken before and after each benchmark."
)


def _run(module: str) -> dict[str, Any]:
    name = module.removesuffix("_bench")
    load_before = [round(x, 2) for x in os.getloadavg()]
    started = time.monotonic()
    try:
        result = subprocess.run([sys.executable, "-m", f"bench.{module}"], timeout=TIME_LIMIT_S, check=False)
    except subprocess.TimeoutExpired:
        return {"status": "failed", "reason": f"timed out after {TIME_LIMIT_S}s"}
    elapsed = round(time.monotonic() - started, 1)
    path = OUT / f"{name}.json"
    if result.returncode != 0 or not path.exists():
        return {"status": "failed", "reason": f"exit code {result.returncode}", "seconds": elapsed}
    figures: dict[str, Any] = json.loads(path.read_text())
    figures.pop("machine", None)
    load = {"before": load_before, "after": [round(x, 2) for x in os.getloadavg()]}
    return {"status": "ok", "seconds": elapsed, "load_average_1_5_15": load, **figures}


def main(argv: list[str]) -> int:
    selected = [m for m in BENCHMARKS if not argv or m.removesuffix("_bench") in argv]
    # A partial run (`python -m bench api`) refreshes its own entries and keeps the others.
    results: dict[str, Any] = json.loads(REPORT.read_text())["results"] if argv and REPORT.exists() else {}
    results.update({module.removesuffix("_bench"): _run(module) for module in selected})
    method = {"description": METHOD, "runs": RUNS, "benchmarks_run": [m.removesuffix("_bench") for m in selected]}
    report = {"machine": machine(), "method": method, "versions": _versions(), "results": results}
    REPORT.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    try:
        from bench.plots import draw  # noqa: PLC0415 - plotting is optional for the figures themselves

        draw(report, OUT)
    except ImportError as exc:
        print(f"plots skipped: {exc}", file=sys.stderr)
    failed = [name for name in results if results[name]["status"] != "ok"]
    print(f"\nreport: {REPORT}" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
