"""The worker's image references (worker/images.py) against the real local Storage: an image is read
once and afterwards only checked (`If-None-Match` -> 304, no bytes), read again when its owner
replaced it, dropped when deleted; a photo larger than the model looks at is sent upright at that
size, in its own format; a signed link is reused for half its life while its object exists; what is
kept stays within its bound. The client is the worker's own SupabaseHttp, with a
log of what Storage answered."""

from __future__ import annotations

import base64
import io
import json

import asyncpg
import pytest
from PIL import Image

from tests.conftest import LocalStack
from tests.worker.conftest import Owner
from tests.worker.test_attachments import gif, noise_png, png, storage_of, upload
from worker.images import MAX_ITEM_BYTES, ImageRefs, acceptable, fits_as_link, transport_for
from worker.supabase_http import SupabaseError, SupabaseHttp

MAX_PIXELS = 1_310_720  # LLM_IMAGE_MAX_PIXELS' default
ORIENTATION = 0x0112


def pixel(image: Image.Image, xy: tuple[int, int]) -> tuple[int, ...]:
    """One pixel's channels in a multi-band image (Pillow types getpixel for every mode)."""
    value = image.getpixel(xy)
    assert isinstance(value, tuple), value
    return value


class LoggedHttp(SupabaseHttp):
    """The worker's Storage client, logging each read: ("get", status, body bytes), ("head", path), ("sign", path)."""

    def __init__(self, stack: LocalStack) -> None:
        super().__init__(stack.url, stack.service_role_key, max_connections=4, timeout=10.0)
        self.log: list[tuple[str, object, int]] = []

    async def download_if_changed(self, bucket: str, path: str, etag: str | None) -> tuple[bytes | None, str | None]:
        blob, tag = await super().download_if_changed(bucket, path, etag)
        self.log.append(("get", 304 if blob is None else 200, len(blob or b"")))
        return blob, tag

    async def head(self, bucket: str, path: str) -> None:
        await super().head(bucket, path)
        self.log.append(("head", path, 0))

    async def sign(self, bucket: str, path: str, seconds: int) -> str:
        url = await super().sign(bucket, path, seconds)
        self.log.append(("sign", path, 0))
        return url


def data_uri(blob: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(blob).decode()


async def test_an_inline_image_is_read_once_then_only_checked_and_read_again_when_replaced(
    stack: LocalStack, owner: Owner
) -> None:
    first, second = png(60, 40), png(64, 48)
    item = await upload(stack, owner, "kept.png", first, "image/png")
    path = str(item["path"])
    http = LoggedHttp(stack)
    refs = ImageRefs(http, transport="inline", seconds=600, max_bytes=1 << 20)
    try:
        assert await refs.ref(path, "image/png") == data_uri(first)
        assert await refs.ref(path, "image/png") == data_uri(first)
        assert http.log == [("get", 200, len(first)), ("get", 304, 0)]  # the second use moved no bytes

        await storage_of(stack, owner).from_("attachments").update(path, second, {"content-type": "image/png"})
        assert await refs.ref(path, "image/png") == data_uri(second)
        assert http.log[-1] == ("get", 200, len(second))
        assert refs.kept_bytes == len(data_uri(second))

        await storage_of(stack, owner).from_("attachments").remove([path])
        with pytest.raises(SupabaseError):
            await refs.ref(path, "image/png")
        assert refs.kept_bytes == 0  # a deleted object is never sent from what was kept
    finally:
        await http.aclose()


async def test_a_signed_link_is_reused_for_half_its_life_while_its_object_exists(
    stack: LocalStack, owner: Owner
) -> None:
    item = await upload(stack, owner, "linked.png", png(30, 30), "image/png")
    path = str(item["path"])
    http = LoggedHttp(stack)
    now = [1000.0]
    refs = ImageRefs(http, transport="signed_url", seconds=600, max_bytes=1 << 20, clock=lambda: now[0])
    try:
        link = await refs.ref(path, "image/png")
        now[0] += 299
        assert await refs.ref(path, "image/png") == link  # same link: the prompt's prefix stays byte-identical
        assert http.log == [("sign", path, 0), ("head", path, 0)]
        now[0] += 2  # past half its life: a fresh link
        await refs.ref(path, "image/png")
        assert http.log[-1] == ("sign", path, 0)

        await storage_of(stack, owner).from_("attachments").remove([path])
        with pytest.raises(SupabaseError):
            await refs.ref(path, "image/png")
        assert refs.kept_bytes == 0
    finally:
        await http.aclose()


@pytest.mark.parametrize(
    ("mime", "size", "width", "height", "fits"),
    [
        ("image/png", 1000, 64, 48, True),
        ("image/jpeg", MAX_ITEM_BYTES, 2000, 10, True),  # at every limit
        ("image/webp", 1000, 0, 0, True),  # dimensions not said: the link goes
        ("image/gif", 1000, 64, 48, False),
        ("image/png", MAX_ITEM_BYTES + 1, 64, 48, False),
        ("image/png", 20 << 20, 4000, 3000, False),
        ("image/png", 100, 4, 3, False),
        ("image/png", 100, 1000, 2, False),
        ("image/png", 100, 10, 2001, False),
    ],
)
def test_only_an_original_the_model_takes_goes_as_a_link(
    mime: str, size: int, width: int, height: int, fits: bool
) -> None:
    assert fits_as_link(mime, size, width, height) is fits


async def test_with_links_chosen_an_original_the_model_would_refuse_goes_inline_made_acceptable_and_kept(
    stack: LocalStack, owner: Owner, pg: asyncpg.Connection
) -> None:
    """A signed link to an 11 MB original, a GIF or a 4x3 PNG would be refused by DashScope: each goes
    as a data URI it takes, read once and kept by its ETag like any inline image, read ahead too."""
    big = noise_png(1950, 1950)  # the bucket takes 20 MiB; DashScope no linked file past 10 MiB
    assert len(big) > MAX_ITEM_BYTES
    items = [
        await upload(stack, owner, "big.png", big, "image/png"),
        await upload(stack, owner, "anim.gif", gif((0, 200, 0), (0, 0, 200)), "image/gif"),
        await upload(stack, owner, "tiny.png", png(4, 3), "image/png"),
    ]
    http = LoggedHttp(stack)
    refs = ImageRefs(http, transport="signed_url", seconds=600, max_bytes=32 << 20, max_pixels=0, read_ahead=4)
    try:
        assert refs.read_ahead(str(items[2]["path"]), "image/png", linkable=False)
        for item, (fmt, size) in zip(items, [("PNG", None), ("PNG", (40, 30)), ("PNG", (10, 10))], strict=True):
            path, mime = str(item["path"]), str(item["mime_type"])
            etag = str((await stored(pg, item))["etag"])
            ref = await refs.ref(path, mime, etag=etag, linkable=False)
            assert ref.startswith("data:image/png;base64,")
            assert len(ref) <= MAX_ITEM_BYTES
            sent = image_of(ref)
            assert sent.format == fmt
            assert sent.size == (size or sent.size)
            if size is None:  # scaled until its data URI fits, aspect kept
                assert sent.width == sent.height < 1950
            assert await refs.ref(path, mime, etag=etag, linkable=False) == ref  # kept: no request
            assert await refs.ref(path, mime, linkable=False) == ref  # without the claim's ETag: a 304
        assert http.log == [
            ("get", 200, len(png(4, 3))),
            ("get", 200, len(big)),
            ("get", 304, 0),
            ("get", 200, len(gif((0, 200, 0), (0, 0, 200)))),
            ("get", 304, 0),
            ("get", 304, 0),
        ]
        fine = await upload(stack, owner, "fine.png", png(64, 48), "image/png")
        assert "/object/sign/" in await refs.ref(str(fine["path"]), "image/png")  # one it takes: a link
    finally:
        await http.aclose()


async def stored(pg: asyncpg.Connection, item: dict[str, object]) -> dict[str, object]:
    """The attachment as the claim gives it to the worker: with the object's current `etag`, or
    null when it is gone (migrations/..._claim_knows_stored_files.sql), read as service_role."""
    async with pg.transaction():
        await pg.execute("set local role service_role")
        found = await pg.fetchval("select public.worker_files_stored($1::jsonb)::text", json.dumps([item]))
    files: list[dict[str, object]] = json.loads(found)
    return files[0]


async def test_an_image_whose_etag_the_claim_gives_is_not_asked_of_storage_again(
    stack: LocalStack, owner: Owner, pg: asyncpg.Connection
) -> None:
    """With the ETag the claim carries, a kept reference is used without a Storage request, a
    replaced object is read anew, and a deleted one is refused as Storage would, without asking."""
    first, second = png(60, 40), png(64, 48)
    item = await upload(stack, owner, "claimed.png", first, "image/png")
    path = str(item["path"])
    claimed = await stored(pg, item)
    assert isinstance(claimed["etag"], str)
    for transport in ("inline", "signed_url"):
        http = LoggedHttp(stack)
        refs = ImageRefs(http, transport=transport, seconds=600, max_bytes=1 << 20)
        try:
            kept = await refs.ref(path, "image/png", etag=str(claimed["etag"]))
            assert len(http.log) == 1  # the first use reads (inline) or signs (signed_url)
            assert await refs.ref(path, "image/png", etag=str(claimed["etag"])) == kept
            assert len(http.log) == 1  # no 304 round trip, no HEAD
        finally:
            await http.aclose()

    http = LoggedHttp(stack)
    refs = ImageRefs(http, transport="inline", seconds=600, max_bytes=1 << 20)
    try:
        assert await refs.ref(path, "image/png", etag=str(claimed["etag"])) == data_uri(first)
        await storage_of(stack, owner).from_("attachments").update(path, second, {"content-type": "image/png"})
        replaced = await stored(pg, item)
        assert replaced["etag"] != claimed["etag"]
        assert await refs.ref(path, "image/png", etag=str(replaced["etag"])) == data_uri(second)
        assert http.log[-1] == ("get", 200, len(second))

        await storage_of(stack, owner).from_("attachments").remove([path])
        deleted = await stored(pg, item)
        assert "etag" in deleted
        assert deleted["etag"] is None
        calls = len(http.log)
        with pytest.raises(SupabaseError) as refused:
            await refs.ref(path, "image/png", gone=True)
        assert refused.value.status == 404
        assert len(http.log) == calls  # refused without asking Storage
        assert refs.kept_bytes == 0
    finally:
        await http.aclose()


async def test_an_image_read_ahead_is_read_once_though_its_turn_asks_for_it_mid_read(
    stack: LocalStack, owner: Owner, pg: asyncpg.Connection
) -> None:
    """A question's image is read ahead while the question is claimed (LLM_IMAGE_READ_AHEAD): the
    turn asking for it during that read waits for it instead of reading again; at most that many
    reads run ahead at once, and none with 0."""
    item = await upload(stack, owner, "ahead.png", png(50, 50), "image/png")
    other = await upload(stack, owner, "ahead-2.png", png(52, 52), "image/png")
    path = str(item["path"])
    etag = str((await stored(pg, item))["etag"])
    for transport in ("inline", "signed_url"):
        http = LoggedHttp(stack)
        refs = ImageRefs(http, transport=transport, seconds=600, max_bytes=1 << 20, read_ahead=1)
        try:
            assert refs.read_ahead(path, "image/png")
            assert not refs.read_ahead(path, "image/png")  # being read: not twice
            assert not refs.read_ahead(str(other["path"]), "image/png")  # one read ahead at a time
            ref = await refs.ref(path, "image/png", etag=etag)  # the read ahead has not finished yet
            assert len(http.log) == 1
            assert await refs.ref(path, "image/png", etag=etag) == ref
            assert len(http.log) == 1
            assert not refs.read_ahead(path, "image/png")  # kept: nothing to read
        finally:
            await http.aclose()
    http = LoggedHttp(stack)
    refs = ImageRefs(http, transport="inline", seconds=600, max_bytes=1 << 20)
    try:
        assert not refs.read_ahead(path, "image/png")  # off by default here (0)
        assert http.log == []
    finally:
        await http.aclose()


async def test_what_is_kept_stays_within_its_bound_oldest_use_first(stack: LocalStack, owner: Owner) -> None:
    one, two = png(40, 40), png(50, 50)
    paths = [
        str((await upload(stack, owner, name, blob, "image/png"))["path"])
        for name, blob in (("a.png", one), ("b.png", two))
    ]
    http = LoggedHttp(stack)
    refs = ImageRefs(http, transport="inline", seconds=600, max_bytes=len(data_uri(one)) + len(data_uri(two)) - 1)
    try:
        await refs.ref(paths[0], "image/png")
        await refs.ref(paths[1], "image/png")  # does not fit beside the first: the first leaves
        assert refs.kept_bytes == len(data_uri(two))
        await refs.ref(paths[1], "image/png")
        await refs.ref(paths[0], "image/png")
        assert [entry[1] for entry in http.log] == [200, 200, 304, 200]
    finally:
        await http.aclose()


def jpeg(width: int, height: int, *, orientation: int = 1, mode: str = "RGB") -> bytes:
    """A JPEG with a left half darker than its right, tagged with EXIF `orientation`."""
    image = Image.new(mode, (width, height), "white" if mode != "CMYK" else (0, 0, 0, 0))
    image.paste("black" if mode != "CMYK" else (0, 0, 0, 255), (0, 0, width // 2, height))
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, exif=exif)
    return out.getvalue()


def image_of(ref: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(ref.partition(",")[2])))


async def test_a_large_photo_is_sent_upright_at_the_size_the_model_looks_at_and_kept(
    stack: LocalStack, owner: Owner
) -> None:
    # 2400x1800 stored landscape, tagged "rotate 90 clockwise" (as a phone held upright writes it).
    item = await upload(stack, owner, "phone.jpg", jpeg(2400, 1800, orientation=6), "image/jpeg")
    small = await upload(stack, owner, "small.jpg", small_blob := jpeg(800, 600), "image/jpeg")
    http = LoggedHttp(stack)
    refs = ImageRefs(http, transport="inline", seconds=600, max_bytes=8 << 20, max_pixels=MAX_PIXELS)
    try:
        ref = await refs.ref(str(item["path"]), "image/jpeg")
        assert ref.startswith("data:image/jpeg;base64,")
        sent = image_of(ref)
        assert sent.format == "JPEG"
        assert sent.height > sent.width  # upright, as the browser shows it
        assert abs(sent.width / sent.height - 1800 / 2400) < 0.01  # aspect kept
        assert 0.98 * MAX_PIXELS <= sent.width * sent.height <= MAX_PIXELS
        rgb = sent.convert("RGB")  # rotated clockwise: the dark left half is now the top half
        assert pixel(rgb, (sent.width // 2, sent.height // 8))[0] < 60
        assert pixel(rgb, (sent.width // 2, sent.height * 7 // 8))[0] > 200
        assert await refs.ref(str(item["path"]), "image/jpeg") == ref  # kept: checked, not scaled again
        assert [entry[1] for entry in http.log] == [200, 304]

        assert (
            await refs.ref(str(small["path"]), "image/jpeg")
            == "data:image/jpeg;base64," + base64.b64encode(small_blob).decode()
        )  # at or under the size: byte for byte
    finally:
        await http.aclose()


async def test_a_large_image_whose_body_cannot_be_decoded_is_sent_as_stored(stack: LocalStack, owner: Owner) -> None:
    cut = jpeg(2400, 1800)[:2000]  # its header says 2400x1800; the rest is gone
    item = await upload(stack, owner, "cut.jpg", cut, "image/jpeg")
    http = LoggedHttp(stack)
    refs = ImageRefs(http, transport="inline", seconds=600, max_bytes=8 << 20, max_pixels=MAX_PIXELS)
    try:
        ref = await refs.ref(str(item["path"]), "image/jpeg")
        assert ref == "data:image/jpeg;base64," + base64.b64encode(cut).decode()  # the model refuses it, as before
    finally:
        await http.aclose()


@pytest.mark.parametrize(
    ("blob", "mime", "mode"),
    [
        (jpeg(1600, 1200, mode="CMYK"), "image/jpeg", "RGB"),
        (jpeg(1600, 1200, mode="L"), "image/jpeg", "L"),
        (b"png", "image/png", "RGBA"),
        (b"webp", "image/webp", "RGBA"),
    ],
)
def test_scaling_keeps_format_and_transparency(blob: bytes, mime: str, mode: str) -> None:
    if blob in (b"png", b"webp"):
        image = Image.new("RGBA", (1600, 1200), (10, 200, 30, 0))
        out = io.BytesIO()
        image.save(out, blob.decode().upper())
        blob = out.getvalue()
    scaled, scaled_mime = acceptable(blob, 300_000)
    assert scaled_mime == mime
    with Image.open(io.BytesIO(scaled)) as image:
        assert image.mode == mode
        assert image.width * image.height <= 300_000
        assert image.width / image.height == pytest.approx(4 / 3, rel=0.01)
        if mode == "RGBA":
            assert pixel(image, (5, 5))[3] == 0  # transparency survives


@pytest.mark.parametrize(
    ("storage", "model", "chosen"),
    [
        ("https://abcd.supabase.co", "https://dashscope.aliyuncs.com/api/v1", "signed_url"),  # hosted: reachable
        ("http://127.0.0.1:54321", "https://dashscope.aliyuncs.com/api/v1", "inline"),  # the local stack
        ("http://localhost:54321", "https://dashscope-intl.aliyuncs.com/api/v1", "inline"),
        ("http://kong:8000", "https://dashscope.aliyuncs.com/api/v1", "inline"),  # a Docker service name
        ("http://storage.svc.cluster.local", "https://dashscope.aliyuncs.com/api/v1", "inline"),
        ("http://10.0.3.7:8000", "https://dashscope.aliyuncs.com/api/v1", "inline"),
        ("http://[::1]:54321", "https://dashscope.aliyuncs.com/api/v1", "inline"),
        ("http://127.0.0.1:54321", "http://127.0.0.1:8089/api/v1", "signed_url"),  # the fake, on this machine
        ("http://kong:8000", "http://vllm:8000/v1", "signed_url"),  # a model server beside Storage
        ("https://files.example.com", "http://192.168.1.20:8000/v1", "signed_url"),
    ],
)
def test_auto_sends_links_only_where_the_model_can_reach_storage(storage: str, model: str, chosen: str) -> None:
    assert transport_for("auto", storage, model) == (chosen, True)


def test_a_named_transport_is_kept_and_an_unknown_one_refused() -> None:
    assert transport_for("inline", "https://abcd.supabase.co", "http://127.0.0.1:8089") == ("inline", False)
    assert transport_for("signed_url", "http://127.0.0.1:54321", "https://x.aliyuncs.com") == ("signed_url", False)
    with pytest.raises(ValueError, match="LLM_IMAGE_TRANSPORT"):
        transport_for("signed-url", "http://127.0.0.1:54321", "http://127.0.0.1:8089")


async def test_falling_back_sends_a_kept_link_inline_only_when_auto_chose_links(
    stack: LocalStack, owner: Owner
) -> None:
    picture = png(30, 20)
    item = await upload(stack, owner, "fallback.png", picture, "image/png")
    path = str(item["path"])
    http = LoggedHttp(stack)
    try:
        chosen = ImageRefs(http, transport="signed_url", seconds=600, max_bytes=1 << 20)
        assert not chosen.fall_back()  # signed_url named: the error is the turn's
        assert chosen.signed

        auto = ImageRefs(http, transport="signed_url", fallback=True, seconds=600, max_bytes=1 << 20)
        assert (await auto.ref(path, "image/png")).startswith(f"{stack.url}/storage/v1/object/sign/")
        assert auto.fall_back()
        assert not auto.signed
        assert auto.fall_back()  # already inline: another turn may ask again too
        assert await auto.ref(path, "image/png") == data_uri(picture)  # the kept link is not reused
        assert [entry[0] for entry in http.log] == ["sign", "get"]
    finally:
        await http.aclose()
