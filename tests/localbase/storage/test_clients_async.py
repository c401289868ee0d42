"""supabase-py's async storage client, and what the product's tables do to stored objects: a user's
round trip with AsyncClient, another user refused, and deleting a message, a session or an account
removing the objects and, through the byte-deletion queue, their files."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest
from storage3.exceptions import StorageApiError
from supabase import AsyncClient, acreate_client

from tests.conftest import LocalStack, SignedUpUser, rows_of, sign_up
from tests.localbase.storage.conftest import PNG, blob_files, url_of


async def _signed_in(stack: LocalStack, user: SignedUpUser) -> AsyncClient:
    client = await acreate_client(stack.url, stack.anon_key)
    await client.auth.sign_in_with_password({"email": user.email, "password": user.password})
    return client


def _until(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def test_async_round_trip_and_refusals(stack: LocalStack) -> None:
    owner, other = sign_up(stack), sign_up(stack)
    mine, theirs = await _signed_in(stack, owner), await _signed_in(stack, other)
    files = mine.storage.from_("attachments")
    path = f"{owner.id}/pic.png"
    await files.upload(path, PNG, {"content-type": "image/png"})
    assert [f["name"] for f in await files.list(owner.id)] == ["pic.png"]
    assert await files.download(path) == PNG
    signed = await files.create_signed_url(path, 30)
    async with httpx.AsyncClient() as http:
        assert (await http.get(url_of(signed))).content == PNG
    await files.move(path, f"{owner.id}/moved.png")
    await files.copy(f"{owner.id}/moved.png", f"{owner.id}/copy.png")
    intruder = theirs.storage.from_("attachments")
    with pytest.raises(StorageApiError):
        await intruder.download(f"{owner.id}/moved.png")
    assert await intruder.remove([f"{owner.id}/moved.png"]) == []
    with pytest.raises(StorageApiError):
        await intruder.upload(f"{owner.id}/x.png", PNG, {"content-type": "image/png"})
    removed = await files.remove([f"{owner.id}/moved.png", f"{owner.id}/copy.png"])
    assert len(removed) == 2
    assert await files.list(owner.id) == []


async def test_deleting_messages_sessions_and_accounts_deletes_objects_and_bytes(stack: LocalStack) -> None:
    user = sign_up(stack)
    client = await _signed_in(stack, user)
    files = client.storage.from_("attachments")
    before = blob_files(stack)
    for name in ("a.png", "b.png", "c.png"):
        await files.upload(f"{user.id}/{name}", PNG, {"content-type": "image/png"})
    await client.storage.from_("avatars").upload(f"{user.id}/me.png", PNG, {"content-type": "image/png"})
    mine = blob_files(stack) - before
    assert len(mine) == 4
    session = rows_of((await client.table("chat_sessions").insert({"title": "files"}).execute()).data)[0]["id"]
    other_session = rows_of((await client.table("chat_sessions").insert({"title": "more"}).execute()).data)[0]["id"]

    def attachment(name: str) -> dict[str, object]:
        return {
            "bucket": "attachments",
            "path": f"{user.id}/{name}",
            "name": name,
            "mime_type": "image/png",
            "size": len(PNG),
            "width": 1,
            "height": 1,
        }

    first = (
        await client.table("chat_messages")
        .insert({"session_id": session, "content": "one", "attachments": [attachment("a.png")]})
        .execute()
    )
    await (
        client.table("chat_messages")
        .insert({"session_id": other_session, "content": "two", "attachments": [attachment("b.png")]})
        .execute()
    )
    await client.table("chat_messages").delete().eq("id", rows_of(first.data)[0]["id"]).execute()
    assert [f["name"] for f in await files.list(user.id)] == ["b.png", "c.png"]
    await client.table("chat_sessions").delete().eq("id", other_session).execute()
    assert [f["name"] for f in await files.list(user.id)] == ["c.png"]
    _until(lambda: len(blob_files(stack) & mine) == 2, "the deleted attachments' files to go")
    admin = await acreate_client(stack.url, stack.service_role_key)
    await admin.auth.admin.delete_user(user.id)
    _until(lambda: not blob_files(stack) & mine, "the deleted account's files to go")
