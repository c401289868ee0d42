"""`python -m tests.fuzz.summary`: print what the last `make fuzz` sent and got (bench/out/fuzz.json)."""

from __future__ import annotations

import json
import sys

from tests.fuzz.conftest import REPORT


def main() -> int:
    if not REPORT.exists():
        print(f"no fuzz report at {REPORT}: run `make fuzz`", file=sys.stderr)
        return 1
    suites = json.loads(REPORT.read_text())["suites"]
    bad = 0
    for name, suite in suites.items():
        if not suite["requests"]:
            continue
        statuses = " ".join(f"{code}x{n}" for code, n in suite["statuses"].items())
        print(f"{name:>8}: {suite['requests']:>6} requests over {len(suite['operations'])} operations; {statuses}")
        print(f"          5xx: {suite['server_errors']}  problems: {len(suite['failures'])}")
        for failure in suite["failures"][:10]:
            print(f"          {failure[:300]}")
        bad += suite["server_errors"] + len(suite["failures"])
    print("fuzz: clean" if bad == 0 else f"fuzz: {bad} problems (see {REPORT})")
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
