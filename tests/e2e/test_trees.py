"""Conversation trees in the browser (web/e2e/trees.mjs): edit and flip, regenerate and flip across a
reload, branch into a new chat, share and open signed out, the chat on a phone (tap targets, the
composer's size, the safe area), revoke, resume mid-answer, pin and rename.
Each test is one step of the journey, and the database is checked for what the page showed.
Screenshots land in tests/e2e/screenshots/trees/."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg
import pytest

from tests.e2e.conftest import Product, no_page_errors, passed, query_now
from tests.e2e.journeys import Journey

pytestmark = pytest.mark.timeout(420)


@pytest.fixture(scope="session")
def trees(journeys: dict[str, Journey]) -> dict[str, Any]:
    return journeys["trees"].result()


def owner_query(product: Product, session_id: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    """`sql` as the session's owner (their JWT claims, role authenticated): chat_path and
    chat_forks answer only the session's owner, so a superuser connection sees nothing."""

    async def run() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(product.stack.dsn)
        try:
            async with conn.transaction():
                owner = await conn.fetchval("select user_id::text from chat_sessions where id = $1", session_id)
                claims = json.dumps({"sub": owner, "role": "authenticated"})
                await conn.execute("select set_config('request.jwt.claims', $1, true)", claims)
                await conn.execute("set local role authenticated")
                return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    return asyncio.run(run())


def test_the_session_is_titled_in_its_language(trees: dict[str, Any], product: Product) -> None:
    step = passed(trees, "two questions, and the session is titled in Chinese")
    assert step["detail"]["title"] == "介绍一下杭州"


def test_an_edit_is_a_branch_beside_the_original(trees: dict[str, Any], product: Product) -> None:
    passed(trees, "edit a question: a new branch, and ‹ 1 / 2 › flips back to the original")
    rows = query_now(
        product,
        "select content, parent_id from chat_messages where session_id = $1 and message_type = 'user'"
        " and content like '推荐%' order by created_at",
        trees["sessionId"],
    )
    assert [r["content"] for r in rows] == ["推荐三个景点", "推荐三家餐厅"]
    assert rows[0]["parent_id"] == rows[1]["parent_id"]


def test_regenerated_answers_are_kept_and_the_choice_is_stored(trees: dict[str, Any], product: Product) -> None:
    passed(trees, "regenerate keeps both answers; the choice survives a reload")
    [session] = query_now(
        product, "select current_leaf_id, branched from chat_sessions where id = $1", trees["sessionId"]
    )
    answers = query_now(
        product,
        "select a.id, a.answer_no from chat_messages a join chat_messages q on q.id = a.reply_to"
        " where q.session_id = $1 and q.content = '推荐三家餐厅' order by a.answer_no",
        trees["sessionId"],
    )
    assert [a["answer_no"] for a in answers] == [1, 2]
    assert session["branched"] is True


def test_branch_copies_the_path_into_a_new_chat(trees: dict[str, Any], product: Product) -> None:
    passed(trees, "branch into a new chat from an answer (double-clicked)")
    rows = owner_query(product, trees["branchId"], "select message_type, content from chat_path($1)", trees["branchId"])
    assert [r["message_type"] for r in rows] == ["user", "assistant", "user", "assistant"]
    assert rows[2]["content"] == "推荐三家餐厅"
    # The button was double-clicked and the branch call's answer lost, so the page asked again:
    # still one copy, the one it shows.
    copies = query_now(
        product,
        """select count(distinct m.session_id) as n from chat_messages m
            where m.session_id <> $1 and (m.user_id, m.content) = (
              select q.user_id, q.content from chat_messages q where q.session_id = $1 and q.parent_id is null)""",
        trees["sessionId"],
    )
    assert copies[0]["n"] == 1


def test_a_share_opens_signed_out_shows_the_branch_and_dies_when_revoked(
    trees: dict[str, Any], product: Product
) -> None:
    step = passed(trees, "share the conversation and open the link signed out")
    # Its first call's answer was lost: repeated (refused as taken), that share deleted, one made
    # again; so the dialog lists one link, the one shown.
    assert step["detail"] == {
        "messages": 4,
        "robots": "noindex, nofollow",
        "hasEdit": True,
        "hasOriginal": False,
        "calls": 3,
        "items": 1,
    }
    passed(trees, "the shared page on a phone, in English")
    passed(trees, "revoke the link: it no longer opens")
    assert query_now(product, "select id from chat_shares where session_id = $1", trees["sessionId"]) == []


def test_on_a_phone_the_chat_controls_are_finger_sized_and_the_composer_does_not_zoom(trees: dict[str, Any]) -> None:
    """390x844 (zh): the turn's edit and delete, the answer's copy and branch (stop and regenerate are
    the same buttons), both sibling pairs, the drawer's rename and pin, the share sheet's revoke,
    the chat header's chats, share and export and the app header's language, avatar and log out
    cover at least 40px each way (44 as designed), the composer types at
    16px or more (iOS Safari zooms into a smaller field on focus), nothing is wider than the screen;
    on the desktop the same controls keep their small size."""
    detail = passed(trees, "on a phone the chat controls are finger-sized and the composer types at 16px (zh)")[
        "detail"
    ]
    sizes = detail["sizes"]
    controls = {
        "edit": sizes["edit"],
        "delete": sizes["delete"],
        "copy": sizes["copy"],
        "branch": sizes["branch"],
        "question ‹": sizes["questionNav"][0],
        "question ›": sizes["questionNav"][1],
        "answer ‹": sizes["answerNav"][0],
        "answer ›": sizes["answerNav"][1],
        "rename": sizes["rename"],
        "pin": sizes["pin"],
        "revoke": sizes["revoke"],
        "sessions": sizes["sessions"],
        "share": sizes["share"],
        "export": sizes["export"],
        "language": sizes["language"],
        "avatar": sizes["avatar"],
        "logout": sizes["logout"],
    }
    small = {name: box for name, box in controls.items() if box["w"] < 40 or box["h"] < 40}
    assert small == {}
    assert detail["composerPx"] >= 16
    assert detail["width"] <= 390
    assert detail["desktop"]["edit"]["h"] < 30
    assert detail["desktop"]["questionPrev"]["h"] < 30
    # The last answer's footer (‹ 2 / 2 ›, copy, regenerate, branch) is one line, nothing sideways.
    assert detail["footer"]["height"] <= detail["footer"]["tallest"] + 1, detail["footer"]
    assert detail["overflow"] == []


def test_on_a_phone_the_notch_and_home_indicator_are_padded_for(trees: dict[str, Any]) -> None:
    """With Chromium's safe-area override (47px top, 34px bottom) the header, the tab bar and the
    sessions drawer pad by exactly the insets; the turn in English fits the screen too."""
    detail = passed(trees, "on a phone the notch and home indicator are padded for; the turn in English")["detail"]
    assert detail["insets"] == {"header": 47, "tabbar": 34, "drawerTop": 47, "drawerBottom": 34}
    assert detail["width"] <= 390
    assert detail["footer"]["height"] <= detail["footer"]["tallest"] + 1, detail["footer"]
    assert detail["overflow"] == []


def test_every_view_fits_a_360px_phone(trees: dict[str, Any]) -> None:
    """Chat, history, roles, profile, usage, keys and the shared page at 360x740, in zh and en:
    nothing reaches past the screen or scrolls sideways but what is meant to (the persona chips,
    an answer's tables and code), no button of the app header wraps its words (zh's 退出登录
    did), and a question holding a long unbroken link wraps inside its bubble (the bubble was as
    wide as the link, its start cut off past the left edge). Each view scrolls in a box of its own
    inside a clipping <main>, so the document's scrollWidth alone would never show a view wider
    than the screen."""
    detail = passed(trees, "every view fits a 360px phone, in Chinese and in English")["detail"]
    assert detail["overflow"] == {}


def test_reload_mid_answer_continues_without_gap_or_repeat(trees: dict[str, Any]) -> None:
    step = passed(trees, "reload while an answer is written: it continues, every character once")
    assert step["detail"]["same"] is True
    assert step["detail"]["partial"] > 0


def test_pin_and_rename(trees: dict[str, Any], product: Product) -> None:
    passed(trees, "pin the chat and rename it inline")
    [session] = query_now(product, "select title, pinned_at from chat_sessions where id = $1", trees["sessionId"])
    assert session["title"] == "我的杭州之行"
    assert session["pinned_at"] is not None


def test_a_deleted_turn_goes_with_its_answer_and_the_rest_stays(trees: dict[str, Any], product: Product) -> None:
    """The middle of three turns deleted, its DELETE's answer lost (sent again: deleting nothing
    the second time): the page and a reload show the first and third; the database keeps two
    questions, each with its answer, the third now the first's child."""
    step = passed(trees, "delete a turn: its answer goes, the turns after it stay, also when the answer is lost")
    kept = ["第一问：西湖", "第三问：龙井"]
    assert step["detail"] == {"shown": kept, "reloaded": kept, "sent": 2}
    rows = query_now(
        product,
        """select q.content, p.content as parent,
                  (select count(*) from chat_messages a where a.reply_to = q.id) as answers
             from chat_messages q left join chat_messages p on p.id = q.parent_id
            where q.session_id = $1 and q.message_type = 'user' order by q.created_at""",
        trees["deletedIn"],
    )
    assert [(r["content"], r["answers"]) for r in rows] == [(kept[0], 1), (kept[1], 1)]
    assert rows[1]["parent"] is not None  # the third question now follows the first turn's answer


def test_turns_and_chats_deleted_or_made_in_one_browser_reach_the_owners_other_at_once(trees: dict[str, Any]) -> None:
    """The owner's other browser shows a chat of two turns; the first turn deleted here goes from
    it, a chat made (REST, as another device) joins its list, then the chat deleted leaves its list
    and its page says it is gone, with no reload: the deletes and the creation came as private
    broadcasts (a filtered postgres_changes subscription hears no DELETE; before, both stayed on
    screen until the next read, and a chat made elsewhere was listed only after a reload)."""
    step = passed(trees, "a turn and a chat deleted here leave the owner's other browser at once, a chat made joins it")
    assert step["detail"] == {
        "turnLeft": ["再一问：雷峰塔"],
        "made": 201,
        "createdListed": 1,
        "deleted": 204,
        "stillListed": 0,
    }


def test_a_search_hit_on_a_branch_not_shown_opens_on_that_branch(trees: dict[str, Any], product: Product) -> None:
    """The original of an edited question, found in /history, opens its chat on the original's
    branch (‹ 1 / 2 ›, two turns), and that choice is the session's: the path the model is sent."""
    step = passed(trees, "a search hit on a branch not shown opens that branch, at the message")
    assert step["detail"] == {"turns": 2, "inView": True}
    session = trees["sessionId"]
    path = owner_query(product, session, "select message_type, content from chat_path($1)", session)
    assert [r["content"] for r in path if r["message_type"] == "user"] == ["介绍一下杭州", "推荐三个景点"]


def test_no_page_errors(trees: dict[str, Any]) -> None:
    no_page_errors(trees)
