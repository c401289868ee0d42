"""A /v1 question's files are decoded and checked off the API's event loop: base64, Pillow's measure
and a legacy-encoded text's detection (core/textfiles.py) took 0.3-0.4 s for one 15 MiB text, and a
request may carry ten such files, during which the API answered nobody else. A plain question is
still parsed on the loop (a thread's hop would add to its first token, README "Benchmarks").

Proven by order, not by time: the document's decoding is held on an event the test sets only once
a plain question has been parsed meanwhile; on the loop, the hold would stop everything until its
bound (the test's failure) and the plain question would wait behind it."""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import hashlib
import threading
from typing import Any, cast

import httpx
import pytest
from litestar import Litestar, Request, post
from litestar.serialization import decode_json

from api.compat import request as parsing
from api.compat.errors import OpenAIError, to_openai_response
from api.compat.request import PARSERS, Ask, carries_files, read_request
from api.compat.routes import LARGE_BODY, body_of
from api.compat.uploads import RequestFile, content_path, decode_document

HOLD = 10.0  # how long a held decode waits for the test: only a failing run waits it out


def plain(text: str) -> dict[str, Any]:
    return {"model": "qwen-plus", "messages": [{"role": "user", "content": text}]}


def with_document(text: str) -> dict[str, Any]:
    uri = f"data:text/plain;base64,{base64.b64encode(b'The vault code is AZURE-7731.').decode()}"
    parts = [{"type": "text", "text": text}, {"type": "file", "file": {"file_data": uri, "filename": "a.txt"}}]
    return {"model": "qwen-plus", "messages": [{"role": "user", "content": parts}]}


async def test_a_plain_question_is_parsed_while_another_requests_files_are_decoded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loop = asyncio.get_running_loop()
    entered = asyncio.Event()
    release = threading.Event()
    released: list[bool] = []

    def held(part: dict[str, Any], at: int, number: int) -> RequestFile:
        loop.call_soon_threadsafe(entered.set)
        released.append(release.wait(HOLD))  # False: nothing else ran while it held (on the loop)
        return decode_document(part, at, number)

    parsed_on: list[int] = []
    parse = parsing.parse_request

    def watched(body: Any, max_chars: int, *, continuing: bool = False) -> Ask:
        parsed_on.append(threading.get_ident())
        return parse(body, max_chars, continuing=continuing)

    monkeypatch.setattr("api.compat.request.decode_document", held)
    monkeypatch.setattr(parsing, "parse_request", watched)

    big = asyncio.create_task(read_request(with_document("What is the vault code?"), 10_000))
    await entered.wait()
    small = await read_request(plain("Hello?"), 10_000)
    release.set()
    ask = await big
    assert released == [True]  # the plain question was parsed while the document was being decoded
    assert small.question == "Hello?"
    assert [f.name for f in ask.files] == ["a.txt"]
    assert parsed_on[1] == threading.get_ident()  # the plain one on the loop, as before
    assert parsed_on[0] != threading.get_ident()


async def test_an_error_found_off_the_loop_is_the_requests_own() -> None:
    broken = with_document("Read this")
    broken["messages"][0]["content"][1]["file"]["file_data"] = "data:text/plain;base64,%%%"
    with pytest.raises(OpenAIError) as raised:
        await read_request(broken, 10_000)
    assert (raised.value.status, raised.value.code) == (400, "invalid_document")


def test_what_carries_files_is_told_from_the_parts_types() -> None:
    assert carries_files(with_document("x"))
    assert not carries_files(plain("x"))
    assert not carries_files({"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": "x"}]}]})
    assert not carries_files(["not", "an", "object"])
    assert not carries_files({"messages": "no list"})


async def test_a_files_content_address_is_hashed_off_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SHA-256 naming a file's storage path (`content_path`, taken twice a file: once to look for
    what is stored, once to store) was hashed on the loop: ~19 ms a 14 MiB file here, each time."""
    hashed_on: list[int] = []
    sha256 = hashlib.sha256

    def watched(data: bytes) -> Any:
        hashed_on.append(threading.get_ident())
        return sha256(data)

    monkeypatch.setattr("api.compat.uploads.hashlib.sha256", watched)
    ask = await read_request(with_document("What is the vault code?"), 10_000)
    [file] = ask.files
    path = content_path("user-1", file)
    assert path == f"user-1/v1/{sha256(file.data).hexdigest()}.txt"
    assert content_path("user-1", file) == path
    assert len(hashed_on) == 1  # once, where it was decoded
    assert threading.get_ident() not in hashed_on


def on_this_loop(app: Litestar) -> httpx.AsyncClient:
    """A client of `app` run on the test's own loop (Litestar's test clients run it in a thread)."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=cast(Any, app)), base_url="http://v1")


async def test_a_long_body_is_decoded_from_json_off_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """The body's JSON (up to API_V1_MAX_BODY_BYTES, 20 MiB) was decoded on the loop: ~50 ms for
    18 MiB here. The app runs on the test's loop (httpx's ASGI transport)."""
    loop = asyncio.get_running_loop()
    entered = asyncio.Event()
    release = threading.Event()
    released: list[bool] = []

    decoded_on: list[int] = []

    def held(raw: bytes, **options: Any) -> Any:
        decoded_on.append(threading.get_ident())
        loop.call_soon_threadsafe(entered.set)
        released.append(release.wait(HOLD))
        return decode_json(raw, **options)

    monkeypatch.setattr("api.compat.routes.decode_json", held)

    @post("/json", status_code=200)
    async def echo(request: Request[Any, Any, Any]) -> dict[str, Any]:
        body = await body_of(request)
        return {"model": body["model"]}

    app = Litestar([echo], request_max_body_size=4 * LARGE_BODY, exception_handlers={Exception: to_openai_response})
    async with on_this_loop(app) as client:
        big = asyncio.create_task(client.post("/json", json=with_document("x" * LARGE_BODY)))
        async with asyncio.timeout(HOLD):  # not decoded here at all: on the loop, by request.json()
            await entered.wait()
        small = await client.post("/json", json=plain("Hello?"))
        release.set()
        answered = await big
    assert small.json() == answered.json() == {"model": "qwen-plus"}
    assert released == [True]  # the short body was answered while the long one was being decoded
    assert decoded_on != [threading.get_ident()]
    async with on_this_loop(app) as client:
        broken = await client.post("/json", content=b"{" + b" " * LARGE_BODY)
    assert broken.status_code == 400
    assert broken.json()["error"]["message"] == "The request body is not valid JSON."


async def test_the_parsing_leaves_the_loops_default_pool_free(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files are decoded in threads of their own, at most PARSERS at once: they were decoded in the
    loop's default pool (six threads on two cores), which the API's other thread work shares (a
    host name's lookup, a long body's JSON), so six requests with files held all of it, and they
    ran as many GIL-bound threads at once as the pool had, against the loop (README, "Benchmarks").
    Proven by order: the decodes are held until a default-pool job has run meanwhile."""
    loop = asyncio.get_running_loop()
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=PARSERS)  # as small as the parsers' own
    before = getattr(loop, "_default_executor", None)  # given back: the loop outlives the test
    loop.set_default_executor(pool)
    entered = asyncio.Semaphore(0)
    release = threading.Event()
    released: list[bool] = []

    def held(part: dict[str, Any], at: int, number: int) -> RequestFile:
        loop.call_soon_threadsafe(entered.release)
        released.append(release.wait(HOLD))
        return decode_document(part, at, number)

    monkeypatch.setattr("api.compat.request.decode_document", held)
    try:
        asks = [asyncio.create_task(read_request(with_document(f"Read {i}"), 10_000)) for i in range(PARSERS + 1)]
        for _ in range(PARSERS):
            await entered.acquire()
        ran = await asyncio.wait_for(loop.run_in_executor(None, threading.get_ident), HOLD / 2)  # held: times out
        release.set()
        parsed = await asyncio.gather(*asks)
    finally:
        release.set()
        loop.set_default_executor(before or concurrent.futures.ThreadPoolExecutor())
        pool.shutdown(wait=False)
    assert ran != threading.get_ident()
    assert released == [True] * (PARSERS + 1)
    assert [a.question for a in parsed] == [f"Read {i}" for i in range(PARSERS + 1)]
