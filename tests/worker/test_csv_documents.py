"""A CSV file is a document like a text file: a table exported from Excel or a database is what a
user most often asks a model about, and it is text. The bucket, the web app, /v1 and the worker
refused it as a type they do not take (the web app said so before uploading)."""

from __future__ import annotations

import asyncpg

from tests.conftest import LocalStack
from tests.worker.conftest import Owner, RecordingFakeScope, Workers, final_answer, worker_settings
from tests.worker.test_attachments import ask_with, upload
from worker.documents import DOCUMENT_TYPES, extract

TABLE = "地区,第一季度,第二季度\n华东,120,135\n华北,98,101\n"


def test_a_csv_file_is_read_as_the_text_it_is() -> None:
    assert "text/csv" in DOCUMENT_TYPES
    assert extract("text/csv", TABLE.encode("gbk")) == TABLE  # Excel's "CSV" on a Chinese Windows
    assert extract("text/csv", b"\xef\xbb\xbf" + TABLE.encode()) == TABLE  # its "CSV UTF-8"


async def test_a_question_with_a_csv_file_is_answered_with_its_table(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    item = await upload(stack, owner, "sales.csv", TABLE.encode("gbk"), "text/csv")
    await workers.start(worker_settings(stack, fake))
    row = await final_answer(pg, await ask_with(pg, owner, "Which region sold most?", [item]))
    assert row["status"] == "completed", row["error_code"]
    question = fake.requests[-1]["input"]["messages"][-1]["content"]
    assert question == f'<document name="sales.csv">\n{TABLE}\n</document>\n\nWhich region sold most?'
