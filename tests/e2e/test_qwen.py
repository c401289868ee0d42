"""Qwen beyond plain text in the browser (web/e2e/qwen.mjs): model picker, deep thinking streamed and
folded, web search citations, code copy, KaTeX, copy answer, the role editor's model settings, English
and phone. Each test is one step of the journey, and the database is checked for what the page showed.
Screenshots land in tests/e2e/screenshots/qwen/."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg
import pytest

from tests.e2e.conftest import Product, no_page_errors, passed, query
from tests.e2e.journeys import Journey

pytestmark = pytest.mark.timeout(420)


@pytest.fixture(scope="session")
def qwen(journeys: dict[str, Journey]) -> dict[str, Any]:
    return journeys["qwen"].result()


def _turns(qwen: dict[str, Any], product: Product) -> list[asyncpg.Record]:
    return asyncio.run(
        query(
            product,
            """select q.content, q.web_search, a.model, a.content as answer, a.reasoning, a.reasoning_ms,
                      a.sources, a.status, s.model as session_model, s.thinking
                 from public.chat_messages q
                 join public.chat_messages a on a.reply_to = q.id
                 join public.chat_sessions s on s.id = q.session_id
                where q.session_id = $1
                order by q.created_at""",
            qwen["sessionId"],
        )
    )


def test_model_picker_and_thinking_switch(qwen: dict[str, Any]) -> None:
    passed(qwen, "register and open a new chat")
    passed(qwen, "pick a model and switch deep thinking on")


def test_reasoning_streams_then_folds_and_is_stored_apart(qwen: dict[str, Any], product: Product) -> None:
    step = passed(qwen, 'the reasoning streams live, then folds under "thought for N s"')
    assert step["detail"]["liveText"] > 0
    first = _turns(qwen, product)[0]
    assert (first["session_model"], first["model"], first["status"]) == ("qwen-plus", "qwen-plus", "completed")
    assert first["reasoning"]
    assert first["reasoning"] not in first["answer"]
    assert first["reasoning_ms"] is not None


def test_search_citations_match_stored_sources(qwen: dict[str, Any], product: Product) -> None:
    passed(qwen, "web search answers with numbered citations linked to sources")
    turns = _turns(qwen, product)
    searched = [t for t in turns if t["web_search"]]
    assert len(searched) == 1
    sources = json.loads(searched[0]["sources"])
    assert [s["index"] for s in sources] == [1, 2, 3]
    assert not any(t["sources"] for t in turns if not t["web_search"])


def test_a_shared_link_keeps_the_answers_sources(qwen: dict[str, Any]) -> None:
    detail = passed(qwen, "a shared link shows the searched answer with its numbered sources")["detail"]
    assert detail["sources"] == 3
    assert detail["cites"] >= 3
    assert detail["linked"] is True


def test_the_conversation_exports_as_markdown(qwen: dict[str, Any]) -> None:
    """Two turns so far, both with deep thinking on, the second searched: each question, the two
    thinkings folded and the three sources as links in the downloaded file."""
    step = passed(qwen, "the conversation downloads as Markdown, thinking folded and sources linked")
    assert step["detail"] == {"file": True, "turns": True, "folded": 2, "sources": 3}


def test_code_copy_and_math(qwen: dict[str, Any], product: Product) -> None:
    step = passed(qwen, "a code block is copied with its button and a formula is typeset")
    assert step["detail"]["display"] >= 1
    last = _turns(qwen, product)[-1]
    assert last["reasoning"] is None  # thinking was switched off for this turn
    assert last["thinking"] is False


def test_images_by_picker_and_paste_reach_the_vision_model(qwen: dict[str, Any], product: Product) -> None:
    passed(qwen, "attach an image by the file picker and by paste; a wrong type is refused before upload")
    rows = asyncio.run(
        query(
            product,
            """select q.attachments, a.model, a.image_tokens, a.status
                 from public.chat_messages q join public.chat_messages a on a.reply_to = q.id
                where q.session_id = $1 and jsonb_array_length(q.attachments) > 0""",
            qwen["sessionId"],
        )
    )
    assert len(rows) == 1
    attachments = json.loads(rows[0]["attachments"])
    assert [(a["name"], a["mime_type"], a["width"], a["height"]) for a in attachments] == [
        ("picked.png", "image/png", 64, 48),
        ("pasted.png", "image/png", 64, 48),
    ]
    assert (rows[0]["model"], rows[0]["status"]) == ("qwen-vl-max", "completed")  # switched from qwen-plus
    assert rows[0]["image_tokens"] == 2 * (3 * 2 + 2)
    stored = asyncio.run(
        query(product, "select count(*) from storage.objects where bucket_id = 'attachments' and name like '%.exe'")
    )
    assert stored[0][0] == 0  # the refused file never reached Storage


def test_role_editor_personality(qwen: dict[str, Any], product: Product) -> None:
    passed(qwen, "the role editor sets model, temperature, top_p, max tokens and thinking, refusing bad values")
    rows = asyncio.run(
        query(
            product,
            "select r.personality from public.ai_roles r join public.profiles p on p.id = r.created_by"
            " where p.username = $1",
            qwen["user"]["username"],
        )
    )
    assert [json.loads(r["personality"]) for r in rows] == [
        {"model": "qwen3-max", "temperature": 0.7, "top_p": 0.9, "max_tokens": 2048, "thinking": True}
    ]


def test_with_reduced_motion_the_thinking_icon_and_the_typing_cursor_keep_still(qwen: dict[str, Any]) -> None:
    """A browser whose user asked for less motion (prefers-reduced-motion: reduce) shows a thinking
    answer with its bulb icon still and its typing cursor steady: the icon pulsed and the cursor
    blinked there as anywhere. Elsewhere they still move (so the check sees the animations)."""
    detail = passed(qwen, "with reduced motion asked for, the thinking icon and the typing cursor keep still")["detail"]
    assert detail["moving"] == {"icon": "pulse", "cursor": "blink"}
    assert detail["still"] == {"icon": "none", "cursor": "none"}


def test_english_and_phone(qwen: dict[str, Any]) -> None:
    passed(qwen, "English and a phone-sized screen")
    no_page_errors(qwen)
