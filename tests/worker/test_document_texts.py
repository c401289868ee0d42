"""The worker's document texts (worker/documents.py) against the real local Storage: a document is
read and parsed once and afterwards only checked (`If-None-Match` -> 304, no bytes, no parsing),
read again when its owner replaced it, dropped when deleted; one with no text is refused and not
kept; what is kept stays within its bound. The client is the worker's own SupabaseHttp, logging
what Storage answered."""

from __future__ import annotations

import asyncpg
import pytest

from tests.conftest import LocalStack
from tests.worker.conftest import Owner
from tests.worker.test_attachments import pdf, storage_of, upload
from tests.worker.test_image_refs import LoggedHttp, stored
from worker.documents import DocumentTexts
from worker.errors import AttachmentError
from worker.supabase_http import SupabaseError

PDF = "application/pdf"


async def test_a_document_is_parsed_once_then_only_checked_and_parsed_again_when_replaced(
    stack: LocalStack, owner: Owner
) -> None:
    first, second = pdf("Quarterly report 2026"), pdf("Revised report 2027")
    item = await upload(stack, owner, "report.pdf", first, PDF)
    path = str(item["path"])
    http = LoggedHttp(stack)
    documents = DocumentTexts(http, max_bytes=1 << 20)
    try:
        text = await documents.text(path, PDF, "report.pdf")
        assert "Quarterly report 2026" in text
        assert await documents.text(path, PDF, "report.pdf") == text
        assert http.log == [("get", 200, len(first)), ("get", 304, 0)]  # the second use moved no bytes
        assert documents.kept_bytes == len(text.encode())

        await storage_of(stack, owner).from_("attachments").update(path, second, {"content-type": PDF})
        assert "Revised report 2027" in await documents.text(path, PDF, "report.pdf")
        assert http.log[-1] == ("get", 200, len(second))

        await storage_of(stack, owner).from_("attachments").remove([path])
        with pytest.raises(SupabaseError):
            await documents.text(path, PDF, "report.pdf")
        assert documents.kept_bytes == 0  # a deleted document is never sent from what was kept
    finally:
        await http.aclose()


async def test_a_document_whose_etag_the_claim_gives_is_not_asked_of_storage_again(
    stack: LocalStack, owner: Owner, pg: asyncpg.Connection
) -> None:
    item = await upload(stack, owner, "claimed.pdf", pdf("Claimed report 2026"), PDF)
    path = str(item["path"])
    claimed = await stored(pg, item)
    http = LoggedHttp(stack)
    documents = DocumentTexts(http, max_bytes=1 << 20)
    try:
        text = await documents.text(path, PDF, "claimed.pdf", etag=str(claimed["etag"]))
        assert await documents.text(path, PDF, "claimed.pdf", etag=str(claimed["etag"])) == text
        assert http.log == [("get", 200, len(pdf("Claimed report 2026")))]  # the second use asked nothing
        with pytest.raises(SupabaseError):
            await documents.text(path, PDF, "claimed.pdf", gone=True)
        assert len(http.log) == 1
        assert documents.kept_bytes == 0
    finally:
        await http.aclose()


async def test_a_document_without_text_is_refused_every_time_and_never_kept(stack: LocalStack, owner: Owner) -> None:
    item = await upload(stack, owner, "blank.txt", b"   \n", "text/plain")
    http = LoggedHttp(stack)
    documents = DocumentTexts(http, max_bytes=1 << 20)
    try:
        for _ in range(2):
            with pytest.raises(AttachmentError) as refused:
                await documents.text(str(item["path"]), "text/plain", "blank.txt")
            assert refused.value.code == "DocumentUnreadable"
        assert [entry[1] for entry in http.log] == [200, 200]  # read again, not answered from a cache
        assert documents.kept_bytes == 0
    finally:
        await http.aclose()


async def test_kept_texts_stay_within_their_bound_oldest_use_first(stack: LocalStack, owner: Owner) -> None:
    one, two = "第一份文件 " * 40, "second document " * 40
    paths = [
        str((await upload(stack, owner, name, text.encode(), "text/plain"))["path"])
        for name, text in (("one.txt", one), ("two.txt", two))
    ]
    http = LoggedHttp(stack)
    documents = DocumentTexts(http, max_bytes=len(one.encode()) + len(two.encode()) - 1)
    try:
        assert await documents.text(paths[0], "text/plain", "one.txt") == one
        await documents.text(paths[1], "text/plain", "two.txt")  # does not fit beside the first: the first leaves
        assert documents.kept_bytes == len(two.encode())
        await documents.text(paths[1], "text/plain", "two.txt")
        assert await documents.text(paths[0], "text/plain", "one.txt") == one
        assert [entry[1] for entry in http.log] == [200, 200, 304, 200]
    finally:
        await http.aclose()
