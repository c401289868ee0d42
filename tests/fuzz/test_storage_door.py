"""Hostile input at the local stack's Storage door: object keys, bucket ids, bodies, multipart forms,
metadata and the headers and query parameters Storage reads, on every route the product's clients
use (uploads, downloads, renders, lists, moves, copies, signed URLs, deletes, buckets).

Every answer must be below 500, the gateway must stay up, and a refused request (4xx) must leave
every table exactly as it was (storage's included). Keys are mostly in the fuzz user's own folder
of the product's buckets, so the requests reach past the policies into the writes; `make test`
sends a fixed, derandomized set (plus FOUND), `make fuzz` fresh ones.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import strategies as st

from tests.conftest import LocalStack
from tests.fuzz.conftest import Fingerprint, FuzzReport, FuzzUser
from tests.fuzz.door import Door, DoorRequest, header_safe, run_door, send_found
from tests.fuzz.hostile import FUZZ, FUZZ_REQUESTS, IN_URL, hostile_text, hostile_value, json_bytes, mostly, url_part

pytestmark = pytest.mark.timeout(3600 if FUZZ else 300)

EXAMPLES = 60
BUCKETS = ("avatars", "attachments")
MIMES = ("image/png", "text/plain", "application/pdf", "application/json", "image/svg+xml", "")
READS = ("authenticated", "public", "sign", "info", "")
# Up to four hostile parts share one URL (bucket, key, two query values): each a third of IN_URL.
IN_PATH = IN_URL // 3
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24  # a PNG's signature: enough for a MIME sniff, not an image


def _bucket() -> st.SearchStrategy[str]:
    return mostly(st.sampled_from(BUCKETS), hostile_text(IN_PATH))


def _key(user_id: str) -> st.SearchStrategy[str]:
    """Mostly a plain key in the user's own folder (past the policies), sometimes one anywhere."""
    leaf = mostly(
        st.sampled_from(("a.png", "notes.txt", "dir/b.pdf", "photo 1.png", "x/y/z.txt")), hostile_text(IN_PATH)
    )
    return mostly(leaf.map(lambda name: f"{user_id}/{name}"), leaf)


def _path(bucket: str, key: str) -> str:
    return f"{url_part(bucket)}/" + "/".join(url_part(part) for part in key.split("/"))


def _multipart(body: bytes, filename: str, mime: str, extra: dict[str, str]) -> tuple[bytes, bytes]:
    """A multipart/form-data body as storage-js sends one (`cacheControl`, `metadata`, the file)."""
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode("utf-8", "surrogatepass")
        + value.encode("utf-8", "surrogatepass")
        + b"\r\n"
        for name, value in extra.items()
    ]
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name=""; filename="{filename}"\r\n'
        f"Content-Type: {mime}\r\n\r\n"
    )
    parts.append(head.encode("utf-8", "surrogatepass") + body + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}".encode()


def _body(draw: Callable[..., Any], fields: dict[str, st.SearchStrategy[Any]]) -> bytes:
    """A JSON object with some of `fields` (each a hostile value one time in three), or any JSON value."""
    if not draw(st.sampled_from((True, True, True, True, False))):
        return json_bytes(draw(hostile_value()))
    chosen = draw(st.lists(st.sampled_from(sorted(fields)), unique=True))
    return json_bytes({name: draw(mostly(fields[name], hostile_value())) for name in chosen})


@st.composite
def storage_request(draw: Callable[..., Any], user_id: str) -> DoorRequest:
    bucket, key = draw(_bucket()), draw(_key(user_id))
    text = hostile_text(IN_PATH)
    keys = mostly(_key(user_id), text)
    headers: dict[str, bytes] = {}
    who = draw(st.sampled_from(("user", "user", "user", "anon", "junk", "service")))
    kinds = (
        "upload",
        "upload",
        "read",
        "read",
        "render",
        "list",
        "list-v2",
        "move",
        "copy",
        "sign",
        "sign-many",
        "upload-sign",
        "upload-signed",
        "remove",
        "remove-many",
        "bucket",
    )
    kind = draw(st.sampled_from(kinds))
    base = "/storage/v1"
    if kind == "upload":
        method = draw(st.sampled_from(("POST", "PUT")))
        payload = draw(st.sampled_from((b"hello", PNG, b"", b"%PDF-1.4\n")))
        mime = draw(mostly(st.sampled_from(MIMES), hostile_text()))
        if draw(st.booleans()):
            extra = {name: draw(text) for name in draw(st.lists(st.sampled_from(("cacheControl", "metadata"))))}
            raw, headers["Content-Type"] = _multipart(payload, draw(text), mime.replace("\r\n", ""), extra)
        else:
            raw, headers["Content-Type"] = payload, header_safe(mime)
        for name in draw(st.lists(st.sampled_from(("x-upsert", "cache-control", "x-metadata")), unique=True)):
            headers[name] = header_safe(draw(mostly(st.sampled_from(("true", "false", "max-age=60")), text)))
        return DoorRequest(
            "STORAGE upload", method, f"{base}/object/{_path(bucket, key)}", raw=raw, who=who, headers=headers
        )
    if kind in ("read", "render"):
        method = draw(st.sampled_from(("GET", "GET", "HEAD")))
        how = draw(st.sampled_from(READS))
        params = [(name, draw(text)) for name in draw(st.lists(st.sampled_from(("download", "token")), unique=True))]
        if kind == "render":
            params += [
                (name, draw(mostly(st.sampled_from(("100", "0", "-1", "cover", "webp", "origin")), text)))
                for name in draw(st.lists(st.sampled_from(("width", "height", "resize", "quality", "format"))))
            ]
        for name in draw(st.lists(st.sampled_from(("Range", "If-None-Match", "If-Modified-Since")), unique=True)):
            headers[name] = header_safe(draw(mostly(st.sampled_from(("bytes=0-1", "bytes=5-", "*")), text)))
        route = "object" if kind == "read" else "render/image"
        middle = f"{how}/" if how else ""
        return DoorRequest(
            f"STORAGE {kind}", method, f"{base}/{route}/{middle}{_path(bucket, key)}", params, who=who, headers=headers
        )
    if kind in ("list", "list-v2"):
        fields = {
            "prefix": mostly(st.just(f"{user_id}/"), text),
            "limit": st.sampled_from((1, 100, 0, -1, 10**9)),
            "offset": st.sampled_from((0, -1, 10**9)),
            "search": text,
            "cursor": text,
            "with_delimiter": st.booleans(),
            "sortBy": st.fixed_dictionaries({"column": text, "order": st.sampled_from(("asc", "desc", "x"))}),
        }
        raw = _body(draw, fields)
        return DoorRequest(f"STORAGE {kind}", "POST", f"{base}/object/{kind}/{url_part(bucket)}", raw=raw, who=who)
    if kind in ("move", "copy"):
        fields = {
            "bucketId": _bucket(),
            "sourceKey": keys,
            "destinationKey": keys,
            "destinationBucket": _bucket(),
            "metadata": st.fixed_dictionaries({"mimetype": text}),
            "copyMetadata": st.booleans(),
        }
        raw = _body(draw, fields)
        return DoorRequest(f"STORAGE {kind}", "POST", f"{base}/object/{kind}", raw=raw, who=who)
    if kind in ("sign", "sign-many"):
        fields = {
            "expiresIn": st.sampled_from((60, 0, -5, 10**12, "60")),
            "paths": st.lists(keys, max_size=3),
            "transform": st.fixed_dictionaries({"width": st.integers(-5, 5000)}),
        }
        target = _path(bucket, key) if kind == "sign" else url_part(bucket)
        return DoorRequest(f"STORAGE {kind}", "POST", f"{base}/object/sign/{target}", raw=_body(draw, fields), who=who)
    if kind == "upload-sign":
        return DoorRequest("STORAGE upload-sign", "POST", f"{base}/object/upload/sign/{_path(bucket, key)}", who=who)
    if kind == "upload-signed":
        params = [("token", draw(text))]
        return DoorRequest(
            "STORAGE upload-signed",
            "PUT",
            f"{base}/object/upload/sign/{_path(bucket, key)}",
            params,
            raw=b"hello",
            who=who,
            headers={"Content-Type": b"text/plain"},
        )
    if kind == "remove":
        return DoorRequest("STORAGE remove", "DELETE", f"{base}/object/{_path(bucket, key)}", who=who)
    if kind == "remove-many":
        raw = _body(draw, {"prefixes": st.lists(keys, max_size=3)})
        return DoorRequest("STORAGE remove-many", "DELETE", f"{base}/object/{url_part(bucket)}", raw=raw, who=who)
    method, action = draw(
        st.sampled_from(
            (("GET", ""), ("POST", ""), ("GET", "id"), ("PUT", "id"), ("DELETE", "id"), ("POST", "id/empty"))
        )
    )
    fields = {
        "id": text,
        "name": text,
        "public": st.booleans(),
        "file_size_limit": mostly(st.sampled_from((0, -1, 10**15, "1MB", "x")), text),
        "allowed_mime_types": st.lists(mostly(st.sampled_from(MIMES), text), max_size=3),
    }
    if who == "service":  # it may really delete or empty a bucket: never the product's own
        bucket = draw(text)
    path = f"{base}/bucket" + (f"/{url_part(bucket)}" + action.removeprefix("id") if action else "")
    body = _body(draw, fields) if method in ("POST", "PUT") else None
    params = (
        []
        if action or method != "GET"
        else [
            (name, draw(text))
            for name in draw(
                st.lists(st.sampled_from(("search", "limit", "offset", "sortColumn", "sortOrder")), unique=True)
            )
        ]
    )
    return DoorRequest(f"STORAGE bucket {method} {action or '/'}", method, path, params, raw=body, who=who)


def found(user_id: str) -> list[DoorRequest]:
    """Requests fuzzing once answered with a 500 or a dropped connection (12-03: a NUL reached
    Postgres, which cannot hold one; a render's parameter reached a header, which cannot either),
    and their kin on the routes it had not reached yet."""
    base, own = "/storage/v1", f"{user_id}/a.png"
    nul_bucket = _path("a\x00b", own)
    text = {"Content-Type": b"text/plain"}
    form = [
        _multipart(b"hello", "a.txt", "text/plain", {"metadata": '{"a": "\\u0000"}'}),
        _multipart(b"hello", "a.txt", "text/plain", {"cacheControl": "60\x00"}),
        _multipart(b"hello", "a.txt", "text/plain", {"contentType": "text/plain\udcff"}),
        _multipart(b"hello", "a.txt", "text/plain", {"contentType": "text/plain\r\nx-a: b"}),
        _multipart(b"hello", "a.txt", "text/plain", {"cacheControl": "60\r\nx-a: b"}),
    ]
    copy = {"bucketId": "avatars", "sourceKey": own, "destinationKey": f"{user_id}/c.png"}
    return [
        DoorRequest("STORAGE upload", "POST", f"{base}/object/{nul_bucket}", raw=b"hi", headers=text),
        DoorRequest("STORAGE render", "GET", f"{base}/render/image/authenticated/{nul_bucket}"),
        DoorRequest("STORAGE read", "GET", f"{base}/object/public/{nul_bucket}"),
        DoorRequest("STORAGE sign", "POST", f"{base}/object/sign/{nul_bucket}", raw=b'{"expiresIn": 60}'),
        DoorRequest("STORAGE bucket GET id", "GET", f"{base}/bucket/a%00b"),
        DoorRequest("STORAGE bucket PUT id", "PUT", f"{base}/bucket/a%00b", raw=b'{"public": true}', who="service"),
        DoorRequest("STORAGE bucket POST id/empty", "POST", f"{base}/bucket/a%00b/empty", who="service"),
        DoorRequest(
            "STORAGE move",
            "POST",
            f"{base}/object/move",
            raw=json_bytes({"bucketId": "avatars\x00", "sourceKey": own, "destinationKey": f"{user_id}/b.png"}),
        ),
        DoorRequest(
            "STORAGE upload",
            "PUT",
            f"{base}/object/attachments/{user_id}/x.txt",
            raw=b"hi",
            headers={**text, "x-metadata": base64.b64encode(b'{"a": "\\u0000"}')},
        ),
        *(
            DoorRequest(
                "STORAGE upload",
                "PUT",
                f"{base}/object/attachments/{user_id}/f{n}.txt",
                raw=raw,
                headers={"Content-Type": content_type},
            )
            for n, (raw, content_type) in enumerate(form)
        ),
        DoorRequest(
            "STORAGE upload", "PUT", f"{base}/object/avatars/{own}", raw=PNG, headers={"Content-Type": b"image/png"}
        ),
        DoorRequest(
            "STORAGE render", "HEAD", f"{base}/render/image/authenticated/avatars/{own}", [("height", "a\x00b")]
        ),
        DoorRequest("STORAGE render", "GET", f"{base}/render/image/public/avatars/{own}", [("width", "1\r\n2")]),
        *(
            DoorRequest(
                "STORAGE copy", "POST", f"{base}/object/copy", raw=json_bytes({**copy, "metadata": {field: "a\nb"}})
            )
            for field in ("mimetype", "cacheControl")
        ),
        # What was stored above stays downloadable (a header it cannot send once broke every download).
        *(
            DoorRequest("STORAGE read", "GET", f"{base}/object/authenticated/{path}")
            for path in (
                f"avatars/{own}",
                f"avatars/{user_id}/c.png",
                f"attachments/{user_id}/f3.txt",
                f"attachments/{user_id}/f4.txt",
            )
        ),
    ]


def bytes_match_rows(stack: LocalStack, fingerprint: Fingerprint) -> None:
    """Every object row's bytes are on disk and no bytes are there that no row names, once the
    deletion queue is drained; no upload's temp file is left behind."""
    deadline = time.monotonic() + 30
    while fingerprint.fetch("select 1 from storage.blob_deletions limit 1"):
        assert time.monotonic() < deadline, "the gateway did not drain storage.blob_deletions within 30 s"
        time.sleep(0.05)
    root = Path(stack.env["STORAGE_ROOT"])
    versions = {str(row["version"]) for row in fingerprint.fetch("select version from storage.objects")}
    assert {path.name for path in (root / "blobs").glob("*/*")} == versions
    assert list((root / "tmp").iterdir()) == []


def test_found_storage_cases_stay_fixed(
    fuzz_stack: LocalStack, fuzz_user: FuzzUser, fingerprint: Fingerprint, fuzz_report: FuzzReport
) -> None:
    send_found(Door(fuzz_stack, fuzz_user, fingerprint, fuzz_report, "found"), found(fuzz_user.user_id))
    bytes_match_rows(fuzz_stack, fingerprint)


def test_storage_door_refuses_hostile_input_cleanly(
    fuzz_stack: LocalStack, fuzz_user: FuzzUser, fingerprint: Fingerprint, fuzz_report: FuzzReport
) -> None:
    door = Door(fuzz_stack, fuzz_user, fingerprint, fuzz_report, "storage")
    run_door(door, storage_request(fuzz_user.user_id), EXAMPLES, FUZZ_REQUESTS // 2 + 100)
    bytes_match_rows(fuzz_stack, fingerprint)
