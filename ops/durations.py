"""Ages on the command line: `90d`, `12h`, `30m`, `45s`, `2w` (a bare number is seconds)."""

from __future__ import annotations

import re

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")


def parse_age(text: str) -> float:
    """Seconds in `text`; ValueError for anything else, including zero or negative ages."""
    match = _AGE.match(text.lower())
    if match is None:
        raise ValueError(f"not an age: {text!r} (use e.g. 90d, 12h, 30m)")
    seconds = float(match.group(1)) * _UNITS[match.group(2) or "s"]
    if seconds <= 0:
        raise ValueError("an age must be more than zero")
    return seconds
