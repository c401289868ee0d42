"""Storage in the browser (web/e2e/storage.mjs): avatar upload shown in the header (its response
lost on the way), an image pasted and a PDF picked into the composer (the PDF's upload response
lost too), both shown after a reload, a question sent once however often Enter was pressed while
its file uploaded, and an attachment's signed URL dead after sign-out once expired. The database is
checked for what the page claimed."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg
import pytest

from tests.e2e.conftest import Product, no_page_errors, passed
from tests.e2e.journeys import Journey

pytestmark = pytest.mark.timeout(420)


@pytest.fixture(scope="session")
def storage_journey(journeys: dict[str, Journey]) -> dict[str, Any]:
    return journeys["storage"].result()


def _rows(product: Product, sql: str, *args: Any) -> list[asyncpg.Record]:
    async def fetch() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(product.stack.dsn)
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    return asyncio.run(fetch())


def test_avatar_upload_shows_in_the_header(storage_journey: dict[str, Any], product: Product) -> None:
    step = passed(storage_journey, "set an avatar on the profile and see it in the header")
    email = storage_journey["user"]["email"]
    rows = _rows(
        product,
        "select p.avatar_url, o.name, o.metadata ->> 'mimetype' as type from public.profiles p"
        " join storage.objects o on o.bucket_id = 'avatars' and o.name like p.id::text || '/%' where p.email = $1",
        email,
    )
    assert step["detail"]["uploads"] == 1  # its response lost: found stored, not uploaded again
    shown = [r for r in rows if r["avatar_url"].endswith(r["name"])]
    assert len(shown) == 1
    assert shown[0]["avatar_url"] == step["detail"]["src"]
    assert shown[0]["type"] == "image/png"


def test_a_new_avatar_whose_profile_save_fails_leaves_the_old_one(
    storage_journey: dict[str, Any], product: Product
) -> None:
    """The old file is removed only after the profile names the new one: a failed save keeps it."""
    step = passed(storage_journey, "a new avatar whose profile save fails leaves the old one shown and stored")
    assert step["detail"]["saves"] == 1
    rows = _rows(
        product,
        "select p.avatar_url, o.name from public.profiles p left join storage.objects o on o.bucket_id = 'avatars'"
        " and p.avatar_url like '%/' || o.name where p.email = $1",
        storage_journey["user"]["email"],
    )
    assert [(r["avatar_url"], r["name"] is not None) for r in rows] == [(step["detail"]["src"], True)]


def test_pasted_image_and_picked_pdf_are_stored_with_the_message(
    storage_journey: dict[str, Any], product: Product
) -> None:
    passed(
        storage_journey, "attach an image by paste and a PDF by the picker (a dropped file removed again), then send"
    )
    rows = _rows(
        product,
        "select m.attachments from public.chat_messages m where m.session_id = $1 and m.message_type = 'user'",
        storage_journey["sessionId"],
    )
    assert len(rows) == 1
    attachments = json.loads(rows[0]["attachments"])
    kinds = sorted((a["name"], a["mime_type"]) for a in attachments)
    assert kinds == [("pasted.png", "image/png"), ("report.pdf", "application/pdf")]
    image = next(a for a in attachments if a["mime_type"] == "image/png")
    assert (image["width"], image["height"]) == (4, 3)
    names = {r["name"] for r in _rows(product, "select name from storage.objects where bucket_id = 'attachments'")}
    assert {a["path"] for a in attachments} <= names
    assert not [n for n in names if n.endswith("/notes.md")]  # dropped, then removed before sending
    # The PDF's upload was stored but its response lost: found by its path, not uploaded again.
    assert storage_journey["pdfUploads"] == 1
    pdfs = _rows(
        product,
        "select o.name from storage.objects o join public.profiles p on o.name like p.id::text || '/%'"
        " where o.bucket_id = 'attachments' and p.email = $1 and o.name like '%/report.pdf'",
        storage_journey["user"]["email"],
    )
    assert [r["name"] for r in pdfs] == [a["path"] for a in attachments if a["name"] == "report.pdf"]


def test_reload_shows_both_files(storage_journey: dict[str, Any]) -> None:
    passed(storage_journey, "reload: the thumbnail, the PDF chip and the avatar are still there")
    passed(storage_journey, "phone width: the message with its files fits")


def test_enter_while_a_file_uploads_sends_the_question_once(storage_journey: dict[str, Any], product: Product) -> None:
    """Enter pressed four times while the file's upload was held back sent nothing; once it was
    done, four more made one question in one new chat, carrying the file."""
    step = passed(storage_journey, "Enter pressed again and again while a file uploads sends the question once")
    assert step["detail"]["sentWhileUploading"] == 0
    assert step["detail"]["turns"] == 1
    rows = _rows(
        product,
        "select m.session_id::text as session_id, m.attachments from public.chat_messages m"
        " join public.profiles p on p.id = m.user_id where p.email = $1 and m.content = 'Only once, please'",
        storage_journey["user"]["email"],
    )
    assert [r["session_id"] for r in rows] == [step["detail"]["sessionId"]]
    assert [a["name"] for a in json.loads(rows[0]["attachments"])] == ["held.pdf"]
    sessions = _rows(
        product,
        "select count(*) as n from public.chat_sessions s join public.profiles p on p.id = s.user_id"
        " where p.email = $1",
        storage_journey["user"]["email"],
    )
    assert sessions[0]["n"] == 2  # the first question's chat and this one


def test_an_image_the_database_would_refuse_is_refused_when_attached(storage_journey: dict[str, Any]) -> None:
    """A 9000x4001 picture (36,009,000 pixels) and a file named .png that is no picture: the composer
    says which file and why as it is added, in the page's language (Chinese), and keeps and uploads
    neither. It took both, uploaded them, and the message was refused when sent (the database's
    ImageTooManyPixels and ImageDimensionsMissing, shown as "something went wrong" in English)."""
    detail = passed(
        storage_journey,
        "an image over 36 megapixels, or one that is no picture, is refused when attached, not when sent",
    )["detail"]
    assert detail["refused"] == {
        "panorama.png": "panorama.png：图片不能超过 3600 万像素",
        "broken.png": "broken.png：无法读取图片，请换一张",
    }
    assert detail["pending"] == 0
    assert detail["uploads"] == 0
    # As an avatar, the file that is no picture was "something went wrong" with the browser's
    # English ("The source image could not be decoded.").
    assert detail["avatar"] == "broken.png：无法读取图片，请换一张"
    assert detail["avatarKept"] is True


def test_signed_url_dies_after_sign_out_and_expiry(storage_journey: dict[str, Any]) -> None:
    step = passed(storage_journey, "sign out: the signed URL stops working past its expiry")
    assert step["detail"] == {"status": 400, "code": "InvalidJWT"}
    no_page_errors(storage_journey)
