"""Response details shared by reads, writes and RPC: Content-Range, 206/416, singular checks, CSV."""

from __future__ import annotations

import asyncpg

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
    n: int = row["n"]
    return None if n == 1 else singular_error(n)


def singular_error(n: int) -> RestError:
    return RestError(
        406, "PGRST116", "Cannot coerce the result to a single JSON object", f"The result contains {n} rows"
    )


def max_affected_violation(prefer: hdr.Prefer, row: asyncpg.Record) -> RestError | None:
    """`Prefer: handling=strict, max-affected=n` fails (and rolls back) a write or call touching more rows."""
    if prefer.max_affected is None or not prefer.strict or row["n"] <= prefer.max_affected:
        return None
    return RestError(
        400, "PGRST124", "Query result exceeds max-affected preference constraint", f"The query affects {row['n']} rows"
    )


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
    """The body as the negotiated format: the JSON array, its single object, or the CSV as built."""
    if fmt == hdr.CSV:
        return body.encode()  # already CSV: PostgreSQL formatted it (`sql.base.body_agg`)
    if fmt == hdr.OBJECT:
        return body[1:-1].strip().encode()
    return body.encode()
