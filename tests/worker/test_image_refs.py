"""The worker's image references (worker/images.py) against the real local Storage: an image is read
once and afterwards only checked (`If-None-Match` -> 304, no bytes), read again when its owner
replaced it, dropped when deleted; a signed link is reused for half its life while its object
exists; what is kept stays within its bound. The client is the worker's own SupabaseHttp, with a
log of what Storage answered."""

from __future__ import annotations

import base64

import pytest

from tests.conftest import LocalStack
from tests.worker.conftest import Owner
from tests.worker.test_attachments import png, storage_of, upload
from worker.images import ImageRefs
from worker.supabase_http import SupabaseError, SupabaseHttp


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
