"""Drill 2: restart PostgreSQL (fast shutdown, then start) under load. The gateway's pools, the
worker (through the gateway) and the API must all come back by themselves, and every question
that was acknowledged must end answered."""

from __future__ import annotations

import asyncio
import time

from drills.load import Ledger
from drills.outage import OPEN_API, internal_errors, under_outage
from drills.report import Verdict, audit_failures, load_figures
from drills.rig import Shape, rig

DOWN_FOR = 1.0  # seconds the database stays down: long enough that every client notices


async def run(short: bool) -> Verdict:
    started = time.monotonic()
    ledger = Ledger()
    async with rig("postgres_restart", Shape(workers=1, api_env=OPEN_API)) as world:

        async def restart(_: int) -> None:
            await asyncio.to_thread(world.cluster.stop, "fast")
            await asyncio.sleep(DOWN_FOR)  # the outage itself, not a wait for anything
            await asyncio.to_thread(world.cluster.start)

        result, figures = await under_outage(world, ledger, 1 if short else 3, restart, drain_within=60)
    all_figures = {**load_figures(ledger, result), **figures}
    failures = audit_failures(result) + internal_errors(ledger)
    return Verdict("postgres_restart", not failures, time.monotonic() - started, all_figures, failures)
