"""Response details shared by reads, writes and RPC: Content-Range, singular checks, CSV."""

from __future__ import annotations

import csv
import io
from typing import Any

import asyncpg
import msgspec

from localbase.rest.errors import RestError


def content_range(offset: int, n: int, total: int | None) -> str:
    known = "*" if total is None else str(total)
    if n == 0:
        return f"*/{known}"
    return f"{offset}-{offset + n - 1}/{known}"


def singular_violation(row: asyncpg.Record) -> RestError | None:
    """Object Accept demands exactly one row (406 PGRST116; a write is rolled back)."""
    n = row["n"]
    if n == 1:
        return None
    return RestError(
        406,
        "PGRST116",
        "Cannot coerce the result to a single JSON object",
        f"The result contains {n} rows",
    )


def csv_body(body: str) -> bytes:
    """RFC 4180 CSV from the JSON array body: a header line, then one line per row."""
    rows: list[dict[str, Any]] = msgspec.json.decode(body)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if rows:
        names = list(rows[0])
        writer.writerow(names)
        for row in rows:
            writer.writerow([_cell(row.get(name)) for name in names])
    return out.getvalue().rstrip("\n").encode()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, dict | list):
        return msgspec.json.encode(value).decode()
    return str(value)
