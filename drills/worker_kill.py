"""Drill 1: SIGKILL a worker while it is streaming answers, again and again, with a second worker
running. A killed worker's leases expire and the other worker (or its restarted successor) finishes
the same answer rows; the audit proves none was lost or answered twice."""

from __future__ import annotations

import functools
import time

from bench.harness import summary_ms
from drills.audit import audit
from drills.common import ANSWER_CODES, until
from drills.load import FINAL, Ledger, Load
from drills.report import Verdict, audit_failures, load_figures
from drills.rig import Rig, Shape, rig

SLOW_ENOUGH = ("--ttft", "0.05", "--tokens-per-s", "80", "--tokens-per-event", "2", "--answer-tokens", "50")

_IN_FLIGHT = """
select id::text, status::text from chat_messages
 where lease_owner = $1 and status in ('pending', 'streaming')
"""


async def _in_flight(world: Rig, worker_id: str) -> list[str]:
    """The answers `worker_id` holds, once at least one of them is streaming text (else none)."""
    rows = await world.pool.fetch(_IN_FLIGHT, worker_id)
    return [r["id"] for r in rows] if any(r["status"] == "streaming" for r in rows) else []


async def _streaming(world: Rig, prefer: int) -> tuple[int, list[str]] | None:
    """A worker slot streaming answers now and those answers, the `prefer`red slot first; None while
    neither is. Not always the preferred one: a session stays with the worker that answered its
    last turn (worker/early.py: the other worker defers its claim), so after a takeover, or first
    races all won by one worker, the other may hold nothing for as long as the load runs."""
    for slot in (prefer, 1 - prefer):
        answers = await _in_flight(world, world.workers[slot].name)
        if answers:
            return slot, answers
    return None


async def _finished(world: Rig, answer_ids: list[str], killed_at: float, takeovers: list[float]) -> None:
    async def all_final() -> bool:
        done = await world.pool.fetchval(
            "select count(*) from chat_messages where id = any($1::uuid[]) and status = any($2::message_status[])",
            answer_ids,
            list(FINAL),
        )
        return bool(done == len(answer_ids))

    await until(all_final, within=60, every=0.05)
    takeovers.append(time.monotonic() - killed_at)


async def run(short: bool) -> Verdict:
    kills = 3 if short else 50
    started = time.monotonic()
    ledger = Ledger()
    takeovers: list[float] = []
    stranded = 0
    async with rig("worker_kill", Shape(fake_args=SLOW_ENOUGH, workers=2)) as world:
        people = await world.people(8)
        async with Load(world, people, ledger).running():
            for n in range(kills):
                # Alternate where the load allows, so the other worker has been up for a while.
                found = await until(functools.partial(_streaming, world, n % 2), within=60)
                assert found is not None  # until returns only a truthy value
                slot, answers = found
                victim = world.workers[slot]
                await victim.kill()
                killed_at = time.monotonic()
                stranded += len(answers)
                world.workers[slot] = world.worker(slot)
                await world.workers[slot].start()
                # The next kill waits for this one's answers to be finished by someone: each kill
                # is then one clean takeover, timed, rather than a pile-up of retakes.
                await _finished(world, answers, killed_at, takeovers)
        result = await audit(world.pool, ledger, drain_within=30 if short else 60, known_codes=ANSWER_CODES)
    figures = {
        **load_figures(ledger, result),
        "killed_workers": kills,
        "answers_in_flight_at_kill": stranded,
        "recovery_s": round(max(takeovers), 2),
        "takeover": summary_ms(takeovers),
    }
    return Verdict("worker_kill", result.ok, time.monotonic() - started, figures, audit_failures(result))
