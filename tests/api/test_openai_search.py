"""Web search through the OpenAI-compatible API: asked as DashScope's own compatible mode asks it
(`enable_search` with `search_options`, as LobeChat's Qwen provider sends it) or as OpenAI's search
models do (`web_search_options`), within the plan; the answer's sources come back as OpenAI's
`url_citation` annotations. What the model was sent is read from the fake's `GET /_fake/requests`."""

from __future__ import annotations

import json
import re
from typing import Any

import asyncpg
import openai
import pytest

from fakescope.server import FakeScope
from tests.api.conftest import ApiUser
from tests.api.test_openai_compat import QUESTIONS
from tests.api.test_openai_context import parameters_of, refusal_of, unique
from tests.api.test_plans import put_on_plan

pytestmark = pytest.mark.usefixtures("worker")

STORED = """select q.web_search, a.sources::text as sources, l.search_calls, l.state
              from chat_messages q
              join chat_messages a on a.reply_to = q.id
              join usage_ledger l on l.message_id = q.id
             where q.content = $1"""


def cited(content: str, annotations: list[Any]) -> list[tuple[str, str]]:
    """Each annotation's marker in the text and its link."""
    return [(content[a.url_citation.start_index : a.url_citation.end_index], a.url_citation.url) for a in annotations]


async def test_a_request_searches_the_web_as_dashscopes_compatible_mode_asks_and_cites_its_sources(
    sdk: openai.AsyncOpenAI, fake: FakeScope, pg: asyncpg.Connection
) -> None:
    question = unique("What happened in Hangzhou today?")
    done = await sdk.chat.completions.create(
        model="qwen-plus",
        messages=[{"role": "user", "content": question}],
        extra_body={"enable_search": True, "search_options": {"search_strategy": "max", "forced_search": True}},
    )
    sent = await parameters_of(fake, question)
    assert sent["enable_search"] is True
    assert sent["search_options"] == {
        "enable_source": True,
        "enable_citation": True,
        "citation_format": "[<number>]",
        "search_strategy": "max",
        "forced_search": True,
    }
    stored = await pg.fetchrow(STORED, question)
    assert stored["web_search"] is True
    assert stored["search_calls"] == 1  # the search is charged, as the web app's are
    sources = {s["index"]: s["url"] for s in json.loads(stored["sources"])}
    message = done.choices[0].message
    assert message.annotations
    for marker, url in cited(message.content or "", message.annotations):
        assert re.fullmatch(r"\[\d+\]", marker)
        assert url == sources[int(marker[1:-1])]  # the source the answer cites there


async def test_openais_web_search_options_ask_for_it_too_and_a_stream_ends_with_the_annotations(
    sdk: openai.AsyncOpenAI, fake: FakeScope, pg: asyncpg.Connection
) -> None:
    question = unique("Latest news on Qwen")
    stream = await sdk.chat.completions.create(
        model="qwen-turbo",
        messages=[{"role": "user", "content": question}],
        stream=True,
        extra_body={"web_search_options": {}},
    )
    text, finish = "", None
    annotations: list[dict[str, Any]] = []  # not in the SDK's delta type: OpenAI sends them with search models
    async for chunk in stream:
        delta = chunk.choices[0].delta
        text += delta.content or ""
        annotations += getattr(delta, "annotations", None) or []
        finish = chunk.choices[0].finish_reason or finish
    assert finish == "stop"
    assert (await parameters_of(fake, question))["enable_search"] is True
    assert "search_strategy" not in (await parameters_of(fake, question))["search_options"]
    assert annotations
    for note in annotations:
        span = text[note["url_citation"]["start_index"] : note["url_citation"]["end_index"]]
        assert re.fullmatch(r"\[\d+\]", span)
    assert (await pg.fetchrow(STORED, question))["web_search"] is True


async def test_a_request_without_search_is_not_searched(sdk: openai.AsyncOpenAI, fake: FakeScope) -> None:
    question = unique("No search please")
    done = await sdk.chat.completions.create(model="qwen-plus", messages=[{"role": "user", "content": question}])
    assert "enable_search" not in await parameters_of(fake, question)
    assert done.choices[0].message.annotations is None


@pytest.mark.parametrize(
    ("extra", "refusal"),
    [
        ({"enable_search": "yes"}, ("enable_search", "invalid_value")),
        ({"enable_search": True, "search_options": {"search_strategy": "agent"}}, ("search_options", "invalid_value")),
        ({"enable_search": True, "search_options": {"forced_search": 1}}, ("search_options", "invalid_value")),
        ({"enable_search": True, "search_options": {"freshness": 7}}, ("search_options", "unsupported_parameter")),
        (
            {"enable_search": True, "search_options": {"enable_source": False}},
            ("search_options", "unsupported_parameter"),
        ),
        ({"enable_search": True, "search_options": []}, ("search_options", "invalid_value")),
        ({"web_search_options": {"search_context_size": "high"}}, ("web_search_options", "unsupported_parameter")),
        ({"web_search_options": True}, ("web_search_options", "invalid_value")),
    ],
)
async def test_a_search_the_api_cannot_honour_is_refused_and_stores_nothing(
    sdk: openai.AsyncOpenAI, pg: asyncpg.Connection, alice: ApiUser, extra: dict[str, Any], refusal: tuple[str, str]
) -> None:
    error = await refusal_of(sdk, {"model": "qwen-plus", "messages": [{"role": "user", "content": "hi"}], **extra})
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", *refusal)
    assert await pg.fetchval(QUESTIONS, alice.id) == 0


async def test_a_request_searches_only_within_its_plan(
    sdk: openai.AsyncOpenAI, pg: asyncpg.Connection, alice: ApiUser
) -> None:
    await put_on_plan(pg, alice, "no_search", allow_search=False)
    with pytest.raises(openai.PermissionDeniedError) as refused:
        await sdk.chat.completions.create(
            model="qwen-plus",
            messages=[{"role": "user", "content": unique("Search")}],
            extra_body={"enable_search": True},
        )
    assert refused.value.code == "feature_not_allowed"
    assert await pg.fetchval(QUESTIONS, alice.id) == 0


@pytest.mark.parametrize("stream", [False, True])
async def test_json_mode_with_web_search_answers_one_json_object_and_keeps_its_sources(
    sdk: openai.AsyncOpenAI, fake: FakeScope, pg: asyncpg.Connection, stream: bool
) -> None:
    """JSON mode and web search together, end to end: DashScope is asked for both, the answer is
    one JSON object, the search is charged and its sources are kept. Its citations were asked for
    too, and their "[n]" markers came after the object: no JSON parser took the answer."""
    question = unique("Give today's Hangzhou weather as json")
    asked: dict[str, Any] = {
        "model": "qwen-plus",
        "messages": [{"role": "user", "content": question}],
        "response_format": {"type": "json_object"},
        "extra_body": {"enable_search": True},
    }
    if stream:
        text = ""
        async for chunk in await sdk.chat.completions.create(**asked, stream=True):
            text += (chunk.choices[0].delta.content or "") if chunk.choices else ""
    else:
        text = (await sdk.chat.completions.create(**asked)).choices[0].message.content or ""
    assert isinstance(json.loads(text), dict)
    sent = await parameters_of(fake, question)
    assert (sent["response_format"], sent["enable_search"]) == ({"type": "json_object"}, True)
    assert sent["search_options"] == {"enable_source": True}  # sources, no "[n]" markers in the object
    stored = await pg.fetchrow(STORED, question)
    assert (stored["web_search"], stored["search_calls"]) == (True, 1)
    assert json.loads(stored["sources"])  # the sources the search found, kept with the answer
