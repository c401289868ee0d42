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
