"""Images in an OpenAI-compatible request: the question's `image_url` parts, as `data:` URIs.

Each is decoded and measured here (type, size, pixels: the limits the database checks on every
message's attachments, migrations/..._attachments_in_answers.sql, told first as OpenAI errors),
then stored in the user's own folder of the private `attachments` bucket AS THE USER (Storage's
policies decide, as for the web app's uploads) and attached to the question, so the worker answers
it as any question with images: a vision model, the image billed, the plan's vision flag checked by
admission. Links (`https://…`) are refused: this service fetches no URL a client names. Images
only in the last message: earlier turns are text.
"""

from __future__ import annotations

import base64
import binascii
import io
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from PIL import Image as Pillow
from PIL import UnidentifiedImageError
from storage3 import AsyncStorageClient
from storage3.exceptions import StorageApiError

from api.compat.errors import OpenAIError, bad_request
from api.errors import UpstreamUnavailable

log = logging.getLogger(__name__)

FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif"}
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif"}
MAX_IMAGES = 8  # as the database's TooManyImages
MAX_IMAGE_BYTES = 10 * 1024 * 1024  # ImageTooLarge
MAX_PIXELS = 36_000_000  # ImageTooManyPixels
BUCKET = "attachments"


@dataclass(frozen=True)
class RequestImage:
    mime_type: str
    data: bytes
    width: int
    height: int


def _refused(at: int, why: str, code: str) -> OpenAIError:
    return bad_request(f"messages[{at}]: {why}", "messages", code)


def decode_image(part: dict[str, Any], at: int) -> RequestImage:
    """An `image_url` part as an image, or the reason it cannot be one."""
    ref = part.get("image_url")
    url = ref.get("url") if isinstance(ref, dict) else ref
    if not isinstance(url, str) or not url.startswith("data:"):
        raise _refused(
            at, "an image must be sent as a data: URI (base64); links are not fetched.", "unsupported_content"
        )
    header, _, payload = url.partition(",")
    declared = header[5:].split(";")[0].strip().lower()
    if ";base64" not in header.lower() or declared not in EXTENSIONS:
        raise _refused(at, "an image must be a base64 data: URI of PNG, JPEG, WebP or GIF.", "invalid_image")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise _refused(at, "the image's base64 does not decode.", "invalid_image") from None
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
    return RequestImage(found, data, width, height)


async def store_images(
    storage: AsyncStorageClient, user_id: str, question_id: str, images: Sequence[RequestImage]
) -> list[dict[str, Any]]:
    """Upload the images under `<user>/<question>/<attempt>/` and return the question's attachments.
    Each attempt writes paths of its own and never overwrites: a request sent again with its
    Idempotency-Key while the first is still being stored cannot touch the first one's images."""
    attachments: list[dict[str, Any]] = []
    attempt = uuid.uuid4().hex[:12]
    try:
        for number, image in enumerate(images, start=1):
            name = f"image-{number}.{EXTENSIONS[image.mime_type]}"
            path = f"{user_id}/{question_id}/{attempt}/{name}"
            await _upload(storage, path, image)
            attachments.append(
                {
                    "bucket": BUCKET,
                    "path": path,
                    "name": name,
                    "mime_type": image.mime_type,
                    "size": len(image.data),
                    "width": image.width,
                    "height": image.height,
                }
            )
    except BaseException:
        await remove_images(storage, attachments)
        raise
    return attachments


async def _upload(storage: AsyncStorageClient, path: str, image: RequestImage) -> None:
    """One upload; Storage down or failing is UpstreamUnavailable (503, try again later)."""
    try:
        await storage.from_(BUCKET).upload(path, image.data, {"content-type": image.mime_type})
    except httpx.TransportError as exc:
        raise UpstreamUnavailable() from exc
    except StorageApiError as exc:
        if str(exc.status).isdigit() and int(exc.status) >= 500:
            raise UpstreamUnavailable() from exc
        raise


async def remove_images(storage: AsyncStorageClient, attachments: Sequence[dict[str, Any]]) -> None:
    """Delete uploads whose question was not stored (refused, or failed). Best effort: what is left
    is an unreferenced upload, which `python -m ops stray-uploads` deletes."""
    if not attachments:
        return
    try:
        await storage.from_(BUCKET).remove([str(a["path"]) for a in attachments])
    except Exception as exc:  # the refusal is what the client must hear
        log.warning("uploaded images of a refused question not removed", extra={"error": repr(exc)})
