"""A drill's verdict: pass or fail, one line for the terminal, and figures for bench/out/drills.json."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.harness import OUT, machine
from drills.audit import Audit
from drills.load import Ledger


@dataclass
class Verdict:
    drill: str
    ok: bool
    seconds: float
    figures: dict[str, Any] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def line(self) -> str:
        keys = ("sent", "acked", "answered", "errors", "retaken", "killed_workers", "restarts", "recovery_s")
        shown = " ".join(f"{k}={self.figures[k]}" for k in keys if k in self.figures)
        why = f" -- {'; '.join(self.failures)}" if self.failures else ""
        return f"{'PASS' if self.ok else 'FAIL'} {self.drill} ({self.seconds:.1f}s): {shown}{why}"


def load_figures(ledger: Ledger, result: Audit) -> dict[str, Any]:
    """The figures every drill with a load reports."""
    return {
        "sent": len(ledger.sends),
        "acked": ledger.count("acked"),
        "refused": ledger.count("refused"),
        "failed": ledger.count("failed"),
        "no_response": ledger.count("ambiguous"),
        "answered": result.answers.get("completed", 0),
        "errors": result.answers.get("error", 0),
        "cancelled": result.answers.get("cancelled", 0),
        "retaken": result.retaken,
        "audit": result.figures(),
    }


def audit_failures(result: Audit) -> list[str]:
    return [f"{problem} x{count}" for problem, count in result.problems.items()] + result.examples[:2]


def write(verdicts: list[Verdict], short: bool, path: Path | None = None) -> Path:
    target = path or OUT / "drills.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    body = {
        "benchmark": "drills",
        "form": "short" if short else "full",
        "ok": all(v.ok for v in verdicts),
        "machine": machine(),
        "drills": [
            {"drill": v.drill, "ok": v.ok, "seconds": round(v.seconds, 2), "failures": v.failures, **v.figures}
            for v in verdicts
        ],
    }
    target.write_text(json.dumps(body, indent=2, ensure_ascii=False))
    return target
