"""The audit that ends every drill: after the load stops and the system drains, every question in
the database has exactly one final answer, and the database agrees with what the clients were told.

Failures (each one a lost or duplicated message, or a wrong row):
- `lost`: a send was acknowledged but its question is not in the database;
- `duplicated`: one send's nonce on more than one question row;
- `stored_refused`: a question stored although its send was refused with a 4xx;
- `unanswered`: a question with no answer row, or one still pending/streaming at the deadline;
- `empty_completed`: an answer marked completed with no text;
- `error_without_code`: an error answer without a stable code;
- `orphan_answers`: an assistant row that answers no question;
- `unsettled`: a final answer whose question's reservation is still open (never charged);
- `unbilled`: an answer that streamed text or thinking to its user, charged nothing.
Sends that failed with a 5xx or got no response may have been stored; those rows are counted
(`stored_after_failure`) and must be answered like any other, but are not failures.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from drills.load import FINAL, Ledger

NONCE = re.compile(r"drill ([0-9a-f]{16}):")

_QUESTIONS = """
select q.id::text as id, q.content as question, a.status::text as status, a.content as answer,
       a.error_code, a.error_message, a.attempts, coalesce(a.reasoning, '') <> '' as thought,
       l.state as charge, l.charged
  from chat_messages q
  left join chat_messages a on a.reply_to = q.id
  left join usage_ledger l on l.message_id = case when a.answer_no > 1 then a.id else q.id end
 where q.message_type = 'user'
"""
_ORPHANS = """
select count(*) from chat_messages a
 where a.message_type = 'assistant'
   and (a.reply_to is null or not exists (select 1 from chat_messages q where q.id = a.reply_to))
"""
_UNFINISHED = """
select count(*) from chat_messages q
 where q.message_type = 'user'
   and not exists (select 1 from chat_messages a where a.reply_to = q.id and a.status = any($1::message_status[]))
"""


@dataclass
class Audit:
    questions: int = 0
    answers: Counter[str] = field(default_factory=Counter)
    error_codes: Counter[str] = field(default_factory=Counter)
    retaken: int = 0  # answers claimed more than once (a worker died or a stream was restarted)
    stored_after_failure: Counter[str] = field(default_factory=Counter)  # by "<path>:<status>"
    drain_s: float = 0.0
    problems: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def flag(self, problem: str, example: str) -> None:
        self.problems[problem] += 1
        if len(self.examples) < 5:
            self.examples.append(f"{problem}: {example}")

    def figures(self) -> dict[str, Any]:
        return {
            "questions": self.questions,
            "answers": dict(self.answers),
            "error_codes": dict(self.error_codes),
            "retaken": self.retaken,
            "stored_after_failure": dict(self.stored_after_failure),
            "drain_s": round(self.drain_s, 2),
            "problems": dict(self.problems),
            "examples": self.examples,
        }


async def drain(pool: asyncpg.Pool, within: float) -> float:
    """Wait until no question lacks a final answer (or `within` passes); the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        try:
            if await pool.fetchval(_UNFINISHED, list(FINAL)) == 0:
                break
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            pass  # the database may still be coming back
        await asyncio.sleep(0.1)
    return time.monotonic() - started


async def audit(pool: asyncpg.Pool, ledger: Ledger, drain_within: float, known_codes: frozenset[str]) -> Audit:
    """Drain, then check every question row against the ledger and its answer (see the module doc)."""
    result = Audit(drain_s=await drain(pool, drain_within))
    rows = await pool.fetch(_QUESTIONS)
    result.questions = len(rows)
    by_nonce: dict[str, list[asyncpg.Record]] = {}
    for row in rows:
        match = NONCE.search(row["question"])
        if match:
            by_nonce.setdefault(match.group(1), []).append(row)
        _check_answer(result, row, known_codes)
    for send in ledger.sends:
        stored = by_nonce.get(send.nonce, [])
        if len(stored) > 1:
            result.flag("duplicated", f"nonce {send.nonce} stored {len(stored)} times")
        if send.outcome == "acked" and not any(r["id"] == send.message_id for r in stored):
            result.flag("lost", f"acknowledged {send.via} send {send.message_id} is not in the database")
        elif send.outcome == "refused" and stored:
            result.flag("stored_refused", f"{send.via} send refused with {send.status} was stored")
        elif send.outcome in ("failed", "ambiguous") and stored:
            result.stored_after_failure[f"{send.via}:{send.status or 'no response'}"] += 1
    orphans = await pool.fetchval(_ORPHANS)
    if orphans:
        result.problems["orphan_answers"] += int(orphans)
    return result


def _check_answer(result: Audit, row: asyncpg.Record, known_codes: frozenset[str]) -> None:
    status = row["status"]
    result.answers[status or "missing"] += 1
    if status not in FINAL:
        result.flag("unanswered", f"question {row['id']} answer is {status or 'missing'}")
        return
    if (row["attempts"] or 0) > 1:
        result.retaken += 1
    if row["charge"] == "reserved":
        result.flag("unsettled", f"answer to {row['id']} is {status} but its reservation is still open")
    elif row["charge"] == "settled" and row["charged"] == 0 and (row["answer"] or row["thought"]):
        result.flag("unbilled", f"answer to {row['id']} streamed text but was charged nothing")
    if status == "completed" and not row["answer"]:
        result.flag("empty_completed", f"answer to {row['id']} is completed but empty")
    if status == "error":
        code = row["error_code"] or ""
        result.error_codes[code or "none"] += 1
        if code not in known_codes or not row["error_message"]:
            result.flag("error_without_code", f"answer to {row['id']} ended in error with code {code!r}")
