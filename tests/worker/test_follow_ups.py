"""Earlier questions' files in later prompts, end to end: a follow-up ("what does section 2 say?")
reaches the model with the document (and, on a vision model, the image) asked about before, put
back on that earlier question exactly as it was first sent, so each prompt starts with the
previous one byte for byte (context caching). What the model received is read from the fake's
`GET /_fake/requests`."""

from __future__ import annotations

import asyncpg

from tests.conftest import LocalStack, fake_received
from tests.worker.conftest import Owner, RecordingFakeScope, Workers, ask, final_answer, worker_settings
from tests.worker.test_attachments import ask_with, png, upload

SECTIONS = b"# Handbook\n## Section 1\nBadges open the front door.\n## Section 2\nThe vault code is AZURE-7731."


async def test_a_follow_up_carries_the_earlier_document_with_the_same_prefix(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    handbook = await upload(stack, owner, "handbook.md", SECTIONS, "text/markdown")
    await workers.start(worker_settings(stack, fake))
    first = await final_answer(pg, await ask_with(pg, owner, "Read this handbook", [handbook]))
    assert first["status"] == "completed", first["error_code"]
    follow_up = await final_answer(pg, await ask(pg, owner, "What does section 2 say?"))
    assert follow_up["status"] == "completed", follow_up["error_code"]

    asked, then = (r["input"]["messages"] for r in await fake_received(fake.base_url))
    assert then[: len(asked)] == asked  # the earlier prompt is the start of the follow-up's, byte for byte
    assert then[len(asked) :] == [
        {"role": "assistant", "content": first["content"]},
        {"role": "user", "content": "What does section 2 say?"},
    ]
    assert "The vault code is AZURE-7731." in asked[-1]["content"]
    assert asked[-1]["content"].startswith('<document name="handbook.md">\n# Handbook')


async def test_a_vision_model_sees_the_earlier_image_again_and_a_text_model_only_the_words(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    picture = await upload(stack, owner, "cat.png", png(84, 56), "image/png", width=84, height=56)
    await pg.execute("update chat_sessions set model = 'qwen-vl-max' where id = $1", owner.session_id)
    await workers.start(worker_settings(stack, fake))
    first = await final_answer(pg, await ask_with(pg, owner, "What is in this picture?", [picture]))
    assert first["status"] == "completed", first["error_code"]
    again = await final_answer(pg, await ask(pg, owner, "And what colour is it?"))
    assert again["status"] == "completed", again["error_code"]
    assert again["image_tokens"] == first["image_tokens"]  # the image was billed again: the model saw it

    await pg.execute("update chat_sessions set model = 'qwen-plus' where id = $1", owner.session_id)  # no vision
    text_only = await final_answer(pg, await ask(pg, owner, "Thanks. Anything else?"))
    assert text_only["status"] == "completed", text_only["error_code"]

    asked, then, plain = await fake_received(fake.base_url)
    assert then["model"] == "qwen-vl-max"
    assert then["input"]["messages"][: len(asked["input"]["messages"])] == asked["input"]["messages"]
    [image_part, text_part] = then["input"]["messages"][1]["content"]
    assert image_part["image"].startswith(f"{stack.url}/storage/v1/object/sign/")  # the same link both times
    assert text_part == {"text": "What is in this picture?"}
    assert plain["model"] == "qwen-plus"  # the text endpoint: the earlier question is its words only
    assert plain["input"]["messages"][1] == {"role": "user", "content": "What is in this picture?"}
    assert "image" not in str(plain["input"]["messages"])


async def test_a_document_refused_with_its_question_does_not_come_back(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    await pg.execute(
        "insert into models (id, display_name, context_window, max_input, max_output, supports_documents)"
        " values ('qwen-turbo-2099-03-03', 'Tiny', 4000, 420, 100, true) on conflict do nothing"
    )
    await pg.execute("update chat_sessions set model = 'qwen-turbo-2099-03-03' where id = $1", owner.session_id)
    try:
        big = await upload(stack, owner, "big.txt", ("many words here " * 400).encode(), "text/plain")
        await workers.start(worker_settings(stack, fake))
        refused = await final_answer(pg, await ask_with(pg, owner, "Read this", [big]))
    finally:
        await pg.execute("update chat_sessions set model = null where id = $1", owner.session_id)
        await pg.execute("delete from models where id = 'qwen-turbo-2099-03-03'")
    after = await final_answer(pg, await ask(pg, owner, "Never mind: hello"))  # a model it would fit now
    assert (refused["status"], refused["error_code"]) == ("error", "DocumentTooLong")
    assert after["status"] == "completed", after["error_code"]
    [sent] = await fake_received(fake.base_url)
    assert "many words here" not in str(sent["input"]["messages"])
