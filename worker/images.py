"""Images as references the model can read, each read from Storage once per worker.

A session's earlier images come back on every later turn (worker/attachments.py, "follow-ups keep
the files"), so without this each turn would download, base64-encode (inline) or re-sign
(signed_url) every image of the conversation again: at a dozen photos that was most of an image
question's first token. Here each reference is kept after its first use and checked, not rebuilt:

- inline: the `data:` URI and the object's ETag. A later use asks Storage `If-None-Match: <etag>`:
  304 gives the kept URI (no bytes move), 200 an object that was replaced (read and kept anew).
- signed_url: the link, reused while at least half its life is left (so the provider has time to
  fetch it, and an earlier image keeps the same link from turn to turn: the prompt's prefix stays
  byte-identical for DashScope's context cache). A later use first asks Storage (HEAD) that the
  object is still there.

Which one (LLM_IMAGE_TRANSPORT, `transport_for`): `auto`, the default, sends links when the model
can download them, i.e. when Storage's host is public, or the model's endpoint is itself on this
machine or a private network (the fake, a self-hosted server next to Storage); else data URIs. A
link the model still cannot download (it says so: `ImageUnreachable`) turns this worker to inline
for good and the turn asks again (worker/turn.py); with an explicit `signed_url` that is the
turn's error.

Storage is not asked at all when the caller already knows the object's current ETag (the claim
carries it for every file it names, migrations/..._claim_knows_stored_files.sql): the same ETag
as kept gives the kept reference, another one reads the object anew, and `gone` (the claim found
no object) is answered as Storage's 404 would be.

Inline images larger than the model looks at are sent at the size it looks at: above
`max_pixels` (LLM_IMAGE_MAX_PIXELS, 1,310,720 = 1,280 patches of 32x32, Qwen-VL's default cap;
DashScope scales anything larger down to it before the model sees it) a JPEG, PNG or WebP is
scaled down, upright as the browser shows it (EXIF orientation applied), and re-encoded in its own
format, off the event loop. A 12-megapixel photo (8.1 MB of JPEG) then travels as 0.57 MB in every
request that carries it: the SDK JSON-encodes the request on the worker's event loop (about 8 ms
per MB), so a large photo stalled every conversation on the worker on each later turn.

Nothing goes out that DashScope refuses (fakescope/vision.py has its limits): a GIF (the bucket
takes them, the model does not) is sent as a PNG of its first frame; an image with a side under
10 px is padded to 10, one with a side more than 200 times the other is padded to 200:1 (centred,
transparent or white); one whose data URI would pass 10,485,760 bytes is scaled down until it fits,
whatever `max_pixels` says (0 included). Such an image never goes as a link either: its question
says its type, size and dimensions (`fits_as_link`), and one that breaks a limit is sent inline,
made acceptable as above, under any transport (a link to the original would be refused; these are
rare, so a copy of their own in Storage is not worth its upkeep). Other images, and an image whose
body cannot be decoded (the model refuses it, as before), go byte for byte; so does one whose header
says more than 36 megapixels (MAX_PIXELS, what the database lets its question record: the record
was not its own), never decoded, since a one-colour PNG or GIF of 144 megapixels is a few hundred KB
that decodes to 600-700 MiB.

Read ahead: a new question's images are read (`read_ahead`) when the worker hears the question,
while its claim runs, and kept as above, so the turn finds them kept (a use that comes while its
image is still being read waits for that read rather than repeating it). At most `read_ahead`
such reads run at once (LLM_IMAGE_READ_AHEAD); a failed one is only logged, the turn reads again.

Either way an object that is gone (404) is dropped here and its SupabaseError goes to the caller,
as a first read's would: the question's own image refuses the turn, an earlier one is left out.
Kept references take at most `max_bytes` (LLM_IMAGE_CACHE_MB), least recently used leave first.
They are keyed by object path, and a question can only name its owner's objects (the database checks
that before the question is stored), so what one turn kept is what Storage gives any turn naming
that path: nothing crosses between users.
"""

from __future__ import annotations

import asyncio
import base64
import io
import ipaddress
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from PIL import Image, ImageOps

from worker import supabase_http
from worker.kept import Kept, Reads
from worker.supabase_http import SupabaseError, SupabaseHttp

log = logging.getLogger(__name__)

BUCKET = "attachments"
_SCALED_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}  # sent in their own format
# What DashScope takes (fakescope/vision.py): a data URI, and a linked file, of at most this many
# bytes; sides of at least MIN_SIDE px, neither more than MAX_RATIO times the other.
MAX_ITEM_BYTES = 10_485_760
MIN_SIDE, MAX_RATIO = 10, 200
# The most pixels a question may record for an image (the database's ImageTooManyPixels): the file
# behind the record is decoded only within them (see `acceptable`).
MAX_PIXELS = 36_000_000
_FIT_ROUNDS = 8  # scalings tried before an image goes as stored (one is enough unless its ICC profile is huge)
TRANSPORTS = ("auto", "inline", "signed_url")
# names that only resolve inside a private network (mDNS, Docker/Kubernetes, home routers, RFC 8375)
_PRIVATE_SUFFIXES = (".localhost", ".local", ".internal", ".lan", ".home.arpa", ".svc", ".cluster.local")


def transport_for(setting: str, storage_url: str, model_url: str) -> tuple[str, bool]:
    """The transport LLM_IMAGE_TRANSPORT names, `auto` resolved for these URLs; and whether a link
    the model cannot download may fall back to inline (only `auto`'s). ValueError on another value."""
    if setting not in TRANSPORTS:
        raise ValueError(f"LLM_IMAGE_TRANSPORT must be one of {', '.join(TRANSPORTS)}, not {setting!r}")
    if setting != "auto":
        return setting, False
    reachable = not _private(storage_url) or _private(model_url)
    return ("signed_url" if reachable else "inline"), True


def _private(url: str) -> bool:
    """Whether `url`'s host is this machine or on a private network (what a cloud service cannot reach)."""
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    try:
        return not ipaddress.ip_address(host).is_global
    except ValueError:
        return "." not in host or host.endswith(_PRIVATE_SUFFIXES)


@dataclass(frozen=True, slots=True)
class _Kept:
    ref: str
    etag: str | None  # inline: the ETag of the bytes `ref` was made from
    until: float  # signed_url: reused before this (monotonic) time


class ImageRefs:
    def __init__(
        self,
        http: SupabaseHttp,
        *,
        transport: str,
        seconds: int,
        max_bytes: int,
        max_pixels: int = 0,
        read_ahead: int = 0,
        fallback: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`transport`: inline or signed_url; `fallback`: a link the model could not download turns
        this to inline (`fall_back`). `max_pixels` 0 sends every inline image as stored;
        `read_ahead` 0 reads nothing ahead."""
        self._http = http
        self._signed = transport == "signed_url"
        self._fallback = fallback
        self._max_pixels = max_pixels
        self._seconds = seconds
        self._clock = clock
        self._kept: Kept[tuple[str, str], _Kept] = Kept(max_bytes, lambda kept: len(kept.ref))
        self._reads: Reads[tuple[str, str]] = Reads(read_ahead)

    @property
    def kept_bytes(self) -> int:
        return self._kept.size

    @property
    def signed(self) -> bool:
        """Whether images go as links now."""
        return self._signed

    def fall_back(self) -> bool:
        """The model could not download a link: send data URIs from now on, when allowed (`auto`).
        Whether images go inline now. Links kept meanwhile are read anew on their next use (they
        carry no ETag)."""
        if self._signed and self._fallback:
            self._signed = False
            log.warning("the model cannot download Storage links: images go inline from now on")
        return not self._signed

    async def ref(
        self,
        path: str,
        mime_type: str,
        *,
        etag: str | None = None,
        gone: bool = False,
        linkable: bool = True,
    ) -> str:
        """A data URI or signed URL for the object at `path`; SupabaseError when Storage has none.
        `etag` is the object's current ETag when known, `gone` that it is known to be deleted;
        `linkable` False (see `fits_as_link`) sends it inline whatever the transport."""
        key = (path, mime_type)
        await self._reads.settled(key)  # read ahead: what it read is kept now
        return await self._read(key, etag, gone, linkable)

    def read_ahead(self, path: str, mime_type: str, *, linkable: bool = True) -> bool:
        """Start reading the image at `path` in the background (its question was just heard);
        False when it is kept already, being read, or `read_ahead` reads run."""
        key = (path, mime_type)
        return self._kept.get(key) is None and self._reads.start(key, lambda: self._read(key, None, False, linkable))

    async def _read(self, key: tuple[str, str], etag: str | None, gone: bool, linkable: bool) -> str:
        try:
            if gone:
                raise supabase_http.gone(key[0])
            return await (self._link(key, etag) if self._signed and linkable else self._inline(key, etag))
        except SupabaseError:
            self._kept.drop(key)
            raise

    async def _inline(self, key: tuple[str, str], current: str | None) -> str:
        path, mime_type = key
        kept = self._kept.get(key)
        if kept is not None and current is not None and kept.etag == current:
            self._kept.used(key)
            return kept.ref
        blob, etag = await self._http.download_if_changed(BUCKET, path, kept.etag if kept else None)
        if blob is None and kept is not None:  # 304: the bytes the kept URI was made from
            self._kept.used(key)
            return kept.ref
        data = blob or b""
        if _to_redo(data, mime_type, self._max_pixels):
            try:
                data, mime_type = await asyncio.to_thread(acceptable, data, self._max_pixels)
            except Exception as exc:  # PIL: a header that reads, a body that does not (cut, corrupt)
                log.warning(
                    "an image is sent as stored: it could not be re-encoded", extra={"path": path, "error": str(exc)}
                )
        ref = f"data:{mime_type};base64,{base64.b64encode(data).decode()}"
        if etag:
            self._kept.put(key, _Kept(ref, etag, 0.0))
        return ref

    async def _link(self, key: tuple[str, str], current: str | None) -> str:
        path = key[0]
        kept = self._kept.get(key)
        now = self._clock()
        if kept is not None and now < kept.until:
            if current is None:  # still there? a link to a deleted object would fail the call
                await self._http.head(BUCKET, path)
            self._kept.used(key)
            return kept.ref
        url = await self._http.sign(BUCKET, path, self._seconds)
        self._kept.put(key, _Kept(url, None, now + self._seconds / 2))
        return url


def fits_as_link(mime_type: str, size: int, width: int, height: int) -> bool:
    """Whether DashScope takes the original as a link, by what its question says of it (0: not said):
    a JPEG, PNG or WebP of at most MAX_ITEM_BYTES whose sides are within the limits."""
    return (
        mime_type in _SCALED_FORMATS.values()
        and size <= MAX_ITEM_BYTES
        and (not width or not height or _within(width, height))
    )


def _within(width: int, height: int) -> bool:
    return min(width, height) >= MIN_SIDE and max(width, height) <= MAX_RATIO * min(width, height)


def _uri_bytes(blob_bytes: int, mime_type: str) -> int:
    """The length of the data URI of `blob_bytes` bytes of `mime_type`."""
    return len(f"data:{mime_type};base64,") + 4 * math.ceil(blob_bytes / 3)


def _to_redo(blob: bytes, mime_type: str, max_pixels: int) -> bool:
    """Whether the image must be re-encoded before it goes (from its header: no pixels are decoded):
    above `max_pixels` (0: no cap), or not one DashScope takes as it is (a GIF, a side out of the
    limits, a data URI too long). Bytes that are not an image go as they are: the model refuses them."""
    try:
        with Image.open(io.BytesIO(blob)) as image:
            fmt, (width, height) = image.format, image.size
    except Exception:  # PIL's readers raise many kinds on a cut or broken header
        return False
    return (
        fmt not in _SCALED_FORMATS
        or mime_type not in _SCALED_FORMATS.values()  # a PNG stored as image/gif would be refused as one
        or not _within(width, height)
        or bool(max_pixels and width * height > max_pixels)
        or _uri_bytes(len(blob), mime_type) > MAX_ITEM_BYTES
    )


def acceptable(blob: bytes, max_pixels: int) -> tuple[bytes, str]:
    """The image as DashScope takes it, with its MIME type: upright, at most `max_pixels` (0: any),
    in its own format (a GIF: PNG, its first frame), padded to sides of at least MIN_SIDE and at
    most MAX_RATIO:1, and scaled down until its data URI fits MAX_ITEM_BYTES. ValueError, before
    any pixel is decoded, for more than MAX_PIXELS: its question recorded other dimensions (the
    database refuses more), and a one-colour PNG of 144 megapixels is 150 KB that decodes to
    hundreds of MiB of the worker's memory."""
    with Image.open(io.BytesIO(blob)) as source:
        if source.width * source.height > MAX_PIXELS:
            raise ValueError(f"{source.width}x{source.height} is more than {MAX_PIXELS // 1_000_000} megapixels")
        fmt = str(source.format) if source.format in _SCALED_FORMATS else "PNG"
        mime_type = _SCALED_FORMATS[fmt]
        scale = min(1.0, math.sqrt(max_pixels / (source.width * source.height))) if max_pixels else 1.0
        if fmt == "JPEG" and scale < 1:  # decode at the nearest 1/2, 1/4, 1/8 at or above the target
            source.draft(source.mode, (math.ceil(source.width * scale), math.ceil(source.height * scale)))
        ImageOps.exif_transpose(source, in_place=True)
        image: Image.Image = source
        if source.format != fmt:  # a GIF's first frame, in a mode PNG keeps
            image = source.convert("RGBA" if _transparent(source) else "RGB")
        if max_pixels:
            scale = min(1.0, math.sqrt(max_pixels / (image.width * image.height)))
        for _ in range(_FIT_ROUNDS):
            out = _encoded(_padded(_scaled(image, scale)), fmt)
            length = _uri_bytes(len(out), mime_type)
            if length <= MAX_ITEM_BYTES:
                return out, mime_type
            scale *= 0.95 * math.sqrt(MAX_ITEM_BYTES / length)  # bytes go about as pixels do
    raise ValueError(f"no scale fits its data URI in {MAX_ITEM_BYTES} bytes")  # what the pixels do not make


def _transparent(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info


def _scaled(image: Image.Image, scale: float) -> Image.Image:
    if scale >= 1:
        return image
    size = (max(1, int(image.width * scale)), max(1, int(image.height * scale)))
    return image.resize(size, Image.Resampling.BICUBIC, reducing_gap=2.0)  # as `thumbnail` scales


def _padded(image: Image.Image) -> Image.Image:
    """The image centred on a canvas with sides of at least MIN_SIDE, neither more than MAX_RATIO
    times the other; transparent where the image can be, else white. As it is when it fits."""
    width = max(image.width, MIN_SIDE, math.ceil(image.height / MAX_RATIO))
    height = max(image.height, MIN_SIDE, math.ceil(image.width / MAX_RATIO))
    if (width, height) == image.size:
        return image
    if image.mode not in ("RGB", "RGBA", "L", "LA"):
        image = image.convert("RGBA" if _transparent(image) else "RGB")
    fill: dict[str, float | tuple[float, ...]] = {
        "RGB": (255, 255, 255),
        "RGBA": (255, 255, 255, 0),
        "L": 255,
        "LA": (255, 0),
    }
    canvas = Image.new(image.mode, (width, height), fill[image.mode])
    canvas.paste(image, ((width - image.width) // 2, (height - image.height) // 2))
    return canvas


def _encoded(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    if fmt == "JPEG":
        (image if image.mode in ("L", "RGB") else image.convert("RGB")).save(out, "JPEG", quality=90)
    else:
        image.save(out, fmt, **({"quality": 90} if fmt == "WEBP" else {}))
    return out.getvalue()
