"""`python -m drills [--short] [--only NAME ...] [--out PATH]`: run the fault drills, print one
verdict line each, write bench/out/drills.json; exit status 1 when any drill fails."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from drills.report import write
from drills.runner import DRILLS, run_all


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m drills", description=__doc__)
    parser.add_argument("--short", action="store_true", help="the bounded form the test suite runs (< 90 s)")
    parser.add_argument("--only", nargs="+", choices=list(DRILLS), help="run just these drills")
    parser.add_argument("--out", type=Path, default=None, help="report path (default bench/out/drills.json)")
    args = parser.parse_args(argv)
    verdicts = asyncio.run(run_all(args.only or list(DRILLS), short=args.short, echo=print))
    path = write(verdicts, args.short, args.out)
    print(f"{'all drills passed' if all(v.ok for v in verdicts) else 'DRILLS FAILED'}; report: {path}")
    return 0 if all(v.ok for v in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
