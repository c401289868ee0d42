"""The drills in the order they run, and running them one after another."""

from __future__ import annotations

import time
import traceback
from collections.abc import Awaitable, Callable

from drills import abuse, gateway_restart, model_faults, postgres_restart, worker_kill
from drills.report import Verdict

DRILLS: dict[str, Callable[[bool], Awaitable[Verdict]]] = {
    "worker_kill": worker_kill.run,
    "postgres_restart": postgres_restart.run,
    "gateway_restart": gateway_restart.run,
    "model_faults": model_faults.run,
    "abuse": abuse.run,
}


async def run_one(name: str, short: bool) -> Verdict:
    """Run drill `name`; a drill that crashes (a component never came back, say) is a failed verdict."""
    started = time.monotonic()
    try:
        return await DRILLS[name](short)
    except Exception as exc:  # any crash is the drill's finding, reported as such
        detail = "".join(traceback.format_exception_only(exc)).strip()
        return Verdict(name, False, time.monotonic() - started, {"crash": traceback.format_exc()}, [detail])


async def run_all(names: list[str], short: bool, echo: Callable[[str], None]) -> list[Verdict]:
    verdicts = []
    for name in names:
        verdict = await run_one(name, short)
        echo(verdict.line())
        verdicts.append(verdict)
    return verdicts
