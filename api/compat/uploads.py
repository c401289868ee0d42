"""Files in an OpenAI-compatible request: the question's `image_url` and `file` parts, as `data:` URIs.

Each is decoded and checked here (type, size; an image's pixels too: the limits the database checks
on every message's attachments, migrations/..._attachments_in_answers.sql, told first as OpenAI
errors), then stored in the user's own folder of the private `attachments` bucket AS THE USER
(Storage's policies decide, as for the web app's uploads), once per user and content
(`content_path`: clients send every earlier image again on every turn), and attached to the question, so the
worker answers it as any question with files: images to a vision model and billed, documents
(PDF, Word, text, Markdown, CSV, Excel, PowerPoint) read into the prompt, the plan's vision flag checked by admission.
Links (`https://…`) and `file_id`s are refused: this service fetches no URL a client names and
keeps no file store of OpenAI's kind. Files of earlier user messages (a client's whole conversation
sent again) are the question's too, in the order sent; its context keeps the earlier turns' text.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from PIL import Image as Pillow
from PIL import UnidentifiedImageError
from storage3 import AsyncStorageClient
from storage3.exceptions import StorageApiError

from api.compat.errors import OpenAIError, bad_request
from api.errors import UpstreamUnavailable
from core.textfiles import decode_text

FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif"}
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
EXTENSIONS = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/webp": "webp",
    "image/gif": "gif",
    "application/pdf": "pdf",
    DOCX: "docx",
    XLSX: "xlsx",
    PPTX: "pptx",
    "text/plain": "txt",
    "text/markdown": "md",
    "text/csv": "csv",
}
DOCUMENTS = ("application/pdf", DOCX, "text/plain", "text/markdown", "text/csv", XLSX, PPTX)
# Office 97-2003's types (.xls, .doc, .ppt), and the signature of their files, OLE2 compound files, which a
# password-protected .docx, .xlsx or .pptx is too: nothing here reads them (worker/extraction.py's OLE2)
OLD_OFFICE = ("application/vnd.ms-excel", "application/msword", "application/vnd.ms-powerpoint")
OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
MAX_IMAGES = 8  # as the database's TooManyImages
MAX_FILES = 10  # as the database's limit on a message's attachments
MAX_IMAGE_BYTES = 10 * 1024 * 1024  # ImageTooLarge
MAX_DOCUMENT_BYTES = 15 * 1024 * 1024  # under the bucket's 20 MiB and /v1's body limit, as base64
MAX_PIXELS = 36_000_000  # ImageTooManyPixels
BUCKET = "attachments"


@dataclass(frozen=True)
class RequestFile:
    mime_type: str
    data: bytes
    name: str
    width: int | None = None  # an image's
    height: int | None = None
    # its bytes' SHA-256 (hex), naming its storage path (`content_path`): taken where it is decoded,
    # in the request's parsing thread (api/compat/request.py), not on the event loop (~19 ms a
    # 14 MiB file, twice a file until 12-05)
    digest: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "digest", hashlib.sha256(self.data).hexdigest())

    @property
    def image(self) -> bool:
        return self.width is not None


def _refused(at: int, why: str, code: str) -> OpenAIError:
    return bad_request(f"messages[{at}]: {why}", "messages", code)


def _data(url: object, at: int, kinds: Sequence[str], kind: str) -> tuple[str, bytes]:
    """A base64 data: URI of one of `kinds` (the types of a `kind`: image, document), as (type, bytes)."""
    if not isinstance(url, str) or not url.startswith("data:"):
        raise _refused(
            at, f"a {kind} must be sent as a data: URI (base64); links are not fetched.", "unsupported_content"
        )
    header, _, payload = url.partition(",")
    declared = header[5:].split(";")[0].strip().lower()
    if ";base64" not in header.lower() or declared not in kinds:
        raise _refused(at, f"a {kind} must be a base64 data: URI of {', '.join(kinds)}.", f"invalid_{kind}")
    try:
        return declared, base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise _refused(at, f"the {kind}'s base64 does not decode.", f"invalid_{kind}") from None


# OpenAI's `detail: "low"` sees an image at 512 x 512 at most (and bills it so): it is scaled down to
# that before it is stored, seen and billed. `high` and `auto` see it as it is (the vision model's
# own resolution). It was ignored until 12-05: a low-detail image was billed at full size.
LOW_DETAIL = 512
_DETAILS = (None, "auto", "low", "high")


def _low_detail(data: bytes, width: int, height: int, found: str) -> tuple[bytes, int, int]:
    """The image within LOW_DETAIL x LOW_DETAIL, in its own format (a GIF's first frame)."""
    if max(width, height) <= LOW_DETAIL:
        return data, width, height
    with Pillow.open(io.BytesIO(data)) as image:
        image.thumbnail((LOW_DETAIL, LOW_DETAIL))
        out = io.BytesIO()
        image.save(out, format=found.split("/")[1].upper())
        return out.getvalue(), image.width, image.height


def decode_image(part: dict[str, Any], at: int, number: int) -> RequestFile:
    """An `image_url` part as an image, or the reason it cannot be one."""
    ref = part.get("image_url")
    url = ref.get("url") if isinstance(ref, dict) else ref
    detail = ref.get("detail") if isinstance(ref, dict) else None
    if detail not in _DETAILS:
        raise _refused(at, "image_url.detail must be one of auto, low, high.", "invalid_value")
    _, data = _data(url, at, tuple(FORMATS.values()), "image")
    if len(data) > MAX_IMAGE_BYTES:
        raise _refused(at, f"an image may be at most {MAX_IMAGE_BYTES // (1024 * 1024)} MiB.", "image_too_large")
    try:
        with Pillow.open(io.BytesIO(data)) as image:
            width, height, found = image.width, image.height, FORMATS.get(image.format or "")
    except (UnidentifiedImageError, Pillow.DecompressionBombError, OSError, ValueError):
        raise _refused(at, "the data is not a PNG, JPEG, WebP or GIF image.", "invalid_image") from None
    if found is None:
        raise _refused(at, "the data is not a PNG, JPEG, WebP or GIF image.", "invalid_image")
    if width * height > MAX_PIXELS:
        raise _refused(at, f"an image may have at most {MAX_PIXELS:,} pixels.", "image_too_large")
    if detail == "low":
        data, width, height = _low_detail(data, width, height, found)
    return RequestFile(found, data, f"image-{number}.{EXTENSIONS[found]}", width, height)


def decode_document(part: dict[str, Any], at: int, number: int) -> RequestFile:
    """A `file` part ({file_data, filename}) as a document, or the reason it cannot be one."""
    ref = part.get("file")
    if not isinstance(ref, dict) or ref.get("file_data") is None:
        raise _refused(
            at, "a file must carry its file_data (a data: URI); file_id is not supported.", "unsupported_content"
        )
    url = ref.get("file_data")
    declared = url.partition(",")[0][5:].split(";")[0].strip().lower() if isinstance(url, str) else ""
    mime, data = _data(url, at, (*DOCUMENTS, *OLD_OFFICE) if declared in OLD_OFFICE else DOCUMENTS, "document")
    if mime in OLD_OFFICE or (mime in (DOCX, XLSX, PPTX) and data.startswith(OLE2)):
        why = "the document is an Office 97-2003 or password-protected file, which is not read:"
        raise _refused(
            at, f"{why} save it as .docx, .xlsx or .pptx, without a password, and send that.", "invalid_document"
        )
    if len(data) > MAX_DOCUMENT_BYTES:
        raise _refused(
            at, f"a document may be at most {MAX_DOCUMENT_BYTES // (1024 * 1024)} MiB.", "document_too_large"
        )
    zipped = data.startswith(b"PK\x03\x04")  # DOCX, XLSX and PPTX are zip archives
    looks = {"application/pdf": data.startswith(b"%PDF-"), DOCX: zipped, XLSX: zipped, PPTX: zipped}.get(mime)
    if looks is None:  # text: in an encoding the worker reads (core/textfiles.py)
        text = decode_text(data)
        if text is not None and not text.strip():  # nothing the worker could read (worker/extraction.py)
            raise _refused(at, "the document has no text.", "invalid_document")
        looks = text is not None
    if not looks:
        raise _refused(at, f"the data is not a {EXTENSIONS[mime].upper()} document.", "invalid_document")
    given = ref.get("filename")
    printable = "".join(c for c in given if c.isprintable()) if isinstance(given, str) else ""
    name = printable.replace("/", "_").replace("\\", "_").strip()[:255]
    return RequestFile(mime, data, name or f"document-{number}.{EXTENSIONS[mime]}")


def content_path(user_id: str, file: RequestFile) -> str:
    """Where `file` is kept for its user: in their own folder, named by its bytes (SHA-256) and type,
    so an image a client sends again (its whole conversation, on every turn) is stored once."""
    return f"{user_id}/v1/{file.digest}.{EXTENSIONS[file.mime_type]}"


async def store_files(
    storage: AsyncStorageClient,
    user_id: str,
    question_id: str,
    files: Sequence[RequestFile],
    *,
    stored: Mapping[str, tuple[int, str]] | None = None,
    uploaded: list[str] | None = None,
) -> list[dict[str, Any]]:
    """The question's attachments, each file stored once per user and content (`content_path`):
    one already there (`stored`: path -> its size and type, as the caller found them) is listed
    again, not uploaded. A new one is uploaded there, never over anything (one stored meanwhile by
    a concurrent request is the same bytes); where that path cannot take it (an object of other
    bytes put there, or a path a message lists whose object its owner deleted: nothing may be put
    there again) it goes under `<user>/<question>/<attempt>/`, a path of its own. The paths this
    call wrote are added to `uploaded`, for the caller to release when the question is not stored."""
    attachments: list[dict[str, Any]] = []
    attempt = uuid.uuid4().hex[:12]
    found = stored or {}
    placed: dict[str, str] = {}  # content path -> where this call stored it
    for number, file in enumerate(files, start=1):
        path = content_path(user_id, file)
        if path not in placed:
            own = f"{user_id}/{question_id}/{attempt}/file-{number}.{EXTENSIONS[file.mime_type]}"
            if path in found:
                placed[path] = path if found[path] == (len(file.data), file.mime_type) else own
                if placed[path] == own:
                    await _upload(storage, own, file, uploaded)
            else:
                placed[path] = path if await _upload(storage, path, file, uploaded) else own
                if placed[path] == own:
                    await _upload(storage, own, file, uploaded)
        kept: dict[str, Any] = {
            "bucket": BUCKET,
            "path": placed[path],
            "name": file.name,
            "mime_type": file.mime_type,
            "size": len(file.data),
        }
        if file.image:
            kept |= {"width": file.width, "height": file.height}
        attachments.append(kept)
    return attachments


async def _upload(storage: AsyncStorageClient, path: str, file: RequestFile, uploaded: list[str] | None) -> bool:
    """One upload, never over an object: True when `path` now holds the file (written here, or
    already there: 409), False when the path refuses it (403: a path a message lists). Storage down
    or failing is UpstreamUnavailable (503, try again later)."""
    try:
        await storage.from_(BUCKET).upload(path, file.data, {"content-type": file.mime_type})
    except httpx.TransportError as exc:
        raise UpstreamUnavailable() from exc
    except StorageApiError as exc:
        status = int(exc.status) if str(exc.status).isdigit() else 0
        if status >= 500:
            raise UpstreamUnavailable() from exc
        if status == 409:
            return True
        if status == 403:
            return False
        raise
    if uploaded is not None:
        uploaded.append(path)
    return True
