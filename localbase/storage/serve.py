"""Sending an object's bytes as storage-api does: headers from the row, Range, conditional GETs.

200 with the whole body, 206 with `Content-Range` for one `bytes=` range, 304 to a GET whose
`If-None-Match` is the ETag (compared exactly, as storage-api does) or whose `If-Modified-Since` is
not older than the object (never to a HEAD: storage-api's HeadRenderer answers 200), 416 for any
other range (past the end, a list, another unit, of an empty file). `text/html` is served as
`text/plain` so an upload cannot run script on the gateway's origin. The file is read in 64 KiB
slices, so memory does not grow with its size.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from localbase.http import Headers, Request, Send
from localbase.storage.errors import StorageError, range_not_satisfiable

_SLICE = 1 << 16
_BYTES = re.compile(r"bytes=([0-9]*)-([0-9]*)")
BYTES_GONE = "The resource was not found"


def http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def _parse_iso(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def object_headers(metadata: dict[str, Any], updated_at: datetime, *, cache_control: str | None = None) -> Headers:
    mimetype = str(metadata.get("mimetype") or "application/octet-stream")
    if mimetype.split(";", 1)[0].strip().lower() == "text/html":
        mimetype = "text/plain"
    modified = _parse_iso(metadata.get("lastModified")) or updated_at
    headers: Headers = [
        (b"content-type", mimetype.encode("latin-1", "replace")),
        (b"etag", str(metadata.get("eTag", "")).encode()),
        (b"last-modified", http_date(modified).encode()),
        (b"accept-ranges", b"bytes"),
        (b"x-robots-tag", b"none"),
    ]
    if cache_control is not None:
        headers.append((b"cache-control", cache_control.encode("latin-1", "replace")))
    return headers


def disposition(download: str | None) -> Headers:
    if download is None:
        return []
    if download == "":
        return [(b"content-disposition", b"attachment;")]
    name = quote(download, safe="")
    return [(b"content-disposition", f"attachment; filename={name}; filename*=UTF-8''{name}".encode())]


def _not_modified(request: Request, etag: str, modified: datetime) -> bool:
    """304 or not, as storage-api's file backend decides: `If-None-Match` equal to the ETag, the
    header's whole text (a list, `W/` or `*` is not the ETag); else `If-Modified-Since`."""
    match = request.headers.get("if-none-match")
    if match is not None:
        return match == etag
    since = request.headers.get("if-modified-since")
    if since:
        try:
            return modified.replace(microsecond=0) <= parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
    return False


def _revalidated(request: Request, etag: str, cache_control: str | None, *, head: bool) -> str | None:
    """The Cache-Control sent (None: none, a signed URL's): the object's, and when the request's
    `If-None-Match` is not the ETag, `stale-while-revalidate=30` after it (`must-revalidate` for a
    HEAD), as storage-api's renderers add them."""
    match = request.headers.get("if-none-match")
    if cache_control is None or not match or match == etag:
        return cache_control
    return f"{cache_control}, {'must-revalidate' if head else 'stale-while-revalidate=30'}"


def _range(header: str | None, size: int) -> tuple[int, int] | None:
    """The one range a `Range` header names, as (start, end inclusive); None without one. As
    storage-api reads it (src/storage/range.ts): `bytes=a-b`, `bytes=a-` or `bytes=-n` of a
    non-empty file, anything else (a list of ranges, another unit, past the end) 416."""
    if not header:
        return None
    match = _BYTES.fullmatch(header)
    if match is None or size <= 0 or match.group(0) == "bytes=-":
        raise range_not_satisfiable(size)
    first, last = match.groups()
    if not first:
        length = int(last)
        if length <= 0:
            raise range_not_satisfiable(size)
        return max(size - length, 0), size - 1
    start = int(first)
    end = int(last) if last else size - 1
    if start >= size or end < start:
        raise range_not_satisfiable(size)
    return start, min(end, size - 1)


async def send_file(
    send: Send,
    request: Request,
    path: Path,
    metadata: dict[str, Any],
    updated_at: datetime,
    *,
    cache_control: str | None,
    extra: Headers,
    head: bool,
) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError as exc:
        raise StorageError(
            "404", "Not found", BYTES_GONE, "NoSuchKey", headers=[(b"cache-control", b"no-store")]
        ) from exc
    try:
        size = os.fstat(fd).st_size
        etag = str(metadata.get("eTag", ""))
        cache_control = _revalidated(request, etag, cache_control, head=head)
        headers = object_headers(metadata, updated_at, cache_control=cache_control) + extra
        modified = _parse_iso(metadata.get("lastModified")) or updated_at
        if not head and request.method == "GET" and _not_modified(request, etag, modified):
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        span = None if head else _range(request.headers.get("range"), size)  # a HEAD reads no range
        status, start, end = (200, 0, size - 1) if span is None else (206, *span)
        length = end - start + 1 if size else 0
        headers.append((b"content-length", str(length).encode()))
        if span is not None:
            headers.append((b"content-range", f"bytes {start}-{end}/{size}".encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        if head or length == 0:
            await send({"type": "http.response.body", "body": b""})
            return
        offset, remaining = start, length
        while remaining > 0:
            chunk = os.pread(fd, min(_SLICE, remaining), offset)
            if not chunk:
                break
            offset += len(chunk)
            remaining -= len(chunk)
            await send({"type": "http.response.body", "body": chunk, "more_body": remaining > 0})
        if remaining > 0:
            await send({"type": "http.response.body", "body": b""})
    finally:
        os.close(fd)
