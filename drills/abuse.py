"""Drill 5: abuse at the front door. Bursts ten times over the rate limits on send and on the auth
endpoints (429 + Retry-After, nothing stored for the excess, the accepted ones served), then
malformed, oversized and hostile input on every API endpoint and on the stack's REST and Auth
(clear 4xx, never 5xx, nothing changed). The audit then checks every accepted question was answered."""

from __future__ import annotations

import time

from drills import bursts, hostile
from drills.audit import audit
from drills.common import ANSWER_CODES
from drills.load import Ledger
from drills.outage import OPEN_API
from drills.report import Verdict, audit_failures, load_figures
from drills.rig import Shape, rig


async def run(short: bool) -> Verdict:
    started = time.monotonic()
    ledger = Ledger()
    burst = bursts.BurstResult()
    async with rig("abuse", Shape(workers=1, api_env=bursts.LIMITED_API)) as world:
        open_api = world.spawn_api("api-open", **OPEN_API)
        try:
            await open_api.start()
            me, other = await world.people(2)
            await bursts.away_from_window_edge()
            await bursts.send_burst(world, world.api_url, me, ledger, burst)
            accounts = await bursts.auth_bursts(world, world.api_url, burst)
            findings, hostile_problems = await hostile.run_probes(world, open_api.url, me, other)
            result = await audit(world.pool, ledger, drain_within=30, known_codes=ANSWER_CODES)
        finally:
            await open_api.stop()  # the rig stops only the children it started itself
    figures = {
        **load_figures(ledger, result),
        "limit": bursts.LIMIT,
        "burst": bursts.BURST,
        "burst_statuses": {what: {str(k): n for k, n in sorted(c.items())} for what, c in burst.statuses.items()},
        **accounts,
        "probes": len(findings),
        "probe_statuses": {f.probe: f.status for f in findings},
        "probe_codes": {f.probe: f.code for f in findings},
    }
    failures = audit_failures(result) + burst.problems + hostile_problems
    return Verdict("abuse", not failures, time.monotonic() - started, figures, failures)
