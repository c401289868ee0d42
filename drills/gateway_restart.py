"""Drill 3: restart the local stack's gateway (auth, REST, realtime in one process) under load,
alternately with SIGTERM and SIGKILL. The worker's realtime socket and the API's clients must
reconnect; questions whose realtime event was lost are found by the worker's sweep."""

from __future__ import annotations

import time

from drills.load import Ledger
from drills.outage import OPEN_API, internal_errors, under_outage
from drills.report import Verdict, audit_failures, load_figures
from drills.rig import Shape, rig


async def run(short: bool) -> Verdict:
    started = time.monotonic()
    ledger = Ledger()
    async with rig("gateway_restart", Shape(workers=2, api_env=OPEN_API)) as world:

        async def restart(i: int) -> None:
            if i % 2:
                await world.gateway.kill()
            else:
                await world.gateway.stop()
            await world.gateway.start()

        result, figures = await under_outage(world, ledger, 1 if short else 4, restart, drain_within=60)
    all_figures = {**load_figures(ledger, result), **figures}
    failures = audit_failures(result) + internal_errors(ledger)
    return Verdict("gateway_restart", not failures, time.monotonic() - started, all_figures, failures)
