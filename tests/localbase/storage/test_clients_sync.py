"""supabase-py (sync storage3) against /storage/v1: buckets, the object round trip, signed URLs,
and the product buckets' policies refusing another user and anon on every verb, and the owner
any write over a file a message of theirs lists."""

from __future__ import annotations

import uuid

import httpx
import pytest
from storage3.exceptions import StorageApiError
from supabase import Client

from tests.conftest import LocalStack, SignedUpUser, rows_of
from tests.localbase.storage.conftest import PNG, url_of


def _refused(call: object) -> StorageApiError:
    with pytest.raises(StorageApiError) as info:
        call()  # type: ignore[operator]
    return info.value


def test_bucket_lifecycle_matches_storage_api(service: Client) -> None:
    name = f"b-{uuid.uuid4().hex[:8]}"
    options = {"public": False, "file_size_limit": "1mb"}  # storage-api reads sizes with units too
    # storage3 types file_size_limit as int only.
    assert service.storage.create_bucket(name, options=options) == {"name": name}  # type: ignore[arg-type]
    got = service.storage.get_bucket(name)
    assert (got.id, got.name, got.owner, got.public, got.file_size_limit) == (name, name, "", False, 1_000_000)
    raw = httpx.get(
        f"{service.storage_url}bucket/{name}",
        headers={"apikey": service.supabase_key, "Authorization": f"Bearer {service.supabase_key}"},
    ).json()
    assert sorted(raw) == sorted(
        ["id", "name", "owner", "public", "created_at", "updated_at", "file_size_limit", "allowed_mime_types"]
    )
    assert raw["created_at"].endswith("Z")
    assert len(raw["created_at"]) == 24
    listed = [b for b in service.storage.list_buckets() if b.id == name]
    assert len(listed) == 1
    assert listed[0].type == "STANDARD"
    service.storage.update_bucket(name, {"public": True, "allowed_mime_types": ["image/*"], "file_size_limit": 10})
    updated = service.storage.get_bucket(name)
    assert (updated.public, updated.allowed_mime_types, updated.file_size_limit) == (True, ["image/*"], 10)
    duplicate = _refused(lambda: service.storage.create_bucket(name))
    assert (duplicate.status, duplicate.code) == ("409", "Duplicate")
    service.storage.from_(name).upload("x.png", b"123456", {"content-type": "image/png"})
    not_empty = _refused(lambda: service.storage.delete_bucket(name))
    assert not_empty.status == "409"
    service.storage.empty_bucket(name)
    service.storage.delete_bucket(name)
    missing = _refused(lambda: service.storage.get_bucket(name))
    assert (missing.status, missing.code, missing.message) == ("404", "Bucket not found", "Bucket not found")


def test_owner_round_trip_in_attachments(stack: LocalStack, alice: tuple[SignedUpUser, Client]) -> None:
    user, client = alice
    files = client.storage.from_("attachments")
    path = f"{user.id}/notes/hello.txt"
    uploaded = files.upload(path, b"hello world", {"content-type": "text/plain", "metadata": {"k": "v"}})
    assert uploaded.full_path == f"attachments/{path}"
    listed = files.list(f"{user.id}/notes")
    assert [(f["name"], f["metadata"]["mimetype"], f["metadata"]["size"]) for f in listed] == [
        ("hello.txt", "text/plain", 11)
    ]
    root = files.list(user.id)
    assert [(f["name"], f["id"]) for f in root] == [("notes", None)]
    assert files.download(path) == b"hello world"
    info = files.info(path)
    assert (info["size"], info["content_type"], info["metadata"], info["cache_control"]) == (
        11,
        "text/plain",
        {"k": "v"},
        "max-age=3600",
    )
    assert files.exists(path) is True
    assert files.exists(f"{user.id}/nope.txt") is False
    signed = files.create_signed_url(path, 60, {"download": "greeting.txt"})
    fetched = httpx.get(url_of(signed))
    assert fetched.status_code == 200
    assert fetched.content == b"hello world"
    assert fetched.headers["content-disposition"] == (
        "attachment; filename=greeting.txt; filename*=UTF-8''greeting.txt"
    )
    many = files.create_signed_urls([path, f"{user.id}/missing.txt"], 60)
    assert many[0]["error"] is None
    assert httpx.get(url_of(many[0])).content == b"hello world"
    assert many[1]["signedURL"] is None
    assert many[1]["error"]
    files.move(path, f"{user.id}/moved.txt")
    assert files.exists(path) is False
    files.copy(f"{user.id}/moved.txt", f"{user.id}/copy.txt")
    assert files.download(f"{user.id}/copy.txt") == b"hello world"
    files.update(f"{user.id}/copy.txt", b"changed", {"content-type": "text/plain"})
    assert files.download(f"{user.id}/copy.txt") == b"changed"
    assert files.download(f"{user.id}/moved.txt") == b"hello world"
    removed = files.remove([f"{user.id}/moved.txt", f"{user.id}/copy.txt", f"{user.id}/never.txt"])
    assert sorted(r["name"] for r in removed) == [f"{user.id}/copy.txt", f"{user.id}/moved.txt"]
    assert files.list(user.id) == []


def test_list_v2_pages_with_cursors(alice: tuple[SignedUpUser, Client]) -> None:
    user, client = alice
    files = client.storage.from_("attachments")
    for i in range(5):
        files.upload(f"{user.id}/p/{i}.txt", b"x", {"content-type": "text/plain"})
    files.upload(f"{user.id}/p/sub/deep.txt", b"x", {"content-type": "text/plain"})
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        options: dict[str, object] = {"prefix": f"{user.id}/p/", "limit": 2}
        if cursor:
            options["cursor"] = cursor
        page = files.list_v2(options)  # type: ignore[arg-type]
        pages += 1
        seen += [o.name for o in page.objects]
        if not page.hasNext:
            break
        cursor = page.nextCursor
    assert pages == 3
    assert seen == [f"{user.id}/p/{i}.txt" for i in range(5)] + [f"{user.id}/p/sub/deep.txt"]
    folded = files.list_v2({"prefix": f"{user.id}/p/", "with_delimiter": True})
    assert [f.key for f in folded.folders] == ["sub"]
    assert len(folded.objects) == 5


def test_another_user_is_refused_every_verb(
    alice: tuple[SignedUpUser, Client], bob: tuple[SignedUpUser, Client]
) -> None:
    owner, mine = alice
    _, theirs = bob
    path = f"{owner.id}/secret.txt"
    mine.storage.from_("attachments").upload(path, b"secret", {"content-type": "text/plain"})
    mine.storage.from_("avatars").upload(f"{owner.id}/a.png", PNG, {"content-type": "image/png"})
    other = theirs.storage.from_("attachments")
    assert _refused(lambda: other.download(path)).status == "404"
    assert other.exists(path) is False
    assert other.list(owner.id) == []
    assert other.list_v2({"prefix": owner.id}).objects == []
    assert _refused(lambda: other.create_signed_url(path, 60)).status == "404"
    assert other.create_signed_urls([path], 60)[0]["signedURL"] is None
    assert _refused(lambda: other.upload(path, b"evil", {"content-type": "text/plain"})).status in ("403", "409")
    assert _refused(lambda: other.update(path, b"evil", {"content-type": "text/plain"})).status == "403"
    assert _refused(lambda: other.upload(f"{owner.id}/new.txt", b"e", {"content-type": "text/plain"})).status == "403"
    assert _refused(lambda: other.create_signed_upload_url(f"{owner.id}/x.txt")).status == "403"
    assert _refused(lambda: other.move(path, "elsewhere.txt")).status == "404"
    assert _refused(lambda: other.copy(path, "stolen.txt")).status == "404"
    assert other.remove([path]) == []
    avatar = theirs.storage.from_("avatars")
    assert avatar.remove([f"{owner.id}/a.png"]) == []
    assert _refused(lambda: avatar.update(f"{owner.id}/a.png", PNG, {"content-type": "image/png"})).status == "403"
    assert mine.storage.from_("attachments").download(path) == b"secret"
    assert mine.storage.from_("avatars").exists(f"{owner.id}/a.png")


def test_anon_is_refused_every_verb(alice: tuple[SignedUpUser, Client], anon: Client) -> None:
    owner, mine = alice
    path = f"{owner.id}/secret.txt"
    mine.storage.from_("attachments").upload(path, b"secret", {"content-type": "text/plain"})
    files = anon.storage.from_("attachments")
    assert _refused(lambda: files.download(path)).status == "404"
    assert files.list(owner.id) == []
    assert _refused(lambda: files.create_signed_url(path, 60)).status == "404"
    assert _refused(lambda: files.upload(f"{owner.id}/x.txt", b"x", {"content-type": "text/plain"})).status == "403"
    assert _refused(lambda: files.update(path, b"x", {"content-type": "text/plain"})).status == "403"
    assert _refused(lambda: files.move(path, "x.txt")).status == "404"
    assert _refused(lambda: files.copy(path, "x.txt")).status == "404"
    assert files.remove([path]) == []
    assert anon.storage.list_buckets() == []
    assert _refused(lambda: anon.storage.create_bucket("anon-bucket")).status == "403"
    assert mine.storage.from_("attachments").download(path) == b"secret"


def test_public_avatar_is_readable_by_anyone_and_writable_by_its_owner_only(
    stack: LocalStack, alice: tuple[SignedUpUser, Client]
) -> None:
    user, client = alice
    avatars = client.storage.from_("avatars")
    avatars.upload(f"{user.id}/me.png", PNG, {"content-type": "image/png", "cache-control": "60"})
    url = avatars.get_public_url(f"{user.id}/me.png")
    response = httpx.get(url)
    assert (response.status_code, response.content, response.headers["content-type"]) == (200, PNG, "image/png")
    assert response.headers["cache-control"] == "max-age=60"
    root = _refused(lambda: avatars.upload("root.png", PNG, {"content-type": "image/png"}))
    assert (root.status, root.message) == ("403", "new row violates row-level security policy")


RLS_REFUSAL = {
    "statusCode": "403",
    "error": "Unauthorized",
    "message": "new row violates row-level security policy",
    "code": "AccessDenied",
}
NOT_FOUND = {"statusCode": "404", "error": "not_found", "message": "Object not found", "code": "NoSuchKey"}
PDF = b"%PDF-1.4\n" + b"x" * 4096  # what replaced a 1x1 PNG: another type, another size


def _storage_http(stack: LocalStack, user: SignedUpUser) -> httpx.Client:
    """Plain HTTP to /storage/v1 as `user`, for what storage3 cannot send (a copy with x-upsert)."""
    headers = {"apikey": stack.anon_key, "Authorization": f"Bearer {user.access_token}"}
    return httpx.Client(base_url=f"{stack.url}/storage/v1", headers=headers, timeout=30)


def _attach(client: Client, user: SignedUpUser, path: str) -> None:
    """A question of `user`'s that lists `path` (the 1x1 PNG) as its attachment."""
    session = rows_of(client.table("chat_sessions").insert({"title": "files"}).execute().data)[0]["id"]
    attachment = {
        "bucket": "attachments",
        "path": path,
        "name": "pic.png",
        "mime_type": "image/png",
        "size": len(PNG),
        "width": 1,
        "height": 1,
    }
    question = {"session_id": session, "content": "what is this?", "attachments": [attachment]}
    client.table("chat_messages").insert(question).execute()


def _as_stored(client: Client, path: str) -> tuple[int, str, bytes]:
    files = client.storage.from_("attachments")
    info = files.info(path)
    return info["size"], info["content_type"], files.download(path)


def _replaced_by_every_write(http: httpx.Client, path: str, other: str) -> list[httpx.Response]:
    """PUT, POST with x-upsert, a copy with x-upsert over `path`, and a move of `other` onto it."""
    pdf = {"content-type": "application/pdf"}
    return [
        http.put(f"/object/attachments/{path}", content=PDF, headers=pdf),
        http.post(f"/object/attachments/{path}", content=PDF, headers={**pdf, "x-upsert": "true"}),
        http.post(
            "/object/copy",
            json={"bucketId": "attachments", "sourceKey": other, "destinationKey": path},
            headers={"x-upsert": "true"},
        ),
        http.post("/object/move", json={"bucketId": "attachments", "sourceKey": other, "destinationKey": path}),
    ]


def test_a_file_a_message_lists_cannot_be_replaced_moved_or_copied_over(
    stack: LocalStack, alice: tuple[SignedUpUser, Client]
) -> None:
    user, client = alice
    files = client.storage.from_("attachments")
    path, other = f"{user.id}/q/pic.png", f"{user.id}/q/big.pdf"
    files.upload(path, PNG, {"content-type": "image/png"})
    files.upload(other, PDF, {"content-type": "application/pdf"})
    _attach(client, user, path)
    with _storage_http(stack, user) as http:
        for refused in _replaced_by_every_write(http, path, other):
            assert (refused.status_code, refused.json()) == (400, RLS_REFUSAL), refused.text
        move_away = http.post(
            "/object/move", json={"bucketId": "attachments", "sourceKey": path, "destinationKey": f"{user.id}/gone.png"}
        )
        assert (move_away.status_code, move_away.json()) == (400, NOT_FOUND)  # storage-api's RLS-refused move
        assert _as_stored(client, path) == (len(PNG), "image/png", PNG)
        assert files.exists(f"{user.id}/gone.png") is False
        # Deleting it stays the owner's right; putting something else at its path again does not.
        assert [r["name"] for r in files.remove([path])] == [path]
        again = _refused(lambda: files.upload(path, PDF, {"content-type": "application/pdf"}))
        assert (again.status, again.message) == ("403", RLS_REFUSAL["message"])
        for refused in _replaced_by_every_write(http, path, other):
            assert (refused.status_code, refused.json()) == (400, RLS_REFUSAL), refused.text
        assert files.exists(path) is False
        assert _as_stored(client, other) == (len(PDF), "application/pdf", PDF)
        # A file beside it that no message lists is still the owner's to replace, copy over and move.
        free = f"{user.id}/q/free.png"
        files.upload(free, PNG, {"content-type": "image/png"})
        put, post, copy, move_over = _replaced_by_every_write(http, free, other)
        assert [r.status_code for r in (put, post, copy)] == [200, 200, 200], [put.text, post.text, copy.text]
        assert move_over.json()["statusCode"] == "409"  # a move never overwrites
        assert _as_stored(client, free) == (len(PDF), "application/pdf", PDF)
        files.move(free, f"{user.id}/q/moved.png")
        assert files.exists(free) is False


def test_a_message_binds_only_its_owners_files(
    stack: LocalStack, alice: tuple[SignedUpUser, Client], bob: tuple[SignedUpUser, Client]
) -> None:
    owner, mine = alice
    other_user, theirs = bob
    listed = f"{owner.id}/q/pic.png"
    mine.storage.from_("attachments").upload(listed, PNG, {"content-type": "image/png"})
    _attach(mine, owner, listed)
    files = theirs.storage.from_("attachments")
    pdf = {"content-type": "application/pdf"}
    path, other = f"{other_user.id}/q/pic.png", f"{other_user.id}/q/big.pdf"
    files.upload(path, PNG, {"content-type": "image/png"})
    files.upload(other, PDF, {"content-type": "application/pdf"})
    with _storage_http(stack, other_user) as http:
        put, post, copy, _ = _replaced_by_every_write(http, path, other)
        assert [r.status_code for r in (put, post, copy)] == [200, 200, 200], [put.text, post.text, copy.text]
        assert _as_stored(theirs, path) == (len(PDF), "application/pdf", PDF)
        assert http.put(f"/object/attachments/{listed}", content=PDF, headers=pdf).json() == RLS_REFUSAL
    own = f"{other_user.id}/q/listed.png"
    files.upload(own, PNG, {"content-type": "image/png"})
    _attach(theirs, other_user, own)
    with _storage_http(stack, other_user) as http:
        assert http.put(f"/object/attachments/{own}", content=PDF, headers=pdf).json() == RLS_REFUSAL
    assert _as_stored(mine, listed) == (len(PNG), "image/png", PNG)
    assert _as_stored(theirs, own) == (len(PNG), "image/png", PNG)
