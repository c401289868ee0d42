"""The Auth service's SQL, read once from the package's `*.sql` files (procrastinate's named-query
habit): `queries.sql` for users and sessions, one file per feature beside it (`anonymous.sql`,
`mfa.sql`). A name defined twice is a mistake and fails at import."""

from __future__ import annotations

import re
from pathlib import Path

_NAME = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)


def load(path: Path) -> dict[str, str]:
    """`{name: sql}` for every `-- name:` block of the file."""
    text = path.read_text(encoding="utf-8")
    parts = _NAME.split(text)[1:]
    return {name: sql.strip() for name, sql in zip(parts[::2], parts[1::2], strict=True)}


def load_all(folder: Path) -> dict[str, str]:
    queries: dict[str, str] = {}
    for path in sorted(folder.glob("*.sql")):
        found = load(path)
        if twice := queries.keys() & found.keys():
            raise RuntimeError(f"{path.name} redefines queries {sorted(twice)}")
        queries.update(found)
    return queries


Q = load_all(Path(__file__).parent)
