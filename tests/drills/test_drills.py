"""The fault drills in their short form, one test each: a worker SIGKILLed mid-stream, PostgreSQL
and the gateway restarted under load, a model failing 30% of calls, and abuse at the front door.
Each builds its own cluster and processes, and fails on any lost, duplicated or unfinished message."""

from __future__ import annotations

import pytest

from drills.runner import DRILLS, run_one


@pytest.mark.timeout(90)
@pytest.mark.parametrize("name", list(DRILLS))
async def test_drill_short_form_passes_its_audit(name: str) -> None:
    verdict = await run_one(name, short=True)
    assert verdict.ok, verdict.line() + "\n" + str(verdict.figures.get("crash", ""))
    assert verdict.figures["sent"] > 0
    assert verdict.figures["answered"] > 0
