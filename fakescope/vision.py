"""The multimodal endpoint's images: where they come from and what they cost.

`POST /api/v1/services/aigc/multimodal-generation/generation` takes list-form content, e.g.
`[{"image": "data:image/png;base64,..."}, {"text": "..."}]`; compatible mode takes OpenAI's parts,
`[{"type": "image_url", "image_url": {"url": ...}}, {"type": "text", "text": "..."}]`. An image is a
data URI (decoded here) or an http(s) URL, which the fake downloads as DashScope would (so a signed
Storage URL of the local stack works; the internet does not). An image that cannot be fetched or
read is refused with the service's `400 InvalidParameter "Failed to download multimodal content"`.

Tokens per image, as Qwen-VL bills them: one per 28x28 patch of the image (rounded up), at least 4
and at most 1,280 (the default pixel cap), plus 2 for the vision start/end markers. They are part of
`input_tokens` and reported again as `usage.image_tokens`.
"""

from __future__ import annotations

import base64
import binascii
import io
import math
from typing import Any

import aiohttp
from PIL import Image, UnidentifiedImageError

from fakescope.errors import invalid_parameter
from fakescope.validate import Rejected

PATCH = 28
MIN_TOKENS, MAX_TOKENS = 4, 1280
_FETCH_SECONDS = 10.0
DOWNLOAD_FAILED = "Failed to download multimodal content"


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


async def _bytes_of(ref: str, http: aiohttp.ClientSession) -> bytes:
    if ref.startswith("data:"):
        _, _, data = ref.partition(",")
        return base64.b64decode(data, validate=True)
    if ref.startswith(("http://", "https://")):
        async with http.get(ref, timeout=aiohttp.ClientTimeout(total=_FETCH_SECONDS)) as response:
            if response.status != 200:
                raise ValueError(f"HTTP {response.status}")
            return await response.read()
    raise ValueError("not a URL or data URI")


async def measure(refs: list[str]) -> list[tuple[int, int]]:
    """(width, height) of each image; Rejected when one cannot be fetched or is not an image."""
    if not refs:
        return []
    sizes: list[tuple[int, int]] = []
    async with aiohttp.ClientSession() as http:
        for ref in refs:
            try:
                blob = await _bytes_of(ref, http)
                with Image.open(io.BytesIO(blob)) as image:
                    sizes.append(image.size)
            except (ValueError, binascii.Error, aiohttp.ClientError, TimeoutError, UnidentifiedImageError, OSError):
                raise Rejected(invalid_parameter(DOWNLOAD_FAILED)) from None
    return sizes
