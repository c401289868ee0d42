"""An upload body, multipart or raw, streamed to a temp file with the bucket's limits enforced.

Multipart (storage3 always; storage-js for Blob/File/FormData): the first part with a filename is
the file, whatever its field name (storage-js uses `''`); fields `cacheControl`, `contentType`,
`metadata`/`userMetadata` may come before or after it. Raw (storage-js for Buffer/string/stream,
chunked or not): the body is the file; `Content-Type`, `Cache-Control` and `x-metadata` (base64
JSON) describe it. The MIME type is checked before a byte is written when it is known then, the
size as each chunk arrives (and against `Content-Length` up front for raw bodies), so a refused
upload neither fills the disk nor holds more than one chunk in memory.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from dataclasses import dataclass
from typing import Any

import msgspec
from multipart import MultipartError, MultipartSegment, PushMultipartParser, parse_options_header

from localbase.http import Request, json_holds_nul
from localbase.storage import rules
from localbase.storage.blobs import BlobStore, TempUpload, Written
from localbase.storage.errors import StorageError, invalid_request, too_large

_MAX_FIELD = 1_048_576
_FIELDS = ("cacheControl", "contentType", "metadata", "userMetadata")


@dataclass
class Incoming:
    written: Written
    mimetype: str
    cache_control: str
    user_metadata: dict[str, Any] | None


class ClientGone(Exception):
    """The client disconnected before the body was complete."""


async def receive(request: Request, store: BlobStore, limit: int, allowed: list[str] | None) -> Incoming:
    content_type = request.headers.get("content-type", "")
    if content_type.lower().startswith("multipart/form-data"):
        return await _multipart(request, store, limit, allowed, content_type)
    return await _raw(request, store, limit, allowed, content_type or "application/octet-stream")


async def _chunks(request: Request) -> Any:
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return


async def _raw(request: Request, store: BlobStore, limit: int, allowed: list[str] | None, mimetype: str) -> Incoming:
    rules.check_mime(rules.header_value(mimetype, "Content-Type"), allowed)
    cache_control = rules.header_value(request.headers.get("cache-control") or "no-cache", "Cache-Control")
    user_metadata = _x_metadata(request)
    declared = request.headers.get("content-length")
    if declared and declared.isdigit():
        rules.check_size(int(declared), limit)
    upload = store.new_upload()
    try:
        async for chunk in _chunks(request):
            if upload.size + len(chunk) > limit:
                raise too_large()
            upload.write(chunk)
        written = await asyncio.to_thread(upload.finish)
    except BaseException:
        upload.discard()
        raise
    return Incoming(written, mimetype, cache_control, user_metadata)


async def _multipart(
    request: Request, store: BlobStore, limit: int, allowed: list[str] | None, content_type: str
) -> Incoming:
    boundary = parse_options_header(content_type)[1].get("boundary")
    if not boundary:
        raise invalid_request("multipart body without a boundary")
    fields: dict[str, bytearray] = {}
    upload: TempUpload | None = None
    file_type = ""
    current: str | None = None  # "file", a field name, or None (ignored part)
    written: Written | None = None
    try:
        with PushMultipartParser(boundary, max_segment_count=64) as parser:
            async for chunk in _chunks(request):
                for event in parser.parse(chunk):
                    if isinstance(event, MultipartSegment):
                        if event.filename is not None and upload is None and written is None:
                            file_type = rules.header_value(
                                event.header("Content-Type", "") or "text/plain", "Content-Type"
                            )
                            field_type = fields.get("contentType")
                            rules.check_mime(_text(field_type, "contentType") if field_type else file_type, allowed)
                            upload = store.new_upload()
                            current = "file"
                        elif event.filename is None and event.name in _FIELDS:
                            current = event.name
                            fields[current] = bytearray()
                        else:
                            current = None
                    elif event is None:
                        if current == "file" and upload is not None:
                            written = await asyncio.to_thread(upload.finish)
                            upload = None
                        current = None
                    elif current == "file" and upload is not None:
                        if upload.size + len(event) > limit:
                            raise too_large()
                        upload.write(event)
                    elif current is not None:
                        if len(fields[current]) + len(event) > _MAX_FIELD:
                            raise StorageError(
                                "413",
                                "Payload too large",
                                "The user_metadata exceeded the maximum allowed size",
                                "EntityTooLarge",
                            )
                        fields[current] += event
    except MultipartError as exc:
        if upload is not None:
            upload.discard()
        if written is not None:
            written.path.unlink(missing_ok=True)
        raise invalid_request(f"Invalid multipart body: {exc}") from exc
    except BaseException:
        if upload is not None:
            upload.discard()
        if written is not None:
            written.path.unlink(missing_ok=True)
        raise
    if written is None:
        raise invalid_request("No content provided")
    try:
        mimetype = _text(fields["contentType"], "contentType") if "contentType" in fields else file_type
        rules.check_mime(mimetype, allowed)
        cache = fields.get("cacheControl")
        cache_control = f"max-age={_text(cache, 'cacheControl').strip()}" if cache else "no-cache"
        raw_meta = fields.get("metadata", fields.get("userMetadata"))
        user_metadata = _json_object(bytes(raw_meta)) if raw_meta else None
    except StorageError:
        written.path.unlink(missing_ok=True)
        raise
    return Incoming(written, mimetype, cache_control, user_metadata)


def _text(raw: bytes | bytearray, name: str) -> str:
    """A form field the object's reads send as a header (contentType, cacheControl)."""
    try:
        text = bytes(raw).decode()
    except UnicodeDecodeError as exc:
        raise invalid_request(f"{name} must be UTF-8 text") from exc
    return rules.header_value(text, name)


def _x_metadata(request: Request) -> dict[str, Any] | None:
    header = request.headers.get("x-metadata")
    if not header:
        return None
    try:
        return _json_object(base64.b64decode(header, validate=False))
    except (binascii.Error, ValueError):
        return None


def _json_object(raw: bytes) -> dict[str, Any] | None:
    """User metadata: a JSON object, or None for anything else (storage-api ignores what it cannot
    parse); one holding a NUL is refused, since Postgres's jsonb cannot store it."""
    if json_holds_nul(raw):
        raise invalid_request("metadata must not contain NUL characters")
    try:
        value = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return None
    return value if isinstance(value, dict) else None
