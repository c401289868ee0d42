"""Personas in the reader's language, in Debian's Chromium (web/e2e/role_names.mjs): the built-in
roles' Chinese names in Chinese, their English names (ai_roles.translations) in English in the
picker, the empty chat, an answer's byline, history, the roles page and on a phone, an admin's edit
of a built-in role's English name and Chinese description seen by a reader, and a user's own persona
written in Chinese with its English texts (on a phone) read in English in the picker and the chat.
Each test is one step of the journey; the database is checked for what the page showed.
Screenshots: tests/e2e/screenshots/role_names/."""

from __future__ import annotations

import json
import uuid
from contextlib import ExitStack
from typing import Any

import pytest

from tests.conftest import sign_up
from tests.e2e.conftest import Product, make_admin, no_page_errors, passed, query_now
from tests.e2e.journeys import Journey, launcher, prepare_journey

pytestmark = pytest.mark.timeout(420)


@launcher("role_names")
def start(request: pytest.FixtureRequest, servers: ExitStack) -> Journey:
    """A reader and an admin of their own, then the journey (started with the others by `journeys`)."""
    product: Product = request.getfixturevalue("product")
    stack = product.stack
    tag = uuid.uuid4().hex[:6]
    users: dict[str, Any] = {"tag": tag}
    for name in ("reader", "admin"):
        made = sign_up(stack, f"{name}_{tag}")
        users[name] = {"id": made.id, "email": made.email, "password": made.password}
    make_admin(stack, users["admin"]["id"])
    chromium_path: str = request.getfixturevalue("chromium_path")
    journey = prepare_journey(product, chromium_path, "role_names", env={"E2E_USERS": json.dumps(users)})
    journey.extras["users"] = users
    return journey


@pytest.fixture(scope="module")
def role_names(journeys: dict[str, Journey]) -> dict[str, Any]:
    journey = journeys["role_names"]
    return {**journey.result(), "users": journey.extras["users"]}


def test_chinese_names_in_the_chinese_ui(role_names: dict[str, Any]) -> None:
    assert passed(role_names, "the built-in personas in Chinese")["detail"]["chip"] == "技术专家"


def test_english_names_in_the_picker_and_the_empty_chat(role_names: dict[str, Any]) -> None:
    detail = passed(role_names, "switched to English: the picker and the empty chat name the persona in English")[
        "detail"
    ]
    assert detail == {
        "chip": "Tech Expert",
        "title": "A professional technical adviser",
        "empty": "Tech Expert",
        "casual": "Casual Chat",
    }


def test_english_names_in_the_answer_history_and_roles_page(role_names: dict[str, Any], product: Product) -> None:
    detail = passed(role_names, "an answer's byline, the history list and the roles page in English")["detail"]
    assert detail["byline"] == "Tech Expert"
    assert detail["history"] == "Tech Expert"
    assert {"Tech Expert", "Creative Writer", "Casual Chat"} <= set(detail["cards"])
    [session] = query_now(
        product,
        "select r.slug from chat_sessions s join ai_roles r on r.id = s.role_id where s.id = $1",
        uuid.UUID(role_names["sessionId"]),
    )
    assert session["slug"] == "tech_expert"


def test_english_names_on_a_phone(role_names: dict[str, Any]) -> None:
    detail = passed(role_names, "on a phone in English")["detail"]
    assert (detail["chip"], detail["byline"]) == ("Tech Expert", "Tech Expert")
    assert detail["width"] <= 390


def test_an_admins_english_name_is_what_readers_see(role_names: dict[str, Any], product: Product) -> None:
    detail = passed(role_names, "an admin writes a built-in persona's English name; the reader sees it")["detail"]
    name = role_names["englishName"]
    description = role_names["chineseDescription"]
    assert detail == {"before": "Casual Chat", "chip": name, "chinese": "轻松聊天", "title": description}
    [role] = query_now(
        product, "select name, translations from ai_roles where slug = 'casual_chat' and created_by is null"
    )
    assert role["name"] == "轻松聊天"
    assert json.loads(role["translations"]) == {
        "en": {"name": name, "description": "A relaxed, cheerful companion to chat with"},
        "zh": {"description": description},
    }


def _custom_role(product: Product, role_names: dict[str, Any]) -> dict[str, Any]:
    [role] = query_now(
        product,
        "select name, description, translations from ai_roles where created_by = $1 and name = $2",
        uuid.UUID(role_names["users"]["reader"]["id"]),
        role_names["custom"]["name"],
    )
    return {**role, "translations": json.loads(role["translations"])}


def test_a_user_writes_a_persona_with_its_english_texts_on_a_phone(role_names: dict[str, Any]) -> None:
    detail = passed(role_names, "on a phone in Chinese, a user writes a persona in Chinese with its English name")[
        "detail"
    ]
    assert detail["englishTabFirst"] == "true"
    assert detail["card"] == role_names["custom"]["name"]
    assert detail["width"] <= 390


def test_the_users_persona_reads_in_english_and_its_texts_are_editable(
    role_names: dict[str, Any], product: Product
) -> None:
    detail = passed(
        role_names, "switched to English: the user's persona in English in the picker and the chat, and editable"
    )["detail"]
    english = role_names["custom"]["english"]
    assert detail.pop("width") <= 390
    assert detail == {"card": english, "chineseTabFirst": "true", "chip": english, "empty": english, "desktop": True}
    # The stored texts stay the Chinese ones; the English name was trimmed, the description edited.
    assert _custom_role(product, role_names) == {
        "name": role_names["custom"]["name"],
        "description": "讲海盗故事",
        "translations": {"en": {"name": english, "description": "Tells tall pirate tales"}},
    }


def test_no_page_errors(role_names: dict[str, Any]) -> None:
    no_page_errors(role_names)
