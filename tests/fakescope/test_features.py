"""Thinking, web search, the context cache and request recording, through the real dashscope SDK."""

from __future__ import annotations

import base64
import io
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from dashscope import AioGeneration, AioMultiModalConversation
from PIL import Image

from fakescope import received, tokens
from fakescope.features import CACHE_MIN_TOKENS, MAX_REASONING
from fakescope.server import FakeScope
from fakescope.vision import (
    DATA_URI_TOO_LARGE,
    DOWNLOAD_FAILED,
    FILE_TOO_LARGE,
    MAX_ITEM_BYTES,
    WRONG_SIZE,
    WRONG_TYPE,
    image_tokens,
)
from tests.fakescope.conftest import chunks, whole

# Plain dicts, as the worker sends them (the SDK's stub says list[Message], its runtime takes dicts).
MESSAGES: list[Any] = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "1+1=?"},
]


async def _collect(fake: FakeScope, **kwargs: Any) -> list[Any]:
    kwargs.setdefault("messages", MESSAGES)
    stream = await AioGeneration.call(
        model=kwargs.pop("model", "qwen-plus"),
        api_key="sk-test",
        base_address=fake.native_url,
        stream=True,
        incremental_output=True,
        result_format="message",
        **kwargs,
    )
    return [rsp async for rsp in chunks(stream)]


async def test_thinking_streams_reasoning_before_the_answer_and_counts_it_apart(fake: FakeScope) -> None:
    events = await _collect(fake, enable_thinking=True)
    messages = [e.output.choices[0].message for e in events]
    kinds = ["reasoning" if m.reasoning_content else "content" if m.content else "empty" for m in messages]
    first_content = kinds.index("content")
    assert first_content > 0
    assert set(kinds[:first_content]) == {"reasoning"}
    assert "reasoning" not in kinds[first_content:]
    reasoning = "".join(m.reasoning_content for m in messages)
    answer = "".join(m.content for m in messages)
    usage = events[-1].usage
    assert usage.output_tokens_details["reasoning_tokens"] == tokens.count(reasoning)
    assert usage.output_tokens == tokens.count(reasoning) + tokens.count(answer)
    assert events[-1].output.choices[0].finish_reason == "stop"


async def test_thinking_budget_caps_the_reasoning(fake: FakeScope) -> None:
    events = await _collect(fake, enable_thinking=True, thinking_budget=5)
    assert 0 < events[-1].usage.output_tokens_details["reasoning_tokens"] <= 5


@pytest.mark.parametrize("budget", [0, -1, MAX_REASONING["qwen-plus"] + 1, 1_000_000])
async def test_a_thinking_budget_of_zero_or_past_the_models_longest_thought_is_refused(
    fake: FakeScope, budget: int
) -> None:
    """DashScope: "The thinking_budget parameter must be a positive integer and not greater than
    <the model's longest chain of thought>"; the longest itself is taken."""
    events = await _collect(fake, enable_thinking=True, thinking_budget=budget)
    assert (events[-1].status_code, events[-1].code) == (400, "InvalidParameter")
    assert events[-1].message.startswith("The thinking_budget parameter must be a positive integer")
    taken = await _collect(fake, enable_thinking=True, thinking_budget=MAX_REASONING["qwen-plus"])
    assert taken[-1].status_code == 200


async def test_without_enable_thinking_there_is_no_reasoning(fake: FakeScope) -> None:
    events = await _collect(fake)
    assert all(not e.output.choices[0].message.get("reasoning_content") for e in events)
    assert "output_tokens_details" not in events[-1].usage


async def test_an_open_source_qwen3_model_thinks_unless_told_not_to(fake: FakeScope) -> None:
    """Open-source Qwen3 models think by default at DashScope (commercial ones do not): reasoning
    arrives without enable_thinking, and none with enable_thinking false."""
    by_default = await _collect(fake, model="qwen3-8b")
    assert any(e.output.choices[0].message.get("reasoning_content") for e in by_default)
    assert by_default[-1].usage.output_tokens_details["reasoning_tokens"] > 0
    told_not_to = await _collect(fake, model="qwen3-8b", enable_thinking=False)
    assert all(not e.output.choices[0].message.get("reasoning_content") for e in told_not_to)
    assert "output_tokens_details" not in told_not_to[-1].usage


async def test_thinking_needs_incremental_output(fake: FakeScope) -> None:
    rsp = whole(
        await AioGeneration.call(
            model="qwen-plus",
            api_key="sk-test",
            base_address=fake.native_url,
            messages=MESSAGES,
            enable_thinking=True,
            result_format="message",
        )
    )
    assert (rsp.status_code, rsp.code) == (400, "InvalidParameter")


async def test_search_sends_sources_first_and_cites_them(fake: FakeScope) -> None:
    options = {"enable_source": True, "enable_citation": True, "citation_format": "[<number>]"}
    events = await _collect(fake, enable_search=True, search_options=options)
    results = events[0].output.search_info["search_results"]
    assert [r["index"] for r in results] == [1, 2, 3]
    assert all(r["url"].startswith("https://") and r["title"] for r in results)
    assert all(e.output.search_info["search_results"] == [] for e in events[1:])
    answer = "".join(e.output.choices[0].message.content for e in events)
    assert all(f"[{i}]" in answer for i in (1, 2, 3))
    assert events[-1].usage.plugins["search"]["count"] == 1
    again = await _collect(fake, enable_search=True, search_options=options)
    assert again[0].output.search_info["search_results"] == results  # deterministic


async def test_a_repeated_prefix_is_reported_as_cached(fake: FakeScope) -> None:
    system = {"role": "system", "content": "You answer carefully. " * 80}
    first = await _collect(fake, messages=[system, {"role": "user", "content": "first question"}])
    assert "prompt_tokens_details" not in first[-1].usage
    second = await _collect(
        fake,
        messages=[
            system,
            {"role": "user", "content": "first question"},
            {"role": "assistant", "content": "an answer"},
            {"role": "user", "content": "second question"},
        ],
    )
    cached = second[-1].usage.prompt_tokens_details["cached_tokens"]
    prefix = tokens.chat_tokens([system["content"], "first question"]) - tokens.PRIMER
    assert cached == prefix >= CACHE_MIN_TOKENS


async def test_requests_are_recorded_for_inspection(fake: FakeScope) -> None:
    fake.received.clear()
    await _collect(fake, enable_thinking=True, thinking_budget=7)
    async with aiohttp.ClientSession() as http, http.get(f"{fake.base_url}/_fake/requests") as response:
        recorded = await response.json()
    assert len(recorded) == 1
    assert recorded[0]["body"]["input"]["messages"] == MESSAGES
    assert recorded[0]["body"]["parameters"]["thinking_budget"] == 7


async def test_a_question_asking_for_code_and_math_gets_both_with_exact_usage(fake: FakeScope) -> None:
    events = await _collect(fake, messages=[{"role": "user", "content": "Show me some code and a formula"}])
    answer = "".join(e.output.choices[0].message.content for e in events)
    assert '```python\nprint("hello, galaxy")\n```' in answer
    assert "$$\\int_0^1 x^2\\,dx = \\frac{1}{3}$$" in answer
    assert events[-1].usage.output_tokens == tokens.count(answer)


def _blob(width: int, height: int, fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height)).save(out, format=fmt)
    return out.getvalue()


def _png(width: int, height: int) -> str:
    return "data:image/png;base64," + base64.b64encode(_blob(width, height)).decode()


async def test_the_multimodal_endpoint_reads_images_and_bills_their_tokens(fake: FakeScope) -> None:
    messages = [
        {"role": "system", "content": [{"text": "You describe images."}]},
        {"role": "user", "content": [{"image": _png(560, 280)}, {"text": "What is this?"}]},
    ]
    stream = await AioMultiModalConversation.call(
        model="qwen-vl-max",
        api_key="sk-test",
        base_address=fake.native_url,
        messages=messages,
        stream=True,
        incremental_output=True,
    )
    events = [rsp async for rsp in chunks(stream)]
    assert events[-1].status_code == 200
    answer = "".join(part["text"] for e in events for part in e.output.choices[0].message.content)
    assert answer.startswith("[offline model]")
    usage = events[-1].usage
    assert usage["image_tokens"] == image_tokens(560, 280) == 20 * 10 + 2
    assert usage.input_tokens == tokens.chat_tokens(["You describe images.", "What is this?"]) + usage["image_tokens"]


async def test_a_model_on_the_native_endpoint_that_does_not_serve_it_is_a_url_error(fake: FakeScope) -> None:
    """DashScope serves Qwen3.5 and the VL models only on the multimodal endpoint and text models only
    on the text one: "url error, please check url！" otherwise (deep-thinking page; 400
    InvalidParameter, agentscope-ai/agentscope#1295). Compatible mode takes both."""
    on_text = await _collect(fake, model="qwen3.5-plus", messages=[{"role": "user", "content": "hi"}])
    parts = [{"role": "user", "content": [{"text": "hi"}]}]
    on_multimodal = whole(
        await AioMultiModalConversation.call(
            model="qwen-plus", api_key="sk-test", base_address=fake.native_url, messages=parts
        )
    )
    for rsp in (on_text[-1], on_multimodal):
        assert (rsp.status_code, rsp.code) == (400, "InvalidParameter")
        assert rsp.message.startswith("url error, please check url！")
    served = whole(
        await AioMultiModalConversation.call(
            model="qwen3.5-plus-2026-02-15",
            api_key="sk-test",
            base_address=fake.native_url,
            messages=parts,
            enable_thinking=False,  # Qwen3.5 thinks by default, and thinking only streams
        )
    )
    assert served.status_code == 200
    async with aiohttp.ClientSession() as http:
        body = {"model": "qwen3.5-plus", "messages": [{"role": "user", "content": "hi"}], "enable_thinking": False}
        headers = {"Authorization": "Bearer sk-test"}
        async with http.post(f"{fake.compat_url}/chat/completions", json=body, headers=headers) as compat:
            assert compat.status == 200


async def test_an_image_the_model_cannot_fetch_is_refused(fake: FakeScope) -> None:
    messages = [{"role": "user", "content": [{"image": "http://127.0.0.1:9/x.png"}, {"text": "hi"}]}]
    rsp = whole(
        await AioMultiModalConversation.call(
            model="qwen-vl-max", api_key="sk-test", base_address=fake.native_url, messages=messages
        )
    )
    assert (rsp.status_code, rsp.code, rsp.message) == (400, "InvalidParameter", DOWNLOAD_FAILED)


async def test_with_fetch_links_off_every_link_is_refused_and_data_uris_are_still_read(fake: FakeScope) -> None:
    """The knob a test turns off to be a DashScope that cannot reach a private Storage."""
    picture = base64.b64decode(_png(56, 28).partition(",")[2])
    app = web.Application()
    app.router.add_get("/p.png", lambda _: _served(picture))
    async with TestServer(app, host="127.0.0.1") as server:
        link = str(server.make_url("/p.png"))
        assert (await _image_usage(fake, link)).usage["image_tokens"] == image_tokens(56, 28)
        fake.plan.configure({"next": [{"fetch_links": False}, {"fetch_links": False}]}, fake.knobs)
        rsp = await _image_usage(fake, link)
        assert (rsp.status_code, rsp.code, rsp.message) == (400, "InvalidParameter", DOWNLOAD_FAILED)
        assert (await _image_usage(fake, _png(56, 28))).usage["image_tokens"] == image_tokens(56, 28)


async def _served(body: bytes, content_type: str = "image/png") -> web.Response:
    return web.Response(body=body, content_type=content_type)


async def _image_usage(fake: FakeScope, image: str) -> Any:
    messages = [{"role": "user", "content": [{"image": image}, {"text": "What is this?"}]}]
    return await AioMultiModalConversation.call(
        model="qwen-vl-max", api_key="sk-test", base_address=fake.native_url, messages=messages
    )


async def test_image_tokens_come_from_the_header_even_when_it_lies_far_in(fake: FakeScope) -> None:
    out = io.BytesIO()  # a 200 KB colour profile before the frame header: past the first bytes decoded
    Image.new("RGB", (300, 200), (10, 120, 30)).save(out, format="JPEG", icc_profile=bytes(range(256)) * 800)
    rsp = await _image_usage(fake, "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode())
    assert rsp.status_code == 200, rsp.message
    assert rsp.usage["image_tokens"] == image_tokens(300, 200) == 11 * 8 + 2


async def test_a_data_uri_that_is_not_base64_throughout_is_refused(fake: FakeScope) -> None:
    good = _png(560, 280)
    for bad in (good[:-12] + "!!!!" + good[-8:], good[:-1], good + "A", "data:image/png;base64,===="):
        rsp = await _image_usage(fake, bad)
        assert (rsp.status_code, rsp.code, rsp.message) == (400, "InvalidParameter", DOWNLOAD_FAILED), bad[-16:]


async def test_the_request_log_keeps_the_newest_within_its_byte_bound(
    fake: FakeScope, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.received.clear()
    questions = [f"question {n}: " + "x" * 3000 for n in range(3)]
    await _collect(fake, messages=[{"role": "user", "content": questions[0]}])
    size = fake.received[-1]["bytes"]
    assert size > 3000
    monkeypatch.setattr(received, "REQUEST_BYTES_KEPT", size * 5 // 2)  # room for two of them, not three
    for question in questions[1:]:
        await _collect(fake, messages=[{"role": "user", "content": question}])
    async with aiohttp.ClientSession() as http, http.get(f"{fake.base_url}/_fake/requests") as response:
        recorded = await response.json()
    assert [r["body"]["input"]["messages"][0]["content"] for r in recorded] == questions[1:]


def _refusal(rsp: Any) -> tuple[int, str, str]:
    return rsp.status_code, rsp.code, rsp.message


async def test_an_image_with_a_side_under_10_px_or_sides_past_200_to_1_is_refused(fake: FakeScope) -> None:
    for width, height in ((4, 4), (9, 40), (40, 9), (2001, 10), (10, 2001), (1000, 2)):
        rsp = await _image_usage(fake, _png(width, height))
        assert _refusal(rsp) == (400, "InvalidParameter", WRONG_SIZE), (width, height)
    for width, height in ((10, 10), (2000, 10), (10, 2000)):  # at the limits: taken
        rsp = await _image_usage(fake, _png(width, height))
        assert rsp.usage["image_tokens"] == image_tokens(width, height), (width, height)
    app = web.Application()
    app.router.add_get("/tiny.png", lambda _: _served(_blob(4, 4)))
    async with TestServer(app, host="127.0.0.1") as server:  # a link is checked the same
        assert _refusal(await _image_usage(fake, str(server.make_url("/tiny.png")))) == (
            400,
            "InvalidParameter",
            WRONG_SIZE,
        )


async def test_a_gif_is_refused_whether_declared_found_in_the_bytes_or_linked(fake: FakeScope) -> None:
    gif = _blob(64, 64, "GIF")
    for ref in (
        "data:image/gif;base64," + base64.b64encode(gif).decode(),
        "data:image/png;base64," + base64.b64encode(gif).decode(),  # a GIF under another name
        "data:image/x-unknown;base64," + base64.b64encode(_blob(64, 64)).decode(),  # a PNG under an odd one
    ):
        assert _refusal(await _image_usage(fake, ref)) == (400, "InvalidParameter", WRONG_TYPE), ref[:24]
    app = web.Application()
    app.router.add_get("/a.gif", lambda _: _served(gif, "image/gif"))
    app.router.add_get("/b.png", lambda _: _served(_blob(64, 64), "application/octet-stream"))
    async with TestServer(app, host="127.0.0.1") as server:
        for path in ("/a.gif", "/b.png"):
            rsp = await _image_usage(fake, str(server.make_url(path)))
            assert _refusal(rsp) == (400, "InvalidParameter", WRONG_TYPE), path
    async with aiohttp.ClientSession() as http:  # compatible mode refuses it too, in its own shape
        gif_uri = "data:image/gif;base64," + base64.b64encode(gif).decode()
        body = {
            "model": "qwen-vl-max",
            "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": gif_uri}}]}],
        }
        headers = {"Authorization": "Bearer sk-test"}
        async with http.post(f"{fake.compat_url}/chat/completions", json=body, headers=headers) as response:
            assert response.status == 400
            assert (await response.json())["error"]["message"] == WRONG_TYPE


def _padded_png_uri(chars: int) -> str:
    """A PNG data URI of exactly `chars` characters (a multiple of 4 past the prefix): zeros after the image."""
    prefix = "data:image/png;base64,"
    blob = _blob(64, 64)
    return prefix + base64.b64encode(blob + bytes((chars - len(prefix)) // 4 * 3 - len(blob))).decode()


async def test_a_data_uri_past_10_mib_and_a_linked_file_past_10_mib_are_refused(fake: FakeScope) -> None:
    longest = _padded_png_uri(MAX_ITEM_BYTES - 2)  # 10,485,758: the longest a base64 item can be within
    assert len(longest) == MAX_ITEM_BYTES - 2
    assert (await _image_usage(fake, longest)).usage["image_tokens"] == image_tokens(64, 64)
    rsp = await _image_usage(fake, _padded_png_uri(MAX_ITEM_BYTES + 2))
    assert _refusal(rsp) == (400, "InvalidParameter", DATA_URI_TOO_LARGE)
    assert DATA_URI_TOO_LARGE == "Exceeded limit on max bytes per data-uri item : 10485760"
    app = web.Application()
    blob = _blob(64, 64)
    app.router.add_get("/at.png", lambda _: _served(blob + bytes(MAX_ITEM_BYTES - len(blob))))
    app.router.add_get("/past.png", lambda _: _served(blob + bytes(MAX_ITEM_BYTES + 1 - len(blob))))
    async with TestServer(app, host="127.0.0.1") as server:
        rsp = await _image_usage(fake, str(server.make_url("/at.png")))
        assert rsp.usage["image_tokens"] == image_tokens(64, 64)
        rsp = await _image_usage(fake, str(server.make_url("/past.png")))
        assert _refusal(rsp) == (400, "InvalidParameter", FILE_TOO_LARGE)


async def test_json_mode_needs_the_word_json_in_the_messages(fake: FakeScope) -> None:
    """The native protocol's JSON mode (`parameters.response_format`) refuses messages that never
    say "json" (any case), 400 InvalidParameter; it was answered."""
    events = await _collect(fake, response_format={"type": "json_object"})
    assert (events[-1].status_code, events[-1].code) == (400, "InvalidParameter")
    assert "'messages' must contain the word 'json'" in events[-1].message
    asked = [{"role": "system", "content": "Reply in JSON."}, {"role": "user", "content": "1+1=?"}]
    answered = await _collect(fake, response_format={"type": "json_object"}, messages=asked)
    assert answered[-1].status_code == 200
