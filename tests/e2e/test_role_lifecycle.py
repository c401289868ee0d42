"""A persona switched off and on again, in Debian's Chromium (web/e2e/role_lifecycle.mjs): the roles
page keeps the owner's switched-off persona, marked, and switches it on again; the picker leaves it
out; a chat bound to it says so in English and, on a phone, in Chinese, and sends nothing; a question
sent from a page that still offered it is refused (RoleNotFound) with words, never answered by another
persona; and a name of 100 characters typed after a space is kept whole (the form's input cut it at
100 before trimming). Each test is one step of the journey; the database is checked for what the page showed.
Screenshots: tests/e2e/screenshots/role_lifecycle/."""

from __future__ import annotations

import json
import uuid
from contextlib import ExitStack
from typing import Any

import pytest

from tests.conftest import sign_up
from tests.e2e.conftest import Product, no_page_errors, passed, query_now
from tests.e2e.journeys import Journey, launcher, prepare_journey

pytestmark = pytest.mark.timeout(420)


@launcher("role_lifecycle")
def start(request: pytest.FixtureRequest, servers: ExitStack) -> Journey:
    product: Product = request.getfixturevalue("product")
    tag = uuid.uuid4().hex[:6]
    made = sign_up(product.stack, f"owner_{tag}")
    users: dict[str, Any] = {"tag": tag, "owner": {"id": made.id, "email": made.email, "password": made.password}}
    chromium_path: str = request.getfixturevalue("chromium_path")
    journey = prepare_journey(product, chromium_path, "role_lifecycle", env={"E2E_USERS": json.dumps(users)})
    journey.extras["users"] = users
    return journey


@pytest.fixture(scope="module")
def lifecycle(journeys: dict[str, Journey]) -> dict[str, Any]:
    journey = journeys["role_lifecycle"]
    return {**journey.result(), "users": journey.extras["users"]}


def _questions(product: Product, lifecycle: dict[str, Any]) -> list[dict[str, Any]]:
    return query_now(
        product,
        "select q.content, q.role_id, (select count(*) from chat_messages a where a.reply_to = q.id) as answers"
        " from chat_messages q where q.session_id = $1 and q.message_type = 'user' order by q.created_at",
        uuid.UUID(lifecycle["sessionId"]),
    )


def test_the_owner_chats_with_their_persona(lifecycle: dict[str, Any]) -> None:
    assert passed(lifecycle, "the owner chats with their persona")["detail"] == {"byline": lifecycle["name"]}


def test_switched_off_it_stays_in_the_roles_page(lifecycle: dict[str, Any], product: Product) -> None:
    detail = passed(lifecycle, "switched off in the roles page, it is still listed there, marked")["detail"]
    assert detail == {"off": "Switched off", "chatWith": 0}


def test_its_chat_says_so_and_sends_nothing(lifecycle: dict[str, Any]) -> None:
    detail = passed(lifecycle, "the picker leaves it out and its chat says so, sending nothing")["detail"]
    assert lifecycle["name"] in detail.pop("notice")
    assert detail == {"inPicker": 0, "sendDisabled": True, "turns": 1}


def test_on_a_phone_it_says_so_in_chinese(lifecycle: dict[str, Any]) -> None:
    detail = passed(lifecycle, "on a phone in Chinese, the chat says so in Chinese")["detail"]
    assert lifecycle["name"] in detail["notice"]
    assert detail["width"] <= 390


def test_switched_on_again_the_chat_goes_on(lifecycle: dict[str, Any]) -> None:
    detail = passed(lifecycle, "switched on again, the chat goes on with it")["detail"]
    assert detail == {"notice": 0, "byline": lifecycle["name"]}


def test_a_question_naming_it_after_it_was_switched_off_is_refused(lifecycle: dict[str, Any], product: Product) -> None:
    detail = passed(lifecycle, "switched off in another tab, this page's question is refused with words")["detail"]
    assert "switched off or no longer exists" in detail["toast"]
    assert (detail["kept"], detail["turns"]) == ("One more?", 2)


def test_picking_another_persona_goes_on_and_nothing_was_answered_as_another(
    lifecycle: dict[str, Any], product: Product
) -> None:
    detail = passed(lifecycle, "picking another persona goes on with it")["detail"]
    assert detail["notice"] == 0
    slug = lifecycle["slug"]
    questions = [(q["content"], q["role_id"], q["answers"]) for q in _questions(product, lifecycle)]
    assert questions == [
        ("Are you awake?", slug, 1),
        ("Awake now?", slug, 1),
        ("One more?", "assistant", 1),
    ]
    [role] = query_now(
        product,
        "select r.is_active, s.role_id = b.id as moved from ai_roles r, chat_sessions s, ai_roles b"
        " where r.slug = $1 and r.created_by = $2 and s.id = $3 and b.slug = 'assistant' and b.created_by is null",
        slug,
        uuid.UUID(lifecycle["users"]["owner"]["id"]),
        uuid.UUID(lifecycle["sessionId"]),
    )
    assert (role["is_active"], role["moved"]) == (False, True)


def test_a_name_is_measured_as_it_is_kept(lifecycle: dict[str, Any], product: Product) -> None:
    detail = passed(
        lifecycle, "a name of 100 characters typed after a space is kept whole; 101 are refused with words"
    )["detail"]
    assert detail == {"refused": "At most 100 characters (blanks around it do not count)", "typed": 101}
    [role] = query_now(
        product,
        "select name from ai_roles where created_by = $1 and name like 'Long %'",
        uuid.UUID(lifecycle["users"]["owner"]["id"]),
    )
    assert role["name"] == lifecycle["longName"]
    assert len(role["name"]) == 100


def test_no_page_errors(lifecycle: dict[str, Any]) -> None:
    no_page_errors(lifecycle)
