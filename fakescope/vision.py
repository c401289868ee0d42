"""The multimodal endpoint's images: where they come from and what they cost.

`POST /api/v1/services/aigc/multimodal-generation/generation` takes list-form content, e.g.
`[{"image": "data:image/png;base64,..."}, {"text": "..."}]`; compatible mode takes OpenAI's parts,
`[{"type": "image_url", "image_url": {"url": ...}}, {"type": "text", "text": "..."}]`. An image is a
data URI or an http(s) URL, which the fake downloads as DashScope would, all of a request's at once
(so a signed Storage URL of the local stack works; the internet does not; the `fetch_links` knob
off refuses every link, as DashScope does a private network's). An image that cannot be fetched or
read is refused with the service's `400 InvalidParameter "Failed to download multimodal content"`.

An image the model does not take is refused as DashScope refuses it, `400 InvalidParameter` with its
message (Model Studio's error codes), the first such image of the request deciding:
- a data URI longer than 10,485,760 bytes, the whole item as sent: "Exceeded limit on max bytes per
  data-uri item : 10485760"; a linked file larger than that (10 MiB): "Multimodal file size is too
  large" (read no further than the limit);
- a type other than BMP, ICNS, ICO, JPEG, JPEG 2000, PNG, SGI, TIFF or WebP (a GIF, say), named by
  the data URI or the link's `Content-Type`, or found in the bytes (a GIF declared `image/png`):
  "Wrong Content-Type of multimodal url";
- a side under 10 px, or one side more than 200 times the other: "The image length and width do
  not meet the model restrictions."

What an image costs is known from its dimensions, so the fake reads those from the image's header
and no further, as a billing step would: a data URI's base64 is checked whole (alphabet and
padding, as a strict decoder would) but only its first 48 KiB are decoded, more only when the
header lies further in (a large EXIF block). Decoding a 1 MB photo whole cost about 4 ms of the
fake's event loop per image, and a conversation's prompt carries all its earlier images.

Tokens per image, as Qwen-VL bills them: one per 28x28 patch of the image (rounded up), at least 4
and at most 1,280 (the default pixel cap), plus 2 for the vision start/end markers. They are part of
`input_tokens` and reported again as `usage.image_tokens`.
"""

from __future__ import annotations

import asyncio
import binascii
import io
import math
from typing import Any

import aiohttp
from PIL import Image

from fakescope.errors import invalid_parameter
from fakescope.validate import Rejected

PATCH = 28
MIN_TOKENS, MAX_TOKENS = 4, 1280
_FETCH_SECONDS = 10.0
_HEAD_CHARS = 1 << 16  # base64 characters decoded first (48 KiB): past the header of nearly every image
_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
DOWNLOAD_FAILED = "Failed to download multimodal content"
MAX_ITEM_BYTES = 10_485_760  # a data URI, and a linked file
MIN_SIDE, MAX_RATIO = 10, 200
DATA_URI_TOO_LARGE = f"Exceeded limit on max bytes per data-uri item : {MAX_ITEM_BYTES}"
FILE_TOO_LARGE = "Multimodal file size is too large"
WRONG_TYPE = "Wrong Content-Type of multimodal url"
WRONG_SIZE = "The image length and width do not meet the model restrictions."
IMAGE_TYPES = frozenset(f"image/{t}" for t in ("bmp", "icns", "x-icon", "jpeg", "jp2", "png", "sgi", "tiff", "webp"))
_FORMATS = frozenset({"BMP", "ICNS", "ICO", "JPEG", "JPEG2000", "PNG", "SGI", "TIFF", "WEBP"})  # PIL's names


def image_tokens(width: int, height: int) -> int:
    patches = math.ceil(width / PATCH) * math.ceil(height / PATCH)
    return max(MIN_TOKENS, min(MAX_TOKENS, patches)) + 2


def refs_in(messages: Any) -> list[str]:
    """Every image reference in the messages, in order."""
    refs: list[str] = []
    for message in messages if isinstance(messages, list) else []:
        content = message.get("content") if isinstance(message, dict) else None
        for part in content if isinstance(content, list) else []:
            if isinstance(part, dict) and "image" in part:
                image = part["image"]
                if not isinstance(image, str) or not image:
                    raise Rejected(invalid_parameter("The image field must be a non-empty string."))
                refs.append(image)
    return refs


def compat_refs_in(messages: Any) -> list[str]:
    """Every image of compatible-mode messages, in order: `{"type": "image_url", "image_url": {"url": ...}}` parts."""
    refs: list[str] = []
    for message in messages if isinstance(messages, list) else []:
        content = message.get("content") if isinstance(message, dict) else None
        for part in content if isinstance(content, list) else []:
            if isinstance(part, dict) and part.get("type") == "image_url":
                image = part.get("image_url")
                url = image.get("url") if isinstance(image, dict) else None
                if not isinstance(url, str) or not url:
                    raise Rejected(invalid_parameter("The image_url field must have a non-empty url."))
                refs.append(url)
    return refs


def _refused(message: str) -> Rejected:
    return Rejected(invalid_parameter(message))


def _size(blob: bytes) -> tuple[int, int]:
    """An image's dimensions from its header (Image.open reads no pixels), checked as the model
    checks them; ValueError when there is no image, Rejected when the model does not take it."""
    try:
        with Image.open(io.BytesIO(blob)) as image:
            fmt, (width, height) = image.format, image.size
    except Exception as exc:  # PIL's readers raise many kinds on a cut or broken header
        raise ValueError("not an image") from exc
    if fmt not in _FORMATS:
        raise _refused(WRONG_TYPE)
    if min(width, height) < MIN_SIDE or max(width, height) > MAX_RATIO * min(width, height):
        raise _refused(WRONG_SIZE)
    return width, height


def _media_type(declared: str) -> str:
    """The type a data URI's header or a Content-Type names, refused when the model takes no such image."""
    media = declared.split(";", 1)[0].strip().lower()
    if media not in IMAGE_TYPES:
        raise _refused(WRONG_TYPE)
    return media


def data_uri_size(ref: str) -> tuple[int, int]:
    """(width, height) of a `data:` URI's image, from as little of it as holds the header; ValueError
    when its base64 is not valid whole or it is not an image, Rejected when the model does not take it."""
    if len(ref) > MAX_ITEM_BYTES:
        raise _refused(DATA_URI_TOO_LARGE)
    header, _, data = ref.partition(",")
    _media_type(header.removeprefix("data:"))
    raw = data.encode("ascii")  # UnicodeEncodeError is a ValueError
    body = raw.rstrip(b"=")
    if len(raw) % 4 or len(raw) - len(body) > 2 or body.translate(None, _ALPHABET):
        raise ValueError("invalid base64")
    chars = _HEAD_CHARS
    while True:
        try:
            return _size(binascii.a2b_base64(raw[:chars]))
        except ValueError:
            if chars >= len(raw):
                raise
            chars *= 4


async def _fetched(response: aiohttp.ClientResponse) -> bytes:
    """A linked image's bytes, no more of them than the model takes."""
    if response.content_length is not None and response.content_length > MAX_ITEM_BYTES:
        raise _refused(FILE_TOO_LARGE)
    blob = bytearray()
    async for chunk in response.content.iter_chunked(1 << 16):
        blob += chunk
        if len(blob) > MAX_ITEM_BYTES:
            raise _refused(FILE_TOO_LARGE)
    return bytes(blob)


async def _size_of(ref: str, http: aiohttp.ClientSession, fetch: bool) -> tuple[int, int]:
    if ref.startswith("data:"):
        return data_uri_size(ref)
    if ref.startswith(("http://", "https://")):
        if not fetch:
            raise ValueError("unreachable")
        async with http.get(ref, timeout=aiohttp.ClientTimeout(total=_FETCH_SECONDS)) as response:
            if response.status != 200:
                raise ValueError(f"HTTP {response.status}")
            blob = await _fetched(response)
            _media_type(response.headers.get("Content-Type", ""))
            return _size(blob)
    raise ValueError("not a URL or data URI")


async def measure(refs: list[str], *, fetch: bool = True) -> list[tuple[int, int]]:
    """(width, height) of each image; Rejected when one cannot be fetched (any link, without
    `fetch`), is not an image, or is not one the model takes (the first such in order decides)."""
    if not refs:
        return []
    async with aiohttp.ClientSession() as http:
        found = await asyncio.gather(*(_size_of(ref, http, fetch) for ref in refs), return_exceptions=True)
    sizes: list[tuple[int, int]] = []
    for size in found:
        if isinstance(size, ValueError | aiohttp.ClientError | TimeoutError | OSError):
            raise Rejected(invalid_parameter(DOWNLOAD_FAILED))
        if isinstance(size, BaseException):
            raise size
        sizes.append(size)
    return sizes
