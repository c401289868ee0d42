"""The wire details storage-api clients and browsers rely on, checked with plain HTTP: the error
shape for each refusal, hostile keys, size and MIME limits on every upload path, Range, ETag,
If-None-Match, Last-Modified, signed-URL tokens that are forged, expired or for another path."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from storage3.exceptions import StorageApiError
from supabase import create_client

from core.jwt import encode
from tests.conftest import LocalStack
from tests.localbase.storage.conftest import blob_files, storage_root

BODY = bytes(range(256)) * 40  # 10,240 bytes


@pytest.fixture
def http(stack: LocalStack) -> Iterator[httpx.Client]:
    headers = {"apikey": stack.service_role_key, "Authorization": f"Bearer {stack.service_role_key}"}
    with httpx.Client(base_url=f"{stack.url}/storage/v1", headers=headers, timeout=30) as client:
        yield client


@pytest.fixture
def limited(http: httpx.Client) -> Iterator[str]:
    """A public bucket holding at most 1,000 bytes of PNG or any text type."""
    name = f"lim-{uuid.uuid4().hex[:8]}"
    created = http.post(
        "/bucket",
        json={"name": name, "public": True, "file_size_limit": 1000, "allowed_mime_types": ["image/png", "text/*"]},
    )
    assert created.status_code == 200, created.text
    yield name
    http.post(f"/bucket/{name}/empty", json={})
    http.request("DELETE", f"/bucket/{name}", json={})


def _error(response: httpx.Response, status: str, code: str, *, http_status: int = 400) -> dict[str, str]:
    assert response.status_code == http_status, response.text
    body = response.json()
    assert sorted(body) == ["code", "error", "message", "statusCode"]
    assert (body["statusCode"], body["code"]) == (status, code), body
    return dict(body)


def test_missing_bucket_object_and_duplicate(http: httpx.Client, limited: str) -> None:
    _error(http.post("/object/no-such-bucket/a.txt", content=b"x"), "404", "NoSuchBucket")
    _error(http.get(f"/object/{limited}/missing.txt"), "404", "NoSuchKey")
    _error(http.get(f"/object/info/{limited}/missing.txt"), "404", "NoSuchKey")
    assert http.head(f"/object/{limited}/missing.txt").status_code == 400
    headers = {"content-type": "text/plain"}
    assert http.post(f"/object/{limited}/a.txt", content=b"one", headers=headers).status_code == 200
    duplicate = _error(
        http.post(f"/object/{limited}/a.txt", content=b"two", headers=headers), "409", "KeyAlreadyExists"
    )
    assert duplicate["error"] == "Duplicate"
    upserted = http.post(f"/object/{limited}/a.txt", content=b"two", headers={**headers, "x-upsert": "true"})
    assert upserted.status_code == 200
    assert http.get(f"/object/{limited}/a.txt").content == b"two"
    _error(http.post("/bucket", json={"name": limited}), "409", "BucketAlreadyExists")
    _error(http.post("/bucket", json={"name": " padded"}), "400", "InvalidBucketName")


def test_a_copy_whose_source_went_away_since_it_was_read_is_no_such_key(
    http: httpx.Client, limited: str, stack: LocalStack
) -> None:
    """A delete between the copy's read of its source and its link of the bytes: the bytes are gone
    (here removed as the delete's cleanup removes them) and the copy is NoSuchKey, not a 500."""
    before = blob_files(stack)
    assert http.post(f"/object/{limited}/gone.txt", content=b"x", headers={"content-type": "text/plain"}).is_success
    (added,) = blob_files(stack) - before
    next((storage_root(stack) / "blobs").glob(f"*/{added}")).unlink()
    copied = http.post("/object/copy", json={"bucketId": limited, "sourceKey": "gone.txt", "destinationKey": "c.txt"})
    _error(copied, "404", "NoSuchKey")
    assert http.post(f"/object/list/{limited}", json={"prefix": ""}).json()[0]["name"] == "gone.txt"


def test_bucket_numbers_are_ascii_digits_within_bigint(http: httpx.Client, limited: str) -> None:
    # `²` passes str.isdigit() but not int(), and paging past bigint reached Postgres: each was a 500.
    for query, message in (
        ("limit=%C2%B2", "querystring/limit must be >= 1"),
        ("offset=%C2%B2", "querystring/offset must be >= 0"),
        ("limit=9223372036854775808", "querystring/limit must be <= 9223372036854775807"),
        ("offset=99999999999999999999", "querystring/offset must be <= 9223372036854775807"),
    ):
        assert _error(http.get(f"/bucket?{query}"), "400", "InvalidRequest")["message"] == message
    assert http.get("/bucket?limit=9223372036854775807&offset=9223372036854775807").json() == []
    square = {"file_size_limit": "²"}
    created = http.post("/bucket", json={"name": f"{limited}-sq", **square})
    for sent in (created, http.put(f"/bucket/{limited}", json=square)):
        assert _error(sent, "400", "InvalidRequest")["message"].startswith("Invalid file size format")


@pytest.mark.parametrize(
    "key",
    [
        "%2E%2E/escape.txt",
        "a/%2e%2e/%2e%2e/etc/passwd",
        "a/%2E/b.txt",
        "/etc/passwd",
        "a%00b.txt",
        "a//b.txt",
        "caf%C3%A9.txt",
    ],
)
def test_hostile_keys_are_refused_on_every_verb(http: httpx.Client, limited: str, key: str) -> None:
    for method, path in (
        ("POST", f"/object/{limited}/{key}"),
        ("PUT", f"/object/{limited}/{key}"),
        ("GET", f"/object/{limited}/{key}"),
        ("GET", f"/object/public/{limited}/{key}"),
        ("POST", f"/object/sign/{limited}/{key}"),
        ("POST", f"/object/upload/sign/{limited}/{key}"),
        ("DELETE", f"/object/{limited}/{key}"),
    ):
        url = httpx.URL(f"{http.base_url}{path.lstrip('/')}")
        response = http.request(method, url, content=b"x", headers={"content-type": "text/plain"})
        _error(response, "400", "InvalidKey")
    moved = http.post("/object/move", json={"bucketId": limited, "sourceKey": "a.txt", "destinationKey": "../x"})
    _error(moved, "400", "InvalidKey")
    assert http.post(f"/object/list/{limited}", json={"prefix": ""}).json() == []


def test_a_nul_names_no_bucket_and_no_metadata(http: httpx.Client, limited: str) -> None:
    # Postgres text and jsonb cannot hold a NUL: each of these was once a 500 (found by `make fuzz`).
    for method, path in (
        ("POST", "/object/a%00b/a.txt"),
        ("GET", "/object/public/a%00b/a.txt"),
        ("GET", "/render/image/authenticated/a%00b/a.png"),
        ("POST", "/object/sign/a%00b/a.txt"),
        ("GET", "/bucket/a%00b"),
    ):
        url = httpx.URL(f"{http.base_url}{path.lstrip('/')}")
        body = b'{"expiresIn": 60}'
        _error(http.request(method, url, content=body, headers={"content-type": "text/plain"}), "404", "NoSuchBucket")
    moved = http.post("/object/move", json={"bucketId": "a\x00b", "sourceKey": "a.txt", "destinationKey": "b.txt"})
    assert "NUL" in _error(moved, "400", "InvalidRequest")["message"]
    metadata = {"content-type": "text/plain", "x-metadata": base64.b64encode(b'{"note": "a\\u0000b"}').decode()}
    _error(http.post(f"/object/{limited}/raw.txt", content=b"x", headers=metadata), "400", "InvalidRequest")
    form = {"metadata": '{"note": "a\\u0000b"}'}
    files = {"": ("form.txt", b"x", "text/plain")}
    _error(http.post(f"/object/{limited}/form.txt", data=form, files=files), "400", "InvalidRequest")
    assert http.post(f"/object/list/{limited}", json={"prefix": ""}).json() == []


def test_a_list_v2_cursor_no_listing_gave_is_refused(http: httpx.Client, limited: str) -> None:
    # A cursor holding a NUL reached Postgres and was a 500 (storage-api answers 400 to any it cannot read).
    http.post(f"/object/{limited}/a.txt", content=b"x", headers={"content-type": "text/plain"})
    for name in (b"\xff", b"a\x00b"):
        cursor = base64.urlsafe_b64encode(name).decode()
        for delimiter in (False, True):
            body = {"prefix": "", "cursor": cursor, "with_delimiter": delimiter}
            refused = _error(http.post(f"/object/list-v2/{limited}", json=body), "400", "InvalidRequest")
            assert refused["message"] == "body/cursor is not a valid cursor"


def test_size_and_mime_limits_hold_on_every_upload_path(http: httpx.Client, limited: str) -> None:
    big, ok = b"x" * 1001, b"x" * 1000
    text = {"content-type": "text/plain"}
    _error(http.post(f"/object/{limited}/big.txt", content=big, headers=text), "413", "EntityTooLarge")
    _error(http.put(f"/object/{limited}/big.txt", content=big, headers=text), "413", "EntityTooLarge")

    def chunked() -> Iterator[bytes]:
        yield big[:600]
        yield big[600:]

    _error(http.post(f"/object/{limited}/chunked.txt", content=chunked(), headers=text), "413", "EntityTooLarge")
    files = {"file": ("big.txt", big, "text/plain")}
    _error(http.post(f"/object/{limited}/multi.txt", files=files, data={"cacheControl": "60"}), "413", "EntityTooLarge")
    pdf = {"content-type": "application/pdf"}
    mime = _error(http.post(f"/object/{limited}/doc.pdf", content=b"%PDF", headers=pdf), "415", "InvalidMimeType")
    assert mime["message"] == "mime type application/pdf is not supported"
    files = {"file": ("doc.pdf", b"%PDF", "application/pdf")}
    _error(http.post(f"/object/{limited}/doc.pdf", files=files), "415", "InvalidMimeType")
    signed = http.post(f"/object/upload/sign/{limited}/via-sign.txt", json={}).json()
    token = signed["token"]
    anonymous = httpx.Client(base_url=str(http.base_url), timeout=30)
    _error(
        anonymous.put(f"/object/upload/sign/{limited}/via-sign.txt?token={token}", content=big, headers=text),
        "413",
        "EntityTooLarge",
    )
    _error(
        anonymous.put(f"/object/upload/sign/{limited}/via-sign.txt?token={token}", content=b"%PDF", headers=pdf),
        "415",
        "InvalidMimeType",
    )
    sent = anonymous.put(f"/object/upload/sign/{limited}/via-sign.txt?token={token}", content=ok, headers=text)
    assert sent.json() == {"Key": f"{limited}/via-sign.txt"}
    _error(
        anonymous.put(f"/object/upload/sign/{limited}/via-sign.txt?token={token}", content=ok, headers=text),
        "409",
        "KeyAlreadyExists",
    )
    http.post("/bucket", json={"name": f"{limited}-pdf", "allowed_mime_types": ["application/pdf"]})
    try:
        http.post(f"/object/{limited}/c.png", content=b"png", headers={"content-type": "image/png"})
        copied = http.post(
            "/object/copy",
            json={
                "bucketId": limited,
                "sourceKey": "c.png",
                "destinationKey": "c.png",
                "destinationBucket": f"{limited}-pdf",
            },
        )
        _error(copied, "415", "InvalidMimeType")
        moved = http.post(
            "/object/move",
            json={
                "bucketId": limited,
                "sourceKey": "c.png",
                "destinationKey": "c.png",
                "destinationBucket": f"{limited}-pdf",
            },
        )
        _error(moved, "415", "InvalidMimeType")
    finally:
        http.request("DELETE", f"/bucket/{limited}-pdf", json={})
    names = sorted(o["name"] for o in http.post(f"/object/list/{limited}", json={"prefix": ""}).json())
    assert names == ["c.png", "via-sign.txt"]


def test_range_etag_and_conditional_requests(http: httpx.Client, limited: str, stack: LocalStack) -> None:
    small = BODY[:900]
    http.post(
        f"/object/{limited}/r.txt", content=small, headers={"content-type": "text/plain", "cache-control": "max-age=5"}
    )
    public = httpx.Client(base_url=f"{stack.url}/storage/v1/object/public/{limited}", timeout=30)
    full = public.get("/r.txt")
    assert full.status_code == 200
    assert full.content == small
    assert full.headers["accept-ranges"] == "bytes"
    assert full.headers["cache-control"] == "max-age=5"
    etag, modified = full.headers["etag"], full.headers["last-modified"]
    assert etag.startswith('"')
    assert modified.endswith("GMT")
    part = public.get("/r.txt", headers={"range": "bytes=10-19"})
    assert (part.status_code, part.content, part.headers["content-range"]) == (206, small[10:20], "bytes 10-19/900")
    tail = public.get("/r.txt", headers={"range": "bytes=-5"})
    assert (tail.status_code, tail.content) == (206, small[-5:])
    assert public.get("/r.txt", headers={"range": "bytes=5000-"}).status_code == 416
    assert public.get("/r.txt", headers={"if-none-match": etag}).status_code == 304
    assert public.get("/r.txt", headers={"if-none-match": '"other"'}).status_code == 200
    assert public.get("/r.txt", headers={"if-modified-since": modified}).status_code == 304
    head = public.head("/r.txt")
    assert (head.status_code, head.headers["content-length"], head.content) == (200, "900", b"")
    html = http.post(f"/object/{limited}/x.html", content=b"<script>", headers={"content-type": "text/html"})
    assert html.status_code == 200
    assert public.get("/x.html").headers["content-type"] == "text/plain"
    render = httpx.get(f"{stack.url}/storage/v1/render/image/public/{limited}/r.txt?width=200&height=100")
    assert render.content == small
    assert render.headers["x-transformations"] == "height:100,width:200,resizing_type:fill"
    # Checked as storage-api's schema checks them; a NUL in one reached the header and dropped the
    # connection (found by `make fuzz`).
    for query, message in (
        ("height=a%00b", "querystring/height must be integer"),
        ("width=1.5", "querystring/width must be integer"),
        ("width=-1", "querystring/width must be >= 0"),
        ("quality=101", "querystring/quality must be <= 100"),
        ("resize=stretch", "querystring/resize must be equal to one of the allowed values"),
    ):
        refused = httpx.get(f"{stack.url}/storage/v1/render/image/public/{limited}/r.txt?{query}")
        assert _error(refused, "400", "InvalidRequest")["message"] == message


def test_a_range_storage_api_cannot_read_is_416_and_a_head_ignores_ranges(
    http: httpx.Client, limited: str, stack: LocalStack
) -> None:
    # storage-api reads one `bytes=a-b`, `bytes=a-` or `bytes=-n` of a non-empty file and refuses
    # anything else 416 InvalidRange (src/storage/range.ts); the gateway sent the whole file with
    # 200 for a list of ranges or another unit, and 206 `bytes 0--1/0` for a suffix of an empty one.
    # A HEAD reads no range there (headObject).
    http.post(f"/object/{limited}/r.txt", content=BODY[:900], headers={"content-type": "text/plain"})
    http.post(f"/object/{limited}/empty.txt", content=b"", headers={"content-type": "text/plain"})
    public = httpx.Client(base_url=f"{stack.url}/storage/v1/object/public/{limited}", timeout=30)
    for key, header in (
        ("r.txt", "bytes=0-1,3-4"),
        ("r.txt", "items=0-1"),
        ("r.txt", "bytes=ab-"),
        ("r.txt", "bytes=-"),
        ("r.txt", "bytes=-0"),
        ("r.txt", "bytes=900-"),
        ("empty.txt", "bytes=-5"),
        ("empty.txt", "bytes=0-"),
    ):
        refused = public.get(f"/{key}", headers={"range": header})
        body = _error(refused, "416", "InvalidRange", http_status=416)
        assert (body["error"], body["message"]) == ("invalid_range", "invalid range provided"), header
    head = public.head("/r.txt", headers={"range": "bytes=0-1,3-4"})
    assert (head.status_code, head.headers["content-length"], "content-range" in head.headers) == (200, "900", False)
    part = public.get("/r.txt", headers={"range": "bytes=890-2000"})
    assert (part.status_code, part.headers["content-range"], part.content) == (206, "bytes 890-899/900", BODY[890:900])


def test_what_a_download_sends_as_a_header_is_checked_at_upload(http: httpx.Client, limited: str) -> None:
    # A MIME type or Cache-Control holding a line break was stored, and then every download of the
    # object failed: uvicorn refuses to send such a header.
    files = {"": ("form.txt", b"x", "text/plain")}
    for form in ({"contentType": "text/plain\r\nx-a: b"}, {"cacheControl": "60\r\nx-a: b"}):
        refused = http.post(f"/object/{limited}/form.txt", data=form, files=files)
        assert "must not contain control characters" in _error(refused, "400", "InvalidRequest")["message"]
    assert (
        http.post(f"/object/{limited}/ok.txt", content=b"x", headers={"content-type": "text/plain"}).status_code == 200
    )
    copy = {"bucketId": limited, "sourceKey": "ok.txt", "destinationKey": "copy.txt"}
    for field in ("mimetype", "cacheControl"):
        refused = http.post("/object/copy", json={**copy, "metadata": {field: "text/plain\nx"}})
        assert (
            _error(refused, "400", "InvalidRequest")["message"]
            == f"metadata.{field} must not contain control characters"
        )
    listed = http.post(f"/object/list/{limited}", json={"prefix": ""}).json()
    assert [item["name"] for item in listed] == ["ok.txt"]


def test_bad_jwts_and_bad_signed_urls(http: httpx.Client, limited: str, stack: LocalStack) -> None:
    http.post(f"/object/{limited}/s.txt", content=b"signed", headers={"content-type": "text/plain"})
    base = f"{stack.url}/storage/v1"
    forged = encode({"role": "service_role"}, "not-the-secret-not-the-secret-not-the-secret")
    denied = _error(httpx.get(f"{base}/bucket", headers={"Authorization": f"Bearer {forged}"}), "403", "AccessDenied")
    assert denied["error"] == "Unauthorized"
    expired_jwt = encode({"role": "service_role", "exp": int(time.time()) - 3600}, stack.jwt_secret)
    lapsed = _error(
        httpx.get(f"{base}/bucket", headers={"Authorization": f"Bearer {expired_jwt}"}), "403", "AccessDenied"
    )
    assert lapsed["message"] == '"exp" claim timestamp check failed'
    signed = http.post(f"/object/sign/{limited}/s.txt", json={"expiresIn": "60"}).json()["signedURL"]
    assert httpx.get(f"{base}{signed}").content == b"signed"
    token = signed.split("token=")[1]
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    _error(httpx.get(f"{base}/object/sign/{limited}/s.txt?token={tampered}"), "400", "InvalidJWT")
    _error(httpx.get(f"{base}/object/sign/{limited}/other.txt?token={token}"), "400", "InvalidSignature")
    now = int(time.time())
    expired = encode(
        {"url": f"{limited}/s.txt", "scope": "download", "iat": now - 120, "exp": now - 60}, stack.jwt_secret
    )
    gone = _error(httpx.get(f"{base}/object/sign/{limited}/s.txt?token={expired}"), "400", "InvalidJWT")
    assert "exp" in gone["message"]
    upload_token = http.post(f"/object/upload/sign/{limited}/u.txt", json={}).json()["token"]
    _error(httpx.get(f"{base}/object/sign/{limited}/u.txt?token={upload_token}"), "400", "InvalidSignature")
    _error(httpx.get(f"{base}/object/sign/{limited}/s.txt"), "400", "InvalidRequest")
    _error(http.post(f"/object/sign/{limited}/s.txt", json={"expiresIn": 0}), "400", "InvalidRequest")
    missing_route = http.get("/nothing/here")
    _error(missing_route, "404", "InvalidRequest", http_status=404)


def test_a_bearer_past_its_exp_is_refused_at_once_as_storage_api_does(
    http: httpx.Client, limited: str, stack: LocalStack
) -> None:
    # storage-api verifies with jose and no clock tolerance: a token is refused the second its `exp`
    # passes ('"exp" claim timestamp check failed'); the gateway took REST's 30 s of skew, so a
    # token 10 s past exp still listed, uploaded and deleted. A route that takes no JWT as anon
    # (GET /object/<bucket>/<key>) reads as anon.
    http.post(f"/object/{limited}/e.txt", content=b"e", headers={"content-type": "text/plain"})
    lapsed = encode({"role": "service_role", "exp": int(time.time()) - 10}, stack.jwt_secret)
    with pytest.raises(StorageApiError) as refused:
        create_client(stack.url, lapsed).storage.list_buckets()
    assert (refused.value.status, refused.value.code) == ("403", "Unauthorized")
    assert refused.value.message == '"exp" claim timestamp check failed'
    as_anon = httpx.get(f"{stack.url}/storage/v1/object/{limited}/e.txt", headers={"Authorization": f"Bearer {lapsed}"})
    assert (as_anon.status_code, as_anon.content) == (200, b"e")  # a public bucket's file, read as anon


def test_a_signed_url_that_outlives_year_9999_downloads(http: httpx.Client, limited: str, stack: LocalStack) -> None:
    # Its Expires header overflowed and every download was a 500; it now names the last HTTP date.
    http.post(f"/object/{limited}/long.txt", content=b"long", headers={"content-type": "text/plain"})
    for transform in ({}, {"width": 10}):
        body = {"expiresIn": 10**12, "transform": transform}
        signed = http.post(f"/object/sign/{limited}/long.txt", json=body).json()["signedURL"]
        got = httpx.get(f"{stack.url}/storage/v1{signed}")
        assert (got.status_code, got.content) == (200, b"long"), got.text
        assert got.headers["expires"] == "Fri, 31 Dec 9999 23:59:59 GMT"


def test_public_downloads_follow_writes_at_once(http: httpx.Client, limited: str, stack: LocalStack) -> None:
    """The gateway reuses a public object's row for a moment (STORAGE_PUBLIC_CACHE_SECONDS); writes
    through it, and bytes replaced or deleted anywhere, show at once."""
    text = {"content-type": "text/plain"}
    url = f"{stack.url}/storage/v1/object/public/{limited}/c.txt"
    http.post(f"/object/{limited}/c.txt", content=b"first", headers=text)
    assert httpx.get(url).content == b"first"
    http.put(f"/object/{limited}/c.txt", content=b"second", headers=text)
    assert httpx.get(url).content == b"second"
    http.post("/object/move", json={"bucketId": limited, "sourceKey": "c.txt", "destinationKey": "d.txt"})
    _error(httpx.get(url), "404", "NoSuchKey")
    assert httpx.get(url.replace("c.txt", "d.txt")).content == b"second"
    http.request("DELETE", f"/object/{limited}", json={"prefixes": ["d.txt"]})
    _error(httpx.get(url.replace("c.txt", "d.txt")), "404", "NoSuchKey")


def test_a_boolean_is_a_boolean_or_refused(http: httpx.Client, stack: LocalStack) -> None:
    """storage-api's schema reads `"false"` as false and refuses what is no boolean; `bool("false")`
    made a bucket created or updated with `"public": "false"` public, every file served to anyone."""
    name = f"bool-{uuid.uuid4().hex[:8]}"
    public_url = f"{stack.url}/storage/v1/object/public/{name}/f.txt"
    refused = http.post("/bucket", json={"name": name, "public": "yes"})
    assert _error(refused, "400", "InvalidRequest")["message"] == "body/public must be boolean"
    _error(http.get(f"/bucket/{name}"), "404", "NoSuchBucket")
    assert http.post("/bucket", json={"name": name, "public": "false"}).status_code == 200
    try:
        assert http.get(f"/bucket/{name}").json()["public"] is False
        text = {"content-type": "text/plain"}
        http.post(f"/object/{name}/d/f.txt", content=b"x", headers={**text, "x-metadata": _b64('{"k": 1}')})
        _error(httpx.get(public_url.replace("f.txt", "d/f.txt")), "404", "NoSuchBucket")
        for value, public in ((True, True), ("false", False), ("true", True), (0, False)):
            assert http.put(f"/bucket/{name}", json={"public": value}).status_code == 200
            assert http.get(f"/bucket/{name}").json()["public"] is public, value
        _error(http.put(f"/bucket/{name}", json={"public": "no"}), "400", "InvalidRequest")
        assert http.get(f"/bucket/{name}").json()["public"] is False
        listed = http.post(f"/object/list-v2/{name}", json={"prefix": "", "with_delimiter": "false"}).json()
        assert ([f["name"] for f in listed["folders"]], [o["name"] for o in listed["objects"]]) == ([], ["d/f.txt"])
        bad_delimiter = http.post(f"/object/list-v2/{name}", json={"prefix": "", "with_delimiter": "x"})
        _error(bad_delimiter, "400", "InvalidRequest")
        copy = {"bucketId": name, "sourceKey": "d/f.txt", "destinationKey": "g.txt", "copyMetadata": "false"}
        assert http.post("/object/copy", json=copy).status_code == 200
        assert http.get(f"/object/info/{name}/g.txt").json()["metadata"] == {}
        _error(http.post("/object/copy", json={**copy, "copyMetadata": []}), "400", "InvalidRequest")
    finally:
        http.post(f"/bucket/{name}/empty", json={})
        http.request("DELETE", f"/bucket/{name}", json={})


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()
