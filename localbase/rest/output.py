"""Response details shared by reads, writes and RPC: Content-Range, 206/416, singular checks, CSV."""

from __future__ import annotations

import csv
import io
from typing import Any

import asyncpg
import msgspec

from localbase.rest import headers as hdr
from localbase.rest.errors import RestError

Response = tuple[int, list[tuple[bytes, bytes]], bytes]


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


def max_affected_violation(prefer: hdr.Prefer, row: asyncpg.Record) -> RestError | None:
    """`Prefer: handling=strict, max-affected=n` fails (and rolls back) a write or call touching more rows."""
    if prefer.max_affected is None or not prefer.strict or row["n"] <= prefer.max_affected:
        return None
    return RestError(
        400, "PGRST124", "Query result exceeds max-affected preference constraint", f"The query affects {row['n']} rows"
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


def rows_response(
    fmt: str,
    prefer: hdr.Prefer,
    *,
    n: int,
    body: str | None,
    total: int | None,
    offset: int,
    strip: bool = False,
) -> Response:
    """A page of rows: 200, or 206 when a known total holds more; an offset past the total is 416."""
    if total is not None and offset > total and offset > 0:
        raise RestError(
            416,
            "PGRST103",
            "Requested range not satisfiable",
            f"An offset of {offset} was requested, but there are only {total} rows.",
        )
    status = 206 if total is not None and (offset > 0 or offset + n < total) and n < total else 200
    headers = [
        (b"content-type", hdr.content_type(fmt, strip)),
        (b"content-range", content_range(offset, n, total).encode()),
    ]
    if prefer.count or prefer.tx or prefer.timezone:
        headers.append((b"preference-applied", prefer.applied()))
    return status, headers, format_body(fmt, body or "[]")


def format_body(fmt: str, body: str) -> bytes:
    """The JSON array body as the negotiated format: array, single object, or CSV."""
    if fmt == hdr.CSV:
        return csv_body(body)
    if fmt == hdr.OBJECT:
        return body[1:-1].strip().encode()
    return body.encode()
