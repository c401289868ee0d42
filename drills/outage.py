"""The shape of the restart drills: conversations running through REST and the API while a
component goes down and comes back, `restarts` times; after each, how long until a user who
kept trying got an answer again, through each path."""

from __future__ import annotations

import asyncio
import functools
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from drills.audit import Audit, audit
from drills.common import ANSWER_CODES, recovery, until
from drills.load import Ledger, Load
from drills.rig import Rig

# The API with limits out of the way and a send that gives up waiting before the load does.
OPEN_API = {
    "API_ANSWER_TIMEOUT": "10",
    "API_ANSWER_POLL_INTERVAL": "0.5",
    "API_RATE_SEND_PER_USER": "1000000",
    "API_RATE_SEND_PER_IP": "1000000",
    "API_RATE_AUTH_PER_IP": "1000000",
}


async def _more_answers(ledger: Ledger, since: float, count: int) -> bool:
    return len(ledger.acked_after(since)) >= count


async def under_outage(
    world: Rig, ledger: Ledger, restarts: int, fault: Callable[[int], Awaitable[None]], drain_within: float
) -> tuple[Audit, dict[str, Any]]:
    """Run the load, inflict `fault(i)` (which must return once the component is back) `restarts`
    times, measure recovery after each, then stop the load and audit."""
    people = await world.people(8)
    rest_probe, api_probe = await world.people(2)
    outages: list[float] = []
    recoveries: dict[str, list[float]] = {"rest": [], "api": []}
    async with Load(world, people, ledger, vias=("rest", "api")).running():
        await until(functools.partial(_more_answers, ledger, 0.0, 10), within=60)
        for i in range(restarts):
            since = time.monotonic()
            await fault(i)
            outages.append(time.monotonic() - since)
            rest_s, api_s = await asyncio.gather(
                recovery(world, ledger, rest_probe, via="rest", since=since),
                recovery(world, ledger, api_probe, via="api", since=since),
            )
            recoveries["rest"].append(round(rest_s, 2))
            recoveries["api"].append(round(api_s, 2))
            # The load itself is flowing again, not just the probes.
            await until(functools.partial(_more_answers, ledger, since, 10), within=60)
    result = await audit(world.pool, ledger, drain_within=drain_within, known_codes=ANSWER_CODES)
    # An outage may be answered 502/503/504 (retry later), never 500 (a bug of ours).
    figures: dict[str, Any] = {
        "outage_statuses": dict(Counter(f"{s.via}:{s.status}" for s in ledger.sends if (s.status or 0) >= 500)),
        "restarts": restarts,
        "outage_s": [round(s, 2) for s in outages],
        "recovery_s": round(max(recoveries["rest"] + recoveries["api"]), 2),
        "recovery_by_path_s": recoveries,
    }
    return result, figures


def internal_errors(ledger: Ledger) -> list[str]:
    """Sends answered 500: during an outage the honest answer is 503 (retry), not an internal error."""
    count = sum(1 for s in ledger.sends if s.status == 500)
    return [f"{count} sends answered 500 during the outage"] if count else []
