"""The Auth service's SQL, read once from `queries.sql` (procrastinate's named-query habit)."""

from __future__ import annotations

import re
from pathlib import Path

_NAME = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)


def load(path: Path) -> dict[str, str]:
    """`{name: sql}` for every `-- name:` block of the file."""
    text = path.read_text(encoding="utf-8")
    parts = _NAME.split(text)[1:]
    return {name: sql.strip() for name, sql in zip(parts[::2], parts[1::2], strict=True)}


Q = load(Path(__file__).with_name("queries.sql"))
