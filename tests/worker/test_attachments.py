"""Images and documents in questions, end to end: uploaded to the private `attachments` bucket with
the real storage client as the user, recorded on the question, read by the worker, sent to the fake
DashScope (which records what it got), and refused with stable codes when out of limits."""

from __future__ import annotations

import base64
import io
import json
import os
import uuid
from collections.abc import Mapping
from typing import Any

import asyncpg
import pytest
from docx import Document
from PIL import Image
from storage3 import AsyncStorageClient
from storage3.exceptions import StorageApiError

from core.settings import LlmSettings
from fakescope.server import MULTIMODAL_PATH
from fakescope.vision import image_tokens
from tests.conftest import LocalStack
from tests.worker.conftest import (
    Owner,
    RecordingFakeScope,
    Workers,
    final_answer,
    make_owner,
    until,
    worker_settings,
)
from tests.worker.pdfbytes import pdf_file
from worker.database import CLAIM_COLUMNS, claim_row
from worker.documents import DOCX, extract
from worker.errors import AttachmentError
from worker.images import MAX_ITEM_BYTES
from worker.turn import Turns


def storage_of(stack: LocalStack, owner: Owner) -> AsyncStorageClient:
    return AsyncStorageClient(
        f"{stack.url}/storage/v1/", {"apikey": stack.anon_key, "Authorization": f"Bearer {owner.token}"}
    )


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (90, 80, 200)).save(out, format="PNG")
    return out.getvalue()


def gif(*colours: tuple[int, int, int], size: tuple[int, int] = (40, 30)) -> bytes:
    """A GIF, animated when given more than one colour (a frame each)."""
    frames = [Image.new("RGB", size, colour) for colour in colours]
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=len(frames) > 1, append_images=frames[1:], duration=100, loop=0)
    return out.getvalue()


def noise_png(width: int, height: int) -> bytes:
    """A PNG that does not compress: about 3 bytes a pixel."""
    out = io.BytesIO()
    Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)).save(out, format="PNG", compress_level=0)
    return out.getvalue()


def docx(text: str) -> bytes:
    document = Document()
    document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


async def upload(stack: LocalStack, owner: Owner, name: str, blob: bytes, mime: str, **extra: int) -> dict[str, object]:
    path = f"{owner.user_id}/{name}"
    await storage_of(stack, owner).from_("attachments").upload(path, blob, {"content-type": mime})
    return {"bucket": "attachments", "path": path, "name": name, "mime_type": mime, "size": len(blob), **extra}


async def ask_with(pg: asyncpg.Connection, owner: Owner, content: str, attachments: list[dict[str, object]]) -> str:
    return str(
        await pg.fetchval(
            "insert into chat_messages (session_id, user_id, content, attachments) values ($1, $2, $3, $4::jsonb)"
            " returning id",
            owner.session_id,
            owner.user_id,
            content,
            json.dumps(attachments),
        )
    )


async def test_an_image_question_reaches_the_vision_model_inline_and_bills_image_tokens(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    picture = png(280, 140)
    item = await upload(stack, owner, "pic.png", picture, "image/png", width=280, height=140)
    await pg.execute("update chat_sessions set model = 'qwen-plus' where id = $1", owner.session_id)  # no vision
    await workers.start(worker_settings(stack, fake, llm=_llm(fake, image_transport="inline")))
    row = await final_answer(pg, await ask_with(pg, owner, "What is in this picture?", [item]))

    assert row["status"] == "completed", row["error_code"]
    assert row["model"] == "qwen-vl-max"  # switched to LLM_VISION_MODEL
    assert row["image_tokens"] == image_tokens(280, 140) == 52
    assert row["input_tokens"] > row["image_tokens"]
    [sent] = fake.requests
    assert sent["model"] == "qwen-vl-max"
    question = sent["input"]["messages"][-1]["content"]
    assert question[0]["image"] == "data:image/png;base64," + base64.b64encode(picture).decode()
    assert question[-1] == {"text": "What is in this picture?"}
    assert sent["input"]["messages"][0]["role"] == "system"
    assert list(sent["input"]["messages"][0]["content"][0]) == ["text"]  # list content, system included
    assert fake.received[-1]["path"] == MULTIMODAL_PATH


async def test_a_new_questions_images_are_handed_to_be_read_ahead_as_soon_as_it_is_heard(
    *,
    stack: LocalStack,
    pg: asyncpg.Connection,
    fake: RecordingFakeScope,
    workers: Workers,
    owner: Owner,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The listener gives each new question's attachments to the turns before the claim (they read
    its images meanwhile: worker/images.py `read_ahead`, tested in test_image_refs.py)."""
    heard: list[object] = []
    original = Turns.heard

    def recording(turns: Turns, record: Mapping[str, Any]) -> None:
        heard.append(record.get("attachments"))
        original(turns, record)

    monkeypatch.setattr(Turns, "heard", recording)
    worker = await workers.start(worker_settings(stack, fake))
    await worker.listening()
    item = await upload(stack, owner, "heard.png", png(40, 40), "image/png", width=40, height=40)
    row = await final_answer(pg, await ask_with(pg, owner, "And this one?", [item]))
    assert row["status"] == "completed", row["error_code"]
    assert await until(lambda: _value(heard)) == [[item]]


async def _value(found: list[object]) -> list[object] | None:
    return found or None


async def test_an_image_larger_than_the_model_looks_at_is_sent_and_billed_at_that_size(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    item = await upload(stack, owner, "wide.png", png(400, 300), "image/png", width=400, height=300)
    llm = _llm(fake, image_transport="inline", image_max_pixels=40_000)
    await workers.start(worker_settings(stack, fake, llm=llm))
    row = await final_answer(pg, await ask_with(pg, owner, "describe it", [item]))

    assert row["status"] == "completed", row["error_code"]
    ref = fake.requests[-1]["input"]["messages"][-1]["content"][0]["image"]
    assert ref.startswith("data:image/png;base64,")
    with Image.open(io.BytesIO(base64.b64decode(ref.partition(",")[2]))) as sent:
        assert sent.width * sent.height <= 40_000 < 400 * 300
        assert row["image_tokens"] == image_tokens(sent.width, sent.height)


def _llm(fake: RecordingFakeScope, **settings: Any) -> LlmSettings:
    return LlmSettings(api_key="sk-test", dashscope_base_url=fake.native_url, **settings)


def _image(request: Mapping[str, Any]) -> str:
    """The first image of a recorded request's question."""
    return str(request["input"]["messages"][-1]["content"][0]["image"])


async def test_by_default_an_image_goes_as_a_signed_url_the_model_fetches_when_it_can_reach_storage(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    """LLM_IMAGE_TRANSPORT=auto: the fake and Storage are both on this machine, so the link works."""
    item = await upload(stack, owner, "far.png", png(56, 56), "image/png", width=56, height=56)
    assert LlmSettings().image_transport == "auto"
    await workers.start(worker_settings(stack, fake))
    row = await final_answer(pg, await ask_with(pg, owner, "and this one?", [item]))
    assert row["status"] == "completed", row["error_code"]
    assert row["image_tokens"] == image_tokens(56, 56)
    assert _image(fake.requests[-1]).startswith(f"{stack.url}/storage/v1/object/sign/attachments/")


async def test_a_link_the_model_cannot_download_is_asked_again_inline_and_images_stay_inline(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    """auto: the model refuses the link (as DashScope does a private Storage's); the same turn asks
    again with the image inline, and later turns send images inline at once."""
    first = await upload(stack, owner, "near.png", png(56, 28), "image/png", width=56, height=28)
    await workers.start(worker_settings(stack, fake))
    await fake.script({"fetch_links": False})
    row = await final_answer(pg, await ask_with(pg, owner, "what is this?", [first]))
    assert row["status"] == "completed", row["error_code"]
    assert row["image_tokens"] == image_tokens(56, 28)
    refused, answered = fake.requests
    assert _image(refused).startswith(f"{stack.url}/storage/v1/object/sign/")
    assert _image(answered) == "data:image/png;base64," + base64.b64encode(png(56, 28)).decode()

    fake.requests.clear()
    second = await upload(stack, owner, "later.png", png(28, 28), "image/png", width=28, height=28)
    row = await final_answer(pg, await ask_with(pg, owner, "and this?", [second]))
    assert row["status"] == "completed", row["error_code"]
    [sent] = fake.requests
    images = [part["image"] for message in sent["input"]["messages"] for part in _images(message)]
    assert images[-1] == "data:image/png;base64," + base64.b64encode(png(28, 28)).decode()
    assert all(image.startswith("data:") for image in images)  # the earlier one too, if the model sees it


def _images(message: Mapping[str, Any]) -> list[dict[str, str]]:
    content = message["content"]
    return [part for part in content if "image" in part] if isinstance(content, list) else []


async def test_with_signed_url_chosen_a_link_the_model_cannot_download_ends_the_turn_clearly(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    item = await upload(stack, owner, "walled.png", png(28, 28), "image/png", width=28, height=28)
    await workers.start(worker_settings(stack, fake, llm=_llm(fake, image_transport="signed_url")))
    await fake.script({"fetch_links": False})
    row = await final_answer(pg, await ask_with(pg, owner, "what is this?", [item]))
    assert (row["status"], row["error_code"]) == ("error", "ImageUnreachable")
    assert "could not download an image" in row["error_message"]
    assert len(fake.requests) == 1  # not asked again: signed_url was chosen


def _sent_image(request: Mapping[str, Any]) -> tuple[str, Image.Image]:
    """The MIME type and image of a recorded request's first image, sent inline."""
    ref = _image(request)
    assert ref.startswith("data:"), ref[:80]
    assert len(ref) <= MAX_ITEM_BYTES
    return ref[5:].partition(";")[0], Image.open(io.BytesIO(base64.b64decode(ref.partition(",")[2])))


@pytest.mark.parametrize("transport", ["auto", "inline"])
async def test_a_gif_reaches_the_model_as_a_png_of_its_first_frame_and_is_answered(
    *,
    transport: str,
    stack: LocalStack,
    pg: asyncpg.Connection,
    fake: RecordingFakeScope,
    workers: Workers,
    owner: Owner,
) -> None:
    """DashScope takes no GIF, and the bucket does (users upload them): an animated one is sent as
    its first frame, inline even where links go (`auto` here sends links: a link would be the GIF)."""
    item = await upload(stack, owner, "wave.gif", gif((250, 0, 0), (0, 0, 250)), "image/gif", width=40, height=30)
    await workers.start(worker_settings(stack, fake, llm=_llm(fake, image_transport=transport)))
    row = await final_answer(pg, await ask_with(pg, owner, "what moves here?", [item]))
    assert row["status"] == "completed", row["error_code"]
    mime, sent = _sent_image(fake.requests[-1])
    assert (mime, sent.format, sent.size) == ("image/png", "PNG", (40, 30))
    assert pixel(sent.convert("RGB"), (20, 15)) == (250, 0, 0)  # the first frame
    assert row["image_tokens"] == image_tokens(40, 30)


def pixel(image: Image.Image, xy: tuple[int, int]) -> tuple[int, ...]:
    value = image.getpixel(xy)
    assert isinstance(value, tuple), value
    return value


@pytest.mark.parametrize("transport", ["auto", "inline"])
@pytest.mark.parametrize(
    ("size", "padded"),
    [((4, 4), (10, 10)), ((4, 3), (10, 10)), ((1000, 2), (1000, 10)), ((3, 900), (10, 900)), ((2400, 10), (2400, 12))],
)
async def test_an_image_under_10_px_a_side_or_past_200_to_1_is_padded_to_what_the_model_takes_and_answered(
    *,
    transport: str,
    size: tuple[int, int],
    padded: tuple[int, int],
    stack: LocalStack,
    pg: asyncpg.Connection,
    fake: RecordingFakeScope,
    workers: Workers,
    owner: Owner,
) -> None:
    """The browser journeys paste a 4x3 PNG; DashScope refuses a side under 10 px and sides past
    200:1. The image is centred, unscaled, on a canvas that meets both, inline (a link would be the
    original)."""
    width, height = size
    item = await upload(stack, owner, "small.png", png(width, height), "image/png", width=width, height=height)
    await workers.start(worker_settings(stack, fake, llm=_llm(fake, image_transport=transport)))
    row = await final_answer(pg, await ask_with(pg, owner, "what is this?", [item]))
    assert row["status"] == "completed", row["error_code"]
    mime, sent = _sent_image(fake.requests[-1])
    assert (mime, sent.format, sent.size) == ("image/png", "PNG", padded)
    middle = sent.convert("RGB")
    assert pixel(middle, (padded[0] // 2, padded[1] // 2)) == (90, 80, 200)  # the image, in the middle
    assert pixel(middle, (0, 0)) == (255, 255, 255) or padded[0] == width  # white around it
    assert row["image_tokens"] == image_tokens(*padded)


async def test_an_image_whose_data_uri_would_pass_10_mib_is_scaled_until_it_fits_even_with_no_pixel_cap(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    """9.5 MB of PNG is within the 10 MiB a question takes, but its data URI is 12.7 MB: DashScope
    refuses an item past 10,485,760 bytes. LLM_IMAGE_MAX_PIXELS=0 scales nothing for the model's
    sake, and still this is scaled down (aspect kept) until it fits."""
    big = noise_png(1780, 1780)
    assert len(big) <= 10 << 20 < len(base64.b64encode(big))
    item = await upload(stack, owner, "noise.png", big, "image/png", width=1780, height=1780)
    llm = _llm(fake, image_transport="inline", image_max_pixels=0)
    await workers.start(worker_settings(stack, fake, llm=llm))
    row = await final_answer(pg, await ask_with(pg, owner, "what is this?", [item]))
    assert row["status"] == "completed", row["error_code"]
    mime, sent = _sent_image(fake.requests[-1])
    assert (mime, sent.format) == ("image/png", "PNG")
    assert sent.width == sent.height < 1780
    assert sent.width > 1200  # scaled to fit, not far below it
    assert row["image_tokens"] == image_tokens(sent.width, sent.height)


async def test_a_document_question_is_answered_from_its_text(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    notes = await upload(stack, owner, "notes.md", b"# Plan\nThe launch code is AZURE-7731.", "text/markdown")
    report = await upload(stack, owner, "report.docx", docx("Revenue grew by 42 percent."), DOCX)
    await workers.start(worker_settings(stack, fake))
    row = await final_answer(pg, await ask_with(pg, owner, "Summarise both files", [notes, report]))
    assert row["status"] == "completed", row["error_code"]
    question = fake.requests[-1]["input"]["messages"][-1]["content"]
    assert '<document name="notes.md">\n# Plan\nThe launch code is AZURE-7731.\n</document>' in question
    assert '<document name="report.docx">\nRevenue grew by 42 percent.\n</document>' in question
    assert question.endswith("Summarise both files")


async def test_a_document_longer_than_the_budget_fails_clearly_and_is_not_cut(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    await pg.execute(
        "insert into models (id, display_name, context_window, max_input, max_output, supports_documents)"
        " values ('qwen-turbo-2099-02-02', 'Tiny', 4000, 420, 100, true) on conflict do nothing"
    )
    await pg.execute("update chat_sessions set model = 'qwen-turbo-2099-02-02' where id = $1", owner.session_id)
    try:
        big = await upload(stack, owner, "big.txt", ("many words here " * 400).encode(), "text/plain")
        await workers.start(worker_settings(stack, fake))
        row = await final_answer(pg, await ask_with(pg, owner, "Read this", [big]))
    finally:
        await pg.execute("update chat_sessions set model = null where id = $1", owner.session_id)
        await pg.execute("delete from models where id = 'qwen-turbo-2099-02-02'")
    assert (row["status"], row["error_code"]) == ("error", "DocumentTooLong")
    assert "context window" in row["error_message"]
    assert fake.requests == []  # nothing was sent, rather than a silently cut document


async def test_out_of_limit_attachments_are_refused_and_nothing_is_stored(
    stack: LocalStack, pg: asyncpg.Connection, owner: Owner
) -> None:
    files = storage_of(stack, owner).from_("attachments")
    with pytest.raises(StorageApiError):  # a type the bucket does not take: refused before it is stored
        await files.upload(f"{owner.user_id}/tool.exe", b"MZ\x90\x00", {"content-type": "application/x-msdownload"})
    assert await pg.fetchval("select count(*) from storage.objects where name = $1", f"{owner.user_id}/tool.exe") == 0
    item = await upload(stack, owner, "p.png", png(30, 30), "image/png", width=30, height=30)
    before = await pg.fetchval("select count(*) from chat_messages where session_id = $1", owner.session_id)
    no_size = {k: v for k, v in item.items() if k not in ("width", "height")}
    huge = {**item, "width": 10000, "height": 10000}
    for attachments, code in (
        ([item] * 9, "TooManyImages"),
        ([no_size], "ImageDimensionsMissing"),
        ([huge], "ImageTooManyPixels"),
    ):
        with pytest.raises(asyncpg.InvalidParameterValueError, match=code):
            await ask_with(pg, owner, "too much", attachments)
    assert await pg.fetchval("select count(*) from chat_messages where session_id = $1", owner.session_id) == before


async def test_another_user_reaches_none_of_the_attachments(
    stack: LocalStack, pg: asyncpg.Connection, owner: Owner
) -> None:
    item = await upload(stack, owner, "secret.png", png(30, 30), "image/png", width=30, height=30)
    stranger = await make_owner(pg, stack)
    theirs = storage_of(stack, stranger).from_("attachments")
    with pytest.raises(StorageApiError):
        await theirs.download(str(item["path"]))
    with pytest.raises(StorageApiError):
        await theirs.create_signed_url(str(item["path"]), 60)
    assert await theirs.list(owner.user_id) == []
    with pytest.raises(asyncpg.InsufficientPrivilegeError):  # nor put them on a question of theirs
        await ask_with(pg, stranger, "look at this", [item])


async def claim_of(pg: asyncpg.Connection, question_id: str) -> dict[str, Any]:
    """The worker's claim of a question, made as the worker makes it (service_role)."""
    async with pg.transaction():
        await pg.execute("set local role service_role")
        [row] = await pg.fetch(
            f"select {CLAIM_COLUMNS} from public.worker_claim($1::uuid[], 'probe', 30, 3, 10)",
            [question_id],
        )
    return claim_row(row)


async def test_the_claim_gives_each_files_etag_and_null_for_a_file_that_is_gone(
    stack: LocalStack, pg: asyncpg.Connection, owner: Owner
) -> None:
    """The worker checks a file it already read against the ETag the claim carries instead of
    asking Storage again (worker/images.py, worker/documents.py): for the question's own files and
    for every earlier question's, null once the object is deleted."""
    try:
        photo = await upload(stack, owner, "then.png", png(30, 30), "image/png", width=30, height=30)
        note = await upload(stack, owner, "note.txt", b"remember this", "text/plain")
        first = await ask_with(pg, owner, "look at these", [photo, note])
        claimed = await claim_of(pg, first)
        tags = {a["name"]: a["etag"] for a in claimed["attachments"]}
        assert set(tags) == {"then.png", "note.txt"}
        assert all(isinstance(tag, str) and tag for tag in tags.values())
        await pg.execute(
            "update chat_messages set status = 'completed', content = 'seen', lease_owner = null,"
            " lease_expires_at = null where id = $1",
            uuid.UUID(claimed["id"]),
        )
        await storage_of(stack, owner).from_("attachments").remove([str(photo["path"])])
        later = await claim_of(pg, await ask_with(pg, owner, "and now?", []))
        assert later["attachments"] == []
        walked = later["history"]
        earlier = walked.files[walked.ids.index(first)]
        assert {a["name"]: a["etag"] for a in json.loads(earlier)} == {
            "then.png": None,
            "note.txt": tags["note.txt"],
        }
    finally:  # what the probe claimed must not be left for a later test's worker to sweep up and answer
        await pg.execute("delete from chat_messages where session_id = $1", owner.session_id)


def test_extraction_reads_pdf_docx_and_text_and_refuses_what_has_no_text() -> None:
    assert extract("text/plain", "你好 world".encode()) == "你好 world"
    assert extract(DOCX, docx("第一段 paragraph")) == "第一段 paragraph"
    assert "Hello PDF 2026" in extract("application/pdf", pdf("Hello PDF 2026"))
    for mime, blob in (("application/pdf", b"not a pdf"), ("text/plain", b"   "), ("text/plain", b"\xff\xfe\xfa")):
        with pytest.raises(AttachmentError) as refused:
            extract(mime, blob)
        assert refused.value.code == "DocumentUnreadable"


def pdf(text: str) -> bytes:
    """A one-page PDF with `text` in Helvetica (objects written by hand, offsets computed)."""
    stream = f"BT /F1 24 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    return pdf_file(objects)
