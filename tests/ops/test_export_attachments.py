"""The account export carries each attachment's metadata and a working signed link to it."""

from __future__ import annotations

import json

import asyncpg
import httpx

from tests.api.conftest import new_session, register_and_login
from tests.conftest import LocalStack


async def test_export_includes_attachment_metadata_and_signed_links(
    http: httpx.AsyncClient, pg: asyncpg.Connection, stack: LocalStack
) -> None:
    user = await register_and_login(http)
    session = await new_session(http, user)
    path = f"{user.id}/report.pdf"
    async with httpx.AsyncClient(base_url=f"{stack.url}/storage/v1") as storage:
        uploaded = await storage.post(
            f"/object/attachments/{path}",
            content=b"%PDF-1.4 report",
            headers={**user.headers, "apikey": stack.anon_key, "content-type": "application/pdf"},
        )
        assert uploaded.status_code == 200, uploaded.text
    attachment = {
        "bucket": "attachments",
        "path": path,
        "name": "report.pdf",
        "mime_type": "application/pdf",
        "size": 15,
    }
    await pg.execute(
        "insert into chat_messages (session_id, user_id, content, attachments) values ($1, $2, 'see', $3::text::jsonb)",
        session["id"],
        user.id,
        json.dumps([attachment]),
    )
    response = await http.get("/api/account/export", headers=user.headers)
    assert response.status_code == 200
    exported = [m for m in response.json()["messages"] if m["attachments"]]
    assert len(exported) == 1
    item = exported[0]["attachments"][0]
    link = item.pop("signed_url")
    assert item == attachment
    async with httpx.AsyncClient() as anyone:
        fetched = await anyone.get(link)
    assert fetched.status_code == 200
    assert fetched.content == b"%PDF-1.4 report"


async def test_export_includes_each_answers_sources_and_thinking(
    http: httpx.AsyncClient, pg: asyncpg.Connection, stack: LocalStack
) -> None:
    """A searched answer cites its sources as [1]: the export carries them with it (and the thinking
    the user was shown, and the question's search switch), or its numbers point at nothing."""
    user = await register_and_login(http)
    session = await new_session(http, user)
    question = await pg.fetchval(
        "insert into chat_messages (session_id, user_id, content, web_search) values ($1, $2, 'news?', true)"
        " returning id",
        session["id"],
        user.id,
    )
    sources = [{"index": 1, "title": "Today", "url": "https://news.example/1", "site_name": "News"}]
    await pg.execute(
        "insert into chat_messages (session_id, user_id, message_type, content, status, reply_to, reasoning, sources)"
        " values ($1, $2, 'assistant', 'It rained [1].', 'completed', $3, 'Look it up.', $4::text::jsonb)",
        session["id"],
        user.id,
        question,
        json.dumps(sources),
    )
    response = await http.get("/api/account/export", headers=user.headers)
    assert response.status_code == 200
    by_type = {m["message_type"]: m for m in response.json()["messages"]}
    assert by_type["user"]["web_search"] is True
    assert (by_type["assistant"]["sources"], by_type["assistant"]["reasoning"]) == (sources, "Look it up.")
