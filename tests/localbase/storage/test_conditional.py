"""Conditional downloads and list v1's sort order, as storage-api answers them over HTTP.

storage-api (src/storage/renderer/renderer.ts, backend/file.ts) compares `If-None-Match` with the
object's ETag exactly: a list, `W/` or `*` is not the ETag, so the body is sent. A download whose
`If-None-Match` is not the ETag gets `stale-while-revalidate=30` after the object's Cache-Control
(a HEAD gets `must-revalidate`); a listing's `sortBy.order` is `asc` or `desc`, nothing else.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import LocalStack


@pytest.fixture
def http(stack: LocalStack) -> Iterator[httpx.Client]:
    headers = {"apikey": stack.service_role_key, "Authorization": f"Bearer {stack.service_role_key}"}
    with httpx.Client(base_url=f"{stack.url}/storage/v1", headers=headers, timeout=30) as client:
        yield client


@pytest.fixture
def public(http: httpx.Client, stack: LocalStack) -> Iterator[httpx.Client]:
    """A public bucket holding `r.txt` (Cache-Control max-age=5), read without a key."""
    name = f"cond-{uuid.uuid4().hex[:8]}"
    assert http.post("/bucket", json={"name": name, "public": True}).status_code == 200
    headers = {"content-type": "text/plain", "cache-control": "max-age=5"}
    assert http.post(f"/object/{name}/r.txt", content=b"hello", headers=headers).status_code == 200
    with httpx.Client(base_url=f"{stack.url}/storage/v1/object/public/{name}", timeout=30) as client:
        yield client
    http.post(f"/bucket/{name}/empty", json={})
    http.request("DELETE", f"/bucket/{name}", json={})


def test_if_none_match_is_compared_exactly_and_a_miss_may_be_served_stale(public: httpx.Client) -> None:
    plain = public.get("/r.txt")
    etag = plain.headers["etag"]
    assert plain.headers["cache-control"] == "max-age=5"
    hit = public.get("/r.txt", headers={"if-none-match": etag})
    assert (hit.status_code, hit.headers["cache-control"]) == (304, "max-age=5")
    for other in ('"other"', f"W/{etag}", f'"other", {etag}', "*"):
        miss = public.get("/r.txt", headers={"if-none-match": other})
        assert (miss.status_code, miss.content) == (200, b"hello"), other
        assert miss.headers["cache-control"] == "max-age=5, stale-while-revalidate=30", other
    head = public.head("/r.txt", headers={"if-none-match": '"other"'})
    assert (head.status_code, head.headers["cache-control"]) == (200, "max-age=5, must-revalidate")


@pytest.mark.parametrize("route", ["list", "list-v2"])
def test_listing_refuses_a_sort_order_other_than_asc_or_desc(
    http: httpx.Client, public: httpx.Client, route: str
) -> None:
    name = str(public.base_url).rstrip("/").rsplit("/", 1)[-1]
    for order in ("up", "DESC", ""):
        body = {"prefix": "", "sortBy": {"column": "name", "order": order}}
        refused = http.post(f"/object/{route}/{name}", json=body)
        assert refused.status_code == 400, (order, refused.text)
        assert refused.json() == {
            "statusCode": "400",
            "error": "Bad Request",
            "message": "body/sortBy/order must be equal to one of the allowed values",
            "code": "InvalidRequest",
        }
    listed = http.post(f"/object/{route}/{name}", json={"prefix": "", "sortBy": {"column": "name", "order": "desc"}})
    assert listed.status_code == 200, listed.text


def test_a_head_whose_if_none_match_is_the_etag_answers_200_with_the_headers(public: httpx.Client) -> None:
    """storage-api's HeadRenderer never answers 304 (only the download's backend read does): a HEAD
    naming the current ETag gets 200, the object's headers and Cache-Control as it is."""
    etag = public.get("/r.txt").headers["etag"]
    head = public.head("/r.txt", headers={"if-none-match": etag})
    assert head.status_code == 200
    assert (head.headers["etag"], head.headers["cache-control"]) == (etag, "max-age=5")
    assert head.headers["content-length"] == "5"
    since = public.head("/r.txt", headers={"if-modified-since": "Fri, 01 Jan 2100 00:00:00 GMT"})
    assert since.status_code == 200


@pytest.mark.parametrize("route", ["list", "list-v2"])
def test_a_sort_without_a_column_is_refused_as_storage_api_schema_refuses_it(
    http: httpx.Client, public: httpx.Client, route: str
) -> None:
    """storage-api's schemas require `sortBy.column`; a `sortBy` that is no object is refused too
    (storage3's `list(options={"sortBy": {"order": "desc"}})` sends just that)."""
    name = str(public.base_url).rstrip("/").rsplit("/", 1)[-1]
    for sort, message in (
        ({"order": "desc"}, "body/sortBy must have required property 'column'"),
        ({}, "body/sortBy must have required property 'column'"),
        ("name", "body/sortBy must be object"),
        ({"column": ""}, "body/sortBy/column must be equal to one of the allowed values"),
    ):
        refused = http.post(f"/object/{route}/{name}", json={"prefix": "", "sortBy": sort})
        assert refused.status_code == 400, (sort, refused.text)
        assert refused.json()["message"] == message, sort
    assert http.post(f"/object/{route}/{name}", json={"prefix": ""}).status_code == 200
