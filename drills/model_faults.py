"""Drill 4: the model misbehaves on 30% of calls: 429 throttling, 500 internal errors, and streams
that stall after a few chunks. The worker retries what is retryable and ends the rest in `error`
with a stable code; nothing is left unfinished. Reports completed vs error and the codes seen."""

from __future__ import annotations

import functools
import time

import httpx

from drills.audit import audit
from drills.common import ANSWER_CODES, until
from drills.load import Ledger, Load
from drills.report import Verdict, audit_failures, load_figures
from drills.rig import Shape, rig

FAULTS = {
    "rate": 0.3,
    "pool": [
        {"fault": "throttling", "retry_after": 0.2},  # 429 Throttling with Retry-After
        {"fault": "internal_error"},  # 500 InternalError
        {"fault": "stall", "after_chunks": 2, "stall_s": 30},  # silent mid-stream
    ],
}
# A stalled stream is given up after a second without bytes.
WORKER = {"LLM_READ_TIMEOUT": "1"}


async def _answered(ledger: Ledger, count: int) -> bool:
    return ledger.count("acked") >= count


async def run(short: bool) -> Verdict:
    started = time.monotonic()
    ledger = Ledger()
    questions = 40 if short else 400
    async with (
        rig("model_faults", Shape(workers=2, worker_env=WORKER)) as world,
        httpx.AsyncClient(base_url=world.fake_url, trust_env=False) as fake,
    ):
        (await fake.post("/_fake/faults", json=FAULTS)).raise_for_status()
        people = await world.people(8)
        async with Load(world, people, ledger).running():
            await until(functools.partial(_answered, ledger, questions), within=120)
        result = await audit(world.pool, ledger, drain_within=60, known_codes=ANSWER_CODES)
        stats = (await fake.get("/_fake/stats")).json()
    figures = {
        **load_figures(ledger, result),
        "model_calls": stats.get("calls"),
        "model_retries": int(stats.get("calls") or 0) - ledger.count("acked"),
        "model_faults": stats.get("faults"),
        "model_statuses": stats.get("statuses"),
        "error_codes": dict(result.error_codes),
        "stable_codes": sorted(ANSWER_CODES),
    }
    failures = audit_failures(result)
    if not stats.get("faults"):
        failures.append("the fake injected no faults; the drill proved nothing")
    return Verdict("model_faults", result.ok and not failures, time.monotonic() - started, figures, failures)
