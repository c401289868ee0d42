"""Images and documents through the OpenAI-compatible API: a question's `image_url` and `file` parts
(data: URIs) are stored in the user's own attachments folder and answered as any question with
files (images by a vision model and billed, within the plan's vision flag; documents read into the
prompt); what cannot be such a file, or is a link or a file_id, is refused and leaves nothing stored."""

from __future__ import annotations

import base64
import io
import json
import uuid
from typing import Any, cast

import asyncpg
import httpx
import openai
import pytest
from openpyxl import Workbook
from PIL import Image
from pypdf import PdfReader, PdfWriter
from storage3 import AsyncStorageClient

from api.compat.errors import translate
from api.compat.keys import KeyCaller
from api.compat.turns import open_turn
from api.compat.uploads import decode_image, store_files
from api.database import CallerDatabase
from api.errors import UpstreamUnavailable
from api.security import CurrentUser, user_from_token
from core.jwt import KeySet
from core.settings import login_as
from fakescope.server import FakeScope
from tests.api.conftest import ApiProcess, ApiUser, client_for, create_key, new_session
from tests.api.test_openai_compat import QUESTIONS
from tests.api.test_plans import put_on_plan
from tests.conftest import LocalStack, fake_received
from tests.worker.test_document_formats import pdf_pages
from tests.worker.test_pptx_documents import pptx_bytes, shape, slide_xml
from tests.worker.test_xlsx_documents import xlsx_bytes
from worker.documents import PPTX, XLSX

pytestmark = pytest.mark.usefixtures("worker")

QUESTION_OF = "select id from chat_messages where replace(id::text, '-', '') = substr($1, 10)"  # chatcmpl-<hex>
OBJECTS = "select count(*) from storage.objects where bucket_id = 'attachments' and owner_id = $1::text"


def data_uri(width: int, height: int, fmt: str = "PNG", mime: str = "image/png") -> str:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 80, 40)).save(out, format=fmt)
    return f"data:{mime};base64,{base64.b64encode(out.getvalue()).decode()}"


def asking(*parts: Any) -> list[Any]:
    return [{"role": "user", "content": [{"type": "text", "text": "What is in this picture?"}, *parts]}]


def image(url: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}}


def document(mime: str, data: bytes, name: str | None = None) -> dict[str, Any]:
    uri = f"data:{mime};base64,{base64.b64encode(data).decode()}"
    return {"type": "file", "file": {"file_data": uri, **({"filename": name} if name else {})}}


async def test_an_image_is_stored_as_the_users_attachment_and_answered_by_a_vision_model(
    sdk: openai.AsyncOpenAI, pg: asyncpg.Connection, alice: ApiUser
) -> None:
    done = await sdk.chat.completions.create(
        model="qwen-turbo", messages=asking(image(data_uri(84, 56)), image(data_uri(30, 20, "JPEG", "image/jpeg")))
    )
    assert done.choices[0].message.content
    assert done.model == "qwen-vl-max"  # qwen-turbo sees no images: the vision model answered
    row = await pg.fetchrow(
        "select q.attachments, a.image_tokens from chat_messages q join chat_messages a on a.reply_to = q.id"
        " where q.user_id = $1",
        alice.id,
    )
    attachments = json.loads(row["attachments"])
    assert [(a["mime_type"], a["width"], a["height"]) for a in attachments] == [
        ("image/png", 84, 56),
        ("image/jpeg", 30, 20),
    ]
    assert all(a["path"].startswith(f"{alice.id}/") for a in attachments)
    assert row["image_tokens"] > 0  # the model saw them, and they were billed
    assert await pg.fetchval(OBJECTS, alice.id) == 2


async def test_a_document_is_stored_and_read_into_the_prompt(
    sdk: openai.AsyncOpenAI, fake: FakeScope, pg: asyncpg.Connection, alice: ApiUser
) -> None:
    notes = "# Handbook\nThe vault code is AZURE-7731.\n"
    question: list[Any] = [
        {"type": "text", "text": "What is the vault code?"},
        document("text/markdown", notes.encode(), "notes.md"),
    ]
    done = await sdk.chat.completions.create(model="qwen-plus", messages=[{"role": "user", "content": question}])
    assert done.choices[0].message.content
    asked = [b["input"]["messages"][-1]["content"] for b in await fake_received(fake.base_url) if "input" in b]
    [sent] = [content for content in asked if isinstance(content, str) and "What is the vault code?" in content]
    assert '<document name="notes.md">' in sent
    assert "The vault code is AZURE-7731." in sent
    attached = "select attachments from chat_messages where user_id = $1 and message_type = 'user'"
    [stored] = json.loads(await pg.fetchval(attached, alice.id))
    assert (stored["name"], stored["mime_type"], stored["size"]) == ("notes.md", "text/markdown", len(notes.encode()))
    assert await pg.fetchval(OBJECTS, alice.id) == 1
    # a name with a NUL, a newline and a path in it is kept printable and flat (jsonb refuses \u0000)
    odd: list[Any] = [document("text/plain", b"hello", "../a\x00b\nc.txt"), {"type": "text", "text": "hi"}]
    await sdk.chat.completions.create(model="qwen-plus", messages=[{"role": "user", "content": odd}])
    names = await pg.fetchval(
        "select jsonb_path_query_array(attachments, '$[*].name') from chat_messages"
        " where content = 'hi' and user_id = $1",
        alice.id,
    )
    assert json.loads(names) == [".._abc.txt"]


async def test_a_text_document_in_gbk_or_utf_16_is_taken_and_read_as_the_worker_reads_it(
    sdk: openai.AsyncOpenAI, fake: FakeScope, pg: asyncpg.Connection, alice: ApiUser
) -> None:
    """A Chinese Windows editor's "ANSI" (GBK) and "Unicode" (UTF-16 with its mark) files were
    refused as invalid_document, though they are text (core/textfiles.py); so were Big5 files and
    Windows-1252 ones, and Shift-JIS or EUC-KR ones were taken and read as Chinese mojibake."""
    texts = (
        ("gbk", "仓库清单\n库存编号 GBK-4410\n"),
        ("utf-16", "仓库清单\n库存编号 UTF16-5520\n"),
        ("big5", "倉庫清單：本季度庫存總數為一千二百件。\n庫存編號 BIG5-6630\n"),
        ("shift_jis", "在庫一覧：今四半期の在庫総数は千二百点です。\n在庫番号 SJIS-7740\n"),
        ("euc_kr", "재고 목록: 이번 분기 재고 총수는 천이백 개입니다.\n재고 번호 EUCKR-8850\n"),
        ("cp1252", "Lagerliste: Größe und Menge für März.\nNummer CP1252-9960\n"),
    )
    for encoding, text in texts:
        question: list[Any] = [
            {"type": "text", "text": f"Which code ({encoding})?"},
            document("text/plain", text.encode(encoding), f"清单-{encoding}.txt"),
        ]
        done = await sdk.chat.completions.create(model="qwen-plus", messages=[{"role": "user", "content": question}])
        assert done.choices[0].message.content
        asked = [b["input"]["messages"][-1]["content"] for b in await fake_received(fake.base_url) if "input" in b]
        [sent] = [c for c in asked if isinstance(c, str) and f"Which code ({encoding})?" in c]
        assert f'<document name="清单-{encoding}.txt">\n{text}\n</document>' in sent
    assert await pg.fetchval(OBJECTS, alice.id) == len(texts)


@pytest.mark.parametrize(
    ("parts", "code"),
    [
        ([image("https://example.com/cat.png")], "unsupported_content"),
        ([image("data:image/png;base64,@@@not base64@@@")], "invalid_image"),
        ([image("data:text/plain;base64," + base64.b64encode(b"hello").decode())], "invalid_image"),
        ([image("data:image/png;base64," + base64.b64encode(b"not a png at all").decode())], "invalid_image"),
        ([image(data_uri(10, 10))] * 9, "too_many_images"),
        ([{"type": "input_audio", "input_audio": {"data": "", "format": "wav"}}], "unsupported_content"),
        ([{"type": "file", "file": {"file_id": "file-abc123"}}], "unsupported_content"),
        ([document("application/zip", b"PK\x03\x04zip")], "invalid_document"),
        ([document("application/pdf", b"not a pdf")], "invalid_document"),
        ([document("text/plain", b"\xff\xfe latin-1?")], "invalid_document"),
        ([document("text/plain", "Отчёт за квартал готов, выручка выросла.".encode("cp1251"))], "invalid_document"),
        ([document("text/plain", bytes(64))], "invalid_document"),  # zeros: valid UTF-8, no text
        ([document("text/plain", bytes(range(256)))], "invalid_document"),
        ([document("text/plain", b"")], "invalid_document"),  # no text to read: a 502 once stored, until 12-05
        ([document("text/markdown", b" \n\t\n")], "invalid_document"),
        ([document("text/plain", b"notes")] * 11, "too_many_files"),
    ],
)
async def test_what_cannot_be_an_image_is_refused_and_nothing_is_stored(
    sdk: openai.AsyncOpenAI, pg: asyncpg.Connection, alice: ApiUser, parts: list[Any], code: str
) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        await sdk.chat.completions.create(model="qwen-turbo", messages=asking(*parts))
    assert refused.value.code == code
    assert await pg.fetchval(QUESTIONS, alice.id) == 0
    assert await pg.fetchval(OBJECTS, alice.id) == 0


async def test_an_image_in_an_earlier_turn_is_seen_by_the_model_and_stored_with_the_question(
    sdk: openai.AsyncOpenAI, fake: FakeScope, pg: asyncpg.Connection, alice: ApiUser
) -> None:
    """Open WebUI and LobeChat send the whole conversation again on every turn, its images included:
    the second turn of a chat that began with a picture was refused. The earlier turns' images now
    ride with the question (its attachments, as the question's own do: stored, checked, billed), the
    earlier turns' text in its context, and the model sees them."""
    earlier = asking(image(data_uri(48, 36)))
    follow_up: list[Any] = [*earlier, {"role": "assistant", "content": "A red square."}]
    done = await sdk.chat.completions.create(
        model="qwen-turbo", messages=[*follow_up, {"role": "user", "content": "What colour was it again?"}]
    )
    assert done.choices[0].message.content
    assert done.model == "qwen-vl-max"
    row = await pg.fetchrow(
        "select q.content, q.attachments, c.messages, a.image_tokens from chat_messages q"
        " join question_contexts c on c.message_id = q.id join chat_messages a on a.reply_to = q.id"
        " where q.user_id = $1 and q.message_type = 'user'",
        alice.id,
    )
    assert row["content"] == "What colour was it again?"
    assert [(a["name"], a["width"]) for a in json.loads(row["attachments"])] == [("image-1.png", 48)]
    assert json.loads(row["messages"]) == [
        {"role": "user", "content": "What is in this picture?"},
        {"role": "assistant", "content": "A red square."},
    ]
    assert row["image_tokens"] > 0
    sent = [b for b in await fake_received(fake.base_url) if "input" in b][-1]["input"]["messages"]
    assert [p for m in sent if isinstance(m["content"], list) for p in m["content"] if "image" in p]

    with pytest.raises(openai.BadRequestError) as answered_with_one:  # an assistant's message is text
        await sdk.chat.completions.create(
            model="qwen-turbo",
            messages=cast(
                Any, [{"role": "assistant", "content": [image(data_uri(10, 10))]}, {"role": "user", "content": "b"}]
            ),
        )
    assert answered_with_one.value.code == "unsupported_content"
    assert await pg.fetchval(QUESTIONS, alice.id) == 1
    assert await pg.fetchval(OBJECTS, alice.id) == 1


async def test_a_long_conversation_of_images_goes_on_with_its_latest_images_within_a_questions_eight(
    sdk: openai.AsyncOpenAI, pg: asyncpg.Connection, alice: ApiUser
) -> None:
    """The 8 images a question holds counted every image of the request, the earlier turns' included:
    a client's conversation that had shown 8 pictures could never be continued (each later turn sent
    them all again and was refused too_many_images), and the error blamed the turn. Now the last
    message's own images are what is limited (8, the error saying so); the earlier turns' ride with
    the question, the most recent first, in the room its own leave, as the oldest turns leave a
    history too long, and the response says how many were left out; a picture sent twice is one."""
    pictures = [image(data_uri(20 + n, 20)) for n in range(12)]
    turns: list[Any] = []
    for at in range(3):  # three earlier turns of 3 pictures each, one of them sent twice
        shown = pictures[3 * at : 3 * at + 3] + ([pictures[0]] if at == 2 else [])
        turns += [*asking(*shown), {"role": "assistant", "content": f"Pictures {at}."}]
    ask = [*turns, *asking(*pictures[9:12])]
    raw = await sdk.chat.completions.with_raw_response.create(model="qwen-turbo", messages=ask)
    done = raw.parse()
    assert done.choices[0].message.content
    assert raw.headers["x-chatgalaxy-files-left-out"] == "4"
    stored = json.loads(
        await pg.fetchval(
            "select attachments from chat_messages where id = $1", await pg.fetchval(QUESTION_OF, done.id)
        )
    )
    # the five latest earlier pictures (the twice-sent first one where it was sent last), then its own
    assert [a["width"] - 20 for a in stored] == [5, 6, 7, 8, 0, 9, 10, 11]

    with pytest.raises(openai.BadRequestError) as too_many:  # the question's own: 9
        await sdk.chat.completions.create(model="qwen-turbo", messages=[*turns, *asking(*pictures[:9])])
    assert (too_many.value.code, too_many.value.param) == ("too_many_images", "messages")
    assert "last message" in too_many.value.message
    assert await pg.fetchval(QUESTIONS, alice.id) == 1


async def test_a_request_continuing_its_session_stores_no_earlier_image_again(
    sdk: openai.AsyncOpenAI, http: httpx.AsyncClient, pg: asyncpg.Connection, alice: ApiUser
) -> None:
    """A request that names its session continues the stored conversation (its earlier messages are
    not used), whose questions keep their own images: an earlier image is accepted and not stored."""
    session = (await http.post("/api/sessions", json={}, headers=alice.headers)).json()["session"]
    await sdk.chat.completions.create(
        model="qwen-turbo",
        messages=[
            *asking(image(data_uri(10, 10))),
            {"role": "assistant", "content": "a"},
            {"role": "user", "content": "b"},
        ],
        extra_headers={"X-ChatGalaxy-Session": session["id"]},
    )
    stored = await pg.fetchval("select attachments from chat_messages where content = 'b' and user_id = $1", alice.id)
    assert json.loads(stored) == []
    assert await pg.fetchval(OBJECTS, alice.id) == 0


async def test_a_plan_without_vision_refuses_the_image_and_keeps_no_upload(
    sdk: openai.AsyncOpenAI, pg: asyncpg.Connection, alice: ApiUser
) -> None:
    await put_on_plan(pg, alice, "text_only", allow_vision=False)
    with pytest.raises(openai.PermissionDeniedError) as refused:
        await sdk.chat.completions.create(model="qwen-turbo", messages=asking(image(data_uri(20, 20))))
    assert refused.value.code == "feature_not_allowed"
    assert await pg.fetchval(QUESTIONS, alice.id) == 0
    assert await pg.fetchval(OBJECTS, alice.id) == 0  # uploaded, then removed with the refusal


async def test_storage_out_of_reach_is_unavailable_not_a_server_error() -> None:
    """What the route answers 503 service_unavailable (try again later), the question not stored."""

    class Unreachable:
        def from_(self, bucket: str) -> Unreachable:
            return self

        async def upload(self, *args: object) -> None:
            raise httpx.ConnectError("connection refused")

        async def remove(self, paths: list[str]) -> None:
            raise httpx.ConnectError("connection refused")

    picture = decode_image(image(data_uri(4, 4)), 0, 1)
    with pytest.raises(UpstreamUnavailable):
        await store_files(cast(AsyncStorageClient, Unreachable()), "user", "question", [picture])
    assert translate(UpstreamUnavailable()).status == 503


async def test_a_question_that_is_only_an_image_is_answered_and_named_by_its_file_as_the_web_app_names_it(
    sdk: openai.AsyncOpenAI, pg: asyncpg.Connection, alice: ApiUser
) -> None:
    """OpenAI and DashScope answer a user message of images alone; the question's text is then its
    files' names, one a line, as the web app's composer sends a question of files alone."""
    only: list[Any] = [{"type": "text", "text": " "}, image(data_uri(40, 30)), document("text/plain", b"n", "n.txt")]
    done = await sdk.chat.completions.create(model="qwen-turbo", messages=[{"role": "user", "content": only}])
    assert done.choices[0].message.content
    assert done.model == "qwen-vl-max"
    stored = await pg.fetchrow(
        "select content, attachments from chat_messages where user_id = $1 and message_type = 'user'", alice.id
    )
    assert stored["content"] == "image-1.png\nn.txt"
    assert [a["name"] for a in json.loads(stored["attachments"])] == ["image-1.png", "n.txt"]
    with pytest.raises(openai.BadRequestError) as empty:  # no words and no file: nothing to answer
        await sdk.chat.completions.create(model="qwen-turbo", messages=[{"role": "user", "content": " "}])
    assert empty.value.param == "messages"


async def test_an_image_sent_again_on_every_turn_is_stored_once_per_user(
    *,
    sdk: openai.AsyncOpenAI,
    api: ApiProcess,
    stack: LocalStack,
    rest: Any,
    pg: asyncpg.Connection,
    alice: ApiUser,
    bob: ApiUser,
) -> None:
    """An OpenAI client sends the whole conversation again on every turn, its images included: each
    turn stored every earlier image once more (a conversation of ten turns about one photo kept ten
    copies of it, each counted in the user's storage). An image is now stored once per user and
    content and each question that carries it lists that one file; another user's same image is a
    file of their own; deleting a question keeps a file another question lists, and the last
    question's deletion takes it."""
    picture = image(data_uri(64, 48))
    turns: list[Any] = asking(picture)
    asked = []
    for follow_up in ("And its colour?", "And its size?"):
        done = await sdk.chat.completions.create(model="qwen-turbo", messages=turns)
        asked.append(await pg.fetchval(QUESTION_OF, done.id))
        turns = [*turns, {"role": "assistant", "content": "A picture."}, {"role": "user", "content": follow_up}]
    done = await sdk.chat.completions.create(model="qwen-turbo", messages=turns)
    asked.append(await pg.fetchval(QUESTION_OF, done.id))
    listed = [json.loads(await pg.fetchval("select attachments from chat_messages where id = $1", q)) for q in asked]
    assert [len(a) for a in listed] == [1, 1, 1]
    assert len({a[0]["path"] for a in listed}) == 1
    assert await pg.fetchval(OBJECTS, alice.id) == 1

    bobs = openai.AsyncOpenAI(
        base_url=f"{api.url}/v1", api_key=(await create_key(await client_for(stack, bob)))["key"], max_retries=0
    )
    async with bobs:
        theirs = await bobs.chat.completions.create(model="qwen-turbo", messages=asking(picture))
    bobs_path = json.loads(
        await pg.fetchval(
            "select attachments from chat_messages where id = $1", await pg.fetchval(QUESTION_OF, theirs.id)
        )
    )[0]["path"]
    assert bobs_path.startswith(f"{bob.id}/")
    assert bobs_path != listed[0][0]["path"]
    assert (await pg.fetchval(OBJECTS, alice.id), await pg.fetchval(OBJECTS, bob.id)) == (1, 1)

    await rest.table("chat_messages").delete().eq("id", str(asked[0])).execute()
    assert await pg.fetchval(OBJECTS, alice.id) == 1  # the later questions list it
    session = await pg.fetchval("select session_id from chat_messages where id = $1", asked[1])
    await rest.table("chat_sessions").delete().eq("id", str(session)).execute()
    assert await pg.fetchval(OBJECTS, alice.id) == 0
    assert await pg.fetchval(OBJECTS, bob.id) == 1


async def test_an_image_whose_stored_file_its_owner_deleted_is_stored_again_where_it_may_be(
    sdk: openai.AsyncOpenAI, rest: Any, pg: asyncpg.Connection, alice: ApiUser
) -> None:
    """A file a message lists may be deleted by its owner, and nothing may be put at its path again
    (20261205100000): a client sending that image again has it stored under a path of its own."""
    turns: list[Any] = asking(image(data_uri(32, 24)))
    first = await sdk.chat.completions.create(model="qwen-turbo", messages=turns)
    listed = "select attachments from chat_messages where id = $1"
    [kept] = json.loads(await pg.fetchval(listed, await pg.fetchval(QUESTION_OF, first.id)))
    await rest.storage.from_("attachments").remove([kept["path"]])
    assert await pg.fetchval(OBJECTS, alice.id) == 0
    turns = [*turns, {"role": "assistant", "content": "A picture."}, {"role": "user", "content": "Again?"}]
    again = await sdk.chat.completions.create(model="qwen-turbo", messages=turns)
    assert again.choices[0].message.content
    [stored] = json.loads(await pg.fetchval(listed, await pg.fetchval(QUESTION_OF, again.id)))
    assert stored["path"] != kept["path"]
    assert stored["path"].startswith(f"{alice.id}/")
    assert await pg.fetchval(OBJECTS, alice.id) == 1


class _DeletingFirst(CallerDatabase):
    """The database door, deleting a message (as its owner's other tab would) just before the next
    question is stored: after the question's files were found stored, before its check locks them."""

    def __init__(self, dsn: str, pg: asyncpg.Connection) -> None:
        super().__init__(dsn, 1)
        self.pg = pg
        self.doomed: uuid.UUID | None = None

    async def run_as(
        self, user: CurrentUser, statements: str, *, untranslated: tuple[type[asyncpg.PostgresError], ...] = ()
    ) -> None:
        if self.doomed is not None and "api_open_turn" in statements:
            await self.pg.execute("delete from chat_messages where id = $1", self.doomed)
            self.doomed = None
        await super().run_as(user, statements, untranslated=untranslated)


async def test_a_stored_file_deleted_before_the_question_could_list_it_is_stored_again(
    *, stack: LocalStack, http: httpx.AsyncClient, alice: ApiUser, pg: asyncpg.Connection
) -> None:
    """A file is stored once per user and content, so a question may list one stored for another:
    when that one is deleted (and its file with it) between the lookup and the question's check,
    the check refuses the question (the file does not exist); it is stored again and the question
    with it, not refused."""
    database = _DeletingFirst(login_as(stack.dsn, "authenticator"), pg)
    await database.start()
    user = user_from_token(alice.access_token, KeySet(stack.jwt_secret))
    caller = KeyCaller(str(uuid.uuid4()), "test", alice.id, alice.access_token, user)  # the session is named
    session = (await new_session(http, alice))["id"]
    files = [decode_image(image(data_uri(36, 30)), 0, 1)]
    storage = AsyncStorageClient(
        f"{stack.url}/storage/v1/", {"apikey": stack.anon_key, "Authorization": f"Bearer {alice.access_token}"}
    )

    async def ask(question: str) -> str:
        return await open_turn(
            database,
            caller,
            question=question,
            model="qwen-turbo",
            requested_model="qwen-turbo",
            role_slug=None,
            named_session=session,
            files=files,
            storage=storage,
        )

    try:
        first = await ask("What is this?")
        database.doomed = uuid.UUID(first)
        second = await ask("And this?")
    finally:
        await database.close()
    [listed] = json.loads(await pg.fetchval("select attachments from chat_messages where id = $1", uuid.UUID(second)))
    assert await pg.fetchval("select count(*) from chat_messages where id = $1", uuid.UUID(first)) == 0
    assert await pg.fetchval("select count(*) from storage.objects where name = $1", listed["path"]) == 1


async def test_an_earlier_turn_of_files_alone_is_named_by_its_files_as_the_question_is(
    sdk: openai.AsyncOpenAI, fake: FakeScope, pg: asyncpg.Connection, alice: ApiUser
) -> None:
    """A user message holds text (chat_messages_user_text): a question of files alone is named by
    them. An earlier turn of files alone reached the model as an empty user message, and its files,
    carried on the question, named by nothing in the conversation."""
    earlier: list[Any] = [
        {"role": "user", "content": [image(data_uri(44, 33))]},
        {"role": "assistant", "content": "A red picture."},
        {"role": "user", "content": "Which file was that?"},
    ]
    done = await sdk.chat.completions.create(model="qwen-turbo", messages=earlier)
    assert done.choices[0].message.content
    context = await pg.fetchval(
        "select c.messages from question_contexts c join chat_messages q on q.id = c.message_id where q.user_id = $1",
        alice.id,
    )
    assert json.loads(context)[0] == {"role": "user", "content": "image-1.png"}
    sent = [b for b in await fake_received(fake.base_url) if "input" in b][-1]["input"]["messages"]
    assert all(m["content"] for m in sent)


async def test_a_csv_document_is_taken_as_text(sdk: openai.AsyncOpenAI, fake: FakeScope, alice: ApiUser) -> None:
    table = "region,q1\nEast,120\n西区,98\n"
    question: list[Any] = [
        {"type": "text", "text": "Which is larger (csv)?"},
        document("text/csv", table.encode(), "t.csv"),
    ]
    done = await sdk.chat.completions.create(model="qwen-plus", messages=[{"role": "user", "content": question}])
    assert done.choices[0].message.content
    asked = [b["input"]["messages"][-1]["content"] for b in await fake_received(fake.base_url) if "input" in b]
    assert any(isinstance(c, str) and f'<document name="t.csv">\n{table}\n</document>' in c for c in asked)


async def test_an_excel_workbook_is_taken_and_read_sheet_by_sheet(
    sdk: openai.AsyncOpenAI, fake: FakeScope, alice: ApiUser
) -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "Q1"
    sheet.append(["region", "sales"])
    sheet.append(["西区", 98])
    question: list[Any] = [{"type": "text", "text": "Which is larger (xlsx)?"}, document(XLSX, xlsx_bytes(workbook))]
    done = await sdk.chat.completions.create(model="qwen-plus", messages=[{"role": "user", "content": question}])
    assert done.choices[0].message.content
    asked = [b["input"]["messages"][-1]["content"] for b in await fake_received(fake.base_url) if "input" in b]
    expected = '<document name="document-1.xlsx">\n[Sheet: Q1]\nregion,sales\n西区,98\n</document>'
    assert any(isinstance(c, str) and expected in c for c in asked)
    csv_named_xlsx: list[Any] = [document(XLSX, b"name,sales\n", "t.xlsx")]  # not a workbook: no zip archive
    with pytest.raises(openai.BadRequestError) as refused:
        await sdk.chat.completions.create(model="qwen-plus", messages=[{"role": "user", "content": csv_named_xlsx}])
    assert refused.value.code == "invalid_document"
    assert "messages[0]: the data is not a XLSX document." in refused.value.message


async def test_a_powerpoint_presentation_is_taken_and_read_slide_by_slide(
    sdk: openai.AsyncOpenAI, fake: FakeScope, alice: ApiUser
) -> None:
    """A .pptx was refused as not one of the listed MIME types: users send slides often."""
    slides = [slide_xml(shape("Plan", placeholder="title"), shape("西区 first", placeholder=""))]
    question: list[Any] = [{"type": "text", "text": "What comes first (pptx)?"}, document(PPTX, pptx_bytes(slides))]
    done = await sdk.chat.completions.create(model="qwen-plus", messages=[{"role": "user", "content": question}])
    assert done.choices[0].message.content
    asked = [b["input"]["messages"][-1]["content"] for b in await fake_received(fake.base_url) if "input" in b]
    expected = '<document name="document-1.pptx">\n[Slide 1]\nPlan\n西区 first\n</document>'
    assert any(isinstance(c, str) and expected in c for c in asked), asked
    text_named_pptx: list[Any] = [document(PPTX, b"Plan: west first\n", "t.pptx")]  # no zip archive
    with pytest.raises(openai.BadRequestError) as refused:
        await sdk.chat.completions.create(model="qwen-plus", messages=[{"role": "user", "content": text_named_pptx}])
    assert refused.value.code == "invalid_document"
    assert "messages[0]: the data is not a PPTX document." in refused.value.message


async def test_a_document_too_heavy_to_read_is_the_requests_fault(sdk: openai.AsyncOpenAI) -> None:
    """A PDF past LLM_DOCUMENT_MAX_PAGES (or its reading time) ends DocumentTooComplex: the request's
    own document, refused as its other unreadable documents are (400 invalid_document, not retried),
    where it came back 502 server_error, which clients take for the service's failure."""
    pages = pdf_pages([f"Page {n}" for n in range(2001)])
    question: list[Any] = [{"type": "text", "text": "Summarise"}, document("application/pdf", pages, "long.pdf")]
    with pytest.raises(openai.BadRequestError) as refused:
        await sdk.chat.completions.create(model="qwen-plus", messages=[{"role": "user", "content": question}])
    assert refused.value.code == "invalid_document"
    assert "too many pages" in refused.value.message


async def test_a_pdf_that_opens_with_a_password_is_the_requests_fault_saying_to_remove_it(
    sdk: openai.AsyncOpenAI,
) -> None:
    """The worker's DocumentUnsupported is the request's own document (400 invalid_document), not
    the service's failure (502)."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf_pages(["Net pay 8,000"]))))
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="AES-256")
    locked = io.BytesIO()
    writer.write(locked)
    question: list[Any] = [{"type": "text", "text": "Net pay?"}, document("application/pdf", locked.getvalue())]
    with pytest.raises(openai.BadRequestError) as refused:
        await sdk.chat.completions.create(model="qwen-plus", messages=[{"role": "user", "content": question}])
    assert refused.value.code == "invalid_document"
    assert "without a password" in refused.value.message


@pytest.mark.parametrize(
    ("mime", "name"),
    [
        ("application/vnd.ms-excel", "budget.xls"),
        ("application/msword", "letter.doc"),
        (XLSX, "budget.xlsx"),  # a .xls renamed, or a workbook with a password
        ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "letter.docx"),
        ("application/vnd.ms-powerpoint", "deck.ppt"),
        (PPTX, "deck.pptx"),  # a .ppt renamed, or a presentation with a password
    ],
)
async def test_an_old_or_password_protected_office_file_is_refused_saying_how_to_save_it(
    sdk: openai.AsyncOpenAI, pg: asyncpg.Connection, alice: ApiUser, mime: str, name: str
) -> None:
    """Office 97-2003 files (.xls, .doc) and password-protected .xlsx and .docx are OLE2 compound
    files, which nothing here reads: a .xls was refused as not one of the listed MIME types, a
    renamed one as 'not a XLSX document', neither saying what to do."""
    with pytest.raises(openai.BadRequestError) as refused:
        await sdk.chat.completions.create(
            model="qwen-turbo", messages=asking(document(mime, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504), name))
        )
    assert refused.value.code == "invalid_document"
    assert "97-2003 or password-protected" in refused.value.message
    assert "save it as .docx, .xlsx or .pptx" in refused.value.message
    assert await pg.fetchval(OBJECTS, alice.id) == 0
